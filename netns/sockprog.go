package netns

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
)

// The socket path of published ports: a cgroup sock_addr BPF program on
// connect() (and on UDP's sendmsg()) looks the address a host process
// dials up in a map of published ports, and when it finds it, the socket
// is connected to the pod's address itself. No packet of such a
// connection is translated afterwards: no DNAT in output, no re-route, no
// masquerade of a loopback source, no conntrack NAT on the way back. A
// second map, keyed by the socket, remembers what was dialled, so that
// getpeername() (and recvmsg() of UDP) tell the process the address it
// asked for. The nftables rules stay for what comes from elsewhere and as
// the fallback where the programs cannot be attached: a port missing from
// the map is translated by them as before.
//
// This file is the part that needs no kernel: the layout of the maps'
// keys and values, and the programs, as BPF instructions. The programs are
// assembled here rather than with a BPF library: the one there is
// (cilium/ebpf) would link ~1.5 MB and 0.1-0.25 ms of package
// initialisation into every acirun start, pods without ports and
// --net=none included, for eight programs of 30-60 instructions.

// The layout of a published port's key (sockKey), as the programs build it
// on their stack from struct bpf_sock_addr: the cookie of the network
// namespace the connecting socket is in (so that only connections made in
// the namespace that published the port are translated, never another
// namespace's 127.0.0.1:8080), the address dialled (16 bytes, an IPv4
// address in the first 4, the rest zero; all zero for "every address"),
// the port as struct bpf_sock_addr's user_port holds it (the network-order
// port in the low 16 bits of a native u32), and the protocol number and
// address family (4 or 6) in the first two bytes of the last word.
const (
	sockKeySize    = 32
	sockKeyAddr    = 8
	sockKeyPort    = 24
	sockKeyProto   = 28
	sockValueSize  = 40 // the pod's address (16), its port (4, as user_port), the pod's UUID (16), the namespace's inode (4)
	sockValuePort  = 16
	sockValueUUID  = 20
	sockValueNetns = 36
	// The reverse map: the socket's cookie, the pod's address and port,
	// the protocol and family (laid out as sockKey's) → the address and
	// port dialled (16 + 4, and 4 zero bytes).
	revValueSize = 24
	revValuePort = 16
)

// sockKey is a published port's key in the map, for the namespace whose
// cookie is netns.
func sockKey(netns uint64, protocol string, host netip.AddrPort) []byte {
	k := make([]byte, sockKeySize)
	binary.NativeEndian.PutUint64(k, netns)
	putAddr(k[sockKeyAddr:], host.Addr())
	putPort(k[sockKeyPort:], host.Port())
	binary.NativeEndian.PutUint32(k[sockKeyProto:], protoFamily(protocolNumbers[protocol], host.Addr().Is4()))
	return k
}

// sockValue is where a published port's connections go: the pod's address
// and port; and for the entry's removal, the pod's UUID and the inode of
// the publishing network namespace (a cookie cannot be looked up, and the
// entries of a namespace that is gone are removed by whoever finds them).
func sockValue(pod netip.AddrPort, uuid [16]byte, nsInode uint32) []byte {
	v := make([]byte, sockValueSize)
	putAddr(v, pod.Addr())
	putPort(v[sockValuePort:], pod.Port())
	copy(v[sockValueUUID:], uuid[:])
	binary.NativeEndian.PutUint32(v[sockValueNetns:], nsInode)
	return v
}

// sockOwner is whose a map entry is: the publishing namespace (its cookie
// and inode) and the pod.
type sockOwner struct {
	cookie  uint64
	nsInode uint32
	uuid    [16]byte
}

// sockEntry reads whose a map entry is.
func sockEntry(key, value []byte) (o sockOwner, ok bool) {
	if len(key) != sockKeySize || len(value) != sockValueSize {
		return o, false
	}
	copy(o.uuid[:], value[sockValueUUID:])
	o.cookie, o.nsInode = binary.NativeEndian.Uint64(key), binary.NativeEndian.Uint32(value[sockValueNetns:])
	return o, true
}

// putAddr writes a in the programs' 16-byte form.
func putAddr(b []byte, a netip.Addr) {
	clear(b[:16])
	if a.Is4() {
		a4 := a.As4()
		copy(b, a4[:])
		return
	}
	a16 := a.As16()
	copy(b, a16[:])
}

// putPort writes port as struct bpf_sock_addr's user_port holds it: the
// two bytes of the port in network order, read as a native u16, in a u32.
func putPort(b []byte, port uint16) {
	be := binary.BigEndian.AppendUint16(nil, port)
	binary.NativeEndian.PutUint32(b, uint32(binary.NativeEndian.Uint16(be)))
}

