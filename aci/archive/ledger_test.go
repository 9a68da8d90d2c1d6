package archive

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestLedgerSpilled: with the name ledger's window made tiny, so that
// names are spilled to disk and most rules applied only at the end, every
// archive is taken or refused exactly as with every name in memory, with
// the same message naming the same entry; and the spill directory is gone
// afterwards.
func TestLedgerSpilled(t *testing.T) {
	filler := func(n int) []arEntry {
		var es []arEntry
		for i := range n {
			es = append(es, arReg(fmt.Sprintf("rootfs/d%d/f%d", i%7, i), ""))
		}
		return es
	}
	head := []arEntry{arReg("manifest", arManifest), arDir("rootfs/")}
	mk := func(first []arEntry, last ...arEntry) []byte {
		es := append(append(append([]arEntry{}, head...), first...), filler(200)...)
		return arTar(t, append(es, last...)...)
	}
	link := func(name, target string) arEntry {
		return arEntry{name: name, typ: tar.TypeLink, linkname: target}
	}
	symlink := func(name, target string) arEntry {
		return arEntry{name: name, typ: tar.TypeSymlink, linkname: target}
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string // "" to accept
	}{
		{"fine", mk([]arEntry{arReg("rootfs/a", "x")}, link("rootfs/h", "rootfs/a"), arDir("rootfs/d3")), ""},
		{"duplicate far apart", mk([]arEntry{arReg("rootfs/a", "")}, arReg("./rootfs/a", "")), `entry "./rootfs/a": duplicate entry: "rootfs/a" is already in the archive`},
		{"duplicate of a clean name far apart", mk([]arEntry{arReg("rootfs/a", "")}, arReg("rootfs/a", "")), `entry "rootfs/a": duplicate entry: "rootfs/a" is already in the archive`},
		{"file below an early file, parent known", mk([]arEntry{arDir("rootfs/p"), arReg("rootfs/p/f", "")}, arReg("rootfs/p/q", ""), arReg("rootfs/p/f/g", "")), `entry "rootfs/p/f/g": parent "rootfs/p/f" is a regular file, not a directory`},
		{"parent made a symlink later", mk(nil, symlink("rootfs/d2", "/etc")), `entry "rootfs/d2": a parent directory of earlier entries must stay a directory (type symlink)`},
		{"file below an early file", mk([]arEntry{arReg("rootfs/f", "")}, arReg("rootfs/f/g", "")), `entry "rootfs/f/g": parent "rootfs/f" is a regular file, not a directory`},
		{"below an early symlink", mk([]arEntry{symlink("rootfs/l", "/etc")}, arReg("rootfs/l/x/y", "")), `entry "rootfs/l/x/y": parent "rootfs/l" is a symlink, not a directory`},
		{"hard link to an early symlink", mk([]arEntry{symlink("rootfs/l", "x")}, link("rootfs/h", "rootfs/l")), `entry "rootfs/h": hard link to "rootfs/l", which is a symlink, not a regular file`},
		{"hard link to an implicit parent", mk(nil, link("rootfs/h", "rootfs/d4")), `entry "rootfs/h": hard link to "rootfs/d4", which is not an earlier entry`},
		{"hard link to an early directory", mk([]arEntry{arDir("rootfs/dd")}, link("rootfs/h", "rootfs/dd")), `entry "rootfs/h": hard link to directory "rootfs/dd"`},
		{"hard link forward", mk([]arEntry{link("rootfs/h", "rootfs/zz")}, arReg("rootfs/zz", "")), `entry "rootfs/h": hard link to "rootfs/zz", which is not an earlier entry`},
		{"two faults: the earlier one is named", mk([]arEntry{arReg("rootfs/a", ""), arReg("rootfs/a", "")}, arReg("rootfs/d1/f1", "")), `entry "rootfs/a": duplicate entry: "rootfs/a" is already in the archive`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spill := t.TempDir()
			_, inMem := walkArchive(bytes.NewReader(tc.data), nil, walkConfig{maxEntries: MaxArchiveEntries})
			_, spilled := walkArchive(bytes.NewReader(tc.data), nil, walkConfig{maxEntries: MaxArchiveEntries, spillDir: spill, ledgerRecs: 8})
			for what, err := range map[string]error{"in memory": inMem, "spilled": spilled} {
				switch {
				case tc.want == "" && err != nil:
					t.Errorf("%s: %v, want the archive taken", what, err)
				case tc.want != "" && (err == nil || err.Error() != tc.want):
					t.Errorf("%s: %v, want %q", what, err, tc.want)
				}
			}
			if ents, err := os.ReadDir(spill); err != nil || len(ents) != 0 {
				t.Errorf("spill directory holds %v (%v), want it empty", ents, err)
			}
		})
	}
}

// TestLedgerSpilledCount: the bound on names holds when the ledger has
// spilled, counted exactly at the end.
func TestLedgerSpilledCount(t *testing.T) {
	raw := arTar(t, arReg("manifest", arManifest), arDir("rootfs/"), arReg("rootfs/a/b", ""), arReg("rootfs/a/c", ""), arReg("rootfs/d", ""))
	// manifest, rootfs, a (implicit), a/b, a/c, d: 6 names.
	for _, tc := range []struct {
		max int
		err string // the refusal; "" for none
	}{{6, ""}, {5, "more than 5 entries in the archive"}} {
		_, err := walkArchive(bytes.NewReader(raw), nil, walkConfig{maxEntries: tc.max, spillDir: t.TempDir(), ledgerRecs: 2})
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("max %d: %v, want %q", tc.max, err, tc.err)
		}
	}
}

// TestLedgerKnownParentsNotLogged: the files of a directory the window
// knows log one record each, not two (the file and its parent), so that a
// window of N records holds an image of nearly N files without spilling
// (bench/import.sh's 17k files spilled into a window of 32K and replayed
// 34k records at the end of the walk).
func TestLedgerKnownParentsNotLogged(t *testing.T) {
	const files = 100
	var es []arEntry
	es = append(es, arReg("manifest", arManifest), arDir("rootfs/"), arDir("rootfs/d/"))
	for i := range files {
		es = append(es, arReg(fmt.Sprintf("rootfs/d/f%d", i), ""))
	}
	data := arTar(t, es...)
	l := newNameLedger(t.TempDir(), files+10)
	defer l.close()
	w := archiveWalker{info: &ArchiveInfo{}, names: l, max: MaxArchiveEntries}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		if err := w.entry(tr, hdr, nil); err != nil {
			t.Fatal(err)
		}
	}
	if l.spilled() {
		t.Errorf("%d entries spilled a window of %d records: known parents were logged", len(es), files+10)
	}
	if n, err := l.finish(); err != nil || n != len(es) {
		t.Errorf("finish: %d names, %v; want %d", n, err, len(es))
	}
}
