package podcontract

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestGoMessage(t *testing.T) {
	addr, gw := netip.MustParseAddr("172.16.28.5"), netip.MustParseAddr("172.16.28.1")
	addr6, gw6 := netip.MustParseAddr("fd61:6369:7275::5"), netip.MustParseAddr("fd61:6369:7275::1")
	for _, tc := range []struct {
		m    GoMessage
		wire string
	}{
		{GoMessage{}, "g v=2"},
		{GoMessage{Addr: addr, Gateway: gw}, "g v=2 addr=172.16.28.5 gateway=172.16.28.1"},
		{GoMessage{MetadataURL: "http://127.0.0.1:18112/abc"}, "g v=2 metadata=http://127.0.0.1:18112/abc"},
		{GoMessage{Addr: addr, Gateway: gw, MetadataURL: "http://172.16.28.1:18112/t=x"}, "g v=2 addr=172.16.28.5 gateway=172.16.28.1 metadata=http://172.16.28.1:18112/t=x"},
		{GoMessage{Addr: addr, Gateway: gw, Addr6: addr6, Gateway6: gw6, MetadataURL: "http://172.16.28.1:18112/t"},
			"g v=2 addr=172.16.28.5 gateway=172.16.28.1 addr6=fd61:6369:7275::5 gateway6=fd61:6369:7275::1 metadata=http://172.16.28.1:18112/t"},
		{GoMessage{Addr6: addr6, Gateway6: gw6}, "g v=2 addr6=fd61:6369:7275::5 gateway6=fd61:6369:7275::1"},
	} {
		b, err := tc.m.Encode()
		if err != nil || string(b) != tc.wire {
			t.Errorf("Encode(%+v) = %q, %v; want %q", tc.m, b, err, tc.wire)
			continue
		}
		if m, err := ParseGoMessage(b); err != nil || m != tc.m {
			t.Errorf("ParseGoMessage(%q) = %+v, %v; want %+v", b, m, err, tc.m)
		}
	}
	noGateway := "an address without a gateway"
	for _, tc := range []struct {
		m    GoMessage
		want string
	}{
		{GoMessage{Addr: addr}, noGateway},
		{GoMessage{Gateway: gw}, noGateway},
		{GoMessage{Addr6: addr6}, noGateway},
		{GoMessage{Gateway6: gw6}, noGateway},
		{GoMessage{Addr: addr6, Gateway: gw6}, addr6.String() + " is not an IPv4 address"},
		{GoMessage{Addr6: addr, Gateway6: gw}, addr.String() + " is not an IPv6 address without a zone"},
		{GoMessage{Addr6: netip.MustParseAddr("::ffff:172.16.28.5"), Gateway6: gw6}, "::ffff:172.16.28.5 is not an IPv6 address without a zone"},
		{GoMessage{Addr6: netip.MustParseAddr("fe80::5%eth0"), Gateway6: gw6}, "fe80::5%eth0 is not an IPv6 address without a zone"},
		{GoMessage{MetadataURL: "http://a b/"}, `metadata: "http://a b/": want an http or https URL`},
		{GoMessage{MetadataURL: "ftp://x/"}, `metadata: "ftp://x/": want an http or https URL`},
		{GoMessage{MetadataURL: "http://x/" + strings.Repeat("a", MaxControlMessage)}, fmt.Sprintf("bytes, more than %d", MaxControlMessage)},
	} {
		if b, err := tc.m.Encode(); err == nil || !strings.HasPrefix(err.Error(), "control message: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Encode(%+v) = %q, %v; want an error saying %q", tc.m, b, err, tc.want)
		}
	}
	// Each refusal names the message and what is wrong with it.
	misplaced := func(f string) string { return fmt.Sprintf("unknown, repeated or misplaced field %q", f) }
	for _, tc := range []struct{ in, want string }{
		{"", "not a go message"}, {"g", "want version 2"}, {"r", "not a go message"}, {"g v=1", "want version 2"},
		{"g v=3", "want version 2"}, {"g v=2 ", misplaced("")}, {"g  v=2", "want version 2"},
		{"g v=2 addr=1.2.3.4", noGateway}, {"g v=2 addr6=fd00::2", noGateway},
		{"g v=2 addr6=fd00::2 gateway6=1.1.1.1", "1.1.1.1 is not an IPv6 address without a zone"},
		{"g v=2 gateway6=fd00::1 addr6=fd00::2", misplaced("addr6")},
		{"g v=2 addr6=fd00::2 gateway6=fd00::1 addr=1.2.3.4 gateway=1.1.1.1", misplaced("addr")},
		{"g v=2 addr6=fd00:0::2 gateway6=fd00::1", "addr6: not in canonical form"},
		{"g v=2 addr=fd00::2 gateway=fd00::1", "fd00::2 is not an IPv4 address"}, {"g v=2 gateway=1.2.3.4", noGateway},
		{"g v=2 addr=x gateway=1.2.3.4", `addr: ParseAddr("x")`}, {"g v=2 gateway=1.1.1.1 addr=1.2.3.4", misplaced("addr")},
		{"g v=2 addr=1.2.3.4 addr=1.2.3.4 gateway=1.1.1.1", misplaced("addr")}, {"g v=2 metadata=", "metadata: empty"},
		{"g v=2 metadata=http://x/ metadata=http://y/", misplaced("metadata")}, {"g v=2 bogus=1", misplaced("bogus")},
		{"g v=2 metadata=file:///etc/passwd", `metadata: "file:///etc/passwd": want an http or https URL`},
		{"G v=2", "not a go message"}, {"g addr=1.2.3.4 gateway=1.1.1.1", "want version 2"},
		{"g v=2 metadata=http://x/\n", `metadata: "http://x/\n": want an http or https URL`},
	} {
		want := fmt.Sprintf("bad go message %q: %s", tc.in, tc.want)
		if m, err := ParseGoMessage([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseGoMessage(%q) = %+v, %v; want an error saying %q", tc.in, m, err, want)
		}
	}
}

