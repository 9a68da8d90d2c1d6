package userns

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLeaseHintInPlace: the hint of the last automatic range is written
// over the old one, never by truncating the file (which waits for a
// discard of its block on a file system mounted with discard). Here the
// hint is a file that refuses to shrink, a memfd sealed with
// F_SEAL_SHRINK reached through a symlink: a truncation fails there and
// leaves the old hint.
func TestLeaseHintInPlace(t *testing.T) {
	l := Leases{Dir: filepath.Join(t.TempDir(), "userns")}
	if err := os.Mkdir(l.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.MemfdCreate("last", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		t.Skipf("memfd_create: %v", err)
	}
	last := os.NewFile(uintptr(fd), "last")
	defer last.Close()
	if _, err := last.Write(fmt.Appendf(nil, "%010d\n", AutoFirst)); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), fd), filepath.Join(l.Dir, lastFile)); err != nil {
		t.Fatal(err)
	}
	for i, want := range []uint32{AutoFirst + AutoSize, AutoFirst + 2*AutoSize} {
		r, err := l.Lease(context.Background(), fmt.Sprintf("/pods/%d", i), everyoneAlive)
		if err != nil || r.First != want {
			t.Fatalf("lease %d: %v, %v; want the range after the hint's, from %d", i, r, err, want)
		}
		b, err := os.ReadFile(filepath.Join(l.Dir, lastFile))
		if hint := fmt.Sprintf("%010d\n", r.First); err != nil || string(b) != hint {
			t.Fatalf("after lease %d the hint is %q, %v; want %q, written in place", i, b, err, hint)
		}
	}
}
