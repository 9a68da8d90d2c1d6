package oci

import (
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// PrimaryGroup returns the function Manifest asks for the group of a user
// named without one: the fourth field of the user's line in rootfs's
// /etc/passwd, found by name or, for a numeric user, by UID. The file is
// opened inside rootfs (its symlinks resolved there, never on the host).
// stage1 resolves names to IDs when the app starts; this is the one thing
// it cannot know, because an ACI always names its group.
func PrimaryGroup(rootfs string) func(user string) (string, bool) {
	return func(user string) (string, bool) {
		h, err := pathrs.OpenInRoot(rootfs, "etc/passwd")
		if err != nil {
			return "", false
		}
		defer h.Close()
		f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC)
		if err != nil {
			return "", false
		}
		defer f.Close()
		return primaryGroup(f, user)
	}
}