// protoFamily is the last word of a key: the protocol number in its first
// byte, 4 or 6 in its second.
func protoFamily(proto byte, v4 bool) uint32 {
	fam := byte(6)
	if v4 {
		fam = 4
	}
	return binary.NativeEndian.Uint32([]byte{proto, fam, 0, 0})
}

// podUUID is a pod's UUID as 16 bytes.
func podUUID(s string) ([16]byte, error) {
	var u [16]byte
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 {
		return u, fmt.Errorf("pod UUID %q: not 32 hexadecimal digits", s)
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, fmt.Errorf("pod UUID %q: %w", s, err)
	}
	return u, nil
}

// BPF instructions: struct bpf_insn, 8 bytes: the opcode, the destination
// register in the low nibble and the source in the high one, a signed
// 16-bit offset and a signed 32-bit immediate.
type insn struct {
	op       byte
	dst, src byte
	off      int16
	imm      int32
	label    string // a jump's target, resolved by assemble
}

// The opcodes the programs use (linux/bpf_common.h, linux/bpf.h).
const (
	opLdImm64  = 0x18 // BPF_LD|BPF_IMM|BPF_DW
	opMovReg   = 0xbf // BPF_ALU64|BPF_MOV|BPF_X
	opMovImm   = 0xb7 // BPF_ALU64|BPF_MOV|BPF_K
	opAddImm   = 0x07 // BPF_ALU64|BPF_ADD|BPF_K
	opOrImm    = 0x47 // BPF_ALU64|BPF_OR|BPF_K
	opLdxW     = 0x61 // BPF_LDX|BPF_MEM|BPF_W
	opLdxB     = 0x71 // BPF_LDX|BPF_MEM|BPF_B
	opLdxDW    = 0x79 // BPF_LDX|BPF_MEM|BPF_DW
	opStxW     = 0x63 // BPF_STX|BPF_MEM|BPF_W
	opStxDW    = 0x7b // BPF_STX|BPF_MEM|BPF_DW
	opStW      = 0x62 // BPF_ST|BPF_MEM|BPF_W
	opStDW     = 0x7a // BPF_ST|BPF_MEM|BPF_DW
	opJa       = 0x05 // BPF_JMP|BPF_JA
	opJeqImm   = 0x15 // BPF_JMP|BPF_JEQ|BPF_K
	opJneImm   = 0x55 // BPF_JMP|BPF_JNE|BPF_K
	opJne32Imm = 0x56 // BPF_JMP32|BPF_JNE|BPF_K: the low 32 bits only (BPF_JMP sign-extends the immediate)
	opCall     = 0x85 // BPF_JMP|BPF_CALL
	opExit     = 0x95 // BPF_JMP|BPF_EXIT
	pseudoMap  = 1    // BPF_PSEUDO_MAP_FD: ld_imm64's immediate is a map's descriptor
	regFP      = 10   // the frame pointer
	labelPlace = 0xff // not an instruction: where a label is
)

// The helpers the programs call (enum bpf_func_id).
const (
	fnMapLookup    = 1
	fnMapUpdate    = 2
	fnSocketCookie = 46
	fnNetnsCookie  = 122
)

func mov(dst, src byte) insn                { return insn{op: opMovReg, dst: dst, src: src} }
func movImm(dst byte, imm int32) insn       { return insn{op: opMovImm, dst: dst, imm: imm} }
func addImm(dst byte, imm int32) insn       { return insn{op: opAddImm, dst: dst, imm: imm} }
func orImm(dst byte, imm int32) insn        { return insn{op: opOrImm, dst: dst, imm: imm} }
func ldx(op, dst, src byte, off int16) insn { return insn{op: op, dst: dst, src: src, off: off} }
func stx(op, dst, src byte, off int16) insn { return insn{op: op, dst: dst, src: src, off: off} }
func st(op, dst byte, off int16, imm int32) insn {
	return insn{op: op, dst: dst, off: off, imm: imm}
}
func call(fn int32) insn { return insn{op: opCall, imm: fn} }
func jeq(dst byte, imm int32, label string) insn {
	return insn{op: opJeqImm, dst: dst, imm: imm, label: label}
}
func jne(dst byte, imm int32, label string) insn {
	return insn{op: opJneImm, dst: dst, imm: imm, label: label}
}
func jne32(dst byte, imm int32, label string) insn {
	return insn{op: opJne32Imm, dst: dst, imm: imm, label: label}
}
func ja(label string) insn    { return insn{op: opJa, label: label} }
func place(label string) insn { return insn{op: labelPlace, label: label} }
func exit() insn              { return insn{op: opExit} }
func ldMap(dst byte, fd int) insn {
	return insn{op: opLdImm64, dst: dst, src: pseudoMap, imm: int32(fd)}
}

