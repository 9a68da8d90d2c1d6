package stage1

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// LoopbackUp brings up lo, the loopback interface of the calling thread's
// network namespace, with two ioctls on a socket of no address family's
// network: a netlink socket, a dump of the link to find its index and a
// change request cost PID 1 twice the system calls and the netlink
// package's code on the way to every app's start, and a --net=none pod
// needs no other. The supervisor's pod thread brings it up as soon as it
// has made the pod's network namespace, beside the pod's preparation;
// PID 1 calls it again, which then only reads the flags: the change
// (dev_open, IPv6's ::1) is made once.
func LoopbackUp() error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS: %w", err)
	}
	if ifr.Uint16()&unix.IFF_UP != 0 {
		return nil
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCSIFFLAGS: %w", err)
	}
	return nil
}
