// Package userns provides what a pod with a user namespace of its own
// (--private-users) needs on the host: ranges of host user and group IDs
// leased to pods so that no two running pods share one (Leases, kept as
// files beside the network's address leases and taken back from pods that
// are gone, as netns does with addresses), and the kernel's ID-mapped mounts
// through which a pod sees a tree of the store owned by its own IDs without
// a byte of the store being changed (NewUserNS, IDMapTree).
//
// A range maps the pod's IDs 0 to Count-1 to the host's First to
// First+Count-1, for users and groups alike, as systemd-nspawn's -U and
// podman's --userns=auto do. The automatic ranges are 65536 IDs each
// (a whole 16-bit ID space, nobody's 65534 included) from 0x80000 up to
// 0x6FFFFFFF, nspawn's span, so that they stay clear of the host's own
// users and of /etc/subuid's usual ranges.
//
// An ID-mapped copy is made in the initial user namespace (only it may).
// A mounter in a user namespace must attach it with move_mount before
// overlayfs takes it as a layer: handed the unattached copy as
// /proc/self/fd/N, overlayfs refuses it there (EPERM, Linux 6.18);
// TestIDMapTreeAsOverlayLower checks that such a mounter could do both.
// stage1's PID 1, the host's root, hands it unattached (Linux 6.15 and
// later take it from the initial user namespace), or attaches it first on
// an older kernel.
//
// It is a leaf: it imports nothing of acirun's but internal/flock, regfile
// and forkhook.
package userns
