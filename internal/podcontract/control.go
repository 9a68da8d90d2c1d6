package podcontract

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The control socket is a SOCK_SEQPACKET pair between `stage1 run` and the
// pod's PID 1 (`acirun-pod init --control-fd=3`). run tells PID 1 twice
// when it may go on:
//   - GoMessage, as soon as PID 1 is forked: PID 1 may set up what needs
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
// started, and ControlDown, one byte, once every other process of the pod
// has ended, just before it exits. Both messages carry the version, so
// that a change to them is a deliberate one that the parser of the old
// form refuses rather than misreads (run and PID 1 come from one install,
// but from two binaries).
const (
	// ControlGo starts GoMessage.
	ControlGo = 'g'
	// ControlNetworkReady starts a NetworkReady message.
	ControlNetworkReady = 'n'
	// ControlReady is PID 1's message to run: every app has started.
	ControlReady = 'r'
	// ControlDown is PID 1's last message to run: nothing of the pod runs
	// but PID 1, which exits next. run then takes the pod off its network
	// while the kernel ends PID 1 (the unmount of the pod's roots, which
	// syncs their file system, is part of that), rather than after.
	ControlDown = 'd'
	// ControlVersion is the version of the messages this binary writes
	// and the only one it reads.
	ControlVersion = 3
	// MaxControlMessage is the largest message either side sends: a
	// receiver's buffer of this size never truncates one.
	MaxControlMessage = 512
)

// GoMessage is run's first message to PID 1, whole: ControlGo and the
// version.
const GoMessage = "g v=3"

// CheckGoMessage returns nil for GoMessage, and for anything else an error
// that quotes it.
func CheckGoMessage(b []byte) error {
	if string(b) == GoMessage {
		return nil
	}
	msg := string(b)
	if len(msg) > 80 {
		msg = msg[:80] + "…"
	}
	return fmt.Errorf("control socket: bad go message %q: want %q", msg, GoMessage)
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

// Encode returns m on the wire: "n v=3", then " addr=A gateway=G" on a pod
// network with IPv4, " addr6=A gateway6=G" with IPv6, and " metadata=URL"
// when there is one, in that order. It refuses what ParseNetworkReady
// would refuse, so that PID 1 never gets a message it cannot
// read.
func (m NetworkReady) Encode() ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	b := []byte{ControlNetworkReady}
	b = append(b, " v="...)
	b = strconv.AppendInt(b, ControlVersion, 10)
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
	bad := func(why string) (NetworkReady, error) {
		msg := string(b)
		if len(msg) > 80 {
			msg = msg[:80] + "…"
		}
		return NetworkReady{}, fmt.Errorf("control socket: bad network-ready message %q: %s", msg, why)
	}
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
