package stage1

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// The functions below change the calling thread only: the caller has locked
// its OS thread and executes the app from it.

// dropBounding removes every capability outside keep from the bounding set.
func dropBounding(keep capSet) error {
	for c := 0; c < 64; c++ {
		if keep.has(c) {
			continue
		}
		err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
		if err == unix.EINVAL { // past the kernel's last capability
			return nil
		}
		if err != nil {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	return nil
}

// setCaps makes s the permitted and effective sets and empties the
// inheritable and ambient sets, as runc does with Docker's defaults: a root
// app keeps s across execve, a non-root app ends up with no capabilities.
func setCaps(s capSet) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(s), Permitted: uint32(s)},
		{Effective: uint32(s >> 32), Permitted: uint32(s >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset %s: %w", s, err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && err != unix.EINVAL {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	return nil
}
