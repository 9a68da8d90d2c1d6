package podcontract

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The control socket is a SOCK_SEQPACKET pair between `stage1 run` and the
// pod's PID 1 (`acirun-pod init --control-fd=3`, and nothing else on its
// command line). run tells PID 1 twice when it may go on:
//   - Go, once the pod is locked and checked: what PID 1 is of this pod
//     (its flags and POD-DIR) and the descriptors it needs (its stdin, the
//     console socket, the apps' output), which PID 1, forked before any of
//     that was known so that its runtime starts while the pod is prepared,
//     could not have on its command line. PID 1 may then set up what needs
//     nothing of the host's side of the pod (its mounts, hostname,
//     loopback, empty volumes, the apps' roots), while run attaches the
//     pod's network, registers it and starts its metadata service;
//   - NetworkReady, once those are done: the pod's links are made and eth0
//     configured, the pod is registered (PID 1 in its final cgroup, below
//     which it makes the apps'), and the metadata service listens. Until
//     then PID 1 makes no cgroup, sets no sysctl, opens no port and starts
//     nothing.
//
// PID 1 answers ControlReady, one byte, once every app's main process has
// started, and a Down message once every other process of the pod has
// ended, just before it exits: the pod's exit record, which run writes
// (ExitFile) while the kernel ends PID 1, rather than PID 1 before its
// end. Go, NetworkReady and Down carry the version, so that a change to
// them is a deliberate one that the parser of the old form refuses rather
// than misreads (run and PID 1 come from one install, but from two
// binaries).
const (
	// ControlGo starts a Go message.
	ControlGo = 'g'
	// ControlNetworkReady starts a NetworkReady message.
	ControlNetworkReady = 'n'
	// ControlReady is PID 1's message to run: every app has started.
	ControlReady = 'r'
	// ControlDown starts PID 1's last message to run (Down): nothing of
	// the pod runs but PID 1, which exits next. run then takes the pod off
	// its network and writes its exit record while the kernel ends PID 1
	// (the unmount of the pod's roots is part of that), rather than after.
	ControlDown = 'd'
	// ControlVersion is the version of the messages this binary writes
	// and the only one it reads.
	ControlVersion = 5
	// MaxControlMessage is the largest message either side sends but Go:
	// a receiver's buffer of this size never truncates one.
	MaxControlMessage = 512
	// MaxGoMessage is the largest Go message, whose size is its command
	// line's (a pod's flags: volumes, environment, annotations).
	MaxGoMessage = 64 << 10
	// MaxDownMessage is the largest Down message, whose size is the exit
	// record's (a line per app); a receiver's buffer of this size never
	// truncates one. A larger record PID 1 writes itself.
	MaxDownMessage = 64 << 10
	// MaxGoDescriptors is the most descriptors a Go message carries: the
	// kernel's limit of one SCM_RIGHTS message (SCM_MAX_FD).
	MaxGoDescriptors = 253
)

// Go is run's first message to PID 1: the rest of PID 1's command line
// (`stage1 init`'s flags and POD-DIR, after --control-fd), and where the
// descriptors that come with it (SCM_RIGHTS, in this order) go in PID 1:
// FDs[i] is the number the i-th takes. A receiver moves them there before
// it parses Args, which name them (--console-fd, --app-stdio-fd).
type Go struct {
	// FDs are distinct numbers, none of them the control socket's
	// (ControlFD): 0 for stdin, FirstGoTarget and up for the rest.
	FDs []int
	// Args are the words of the command line, none empty or with a NUL.
	Args []string
}

// ControlFD is the number of PID 1's end of the control socket, and
// ControlFDFlag the whole of PID 1's command line after `init`, which
// says so (TestGo checks that they agree).
const (
	ControlFD     = 3
	ControlFDFlag = "--control-fd=3"
)

// FirstGoTarget is where the descriptors of a Go message other than stdin
// go in PID 1: well above the lowest numbers, which PID 1's Go runtime may
// have taken before the message came (its poller's epoll descriptor, made
// by the first os.Open, which the coverage runtime of a -cover build does at
// its start); a receiver refuses to move one onto a number in use.
const FirstGoTarget = 64

// Encode returns m on the wire: "g v=5", then NUL, "fds=" and the numbers
// separated by commas, then a NUL before each word of Args. It refuses
// what ParseGo would refuse, so that PID 1 never gets a message it cannot
// read.
func (m Go) Encode() ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	b := appendHead(nil, ControlGo)
	b = append(b, "\x00fds="...)
	for i, fd := range m.FDs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(fd), 10)
	}
	for _, a := range m.Args {
		b = append(b, 0)
		b = append(b, a...)
	}
	if len(b) > MaxGoMessage {
		return nil, fmt.Errorf("control message: %d bytes, more than %d", len(b), MaxGoMessage)
	}
	return b, nil
}

