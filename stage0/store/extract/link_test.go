package extract

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/testenv"
)

// LinkFrom across file systems (tmpfs /dev/shm to the test's temporary
// directory) copies the file with its metadata instead of linking.
func TestLinkFromCopiesAcrossFileSystems(t *testing.T) {
	shm, err := os.MkdirTemp("/dev/shm", "linkfrom")
	if err != nil {
		testenv.Unmet(t, "needs /dev/shm: "+err.Error(), "CI's machine mounts a tmpfs there")
	}
	defer os.RemoveAll(shm)
	var a, b unix.Statfs_t
	target := t.TempDir()
	if unix.Statfs(shm, &a) != nil || unix.Statfs(target, &b) != nil || a.Fsid == b.Fsid {
		testenv.Unmet(t, "needs /dev/shm on another file system than "+target, "CI's /dev/shm is a tmpfs and its temporary directory is on the disk")
	}
	src := filepath.Join(shm, "f")
	os.WriteFile(src, []byte("content"), 0o600)
	unix.Chmod(src, 0o4751)
	mt := time.Unix(1234567890, 5)
	os.Chtimes(src, mt, mt)
	dfd, _ := unix.Open(shm, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	defer unix.Close(dfd)

	x, err := New(target, Options{NoOwnership: os.Geteuid() != 0})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if err := x.LinkFrom(context.Background(), "a/b/f", dfd, "f"); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := filepath.Join(target, "a/b/f")
	b2, _ := os.ReadFile(got)
	fi, err := os.Stat(got)
	if err != nil || string(b2) != "content" || !fi.ModTime().Equal(mt) {
		t.Fatalf("copy: %q %v %v", b2, fi, err)
	}
	want := os.FileMode(0o751) | os.ModeSetuid
	if os.Geteuid() != 0 {
		want = 0o751
	}
	if fi.Mode() != want {
		t.Errorf("mode %v, want %v", fi.Mode(), want)
	}
	si, _ := os.Stat(src)
	if os.SameFile(fi, si) {
		t.Error("linked across file systems?")
	}
}
