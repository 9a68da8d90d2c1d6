package stage1

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWriteFileInRoot: /etc/hosts and /etc/resolv.conf as PID 1 writes
// them into an app's root: a file where nothing was (its directory made),
// and in place of a file, a symlink (replaced, never followed: its target
// outside the root keeps its content) or a dangling symlink; the mode is
// the one asked for whatever the umask; a directory in the way is an
// error naming the path; no temporary file is left in any case.
func TestWriteFileInRoot(t *testing.T) {
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, root, outside string)
		err     string // "": written
	}{
		{"nothing there, no directory", func(t *testing.T, root, outside string) {}, ""},
		{"nothing there", func(t *testing.T, root, outside string) { must(t, os.Mkdir(filepath.Join(root, "etc"), 0o755)) }, ""},
		{"a file", func(t *testing.T, root, outside string) {
			must(t, os.Mkdir(filepath.Join(root, "etc"), 0o755))
			must(t, os.WriteFile(filepath.Join(root, "etc/hosts"), []byte("the image's\n"), 0o600))
		}, ""},
		{"a symlink out of the root", func(t *testing.T, root, outside string) {
			must(t, os.Mkdir(filepath.Join(root, "etc"), 0o755))
			must(t, os.Symlink(outside, filepath.Join(root, "etc/hosts")))
		}, ""},
		{"a dangling symlink", func(t *testing.T, root, outside string) {
			must(t, os.Mkdir(filepath.Join(root, "etc"), 0o755))
			must(t, os.Symlink("/nowhere/hosts", filepath.Join(root, "etc/hosts")))
		}, ""},
		{"a directory", func(t *testing.T, root, outside string) {
			must(t, os.MkdirAll(filepath.Join(root, "etc/hosts"), 0o755))
		}, "write /etc/hosts: is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			root, outside := filepath.Join(dir, "root"), filepath.Join(dir, "outside")
			must(t, os.Mkdir(root, 0o755))
			must(t, os.WriteFile(outside, []byte("keep\n"), 0o644))
			tc.prepare(t, root, outside)
			fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			must(t, err)
			defer unix.Close(fd)
			err = writeFileInRoot(fd, "/etc/hosts", []byte("127.0.0.1\tlocalhost\n"), 0o644)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("writeFileInRoot: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("writeFileInRoot: %v, want an error with %q", err, tc.err)
			}
			if b, err := os.ReadFile(outside); err != nil || string(b) != "keep\n" {
				t.Errorf("the file outside the root: %q, %v", b, err)
			}
			ents, err := os.ReadDir(filepath.Join(root, "etc"))
			must(t, err)
			for _, e := range ents {
				if e.Name() != "hosts" {
					t.Errorf("left in /etc: %s", e.Name())
				}
			}
			if tc.err != "" {
				return
			}
			st, err := os.Lstat(filepath.Join(root, "etc/hosts"))
			must(t, err)
			if !st.Mode().IsRegular() || st.Mode().Perm() != 0o644 {
				t.Errorf("/etc/hosts: %v, want a regular file of mode 0644", st.Mode())
			}
			if b, _ := os.ReadFile(filepath.Join(root, "etc/hosts")); string(b) != "127.0.0.1\tlocalhost\n" {
				t.Errorf("/etc/hosts: %q", b)
			}
		})
	}
}