func (m Go) check() error {
	if len(m.FDs) > MaxGoDescriptors {
		return fmt.Errorf("%d descriptors, more than %d", len(m.FDs), MaxGoDescriptors)
	}
	seen := make(map[int]bool, len(m.FDs))
	for _, fd := range m.FDs {
		if fd < 0 || fd == ControlFD || (fd > 0 && fd < ControlFD) {
			return fmt.Errorf("descriptor number %d: want 0 or above %d", fd, ControlFD)
		}
		if seen[fd] {
			return fmt.Errorf("descriptor number %d twice", fd)
		}
		seen[fd] = true
	}
	if len(m.Args) == 0 {
		return errors.New("no command line")
	}
	for _, a := range m.Args {
		if a == "" || strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("argument %q: empty or with a NUL", a)
		}
	}
	return nil
}

// ParseGo reads a Go message. Anything but exactly what Encode writes (a
// version other than ControlVersion, a descriptor number out of range,
// repeated or not in canonical form, an empty word) is an error that
// quotes the message.
func ParseGo(b []byte) (Go, error) {
	bad := func(why string) (Go, error) { return Go{}, badMessage("go", b, why) }
	if len(b) > MaxGoMessage {
		return bad("too long")
	}
	f := strings.Split(string(b), "\x00")
	if want := string(appendHead(nil, ControlGo)); f[0] != want {
		return bad("want " + strconv.Quote(want))
	}
	if len(f) < 2 || !strings.HasPrefix(f[1], "fds=") {
		return bad("no fds")
	}
	var m Go
	if list := strings.TrimPrefix(f[1], "fds="); list != "" {
		for _, s := range strings.Split(list, ",") {
			fd, err := strconv.Atoi(s)
			if err != nil || strconv.Itoa(fd) != s {
				return bad("descriptor number " + strconv.Quote(s) + ": not in canonical form")
			}
			m.FDs = append(m.FDs, fd)
		}
	}
	m.Args = f[2:]
	if err := m.check(); err != nil {
		return bad(err.Error())
	}
	return m, nil
}

// NetworkReady is what `stage1 run` tells PID 1 when the host's side of
// the pod is ready, and PID 1 may start the apps.
type NetworkReady struct {
	// Addr and Gateway are the pod's IPv4 address on its pod network and
	// the host's end of the link (run has configured eth0 with them): both
	// valid on a network with IPv4, both zero otherwise.
	Addr, Gateway netip.Addr
	// Addr6 and Gateway6 are the same in IPv6: both valid on a network
	// with IPv6, both zero otherwise.
	Addr6, Gateway6 netip.Addr
	// MetadataURL is the apps' AC_METADATA_URL when `stage1 run` serves
	// the metadata service itself; "" when it does not.
	MetadataURL string
}

// Encode returns m on the wire: "n v=5", then " addr=A gateway=G" on a pod
// network with IPv4, " addr6=A gateway6=G" with IPv6, and " metadata=URL"
// when there is one, in that order. It refuses what ParseNetworkReady
// would refuse, so that PID 1 never gets a message it cannot
// read.
func (m NetworkReady) Encode() ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	b := appendHead(nil, ControlNetworkReady)
	if m.Addr.IsValid() {
		b = append(b, " addr="...)
		b = m.Addr.AppendTo(b)
		b = append(b, " gateway="...)
		b = m.Gateway.AppendTo(b)
	}
	if m.Addr6.IsValid() {
		b = append(b, " addr6="...)
		b = m.Addr6.AppendTo(b)
		b = append(b, " gateway6="...)
		b = m.Gateway6.AppendTo(b)
	}
	if m.MetadataURL != "" {
		b = append(b, " metadata="...)
		b = append(b, m.MetadataURL...)
	}
	if len(b) > MaxControlMessage {
		return nil, fmt.Errorf("control message: %d bytes, more than %d", len(b), MaxControlMessage)
	}
	return b, nil
}

func (m NetworkReady) check() error {
	if m.Addr.IsValid() != m.Gateway.IsValid() || m.Addr6.IsValid() != m.Gateway6.IsValid() {
		return errors.New("an address without a gateway")
	}
	for _, a := range []netip.Addr{m.Addr, m.Gateway} {
		if a.IsValid() && !a.Is4() {
			return fmt.Errorf("%s is not an IPv4 address", a)
		}
	}
	for _, a := range []netip.Addr{m.Addr6, m.Gateway6} {
		if a.IsValid() && (!a.Is6() || a.Is4In6() || a.Zone() != "") {
			return fmt.Errorf("%s is not an IPv6 address without a zone", a)
		}
	}
	if m.MetadataURL != "" {
		if err := CheckMetadataURL(m.MetadataURL); err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
	}
	return nil
}

