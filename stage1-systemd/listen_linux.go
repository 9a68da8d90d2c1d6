package stage1

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Socket activation (E8). PID 1, in the pod's network namespace (the host's
// with --net=host), opens the listening sockets of every socketActivated
// port before any app starts, so that a port in use or a protocol we cannot
// serve refuses the whole pod. Each app's sockets go to its main process
// only, as fds 3, 4, … in the order of its ports (a port with count N gives
// N fds, port, port+1, …), with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES
// as sd_listen_fds(3) expects. Each app gets its own sockets, so nothing
// needs matching with getsockname.
//
// The sockets are bound to the wildcard address: IPv6 "::" with IPV6_V6ONLY
// off (one dual-stack socket per port, reachable over IPv4 and IPv6) when
// the kernel has IPv6, else IPv4 0.0.0.0. They have SO_REUSEADDR, as
// systemd's, so that a port in TIME_WAIT can be bound again at once.

// checkListenProtocols refuses the pod when an app has a socketActivated
// port whose protocol stage1 cannot open (only "tcp" and "udp": the wildcard
// socket already serves both IP versions, so "tcp6" and the like are not
// taken as hints).
func checkListenProtocols(apps []*appSpec) error {
	for _, a := range apps {
		for _, l := range a.listen {
			if l.protocol != "tcp" && l.protocol != "udp" {
				return fmt.Errorf("app %s: socket-activated port %s: protocol %q is not supported (want tcp or udp)", a.name, l.name, l.protocol)
			}
			if l.port < 1 || l.port+l.count-1 > 65535 {
				return fmt.Errorf("app %s: socket-activated port %s: %d (count %d) out of range 1-65535", a.name, l.name, l.port, l.count)
			}
		}
	}
	return nil
}

// listenNames is LISTEN_FDNAMES of an app, one name per fd: each port's
// name, repeated for its count.
func listenNames(a *appSpec) []string {
	var names []string
	for _, l := range a.listen {
		for i := uint(0); i < l.count; i++ {
			names = append(names, l.name)
		}
	}
	return names
}

// openListeners opens the sockets of every socketActivated port of a, in
// order, close-on-exec (only the app's main process receives them, through
// its ProcAttr). report gets one line per fd. On failure no socket is
// left open.
func openListeners(a *appSpec, report func(format string, args ...any)) ([]int, error) {
	var fds []int
	for _, l := range a.listen {
		for i := uint(0); i < l.count; i++ {
			port := int(l.port + i)
			fd, err := listenSocket(l.protocol, port)
			if err != nil {
				closeFds(fds)
				return nil, fmt.Errorf("app %s: socket-activated port %s %s/%d: %w", a.name, l.name, l.protocol, port, err)
			}
			fds = append(fds, fd)
			report("app %s: socket-activated port %s %s/%d passed as fd %d", a.name, l.name, l.protocol, port, 2+len(fds))
		}
	}
	return fds, nil
}

// listenSocket opens one wildcard socket on port: listening for "tcp",
// bound for "udp".
func listenSocket(protocol string, port int) (int, error) {
	typ := unix.SOCK_STREAM
	if protocol == "udp" {
		typ = unix.SOCK_DGRAM
	}
	var sa unix.Sockaddr = &unix.SockaddrInet6{Port: port}
	fd, err := unix.Socket(unix.AF_INET6, typ|unix.SOCK_CLOEXEC, 0)
	if errors.Is(err, unix.EAFNOSUPPORT) {
		sa = &unix.SockaddrInet4{Port: port}
		fd, err = unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	} else if err == nil {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("setsockopt IPV6_V6ONLY: %w", err)
		}
	}
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("setsockopt SO_REUSEADDR: %w", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind: %w", err)
	}
	if typ == unix.SOCK_STREAM {
		if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("listen: %w", err)
		}
	}
	return fd, nil
}

func closeFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// takeListenFds is the app side: the n sockets PID 1 passed are fds 3 to
// 3+n-1; it checks that they are, and that n is the number of names (the
// app's ports for its main process, none for its event handlers), then clears their close-on-exec flag and sets it on every fd
// above them, so that exactly these reach the app. It returns the
// LISTEN_* variables (none when n is 0).
func takeListenFds(names []string, n int) ([]string, error) {
	if n != len(names) {
		return nil, fmt.Errorf("received %d socket-activated fds, want %d", n, len(names))
	}
	if err := unix.CloseRange(uint(3+n), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return nil, fmt.Errorf("close_range: %w", err)
	}
	for fd := 3; fd < 3+n; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			return nil, fmt.Errorf("fd %d: not a socket-activated socket (%v)", fd, err)
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return nil, fmt.Errorf("fd %d: clear close-on-exec: %w", fd, err)
		}
	}
	if n == 0 {
		return nil, nil
	}
	return []string{
		"LISTEN_FDS=" + strconv.Itoa(n),
		"LISTEN_PID=" + strconv.Itoa(os.Getpid()),
		"LISTEN_FDNAMES=" + strings.Join(names, ":"),
	}, nil
}

// SetEnv sets each NAME=VALUE of vars in env, replacing a variable of that
// name (the app's own LISTEN_* would only mislead it).
func SetEnv(env, vars []string) []string {
	for _, v := range vars {
		name, _, _ := strings.Cut(v, "=")
		out := env[:0:0]
		for _, e := range env {
			if n, _, _ := strings.Cut(e, "="); n != name {
				out = append(out, e)
			}
		}
		env = append(out, v)
	}
	return env
}
