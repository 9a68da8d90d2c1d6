package sysnum

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestNumber(t *testing.T) {
	if !Supported() {
		t.Skip("no table for this architecture")
	}
	for _, tc := range []struct {
		name string
		want uint32
		ok   bool
	}{
		{"read", unix.SYS_READ, true},
		{"write", unix.SYS_WRITE, true},
		{"execve", unix.SYS_EXECVE, true},
		{"clone", unix.SYS_CLONE, true},
		{"clone3", unix.SYS_CLONE3, true},
		{"mount", unix.SYS_MOUNT, true},
		{"umount2", unix.SYS_UMOUNT2, true},
		{"rt_sigaction", unix.SYS_RT_SIGACTION, true},
		{"io_uring_setup", unix.SYS_IO_URING_SETUP, true},
		{"open_by_handle_at", unix.SYS_OPEN_BY_HANDLE_AT, true},
		{"fly", 0, false},
		{"READ", 0, false},
		{"", 0, false},
		{"syscall_mask", 0, false},
	} {
		n, ok := Number(tc.name)
		if n != tc.want || ok != tc.ok {
			t.Errorf("Number(%q) = %d, %t, want %d, %t", tc.name, n, ok, tc.want, tc.ok)
		}
	}
}

// TestTable checks what Number's binary search relies on: names sorted,
// each once, a number for each.
func TestTable(t *testing.T) {
	if !Supported() {
		t.Skip("no table for this architecture")
	}
	if len(names) != len(numbers) {
		t.Fatalf("%d names, %d numbers", len(names), len(numbers))
	}
	if !slices.IsSorted(names[:]) {
		t.Error("names are not sorted")
	}
	if len(slices.Compact(slices.Clone(names[:]))) != len(names) {
		t.Error("a name is in the table twice")
	}
}
