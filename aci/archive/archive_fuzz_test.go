package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzWalk feeds arbitrary bytes to WalkArchive. It must never panic or
// hang, every error must be an *ArchiveError (the input is in memory, so
// nothing else can fail), and for an archive it accepts the ID must equal
// the SHA-512 of the decompressed bytes and the callback must only have seen
// rootfs and names below it.
func FuzzWalk(f *testing.F) {
	addWalkSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var names []string
		info, err := WalkArchive(bytes.NewReader(data), func(hdr *tar.Header, body io.Reader) error {
			names = append(names, hdr.Name)
			_, err := io.Copy(io.Discard, body)
			return err
		})
		if err != nil {
			var ae *ArchiveError
			if !errors.As(err, &ae) {
				t.Fatalf("error is not an *ArchiveError: %v", err)
			}
			return
		}
		zr, _, err := Decompress(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("WalkArchive accepted what Decompress refuses: %v", err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("WalkArchive accepted a stream that does not decompress: %v", err)
		}
		if want := arSHA512ID(plain); info.ID.String() != want {
			t.Fatalf("ID %v, want sha512 of the decompressed stream %s", info.ID, want)
		}
		if info.TarSize != int64(len(plain)) || info.ArchiveSize != int64(len(data)) {
			t.Fatalf("sizes: tar %d archive %d, want %d %d", info.TarSize, info.ArchiveSize, len(plain), len(data))
		}
		if info.ManifestJSON == nil || info.Entries != len(names)+1 {
			t.Fatalf("accepted archive: manifest %q, %d entries, callback saw %d", info.ManifestJSON, info.Entries, len(names))
		}
		for _, n := range names {
			if n != RootfsEntry && !strings.HasPrefix(n, RootfsEntry+"/") {
				t.Fatalf("callback saw %q", n)
			}
		}
		// Walking the same bytes again gives the same result.
		again, err := ValidateArchive(bytes.NewReader(data))
		if err != nil || again.ID != info.ID || again.Entries != info.Entries ||
			again.ContentSize != info.ContentSize || !bytes.Equal(again.ManifestJSON, info.ManifestJSON) {
			t.Fatalf("second walk differs: %v %+v vs %+v", err, again, info)
		}
	})
}

// FuzzLedgerSpilled: with the name ledger's window at three records, so that
// nearly every rule on names is applied when the spilled records are
// replayed at the end (as for an image of millions of entries), the walk
// takes exactly the archives it takes with every name in memory. (The
// refusal may differ: a spilled walk reads on past a broken rule and may
// meet another error first.)
func FuzzLedgerSpilled(f *testing.F) {
	addWalkSeeds(f)
	f.Add(arTar(f, arReg("manifest", arManifest), arDir("rootfs/"), arReg("rootfs/a/b", ""), arReg("rootfs/a/c", ""), arReg("rootfs/a", "")))
	f.Add(arTar(f, arReg("manifest", arManifest), arDir("rootfs/"), arDir("rootfs/a/"), arReg("rootfs/a/b", ""), arReg("rootfs/c", ""),
		arEntry{name: "rootfs/a/b/c", typ: tar.TypeReg}, arEntry{name: "rootfs/h", typ: tar.TypeLink, linkname: "rootfs/a"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, inMem := walkArchive(bytes.NewReader(data), nil, walkConfig{maxEntries: MaxArchiveEntries})
		_, spilled := walkArchive(bytes.NewReader(data), nil, walkConfig{maxEntries: MaxArchiveEntries, spillDir: t.TempDir(), ledgerRecs: 3})
		if (inMem == nil) != (spilled == nil) {
			t.Fatalf("in memory: %v; spilled: %v", inMem, spilled)
		}
	})
}

// addWalkSeeds adds the seed archives of the walk's fuzz targets.
func addWalkSeeds(f *testing.F) {
	valid := arTar(f, arValidEntries()...)
	f.Add(valid)
	f.Add(arGzip(f, valid))
	f.Add(arTar(f, arDir("./"), arReg("./manifest", arManifest), arDir("./rootfs/"), arReg("./rootfs/a", "a")))
	f.Add(arTar(f, arReg("manifest", arManifest), arDir("rootfs/"), arReg("rootfsX/a", "")))
	f.Add(arTar(f, arReg("manifest", arManifest), arDir("rootfs/"), arReg("rootfs/a", ""), arDir("rootfs/a/")))
	f.Add(arTar(f, arReg("manifest", arManifest), arDir("rootfs/"),
		arEntry{name: "rootfs/l", typ: tar.TypeLink, linkname: "rootfs/../manifest"}))
	f.Add(arTar(f, arReg("manifest", arManifest), arDir("rootfs/"), arReg("rootfs/"+strings.Repeat("n", 200), "long")))
	f.Add(arTar(f, arReg("manifest", arManifest), arDir("rootfs/"),
		arEntry{name: "rootfs/x", typ: tar.TypeReg, pax: map[string]string{"SCHILY.xattr.user.a": "b"}}))
	f.Add(valid[:len(valid)-1024])
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Add([]byte("BZh91AY&SY"))
	f.Add([]byte{0xfd, '7', 'z', 'X', 'Z', 0})
	f.Add([]byte{})
}