// assemble encodes the instructions, resolving the jumps' labels; a
// ld_imm64 takes two slots.
func assemble(prog []insn) ([]byte, error) {
	at := map[string]int{}
	n := 0
	for _, i := range prog {
		switch i.op {
		case labelPlace:
			at[i.label] = n
			continue
		case opLdImm64:
			n++
		}
		n++
	}
	var b []byte
	n = 0
	for _, i := range prog {
		if i.op == labelPlace {
			continue
		}
		if i.label != "" {
			to, ok := at[i.label]
			if !ok {
				return nil, fmt.Errorf("bpf program: no label %s", i.label)
			}
			i.off = int16(to - n - 1)
		}
		b = append(b, i.op, i.dst&0xf|i.src<<4)
		b = binary.NativeEndian.AppendUint16(b, uint16(i.off))
		b = binary.NativeEndian.AppendUint32(b, uint32(i.imm))
		n++
		if i.op == opLdImm64 {
			b = append(b, make([]byte, 8)...)
			n++
		}
	}
	return b, nil
}

// The offsets of struct bpf_sock_addr's fields the programs read and
// write.
const (
	ctxUserIP4  = 4
	ctxUserIP6  = 8
	ctxUserPort = 24
	ctxProtocol = 36
)

// The stack: the key at fp-32, the reverse map's key at fp-64 and its
// value at fp-88.
const (
	stKey    = -32
	stRevKey = -64
	stRevVal = -88
)

// loadKey stores at fp+at the key the programs look up: first (a cookie
// helper's result, called with the context in r1; r6 holds it too), then
// the context's user address, its port, and its protocol with the family.
func loadKey(v4 bool, cookieFn int32, at int16) []insn {
	p := []insn{mov(1, 6), call(cookieFn), stx(opStxDW, regFP, 0, at)}
	p = append(p, loadAddr(v4, at+sockKeyAddr)...)
	return append(p,
		ldx(opLdxW, 2, 6, ctxUserPort), stx(opStxW, regFP, 2, at+sockKeyPort),
		ldx(opLdxW, 2, 6, ctxProtocol), orImm(2, familyByte(v4)), stx(opStxW, regFP, 2, at+sockKeyProto))
}

// loadAddr copies the context's user address (r6) to fp+at in the maps'
// 16-byte form.
func loadAddr(v4 bool, at int16) []insn {
	if v4 {
		return []insn{ldx(opLdxW, 2, 6, ctxUserIP4), stx(opStxW, regFP, 2, at),
			st(opStW, regFP, at+4, 0), st(opStDW, regFP, at+8, 0)}
	}
	var p []insn
	for i := int16(0); i < 16; i += 4 {
		p = append(p, ldx(opLdxW, 2, 6, ctxUserIP6+i), stx(opStxW, regFP, 2, at+i))
	}
	return p
}

// storeAddr writes the address and port at r7+0 and r7+port (a map value)
// into the context (r6): the socket's destination, or what it reports.
func storeAddr(v4 bool, port int16) []insn {
	var p []insn
	if v4 {
		p = []insn{ldx(opLdxW, 2, 7, 0), stx(opStxW, 6, 2, ctxUserIP4)}
	} else {
		for i := int16(0); i < 16; i += 4 {
			p = append(p, ldx(opLdxW, 2, 7, i), stx(opStxW, 6, 2, ctxUserIP6+i))
		}
	}
	return append(p, ldx(opLdxW, 2, 7, port), stx(opStxW, 6, 2, ctxUserPort))
}

// familyByte is the family in the key's last word, as an immediate to OR
// with the protocol number.
func familyByte(v4 bool) int32 { return int32(protoFamily(0, v4)) }

// lookup calls bpf_map_lookup_elem on the map fd with the key at fp+at.
func lookup(fd int, at int16) []insn {
	return []insn{ldMap(1, fd), mov(2, regFP), addImm(2, int32(at)), call(fnMapLookup)}
}

