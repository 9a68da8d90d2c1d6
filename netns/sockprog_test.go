package netns

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// TestSockKey: the keys the maps are filled with are laid out as the
// programs build theirs from struct bpf_sock_addr (on a little-endian
// machine, where user_port's u32 holds the port's network-order bytes
// first).
func TestSockKey(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the layouts below are a little-endian machine's")
	}
	for _, c := range []struct {
		name     string
		protocol string
		host     string
		want     []byte
	}{
		{"tcp loopback", "tcp", "127.0.0.1:8080", cat8(
			[]byte{7, 0, 0, 0, 0, 0, 0, 0},
			[]byte{127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
			[]byte{0x1f, 0x90, 0, 0}, []byte{6, 4, 0, 0})},
		{"udp every address", "udp", "0.0.0.0:53", cat8(
			[]byte{7, 0, 0, 0, 0, 0, 0, 0},
			make([]byte, 16),
			[]byte{0, 53, 0, 0}, []byte{17, 4, 0, 0})},
		{"tcp ::1", "tcp", "[::1]:443", cat8(
			[]byte{7, 0, 0, 0, 0, 0, 0, 0},
			[]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
			[]byte{1, 0xbb, 0, 0}, []byte{6, 6, 0, 0})},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := sockKey(7, c.protocol, netip.MustParseAddrPort(c.host))
			if !bytes.Equal(got, c.want) {
				t.Errorf("sockKey = %v, want %v", got, c.want)
			}
		})
	}
}

func cat8(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestSockValue: a value carries the pod's address and port as the
// programs write them into the socket's address, and the pod's UUID,
// which sockEntry reads back with the key's namespace.
func TestSockValue(t *testing.T) {
	id, err := podUUID("0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9")
	if err != nil {
		t.Fatal(err)
	}
	v := sockValue(netip.MustParseAddrPort("172.16.28.2:80"), id, 4026531840)
	if len(v) != sockValueSize || !bytes.Equal(v[:4], []byte{172, 16, 28, 2}) || !bytes.Equal(v[4:16], make([]byte, 12)) {
		t.Errorf("address part %v", v[:16])
	}
	if binary.BigEndian.Uint16(v[sockValuePort:]) != 80 && binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		t.Errorf("port part %v", v[sockValuePort:sockValuePort+4])
	}
	o, ok := sockEntry(sockKey(42, "tcp", netip.MustParseAddrPort("127.0.0.1:80")), v)
	if want := (sockOwner{42, 4026531840, id}); !ok || o != want {
		t.Errorf("sockEntry = %+v %v, want %+v", o, ok, want)
	}
	if _, ok := sockEntry(v, v); ok {
		t.Error("sockEntry took a value for a key")
	}
}

func TestPodUUID(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9", true},
		{"0a1b2c3d4e5f60718293a4b5c6d7e8f9", true},
		{"0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f", false},
		{"0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8fg", false},
		{"", false},
	} {
		if _, err := podUUID(c.in); (err == nil) != c.ok {
			t.Errorf("podUUID(%q): %v", c.in, err)
		}
	}
}

// TestAssemble: jumps land on their labels, counting a ld_imm64 as the two
// slots it takes; a missing label is an error.
func TestAssemble(t *testing.T) {
	code, err := assemble([]insn{
		jeq(1, 0, "end"), // 0: skips slots 1-3
		ldMap(1, 9),      // 1-2
		mov(2, 10),       // 3
		place("end"),
		exit(), // 4
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(code) != 5*8 {
		t.Fatalf("%d bytes, want 40", len(code))
	}
	if off := int16(binary.NativeEndian.Uint16(code[2:])); off != 3 {
		t.Errorf("jump offset %d, want 3", off)
	}
	if code[8] != opLdImm64 || code[9] != 1|pseudoMap<<4 || binary.NativeEndian.Uint32(code[12:]) != 9 || !bytes.Equal(code[16:24], make([]byte, 8)) {
		t.Errorf("ld_imm64 of map 9: % x", code[8:24])
	}
	if code[24] != opMovReg || code[25] != 2|10<<4 {
		t.Errorf("mov r2, r10: % x", code[24:32])
	}
	if _, err := assemble([]insn{ja("nowhere")}); err == nil {
		t.Error("a jump to no label assembled")
	}
}
