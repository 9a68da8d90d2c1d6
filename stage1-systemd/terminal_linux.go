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
// standard input, output and error, sends the master back over the socket,
// and closes both before it executes the app. So the app holds nothing but
// its terminal's peer.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// console is the host side of an interactive pod on a terminal.
type console struct {
	sock  int      // our end of the socket the master comes over
	child int      // PID 1's end, closed once PID 1 has it
	in    *os.File // the terminal: our standard input
	out   *os.File
	saved *term.State   // the terminal's settings before it was made raw
	done  chan struct{} // closed when the app's output has all been copied
}

// newConsole makes the socket the app's launcher sends its terminal over,
// for a pod run from the terminal in (and writing to out).
func newConsole(in, out *os.File) (*console, error) {
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	return &console{sock: sp[0], child: sp[1], in: in, out: out, done: make(chan struct{})}, nil
}

// relay waits for the app's terminal and then copies between it and ours,
// which it makes raw (every key goes to the app, Ctrl-C and Ctrl-Z too, for
// its own job control) and keeps the same size. It returns when the app's
// side is closed; restore puts our terminal back.
func (c *console) relay() {
	defer close(c.done)
	master, err := receiveFd(c.sock)
	unix.Close(c.sock)
	if err != nil {
		// PID 1 or the launcher failed before: they say why.
		return
	}
	m := os.NewFile(uintptr(master), "pod terminal")
	defer m.Close()
	in := int(c.in.Fd())
	if st, err := term.MakeRaw(in); err == nil {
		c.saved = st
	}
	resize := func() {
		if ws, err := unix.IoctlGetWinsize(in, unix.TIOCGWINSZ); err == nil {
			_ = unix.IoctlSetWinsize(master, unix.TIOCSWINSZ, ws)
		}
	}
	resize()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	defer signal.Stop(winch)
	go func() {
		for range winch {
			resize()
		}
	}()
	go func() { _, _ = io.Copy(m, c.in) }()
	// Until every holder of the app's side has closed it: EIO.
	_, _ = io.Copy(c.out, m)
}

// restore waits (a moment at most) for the last of the app's output and
// puts our terminal back as it was. The relay must have been started.
func (c *console) restore() {
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
	}
	if c.saved != nil {
		_ = term.Restore(int(c.in.Fd()), c.saved)
	}
}

// receiveFd receives one descriptor sent with sendFd.
func receiveFd(sock int) (int, error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		_, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, err
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			return -1, errors.New("console socket: no terminal received")
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return -1, errors.New("console socket: not one descriptor")
		}
		if !isTerminal(fds[0]) {
			unix.Close(fds[0])
			return -1, errors.New("console socket: not a terminal")
		}
		return fds[0], nil
	}
}

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

// takeTerminal is the app launcher's way (it executes the app itself):
// the terminal of openTerminal becomes the controlling terminal of a new
// session, the launcher's, and its standard input, output and error.
func takeTerminal(sock int, uid uint32) error {
	peer, err := openTerminal(sock, uid)
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
