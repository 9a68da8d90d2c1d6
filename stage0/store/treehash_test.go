package store

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"testing"

	"github.com/acirun/acirun/stage0/store/extract"
	"golang.org/x/sys/unix"
)

// The tree hash an import records is the one a walk of the tree gives,
// whether it came from the extractor's records (no whitelist) or from a
// walk (a whitelist pruned the tree): with hard links, symlinks, implicit
// parents, modes and names whose walk order is not their string order.
func TestImportTreeHashMatchesWalk(t *testing.T) {
	ents := []tent{
		dirm(".", 0o750), reg("a.b", "1"), dirm("a", 0o700), reg("a/b", "2"), reg("a-b", "3"),
		reg("deep/er/f", "implicit parents"), regm("bin/tool", "#!/bin/sh\n", 0o4755),
		{name: "bin/tool2", typ: tar.TypeLink, link: "bin/tool"}, sym("bin/sh", "tool"),
		dirm("tmp", 0o1777),
	}
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"recorded", nil},
		{"whitelist", []string{pwl("/a/b", "/bin/tool", "/bin/tool2", "/tmp")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			img := mustImport(t, s, gz(t, mkACI(t, manifest("example.com/th", tc.extra...), ents...)))
			tree, err := s.TreePath(img.ID)
			if err != nil {
				t.Fatal(err)
			}
			h, err := TreeHash(context.Background(), tree)
			if err != nil || h != img.TreeHash {
				var b bytes.Buffer
				writeTreeRecords(context.Background(), tree, &b, nil)
				t.Errorf("recorded %s, a walk gives %s (%v):\n%s", img.TreeHash, h, err, b.String())
			}
		})
	}
}

// The text of a tree hash's records is fixed: trees hashed by an earlier
// version are verified against it. One record per type, with xattrs, a
// setuid mode, large IDs, negative and nanosecond times and names with
// spaces and non-ASCII bytes.
func TestWriteRecord(t *testing.T) {
	sum := [32]byte{0: 0xde, 1: 0xad, 31: 0x01}
	ts := unix.Timespec{Sec: 1500000000, Nsec: 123456789}
	for _, tc := range []struct {
		e    extract.Entry
		want string
	}{
		{extract.Entry{Name: "rootfs/bin/sh", Mode: unix.S_IFREG | 0o4755, Uid: 0, Gid: 0, Mtime: ts, Size: 12345, Sum: sum},
			"rootfs/bin/sh\x000 4755 0 0 12345 1500000000123456789 dead000000000000000000000000000000000000000000000000000000000001\n"},
		{extract.Entry{Name: "rootfs/f ä", Mode: unix.S_IFREG | 0o600, Uid: 4294967294, Gid: 65534, Mtime: unix.Timespec{Sec: -1, Nsec: 5},
			Xattrs: [][2]string{{"security.capability", "\x01\x00"}, {"user.a", "b c"}}},
			"rootfs/f ä\x000 600 4294967294 65534 0 -999999995 0000000000000000000000000000000000000000000000000000000000000000 security.capability=0100 user.a=622063\n"},
		{extract.Entry{Name: "rootfs/d", Mode: unix.S_IFDIR | 0o1777, Uid: 1, Gid: 2, Mtime: ts, Xattrs: [][2]string{{"user.x", ""}}},
			"rootfs/d\x005 1777 1 2 user.x=\n"},
		{extract.Entry{Name: "rootfs", Mode: unix.S_IFDIR | 0o755, Mtime: ts}, "rootfs\x005 755 0 0\n"},
		{extract.Entry{Name: "rootfs/l", Mode: unix.S_IFLNK | 0o777, Uid: 7, Gid: 8, Mtime: ts, Linkname: "../a b"},
			"rootfs/l\x002 777 7 8 1500000000123456789 -> ../a b\n"},
		{extract.Entry{Name: "rootfs/p", Mode: unix.S_IFIFO | 0o620, Mtime: ts}, "rootfs/p\x006 620 0 0 1500000000123456789\n"},
		{extract.Entry{Name: "rootfs/sock", Mode: unix.S_IFSOCK | 0o755, Mtime: ts}, ""},
	} {
		var b bytes.Buffer
		w := bufio.NewWriter(&b)
		if err := writeRecord(w, &tc.e); err != nil || w.Flush() != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("record of %s:\n got %q\nwant %q", tc.e.Name, b.String(), tc.want)
		}
	}
}