// FuzzGoMessage feeds the parser hostile bytes: it never panics, and what it
// accepts encodes back to the same bytes.
func FuzzGoMessage(f *testing.F) {
	for _, s := range []string{"g v=2", "g v=2 addr=172.16.28.5 gateway=172.16.28.1 metadata=http://172.16.28.1:18112/t",
		"g v=2 addr=172.16.28.5 gateway=172.16.28.1 addr6=fd61:6369:7275::5 gateway6=fd61:6369:7275::1 metadata=http://172.16.28.1:18112/t",
		"g v=2 addr6=fe80::1%eth0 gateway6=::1", "g v=1", "g", "r", "g v=2 metadata=http://x/?a=b=c"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseGoMessage(b)
		if err != nil {
			return
		}
		back, err := m.Encode()
		if err != nil {
			t.Fatalf("%q parsed as %+v, which does not encode: %v", b, m, err)
		}
		if string(back) != string(b) {
			t.Fatalf("%q parsed as %+v, encoded as %q", b, m, back)
		}
	})
}

// FuzzGoMessageEncode builds messages from arbitrary fields: what Encode
// accepts, ParseGoMessage reads back equal.
func FuzzGoMessageEncode(f *testing.F) {
	f.Add("172.16.28.5", "172.16.28.1", "fd61:6369:7275::5", "fd61:6369:7275::1", "http://172.16.28.1:18112/t")
	f.Add("", "", "", "", "")
	f.Add("::1", "fe80::1%eth0", "172.16.28.5", "::ffff:1.2.3.4", "https://[::1]:1/ x")
	f.Fuzz(func(t *testing.T, addr, gw, addr6, gw6, url string) {
		var m GoMessage
		m.Addr, _ = netip.ParseAddr(addr)
		m.Gateway, _ = netip.ParseAddr(gw)
		m.Addr6, _ = netip.ParseAddr(addr6)
		m.Gateway6, _ = netip.ParseAddr(gw6)
		m.MetadataURL = url
		b, err := m.Encode()
		if err != nil {
			return
		}
		back, err := ParseGoMessage(b)
		if err != nil || back != m {
			t.Fatalf("%+v encoded as %q, parsed as %+v, %v", m, b, back, err)
		}
	})
}
