package testenv

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// KernelAtLeast says whether the running kernel's release is major.minor
// or later, for a test of what only such a kernel does; it fails t if it
// cannot tell.
func KernelAtLeast(t testing.TB, major, minor int) bool {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatalf("uname: %v", err)
	}
	rel := unix.ByteSliceToString(u.Release[:])
	var maj, min int
	if _, err := fmt.Sscanf(rel, "%d.%d", &maj, &min); err != nil {
		t.Fatalf("kernel release %q: %v", rel, err)
	}
	return maj > major || maj == major && min >= minor
}
