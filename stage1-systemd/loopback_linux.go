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
// needs no other. The supervisor's pod thread brings it up once it has
// forked PID 1 into the pod's network namespace, beside PID 1's start;
// PID 1 calls it again, which then only reads the flags: the change
// (dev_open, IPv6's ::1) is made once.
func LoopbackUp() error {
	fd, ifr, err := loopbackFlags()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if ifr.Uint16()&unix.IFF_UP != 0 {
		return nil
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCSIFFLAGS: %w", err)
	}
	return nil
}

// LoopbackFlags are the flags of lo in the calling thread's network
// namespace (unix.IFF_UP among them), read as LoopbackUp reads them.
func LoopbackFlags() (uint16, error) {
	fd, ifr, err := loopbackFlags()
	if err != nil {
		return 0, err
	}
	unix.Close(fd)
	return ifr.Uint16(), nil
}

// loopbackFlags reads lo's flags into ifr, and returns the socket it
// asked on, for a change; the caller closes it.
func loopbackFlags() (fd int, ifr *unix.Ifreq, err error) {
	fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, err
	}
	if ifr, err = unix.NewIfreq("lo"); err == nil {
		err = unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr)
		if err != nil {
			err = fmt.Errorf("SIOCGIFFLAGS: %w", err)
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, nil, err
	}
	return fd, ifr, nil
}
