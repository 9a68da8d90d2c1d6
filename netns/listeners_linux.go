package netns

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// listener is a socket of the host that takes connections (TCP) or
// datagrams (UDP) on a port: a published port on the same number would
// take its traffic away from it.
type listener struct {
	protocol string // tcp or udp
	addr     netip.AddrPort
	inode    uint64
}

// tcpListen is the state of a listening TCP socket in /proc/net/tcp.
const tcpListen = "0A"

// parseProcNet reads a /proc/net/{tcp,tcp6,udp,udp6} table: the sockets that
// listen (TCP) or are bound and unconnected (UDP).
func parseProcNet(b []byte, protocol string) ([]listener, error) {
	var ls []listener
	sc := bufio.NewScanner(bytes.NewReader(b))
	first := true
	for sc.Scan() {
		if first { // the header
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			return nil, fmt.Errorf("line %q: want at least 10 fields", sc.Text())
		}
		local, err := parseProcAddr(f[1])
		if err != nil {
			return nil, fmt.Errorf("local address %q: %w", f[1], err)
		}
		remote, err := parseProcAddr(f[2])
		if err != nil {
			return nil, fmt.Errorf("remote address %q: %w", f[2], err)
		}
		switch {
		case protocol == "tcp" && f[3] != tcpListen:
			continue
		case protocol == "udp" && (remote.Port() != 0 || !remote.Addr().IsUnspecified()):
			continue
		}
		inode, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("inode %q: %w", f[9], err)
		}
		ls = append(ls, listener{protocol: protocol, addr: local, inode: inode})
	}
	return ls, sc.Err()
}

// parseProcAddr reads ADDR:PORT as the kernel prints it in /proc/net: the
// address as 32-bit words in the host's byte order, each as 8 hex digits,
// the port as 4.
func parseProcAddr(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok || len(p) != 4 || (len(a) != 8 && len(a) != 32) {
		return netip.AddrPort{}, errors.New("want 8 or 32 hex digits, a colon and 4")
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	raw, err := hex.DecodeString(a)
	if err != nil {
		return netip.AddrPort{}, err
	}
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(raw[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// hostListeners lists the listening sockets of the caller's network
// namespace.
func hostListeners() ([]listener, error) {
	var all []listener
	for _, t := range []struct{ file, protocol string }{{"tcp", "tcp"}, {"tcp6", "tcp"}, {"udp", "udp"}, {"udp6", "udp"}} {
		// thread-self: the namespace of the calling thread, which need not
		// be its process's.
		p := "/proc/thread-self/net/" + t.file
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // no IPv6
		}
		if err != nil {
			return nil, err
		}
		ls, err := parseProcNet(b, t.protocol)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
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
		if t.protocol == m.Protocol && t.host.Port() == m.Host.Port() && t.host.Addr().Is4() == m.Host.Addr().Is4() &&
			(overlaps(m.Host.Addr(), t.host.Addr()) || overlaps(t.host.Addr(), m.Host.Addr())) {
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

// socketProcess names the process that holds the socket inode, "PID
// (COMMAND)", or "" when no process visible to us does.
func socketProcess(inode uint64) string {
	if inode == 0 {
		return ""
	}
	want := "socket:[" + strconv.FormatUint(inode, 10) + "]"
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		dir := filepath.Join("/proc", p.Name(), "fd")
		fds, _ := os.ReadDir(dir)
		for _, fd := range fds {
			if l, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && l == want {
				comm, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
				return fmt.Sprintf("process %s (%s)", p.Name(), strings.TrimSpace(string(comm)))
			}
		}
	}
	return ""
}
