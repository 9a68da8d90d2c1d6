package regfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	f, err := OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("hello"); err != nil {
		t.Fatal(err)
	}
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("descriptor flags %#x (%v), want FD_CLOEXEC", flags, err)
	}
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK != 0 {
		t.Errorf("file status flags %#x (%v), want blocking", fl, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); string(b) != "hello" {
		t.Errorf("content %q (%v)", b, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	_, err = OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrExist) || !errors.As(err, &pe) || pe.Path != path {
		t.Errorf("OpenFile of an existing file with O_EXCL: %v, want a PathError naming it matching fs.ErrExist", err)
	}
	if _, err := OpenFile(filepath.Join(dir, "none"), os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenFile of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, content := range []string{"", "owner\n", string(make([]byte, 5000))} {
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if b, err := ReadFile(path); err != nil || string(b) != content {
			t.Errorf("ReadFile of %d bytes: %d bytes, %v", len(content), len(b), err)
		}
	}
	var pe *fs.PathError
	if _, err := ReadFile(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) {
		t.Errorf("ReadFile of a missing file: %v, want a PathError matching fs.ErrNotExist", err)
	}
	// A file of the kernel's whose size says 0 (PID 1 reads its cgroups
	// and mounts this way): all of it, as os.ReadFile reads it.
	want, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile("/proc/self/cgroup"); err != nil || string(b) != string(want) || len(b) == 0 {
		t.Errorf("ReadFile(/proc/self/cgroup) = %q, %v, want %q", b, err, want)
	}
}

// TestWriteFile: a new file gets the content and perm (less the umask),
// an existing one's longer content is cut to the new, and a missing
// directory is a PathError matching fs.ErrNotExist.
func TestWriteFile(t *testing.T) {
	defer unix.Umask(unix.Umask(0o022))
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := WriteFile(path, []byte("4096 and more"), 0o640); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v (%v), want 0640 (umask 022)", fi.Mode().Perm(), err)
	}
	if err := WriteFile(path, []byte("0"), 0); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); string(b) != "0" {
		t.Errorf("content %q (%v), want %q", b, err, "0")
	}
	var pe *fs.PathError
	if err := WriteFile(filepath.Join(dir, "none", "f"), []byte("0"), 0); !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) {
		t.Errorf("WriteFile into a missing directory: %v, want a PathError matching fs.ErrNotExist", err)
	}
}
