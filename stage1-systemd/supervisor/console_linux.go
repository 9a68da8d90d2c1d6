package supervisor

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
		if !term.IsTerminal(fds[0]) {
			unix.Close(fds[0])
			return -1, errors.New("console socket: not a terminal")
		}
		return fds[0], nil
	}
}
