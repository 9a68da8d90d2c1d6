package store

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/testenv"
)

// An ACI made with plain GNU tar (gzip, xz, bzip2, none) from a directory
// imports unchanged: the rendered tree hashes exactly like the directory it
// was made from (names, types, modes with setuid, owners, user xattrs, file capabilities,
// symlink targets, mtimes, content), hard links stay hard links, and
// exporting gives the same ID back.
func TestImportGNUTar(t *testing.T) {
	testenv.NeedTool(t, "tar", "ACIs made with plain GNU tar")
	testenv.NeedRoot(t, "to own files as other users")
	src := filepath.Join(t.TempDir(), "image")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	rootfs := filepath.Join(src, "rootfs")
	must(os.MkdirAll(filepath.Join(rootfs, "usr/bin"), 0o755))
	must(os.MkdirAll(filepath.Join(rootfs, "var/tmp"), 0o755))
	must(os.WriteFile(filepath.Join(src, "manifest"), []byte(manifest("example.com/gnutar")), 0o644))
	must(os.WriteFile(filepath.Join(rootfs, "usr/bin/tool"), []byte("#!/bin/sh\nexit 0\n"), 0o755))
	must(unix.Chmod(filepath.Join(rootfs, "usr/bin/tool"), 0o4755))
	must(os.Link(filepath.Join(rootfs, "usr/bin/tool"), filepath.Join(rootfs, "usr/bin/tool2")))
	must(os.Symlink("tool", filepath.Join(rootfs, "usr/bin/alias")))
	must(os.Symlink("/usr/bin", filepath.Join(rootfs, "bin")))
	must(os.WriteFile(filepath.Join(rootfs, "var/data"), make([]byte, 100000), 0o640))
	must(os.Chown(filepath.Join(rootfs, "var/data"), 1234, 5678))
	must(unix.Chmod(filepath.Join(rootfs, "var/tmp"), 0o1777))
	must(unix.Mkfifo(filepath.Join(rootfs, "var/fifo"), 0o600))
	xattrs := unix.Setxattr(filepath.Join(rootfs, "var/data"), "user.note", []byte("kept"), 0) == nil
	// File capabilities (vfs_cap_data revision 2, effective: cap_net_bind_service).
	must(os.WriteFile(filepath.Join(rootfs, "usr/bin/bind"), []byte("#!/bin/sh\n"), 0o755))
	fcaps := []byte{1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	must(unix.Setxattr(filepath.Join(rootfs, "usr/bin/bind"), "security.capability", fcaps, 0))
	old := time.Unix(1500000000, 0)
	filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			unix.Lutimes(p, []unix.Timeval{unix.NsecToTimeval(old.UnixNano()), unix.NsecToTimeval(old.UnixNano())})
		}
		return nil
	})
	want, err := TreeHash(context.Background(), src)
	must(err)

	for _, comp := range []string{"-z", "-J", "-j", ""} {
		t.Run("tar"+comp, func(t *testing.T) {
			s := openStore(t)
			aciPath := filepath.Join(t.TempDir(), "x.aci")
			args := []string{"-C", src, "--numeric-owner", "--xattrs", "--xattrs-include=user.*", "--xattrs-include=security.capability", "-cf", aciPath, "manifest", "rootfs"}
			if comp != "" {
				args = append([]string{comp}, args...)
			}
			if out, err := exec.Command("tar", args...).CombinedOutput(); err != nil {
				t.Fatalf("tar: %v: %s", err, out)
			}
			f, err := os.Open(aciPath)
			must(err)
			defer f.Close()
			img, err := s.Import(context.Background(), f, ImportOptions{})
			must(err)
			tree, err := s.TreePath(img.ID)
			must(err)
			// The hash recorded at import (from what the extractor wrote)
			// is the one a full walk finds.
			if h, err := TreeHash(context.Background(), tree); err != nil || h != img.TreeHash {
				t.Errorf("recorded tree hash %s, a walk of the tree gives %s (%v)", img.TreeHash, h, err)
			}
			// The manifest is written by the store: give it the source's
			// times so the two trees compare.
			unix.Lutimes(filepath.Join(tree, "manifest"), []unix.Timeval{unix.NsecToTimeval(old.UnixNano()), unix.NsecToTimeval(old.UnixNano())})
			got, err := TreeHash(context.Background(), tree)
			must(err)
			if got != want {
				var a, b bytes.Buffer
				writeTreeRecords(context.Background(), src, &a, nil)
				writeTreeRecords(context.Background(), tree, &b, nil)
				t.Errorf("rendered tree hashes to %s, the source directory to %s:\nsource:\n%s\nrendered:\n%s", got, want, a.String(), b.String())
			}
			a, _ := os.Stat(filepath.Join(tree, "rootfs/usr/bin/tool"))
			b, _ := os.Stat(filepath.Join(tree, "rootfs/usr/bin/tool2"))
			if !os.SameFile(a, b) {
				t.Error("hard link not kept")
			}
			fc := make([]byte, 64)
			if n, err := unix.Getxattr(filepath.Join(tree, "rootfs/usr/bin/bind"), "security.capability", fc); err != nil || !bytes.Equal(fc[:n], fcaps) {
				t.Errorf("security.capability = %x, %v; want %x", fc, err, fcaps)
			}
			if xattrs {
				buf := make([]byte, 8)
				n, err := unix.Getxattr(filepath.Join(tree, "rootfs/var/data"), "user.note", buf)
				if err != nil || string(buf[:n]) != "kept" {
					t.Errorf("user.note = %q, %v", buf[:n], err)
				}
			}
			var out fileBuffer
			must(s.Export(context.Background(), img.ID, &out))
			orig, _ := os.ReadFile(aciPath)
			if string(out) != string(orig) {
				t.Error("export differs from the tar file")
			}
		})
	}
}

type fileBuffer []byte

func (b *fileBuffer) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }
