package extract

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// extractSmall extracts data into a new directory with every memory window
// (bounds_linux.go) tiny, so that names are forgotten, directories spilled
// and records and digests dropped after a few entries.
func extractSmall(t *testing.T, data []byte, opts Options) (string, error) {
	t.Helper()
	root := t.TempDir()
	opts.SpillDir = t.TempDir()
	x, err := New(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	x.win = windows{seen: 3, dirs: 2}
	x.recs.max, x.digs.max = 4, 4
	if err := x.addTar(context.Background(), bytes.NewReader(data)); err != nil {
		return root, err
	}
	_, err = x.Finish(context.Background())
	if ents, rerr := os.ReadDir(opts.SpillDir); rerr != nil || len(ents) != 0 {
		t.Errorf("spill directory holds %v (%v) after Finish, want nothing", ents, rerr)
	}
	return root, err
}

// TestWindows: with the windows tiny, an archive extracts to exactly the
// tree it gives with every name in memory (directory metadata included,
// applied from the spill), records and digests are given up rather than
// kept past their window, and duplicates, hard links to what is not a
// regular file and a second entry of a name the window forgot are still
// refused.
func TestWindows(t *testing.T) {
	mt := time.Unix(1400000000, 0)
	var es []ent
	for i := range 12 {
		d := fmt.Sprintf("d%d", i)
		es = append(es, ent{name: d, typ: 0x35, mode: 0o750 - int64(i), mtime: mt.Add(time.Duration(i) * time.Hour)})
		es = append(es, file(d+"/f", strings.Repeat("x", i)), file(fmt.Sprintf("i%d/g%d", i%3, i), "y"+d))
	}
	es = append(es, hardlink("h", "d0/f"), symlink("s", "d1/f"),
		ent{name: "i1", typ: 0x35, mode: 0o711, mtime: mt}) // explicit after implicit, far apart
	data := mkTarBytes(t, es)

	want := snapshot(t, func() string {
		root := t.TempDir()
		if _, err := Tar(context.Background(), bytes.NewReader(data), root, Options{}); err != nil {
			t.Fatal(err)
		}
		return root
	}())
	root, err := extractSmall(t, data, Options{Record: true})
	if err != nil {
		t.Fatal(err)
	}
	// The root and the implicit directories get no times of their own.
	now := regexp.MustCompile(`(?m)^(\.|i0|i2) (\d+ \d+:\d+ \d+) \d+\.\d+$`)
	want = now.ReplaceAllString(want, "$1 $2")
	if got := now.ReplaceAllString(snapshot(t, root), "$1 $2"); got != want {
		t.Errorf("tree with tiny windows:\n%s\nwant:\n%s", got, want)
	}

	for _, tc := range []struct {
		name string
		es   []ent
		want string
	}{
		{"duplicate file far apart", []ent{file("a", "1"), file("b", ""), file("c", ""), file("d", ""), file("e", ""), file("a", "2")}, "duplicate entry"},
		{"duplicate symlink far apart", []ent{symlink("a", "x"), file("b", ""), file("c", ""), file("d", ""), file("e", ""), symlink("a", "y")}, "duplicate entry"},
		{"hard link to a forgotten symlink", []ent{symlink("a", "x"), file("b", ""), file("c", ""), file("d", ""), file("e", ""), hardlink("h", "a")}, `hard link to "a": not a regular file`},
		{"hard link to a forgotten directory", []ent{dir("a"), file("b", ""), file("c", ""), file("d", ""), file("e", ""), hardlink("h", "a")}, `hard link to "a": not a regular file`},
		{"file over a forgotten directory", []ent{dir("a"), file("b", ""), file("c", ""), file("d", ""), file("e", ""), file("a", "")}, "duplicate entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := extractSmall(t, mkTarBytes(t, tc.es), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestWindowsDropRecords: past their windows the records and digests are
// given up (Entries says so), not kept.
func TestWindowsDropRecords(t *testing.T) {
	var es []ent
	for i := range 10 {
		es = append(es, file(fmt.Sprintf("f%d", i), "x"))
	}
	root := t.TempDir()
	x, err := New(root, Options{Record: true, SpillDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	x.recs.max, x.digs.max = 4, 4
	if err := x.addTar(context.Background(), bytes.NewReader(mkTarBytes(t, es))); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := x.Entries(); ok {
		t.Error("Entries: ok past the records' window")
	}
	known := 0
	for i := range 10 {
		if _, ok := x.Digest(fmt.Sprintf("f%d", i)); ok {
			known++
		}
	}
	if known > 4 {
		t.Errorf("%d digests kept, want at most the window's 4", known)
	}
}
