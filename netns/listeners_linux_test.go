package netns

import (
	"encoding/binary"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// diagMsg is a netlink message of type typ holding an inet_diag_msg for a
// socket on addr, with inode.
func diagMsg(typ uint16, addr netip.AddrPort, inode uint32) []byte {
	b := make([]byte, 16+sizeofDiagMsg)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	d := b[16:]
	d[0] = unix.AF_INET
	if addr.Addr().Is6() {
		d[0] = unix.AF_INET6
	}
	binary.BigEndian.PutUint16(d[4:], addr.Port())
	copy(d[8:], addr.Addr().AsSlice())
	binary.NativeEndian.PutUint32(d[68:], inode)
	return b
}

// done is NLMSG_DONE; errMsg an NLMSG_ERROR with errno.
func done() []byte {
	b := make([]byte, 20)
	binary.NativeEndian.PutUint32(b[0:], 20)
	binary.NativeEndian.PutUint16(b[4:], unix.NLMSG_DONE)
	return b
}

func errMsg(errno int32) []byte {
	b := make([]byte, 20)
	binary.NativeEndian.PutUint32(b[0:], 20)
	binary.NativeEndian.PutUint16(b[4:], unix.NLMSG_ERROR)
	binary.NativeEndian.PutUint32(b[16:], uint32(-errno))
	return b
}

func cat2(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func TestParseDiag(t *testing.T) {
	const sock = 20 // SOCK_DIAG_BY_FAMILY
	a4, a6 := netip.MustParseAddrPort("127.0.0.1:8080"), netip.MustParseAddrPort("[::]:53")
	for _, tc := range []struct {
		name string
		in   []byte
		want []listener
		done bool
		err  string
	}{
		{"two sockets, then the end", cat2(diagMsg(sock, a4, 7), diagMsg(sock, a6, 8), done()),
			[]listener{{"tcp", a4, 7}, {"tcp", a6, 8}}, true, ""},
		{"more to come", diagMsg(sock, a4, 7), []listener{{"tcp", a4, 7}}, false, ""},
		{"the end alone", done(), nil, true, ""},
		{"an error", errMsg(int32(unix.EPERM)), nil, false, "operation not permitted"},
		{"short message", diagMsg(sock, a4, 7)[:40], nil, false, ""},
		{"bad family", func() []byte { b := diagMsg(sock, a4, 7); b[16] = 99; return b }(), nil, false, "address family 99"},
		{"garbage", []byte{1, 2, 3}, nil, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, done, err := parseDiag(tc.in, "tcp")
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			if tc.want == nil && !tc.done && err == nil {
				t.Fatalf("no error, want one")
			}
			if err != nil && tc.want != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) || done != tc.done {
				t.Errorf("got %v, %v; want %v, %v", got, done, tc.want, tc.done)
			}
		})
	}
}

func FuzzParseDiag(f *testing.F) {
	f.Add(cat2(diagMsg(20, netip.MustParseAddrPort("127.0.0.1:8080"), 7), done()))
	f.Add(errMsg(1))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		ls, _, err := parseDiag(in, "udp")
		if err != nil {
			return
		}
		for _, l := range ls {
			if !l.addr.IsValid() || l.protocol != "udp" {
				t.Fatalf("%x: listener %+v", in, l)
			}
		}
	})
}

// TestHostListeners asks the kernel, in a namespace the test makes, for
// the sockets that take a port: the listening TCP ones and the bound,
// unconnected UDP ones, of both families, with their inodes; not a
// connected UDP socket, nor either end of a TCP connection.
func TestHostListeners(t *testing.T) {
	ns := newTestNS(t)
	var got []listener
	var keep []any
	ns.do(func() error {
		ln4, err := net.Listen("tcp4", "127.0.0.1:8081")
		if err != nil {
			return err
		}
		ln6, err := net.Listen("tcp6", "[::1]:8082")
		if err != nil {
			return err
		}
		u, err := net.ListenPacket("udp", ":5353")
		if err != nil {
			return err
		}
		uc, err := net.Dial("udp4", "127.0.0.1:5353")
		if err != nil {
			return err
		}
		tc, err := net.Dial("tcp4", "127.0.0.1:8081")
		if err != nil {
			return err
		}
		keep = append(keep, ln4, ln6, u, uc, tc)
		got, err = hostListeners()
		return err
	})
	defer func() {
		for _, k := range keep {
			k.(interface{ Close() error }).Close()
		}
	}()
	var names []string
	for _, l := range got {
		if l.inode == 0 {
			t.Errorf("%v: no inode", l)
		}
		names = append(names, l.protocol+" "+l.addr.String())
	}
	if want := []string{"tcp 127.0.0.1:8081", "tcp [::1]:8082", "udp [::]:5353"}; !reflect.DeepEqual(names, want) {
		t.Errorf("listeners %q, want %q", names, want)
	}
}

func TestPortOwner(t *testing.T) {
	ls := []listener{
		{"tcp", netip.MustParseAddrPort("127.0.0.1:8080"), 0},
		{"tcp", netip.MustParseAddrPort("[::]:9090"), 0},
		{"udp", netip.MustParseAddrPort("0.0.0.0:53"), 0},
		{"tcp", netip.MustParseAddrPort("192.0.2.1:7070"), 0},
	}
	taken := []ownedPort{{protocol: "tcp", host: netip.MustParseAddrPort("0.0.0.0:6060"), owner: "pod X"}}
	pod := netip.MustParseAddrPort("172.16.28.2:1")
	for _, tc := range []struct {
		protocol, host, want string
	}{
		{"tcp", "0.0.0.0:8080", "a socket on 127.0.0.1:8080"},      // every address takes the listener's
		{"tcp", "127.0.0.1:8080", "a socket on 127.0.0.1:8080"},    // the same
		{"tcp", "192.0.2.1:8080", ""},                              // another address
		{"tcp", "[::]:8080", ""},                                   // another family
		{"udp", "0.0.0.0:8080", ""},                                // another protocol
		{"tcp", "0.0.0.0:9090", "a socket on [::]:9090"},           // a dual-stack socket takes IPv4 too
		{"tcp", "[::1]:9090", "a socket on [::]:9090"},             // and every IPv6 address
		{"udp", "127.0.0.1:53", "a socket on 0.0.0.0:53"},          // a socket on every address takes any one
		{"udp", "[::]:53", ""},                                     // an IPv4 socket takes no IPv6
		{"tcp", "0.0.0.0:7070", "a socket on 192.0.2.1:7070"},      // every address includes the one
		{"tcp", "127.0.0.1:6060", "pod X (on every IPv4 address)"}, // another pod's every address
		{"tcp", "[::]:6060", ""},                                   // of IPv4 only
		{"tcp", "0.0.0.0:1", ""},                                   // free
	} {
		m := PortMap{Protocol: tc.protocol, Host: netip.MustParseAddrPort(tc.host), Pod: pod}
		if got := portOwner(m, ls, taken); got != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.protocol, tc.host, got, tc.want)
		}
	}
}