// forwardProgram is connect4/6's and sendmsg4/6's: a socket of the
// publishing namespace that dials a published port is sent to the pod's
// address instead. A port published on every address (the zero address
// in the key) is looked up for a loopback destination (127.0.0.0/8, ::1)
// only: whether another address is the host's own cannot be told here,
// and the nftables rules translate those. What was dialled goes into the
// reverse map, under the socket's cookie and the pod's address.
func forwardProgram(v4 bool, ports, rev int) []insn {
	p := []insn{mov(6, 1)}
	p = append(p, loadKey(v4, fnNetnsCookie, stKey)...)
	p = append(p, lookup(ports, stKey)...)
	p = append(p, jne(0, 0, "found"))
	// Every address: only for a loopback destination.
	if v4 {
		p = append(p, ldx(opLdxB, 2, regFP, stKey+sockKeyAddr), jne(2, 127, "out"))
	} else {
		p = append(p,
			ldx(opLdxDW, 2, regFP, stKey+sockKeyAddr), jne(2, 0, "out"),
			ldx(opLdxW, 2, regFP, stKey+sockKeyAddr+8), jne(2, 0, "out"),
			ldx(opLdxW, 2, regFP, stKey+sockKeyAddr+12), jne(2, int32(binary.NativeEndian.Uint32([]byte{0, 0, 0, 1})), "out"))
	}
	p = append(p, st(opStDW, regFP, stKey+sockKeyAddr, 0), st(opStDW, regFP, stKey+sockKeyAddr+8, 0))
	p = append(p, lookup(ports, stKey)...)
	p = append(p, jeq(0, 0, "out"))
	p = append(p, place("found"), mov(7, 0))
	// The reverse entry: the socket's cookie, the pod's address and port
	// (the value's), protocol and family (the key's) → what was dialled
	// (still in the context).
	p = append(p, mov(1, 6), call(fnSocketCookie), stx(opStxDW, regFP, 0, stRevKey),
		ldx(opLdxDW, 2, 7, 0), stx(opStxDW, regFP, 2, stRevKey+sockKeyAddr),
		ldx(opLdxDW, 2, 7, 8), stx(opStxDW, regFP, 2, stRevKey+sockKeyAddr+8),
		ldx(opLdxW, 2, 7, sockValuePort), stx(opStxW, regFP, 2, stRevKey+sockKeyPort),
		ldx(opLdxW, 2, regFP, stKey+sockKeyProto), stx(opStxW, regFP, 2, stRevKey+sockKeyProto))
	p = append(p, loadAddr(v4, stRevVal)...)
	p = append(p, ldx(opLdxW, 2, 6, ctxUserPort), stx(opStxW, regFP, 2, stRevVal+revValuePort), st(opStW, regFP, stRevVal+revValuePort+4, 0))
	p = append(p, ldMap(1, rev), mov(2, regFP), addImm(2, stRevKey), mov(3, regFP), addImm(3, stRevVal), movImm(4, 0), call(fnMapUpdate))
	p = append(p, storeAddr(v4, sockValuePort)...)
	return append(p, place("out"), movImm(0, 1), exit())
}

// reverseProgram is getpeername4/6's and recvmsg4/6's: a socket that the
// forward program sent to a pod reports the address it dialled as its
// peer, and as the source of what it receives from the pod.
//
// A v6 socket's v4-mapped peer (::ffff:a.b.c.d) is looked up as the v4
// address: the kernel sends a dual-stack socket's datagram to a v4-mapped
// address through the v4 sendmsg hook, whose forward program keys the
// entry as v4, but hands the answer's source to the v6 recvmsg hook, and
// a resolver that checks where the answer came from would drop it.
func reverseProgram(v4 bool, rev int) []insn {
	p := []insn{mov(6, 1)}
	p = append(p, loadKey(v4, fnSocketCookie, stKey)...)
	if !v4 {
		p = append(p,
			ldx(opLdxDW, 2, regFP, stKey+sockKeyAddr), jne(2, 0, "native"),
			ldx(opLdxW, 2, regFP, stKey+sockKeyAddr+8), jne32(2, int32(binary.NativeEndian.Uint32([]byte{0, 0, 0xff, 0xff})), "native"),
			ldx(opLdxW, 2, regFP, stKey+sockKeyAddr+12), stx(opStxW, regFP, 2, stKey+sockKeyAddr),
			st(opStW, regFP, stKey+sockKeyAddr+4, 0), st(opStDW, regFP, stKey+sockKeyAddr+8, 0),
			ldx(opLdxW, 2, 6, ctxProtocol), orImm(2, familyByte(true)), stx(opStxW, regFP, 2, stKey+sockKeyProto))
		p = append(p, lookup(rev, stKey)...)
		p = append(p, jeq(0, 0, "out"), mov(7, 0), ldx(opLdxW, 3, 7, 0), movImm(2, 0),
			stx(opStxW, 6, 2, ctxUserIP6), stx(opStxW, 6, 2, ctxUserIP6+4),
			movImm(2, int32(binary.NativeEndian.Uint32([]byte{0, 0, 0xff, 0xff}))), stx(opStxW, 6, 2, ctxUserIP6+8),
			stx(opStxW, 6, 3, ctxUserIP6+12),
			ldx(opLdxW, 2, 7, revValuePort), stx(opStxW, 6, 2, ctxUserPort), ja("out"),
			place("native"))
	}
	p = append(p, lookup(rev, stKey)...)
	p = append(p, jeq(0, 0, "out"), mov(7, 0))
	p = append(p, storeAddr(v4, revValuePort)...)
	return append(p, place("out"), movImm(0, 1), exit())
}
