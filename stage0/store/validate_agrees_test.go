package store

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/acirun/acirun/aci/archive"
)

// TestValidateAgreesWithImport: `image validate` (archive.ValidateArchive) and
// fetch (Import: the same walk, then the extractor) take and refuse the
// same archives, because the rules of names, parents, link targets and
// owners are one set (archive.CleanEntryName and the walker's kinds), where
// validate used to say ok to archives that fetch refused.
func TestValidateAgreesWithImport(t *testing.T) {
	long := strings.Repeat("n", archive.MaxNameLen)
	deep := strings.Repeat("a/", 1000) + "f"   // 2001 bytes: fine
	deeper := strings.Repeat("a/", 2100) + "f" // more than MaxPathLen
	ent := func(name string, typ byte, link string) tent { return tent{name: name, typ: typ, link: link} }
	for _, tc := range []struct {
		name string
		ents []tent
		ok   bool
		want string // in the refusal
	}{
		{"plain", []tent{dirm("d", 0o755), reg("d/f", "x"), sym("l", "d/f"), ent("h", tar.TypeLink, "d/f")}, true, ""},
		{"component of 255 bytes", []tent{reg(long, "x")}, true, ""},
		{"component of 256 bytes", []tent{reg(long+"n", "x")}, false, "name component is 256 bytes long"},
		{"deep tree", []tent{reg(deep, "x")}, true, ""},
		{"path over 4096 bytes", []tent{reg(deeper, "x")}, false, "more than 4096"},
		{"symlinked parent", []tent{sym("l", "/etc"), reg("l/passwd", "x")}, false, `parent "rootfs/l" is a symlink, not a directory`},
		{"symlinked grandparent", []tent{sym("l", "/etc"), reg("l/x/y", "x")}, false, `parent "rootfs/l" is a symlink, not a directory`},
		{"file under a file", []tent{reg("f", "x"), reg("f/g", "y")}, false, `parent "rootfs/f" is a regular file, not a directory`},
		{"parent made a symlink later", []tent{reg("a/b", "x"), sym("a", "/etc")}, false, "a parent directory of earlier entries must stay a directory"},
		{"parent made a directory later", []tent{reg("a/b", "x"), dirm("a", 0o700)}, true, ""},
		{"hard link to a symlink", []tent{sym("l", "x"), ent("h", tar.TypeLink, "l")}, false, "not a regular file"},
		{"hard link to a fifo", []tent{ent("p", tar.TypeFifo, ""), ent("h", tar.TypeLink, "p")}, false, "not a regular file"},
		{"hard link to an implicit parent", []tent{reg("a/b", "x"), ent("h", tar.TypeLink, "a")}, false, "not an earlier entry"},
		{"symlink target over 4096 bytes", []tent{sym("l", strings.Repeat("t", 4097))}, false, "symlink target is 4097 bytes long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := mkACI(t, manifest("example.com/agree"), tc.ents...)
			_, verr := archive.ValidateArchive(bytes.NewReader(b))
			s := openStore(t)
			_, ierr := s.Import(context.Background(), bytes.NewReader(b), ImportOptions{})
			if tc.ok {
				if verr != nil || ierr != nil {
					t.Fatalf("validate: %v; import: %v; want both to accept", verr, ierr)
				}
				return
			}
			for what, err := range map[string]error{"validate": verr, "import": ierr} {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: %v; want a refusal saying %q", what, err, tc.want)
				}
			}
			assertEmptyStore(t, s)
		})
	}
}

// Owners out of range and too many or too large extended attributes are
// refused by both as well; the bounds themselves are accepted.
func TestValidateAgreesOnHeaders(t *testing.T) {
	xattrs := func(n, size int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprintf("%suser.a%d", archive.PAXXattr, i)] = strings.Repeat("v", size)
		}
		return m
	}
	type headerCase struct {
		name string
		hdr  tar.Header
		want string // "" accepted
	}
	cases := []headerCase{
		// (Larger ones within the bounds hit ext4's one block of
		// attributes per inode, the file system's limit, not ours.)
		{"a few xattrs", tar.Header{PAXRecords: xattrs(3, 100)}, ""},
		{"129 xattrs", tar.Header{PAXRecords: xattrs(archive.MaxXattrs+1, 1)}, "more than 128 extended attributes"},
		{"an xattr over 64 KiB", tar.Header{PAXRecords: xattrs(1, 64<<10+1)}, "too large"},
	}
	// The owners' bounds, where tar.Header's int holds them (archive/tar
	// of a 32-bit build cannot read such an owner at all).
	if maxID := int64(archive.MaxID); int64(int(maxID)) == maxID {
		cases = append(cases,
			headerCase{"owner 2^32-2", tar.Header{Uid: int(maxID), Gid: int(maxID)}, ""},
			headerCase{"owner 2^32-1", tar.Header{Uid: int(maxID + 1)}, "4294967295"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			f := tc.hdr
			f.Name, f.Typeflag, f.Mode, f.Format = "rootfs/f", tar.TypeReg, 0o644, tar.FormatPAX
			for _, h := range []*tar.Header{{Name: "rootfs", Typeflag: tar.TypeDir, Mode: 0o755}, &f} {
				if err := tw.WriteHeader(h); err != nil {
					t.Fatal(err)
				}
			}
			man := manifest("example.com/agree")
			if err := tw.WriteHeader(&tar.Header{Name: "manifest", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(man))}); err != nil {
				t.Fatal(err)
			}
			tw.Write([]byte(man))
			tw.Close()
			_, verr := archive.ValidateArchive(bytes.NewReader(buf.Bytes()))
			s := openStore(t)
			_, ierr := s.Import(context.Background(), bytes.NewReader(buf.Bytes()), ImportOptions{})
			for what, err := range map[string]error{"validate": verr, "import": ierr} {
				switch {
				case tc.want == "" && err != nil:
					t.Errorf("%s: %v; want it accepted", what, err)
				case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
					t.Errorf("%s: %v; want a refusal saying %q", what, err, tc.want)
				}
			}
		})
	}
}
