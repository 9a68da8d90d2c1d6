package netns

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

const procTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:176F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1629313 1 0000000007aeacf2 100 0 0 10 0
   1: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 252 1 00000000b259d02e 100 0 0 10 0
   2: 0100007F:B0D2 0100007F:176F 01 00000000:00000000 00:00000000 00000000     0        0 99 1 00000000b259d02e 100 0 0 10 0
`

const procTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0000000000000000 100 0 0 10 0
`

const procUDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  1: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 55 2 0000000000000000 0
  2: 0100007F:D431 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 56 2 0000000000000000 0
`

// hostOrder is true on a little-endian host, where the kernel's words read
// backwards.
var hostOrder = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

func TestParseProcNet(t *testing.T) {
	if !hostOrder {
		t.Skip("the tables below are a little-endian host's")
	}
	for _, tc := range []struct {
		name, in, protocol string
		want               []listener
		err                string
	}{
		{"tcp: listeners only", procTCP, "tcp", []listener{
			{"tcp", netip.MustParseAddrPort("127.0.0.1:5999"), 1629313},
			{"tcp", netip.MustParseAddrPort("0.0.0.0:2024"), 252},
		}, ""},
		{"tcp6", procTCP6, "tcp", []listener{{"tcp", netip.MustParseAddrPort("[::1]:8080"), 77}}, ""},
		{"udp: unconnected sockets only", procUDP, "udp", []listener{{"udp", netip.MustParseAddrPort("0.0.0.0:53"), 55}}, ""},
		{"header only", "  sl  local_address\n", "tcp", nil, ""},
		{"empty", "", "tcp", nil, ""},
		{"short line", "h\n 0: 0100007F:176F 00000000:0000 0A\n", "tcp", nil, "want at least 10 fields"},
		{"bad address", "h\n 0: 0100007G:176F 00000000:0000 0A a b c d e 1\n", "tcp", nil, `local address "0100007G:176F"`},
		{"odd address", "h\n 0: 01007F:176F 00000000:0000 0A a b c d e 1\n", "tcp", nil, "want 8 or 32 hex digits"},
		{"bad inode", "h\n 0: 0100007F:176F 00000000:0000 0A a b c d e x\n", "tcp", nil, `inode "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcNet([]byte(tc.in), tc.protocol)
			if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzParseProcNet(f *testing.F) {
	for _, s := range []string{procTCP, procTCP6, procUDP, "h\n 0: 0100007F:176F 00000000:0000 0A a b c d e 1\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, proto := range []string{"tcp", "udp"} {
			ls, err := parseProcNet([]byte(in), proto)
			if err != nil {
				continue
			}
			for _, l := range ls {
				if !l.addr.IsValid() || l.protocol != proto {
					t.Fatalf("%q: listener %+v", in, l)
				}
			}
		}
	})
}

func TestPortOwner(t *testing.T) {
	ls := []listener{
		{"tcp", netip.MustParseAddrPort("127.0.0.1:8080"), 0},
		{"tcp", netip.MustParseAddrPort("[::]:9090"), 0},
		{"udp", netip.MustParseAddrPort("0.0.0.0:53"), 0},
		{"tcp", netip.MustParseAddrPort("192.0.2.1:7070"), 0},
	}
	taken := []ownedPort{{"tcp", netip.MustParseAddrPort("0.0.0.0:6060"), "pod X"}}
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
