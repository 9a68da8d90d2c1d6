package stage1

// --interactive on a terminal: the app gets a pseudo-terminal of its own
// pod (its /dev/pts instance), as its controlling terminal, and `stage1 run`
// relays between it and the terminal acirun was run from, as
// systemd-nspawn and runc do. The user's terminal itself never enters the
// pod: making it the app's controlling terminal would take it from the
// session of the shell acirun was started from (TIOCSCTTY steals only with
// CAP_SYS_ADMIN, and never gives it back), and would hand a host descriptor
// to the app.
//
// The way of the terminal's master descriptor: `stage1 run` makes a socket
// pair and gives one end to PID 1 (--console-fd), which gives it to the
// launcher of the app's main process only; the launcher, inside the app's
// root, opens /dev/ptmx, makes the peer its controlling terminal and its
// standard input, output and error, sends the master back over the socket
// (to the supervisor's console: package supervisor, console_linux.go), and
// closes both before it executes the app. So the app holds nothing but its
// terminal's peer.

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// openTerminal is the launch's part of an interactive pod's terminal, in
// the app's root before the launching thread drops its privileges: a new
// pseudo-terminal of the app's /dev/pts, owned by the app's user; its
// master goes to `stage1 run` over sock (which stays open: it is the
// caller's) and is not kept. It returns the peer (close-on-exec), for the
// app's new session to make its controlling terminal and its standard
// input, output and error.
func openTerminal(sock int, uid uint32) (int, error) {
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("terminal: open /dev/ptmx: %w", err)
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return -1, fmt.Errorf("terminal: unlock: %w", err)
	}
	// The peer by the master, not by a path an app could have replaced.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(master), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		return -1, fmt.Errorf("terminal: open the peer: %w", errno)
	}
	peer := int(r)
	if err := unix.Fchown(peer, int(uid), -1); err != nil {
		unix.Close(peer)
		return -1, fmt.Errorf("terminal: chown: %w", err)
	}
	if err := unix.Sendmsg(sock, []byte{'t'}, unix.UnixRights(master), nil, 0); err != nil {
		unix.Close(peer)
		return -1, fmt.Errorf("terminal: send it to stage1 run: %w", err)
	}
	return peer, nil
}

// ttyGID is the group of a terminal of the pod's devpts (its gid= option)
// as the pod numbers it: tty's on Debian and most distributions, as
// systemd-nspawn and runc give it.
const ttyGID = 5

// takeTerminal is the app launcher's way (it executes the app itself):
// the terminal of openTerminal becomes the controlling terminal of a new
// session, the launcher's, and its standard input, output and error.
//
// In a --private-users pod (privateUsers) the launcher runs in the app's
// user namespace as the host's root, which the namespace does not map, and
// changing a file's owner takes CAP_CHOWN over both its owner and group:
// the terminal, owned by its opener, is opened by a thread acting as the
// namespace's root (its file system UID; the devpts gives the pod's own
// ttyGID as group), which then ends.
func takeTerminal(sock int, uid uint32, privateUsers bool) error {
	open := openTerminal
	if privateUsers {
		open = func(sock int, uid uint32) (int, error) {
			// The thread's file system UID ends with it.
			return onOwnThread(func() (int, error) {
				unix.Setfsuid(0)
				return openTerminal(sock, uid)
			})
		}
	}
	peer, err := open(sock, uid)
	if err != nil {
		return err
	}
	defer unix.Close(peer)
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("terminal: setsid: %w", err)
	}
	if err := unix.IoctlSetInt(peer, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("terminal: make it the controlling terminal: %w", err)
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(peer, fd, 0); err != nil {
			return fmt.Errorf("terminal: dup onto %d: %w", fd, err)
		}
	}
	return nil
}
