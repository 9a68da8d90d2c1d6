package podcontract

import (
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
	for _, m := range []GoMessage{
		{Addr: addr},
		{Gateway: gw},
		{Addr6: addr6},
		{Gateway6: gw6},
		{Addr: addr6, Gateway: gw6},
		{Addr6: addr, Gateway6: gw},
		{Addr6: netip.MustParseAddr("::ffff:172.16.28.5"), Gateway6: gw6},
		{Addr6: netip.MustParseAddr("fe80::5%eth0"), Gateway6: gw6},
		{MetadataURL: "http://a b/"},
		{MetadataURL: "ftp://x/"},
		{MetadataURL: "http://x/" + strings.Repeat("a", MaxControlMessage)},
	} {
		if b, err := m.Encode(); err == nil {
			t.Errorf("Encode(%+v) = %q, want an error", m, b)
		}
	}
	for _, s := range []string{
		"", "g", "r", "g v=1", "g v=3", "g v=2 ", "g  v=2", "g v=2 addr=1.2.3.4", "g v=2 addr6=fd00::2", "g v=2 addr6=fd00::2 gateway6=1.1.1.1",
		"g v=2 gateway6=fd00::1 addr6=fd00::2", "g v=2 addr6=fd00::2 gateway6=fd00::1 addr=1.2.3.4 gateway=1.1.1.1", "g v=2 addr6=fd00:0::2 gateway6=fd00::1",
		"g v=2 addr=fd00::2 gateway=fd00::1", "g v=2 gateway=1.2.3.4", "g v=2 addr=x gateway=1.2.3.4",
		"g v=2 gateway=1.1.1.1 addr=1.2.3.4", "g v=2 addr=1.2.3.4 addr=1.2.3.4 gateway=1.1.1.1", "g v=2 metadata=",
		"g v=2 metadata=http://x/ metadata=http://y/", "g v=2 bogus=1", "g v=2 metadata=file:///etc/passwd", "G v=2",
		"g addr=1.2.3.4 gateway=1.1.1.1", "g v=2 metadata=http://x/\n",
	} {
		if m, err := ParseGoMessage([]byte(s)); err == nil {
			t.Errorf("ParseGoMessage(%q) = %+v, want an error", s, m)
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
