//go:build linux

package box

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// connectMarker makes the re-executed test binary run the connect step.
const connectMarker = "-acirun-box-connect="

// dial connects to a D-Bus socket inside the box and authenticates as the
// caller; hello is false for systemd's private socket, which has no bus
// daemon behind it.
//
// systemd refuses a private connection from a process it cannot see in its
// pid namespace (SO_PEERCRED gives it pid 0), and the test process is
// outside the box. So the socket is connected by a short-lived child forked
// into the box's pid namespace (from a locked thread that joined it, and is
// thrown away), which hands the connected socket back over a socketpair.
func (b *Box) dial(ctx context.Context, socket string, hello bool) (*dbus.Conn, error) {
	path, err := b.Path(socket)
	if err != nil {
		return nil, err
	}
	uc, release, err := b.connectInBox(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", socket, err)
	}
	defer release()
	conn, err := dbus.DialUnix(uc, dbus.WithContext(ctx))
	if err != nil {
		uc.Close()
		return nil, err
	}
	if err := conn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		conn.Close()
		return nil, err
	}
	if hello {
		if err := conn.Hello(); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return conn, nil
}

// connectInBox returns a unix socket connected to path (a host path) by a
// process inside the box's pid namespace, and a function that lets that
// process exit: call it once the peer has accepted and authenticated.
func (b *Box) connectInBox(ctx context.Context, path string) (_ *net.UnixConn, release func(), err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "connect"), os.NewFile(uintptr(fds[1]), "connect")
	defer ours.Close()
	pidns, err := os.Open(fmt.Sprintf("/proc/%d/ns/pid", b.Pid()))
	if err != nil {
		theirs.Close()
		return nil, nil, err
	}
	defer pidns.Close()
	cmd := exec.CommandContext(ctx, b.self, connectMarker+path)
	cmd.Args[0] = os.Args[0]
	cmd.Env = []string{}
	cmd.ExtraFiles = []*os.File{theirs}
	started := make(chan error, 1)
	go func() {
		// Never unlocked: the thread dies with this goroutine.
		runtime.LockOSThread()
		if err := unix.Setns(int(pidns.Fd()), unix.CLONE_NEWPID); err != nil {
			started <- fmt.Errorf("setns pid: %w", err)
			return
		}
		started <- cmd.Start()
	}()
	err = <-started
	theirs.Close()
	if err != nil {
		return nil, nil, err
	}
	fc, err := net.FileConn(ours)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, nil, err
	}
	finish := func() {
		fc.Close() // the child reads EOF and exits
		cmd.Wait()
	}
	defer func() {
		if err != nil {
			cmd.Process.Kill()
			finish()
		}
	}()
	sp := fc.(*net.UnixConn)
	if dl, ok := ctx.Deadline(); ok {
		sp.SetDeadline(dl)
	} else {
		sp.SetDeadline(time.Now().Add(10 * time.Second))
	}
	buf, oob := make([]byte, 512), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := sp.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err == nil && len(msgs) != 1 {
		err = fmt.Errorf("%s", buf[:n]) // the child's error
	}
	if err != nil {
		return nil, nil, err
	}
	rights, err := unix.ParseUnixRights(&msgs[0])
	if err == nil && len(rights) != 1 {
		err = fmt.Errorf("%d file descriptors received", len(rights))
	}
	if err != nil {
		return nil, nil, err
	}
	f := os.NewFile(uintptr(rights[0]), path)
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, nil, err
	}
	return c.(*net.UnixConn), finish, nil
}

// runConnect is the connect step: connect to path, send the socket over
// fd 3, and wait for the parent to close fd 3 (so that the peer sees a live
// process while it accepts).
func runConnect(path string) {
	const parentFd = 3
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
	}
	if err != nil {
		unix.Sendmsg(parentFd, []byte(err.Error()), nil, nil, 0)
		os.Exit(1)
	}
	if err := unix.Sendmsg(parentFd, []byte{0}, unix.UnixRights(fd), nil, 0); err != nil {
		os.Exit(1)
	}
	var b [1]byte
	unix.Read(parentFd, b[:])
	os.Exit(0)
}
