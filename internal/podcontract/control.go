package podcontract

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The control socket is a SOCK_SEQPACKET pair between `stage1 run` and the
// pod's PID 1 (`stage1 init --control-fd=3`). PID 1 waits on it, before it
// does anything, for run's GoMessage: the pod is registered (and PID 1 in
// its final cgroup), and here is what PID 1 needs of the host's set-up.
// PID 1 answers ControlReady, one byte, once every app's main process has
// started, and ControlDown, one byte, once every other process of the pod
// has ended, just before it exits. Both ends are the same acirun binary (PID 1 is executed from a
// sealed view of run's own executable), but the message still carries its
// version, so that a change to it is a deliberate one that the parser of
// the old form refuses rather than misreads.
const (
	// ControlGo starts a GoMessage.
	ControlGo = 'g'
	// ControlReady is PID 1's message to run: every app has started.
	ControlReady = 'r'
	// ControlDown is PID 1's last message to run: nothing of the pod runs
	// but PID 1, which exits next. run then takes the pod off its network
	// while the kernel ends PID 1 (the unmount of the pod's roots, which
	// syncs their file system, is part of that), rather than after.
	ControlDown = 'd'
	// ControlVersion is the version of GoMessage this binary writes and
	// the only one it reads.
	ControlVersion = 2
	// MaxControlMessage is the largest message either side sends: a
	// receiver's buffer of this size never truncates one.
	MaxControlMessage = 512
)

// GoMessage is what `stage1 run` tells PID 1 when it may go on.
type GoMessage struct {
	// Addr and Gateway are the pod's IPv4 address on its pod network and
	// the host's end of the link (PID 1 configures eth0 with them): both
	// valid on a network with IPv4, both zero otherwise.
	Addr, Gateway netip.Addr
	// Addr6 and Gateway6 are the same in IPv6: both valid on a network
	// with IPv6, both zero otherwise.
	Addr6, Gateway6 netip.Addr
	// MetadataURL is the apps' AC_METADATA_URL when `stage1 run` serves
	// the metadata service itself; "" when it does not.
	MetadataURL string
}

// Encode returns m on the wire: "g v=2", then " addr=A gateway=G" on a pod
// network with IPv4, " addr6=A gateway6=G" with IPv6, and " metadata=URL"
// when there is one, in that order. It refuses
// what Parse would refuse, so that PID 1 never gets a message it cannot
// read.
func (m GoMessage) Encode() ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	b := []byte{ControlGo}
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

func (m GoMessage) check() error {
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

// ParseGoMessage reads a GoMessage. Anything but exactly what Encode
// writes (a version other than ControlVersion, an unknown or repeated
// field, a field out of order) is an error that quotes the message.
func ParseGoMessage(b []byte) (GoMessage, error) {
	var m GoMessage
	bad := func(why string) (GoMessage, error) {
		msg := string(b)
		if len(msg) > 80 {
			msg = msg[:80] + "…"
		}
		return GoMessage{}, fmt.Errorf("control socket: bad go message %q: %s", msg, why)
	}
	if len(b) > MaxControlMessage {
		return bad("too long")
	}
	f := strings.Split(string(b), " ")
	if f[0] != string(rune(ControlGo)) {
		return bad("not a go message")
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