// ParseNetworkReady reads a NetworkReady message. Anything but exactly what Encode
// writes (a version other than ControlVersion, an unknown or repeated
// field, a field out of order) is an error that quotes the message.
func ParseNetworkReady(b []byte) (NetworkReady, error) {
	var m NetworkReady
	bad := func(why string) (NetworkReady, error) { return NetworkReady{}, badMessage("network-ready", b, why) }
	if len(b) > MaxControlMessage {
		return bad("too long")
	}
	f := strings.Split(string(b), " ")
	if f[0] != string(rune(ControlNetworkReady)) {
		return bad("not a network-ready message")
	}
	if len(f) < 2 || f[1] != "v="+strconv.Itoa(ControlVersion) {
		return bad("want version " + strconv.Itoa(ControlVersion))
	}
	order := []string{"addr", "gateway", "addr6", "gateway6", "metadata"}
	next := 0 // fields come in this order, each at most once
	for _, kv := range f[2:] {
		k, v, _ := strings.Cut(kv, "=")
		i := next
		for i < len(order) && order[i] != k {
			i++
		}
		if i == len(order) {
			return bad("unknown, repeated or misplaced field " + strconv.Quote(k))
		}
		next = i + 1
		var err error
		switch k {
		case "addr":
			m.Addr, err = netip.ParseAddr(v)
		case "gateway":
			m.Gateway, err = netip.ParseAddr(v)
		case "addr6":
			m.Addr6, err = netip.ParseAddr(v)
		case "gateway6":
			m.Gateway6, err = netip.ParseAddr(v)
		case "metadata":
			m.MetadataURL = v
			if v == "" {
				err = errors.New("empty")
			}
		}
		if err != nil {
			return bad(k + ": " + err.Error())
		}
		if (k == "addr" && m.Addr.String() != v) || (k == "gateway" && m.Gateway.String() != v) ||
			(k == "addr6" && m.Addr6.String() != v) || (k == "gateway6" && m.Gateway6.String() != v) {
			return bad(k + ": not in canonical form")
		}
	}
	if err := m.check(); err != nil {
		return bad(err.Error())
	}
	return m, nil
}

// EncodeDown returns PID 1's Down message: "d v=5", then a NUL and the
// pod's exit record e (Exit.AppendJSON) for run to write. A record that
// would make the message longer than MaxDownMessage is left out, and
// carried reports false: PID 1 then writes the record itself.
func EncodeDown(e *Exit) (msg []byte, carried bool) {
	b := appendHead(nil, ControlDown)
	head := len(b)
	b = e.AppendJSON(append(b, 0))
	if len(b) > MaxDownMessage {
		return b[:head], false
	}
	return b, true
}

// ParseDown reads a Down message: the exit record it carries, or nil when
// PID 1 wrote the record itself. Anything but what EncodeDown writes (a
// version other than ControlVersion, a damaged record) is an error that
// quotes the message.
func ParseDown(b []byte) (*Exit, error) {
	bad := func(why string) (*Exit, error) { return nil, badMessage("down", b, why) }
	if len(b) > MaxDownMessage {
		return bad("too long")
	}
	want := string(appendHead(nil, ControlDown))
	head, record, withRecord := strings.Cut(string(b), "\x00")
	if head != want {
		return bad("want " + strconv.Quote(want))
	}
	if !withRecord {
		return nil, nil
	}
	e, err := ParseExit([]byte(record))
	if err != nil {
		return bad("exit record: " + err.Error())
	}
	return e, nil
}

// appendHead appends the head of a message of the kind (ControlGo,
// ControlNetworkReady, ControlDown): the kind's byte, " v=" and
// ControlVersion.
func appendHead(b []byte, kind byte) []byte {
	b = append(b, kind, ' ', 'v', '=')
	return strconv.AppendInt(b, ControlVersion, 10)
}

// badMessage is a parser's error for the message b of the kind named
// what: it quotes the message, cut at 80 bytes, and says why.
func badMessage(what string, b []byte, why string) error {
	msg := string(b)
	if len(msg) > 80 {
		msg = msg[:80] + "…"
	}
	return fmt.Errorf("control socket: bad %s message %q: %s", what, msg, why)
}
