package netns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// listener is a socket of the host that takes connections (TCP) or
// datagrams (UDP) on a port: a published port on the same number would
// take its traffic away from it.
type listener struct {
	protocol string // tcp or udp
	addr     netip.AddrPort
	inode    uint64
}

// The states sock_diag is asked for: listening TCP sockets, and UDP
// sockets that are not connected (the kernel keeps those as TCP_CLOSE).
const (
	tcpListen = 10 // TCP_LISTEN
	udpBound  = 7  // TCP_CLOSE
)

// sizeofDiagMsg is the size of struct inet_diag_msg.
const sizeofDiagMsg = 72

// parseDiag reads the messages of one receive of a sock_diag dump: each an
// inet_diag_msg (family, state, timer, retransmits, the socket's id with
// its local port and address in network order, and at the end its inode).
// done is true at the dump's end.
func parseDiag(b []byte, protocol string) (ls []listener, done bool, err error) {
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return nil, false, fmt.Errorf("sock_diag: %w", err)
	}
	if len(msgs) == 0 {
		return nil, false, errors.New("sock_diag: no message")
	}
	for _, m := range msgs {
		switch m.Header.Type {
		case unix.NLMSG_DONE:
			return ls, true, nil
		case unix.NLMSG_ERROR:
			if len(m.Data) >= 4 {
				if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno < 0 {
					return nil, false, syscall.Errno(-errno)
				}
			}
			return nil, false, errors.New("sock_diag: error message")
		}
		d := m.Data
		if len(d) < sizeofDiagMsg {
			return nil, false, fmt.Errorf("sock_diag: message of %d bytes, want %d", len(d), sizeofDiagMsg)
		}
		var addr netip.Addr
		switch d[0] {
		case unix.AF_INET:
			addr = netip.AddrFrom4([4]byte(d[8:12]))
		case unix.AF_INET6:
			addr = netip.AddrFrom16([16]byte(d[8:24]))
		default:
			return nil, false, fmt.Errorf("sock_diag: address family %d", d[0])
		}
		port := binary.BigEndian.Uint16(d[4:6])
		inode := binary.NativeEndian.Uint32(d[68:72])
		ls = append(ls, listener{protocol: protocol, addr: netip.AddrPortFrom(addr, port), inode: uint64(inode)})
	}
	return ls, false, nil
}

// diagListeners asks the kernel (sock_diag) for the sockets of family and
// protocol in state, in the caller's network namespace. Unlike
// /proc/net/tcp, which walks every bucket of the host's connection table
// whatever it holds (a millisecond of CPU per file on these machines), a
// dump of listening sockets walks the listening table alone.
func diagListeners(family uint8, protocol string, state uint) ([]listener, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("sock_diag: %w", err)
	}
	defer unix.Close(fd)
	proto := byte(unix.IPPROTO_TCP)
	if protocol == "udp" {
		proto = unix.IPPROTO_UDP
	}
	// nlmsghdr, then inet_diag_req_v2: family, protocol, extensions,
	// padding, the states, and a socket id of zeros (any socket).
	req := make([]byte, unix.NLMSG_HDRLEN+56)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], 20) // SOCK_DIAG_BY_FAMILY
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], 1)
	req[16], req[17] = family, proto
	binary.NativeEndian.PutUint32(req[20:], 1<<state)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("sock_diag: %w", err)
	}
	var all []listener
	buf := make([]byte, 32<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("sock_diag: %w", err)
		}
		ls, done, err := parseDiag(buf[:n], protocol)
		if err != nil {
			return nil, err
		}
		all = append(all, ls...)
		if done {
			return all, nil
		}
	}
}

// hostListeners lists the listening sockets of the caller's network
// namespace: TCP sockets that listen, UDP ones bound and not connected.
func hostListeners() ([]listener, error) {
	var all []listener
	for _, q := range []struct {
		family   uint8
		protocol string
		state    uint
	}{{unix.AF_INET, "tcp", tcpListen}, {unix.AF_INET6, "tcp", tcpListen}, {unix.AF_INET, "udp", udpBound}, {unix.AF_INET6, "udp", udpBound}} {
		ls, err := diagListeners(q.family, q.protocol, q.state)
		if err != nil {
			if q.family == unix.AF_INET6 && errors.Is(err, unix.ENOENT) {
				continue // no IPv6
			}
			return nil, err
		}
		all = append(all, ls...)
	}
	return all, nil
}

// overlaps says whether a socket on sock receives what is sent to host:
// the same address, or either of them every address of its family (a
// socket on IPv6's unspecified address may take IPv4 as well).
func overlaps(host, sock netip.Addr) bool {
	host, sock = host.Unmap(), sock.Unmap()
	switch {
	case host == sock:
		return true
	case sock.IsUnspecified():
		return sock.Is6() || host.Is4()
	case host.IsUnspecified():
		return host.Is4() == sock.Is4()
	}
	return false
}

// portOwner names what already takes the host side of m: a socket of the
// host (its process, when one can be found) or another pod's published
// port. "" when the port is free.
func portOwner(m PortMap, ls []listener, taken []ownedPort) string {
	for _, t := range taken {
		if t.conflicts(m) {
			return t.owner + " (on " + hostName(t.host.Addr()) + ")"
		}
	}
	for _, l := range ls {
		if l.protocol == m.Protocol && l.addr.Port() == m.Host.Port() && overlaps(m.Host.Addr(), l.addr.Addr()) {
			who := "a socket on " + l.addr.String()
			if p := socketProcess(l.inode); p != "" {
				who += " of " + p
			}
			return who
		}
	}
	return ""
}

// socketProcess names the process that holds the socket inode ("process
// PID (COMMAND)", processName), or "" when no process visible to us does.
func socketProcess(inode uint64) string {
	if inode == 0 {
		return ""
	}
	want := "socket:[" + strconv.FormatUint(inode, 10) + "]"
	who := ""
	eachProcess(func(pid string) bool {
		if hasDescriptor(pid, func(_, l string) bool { return l == want }) {
			who = processName(pid)
		}
		return who == ""
	})
	return who
}
