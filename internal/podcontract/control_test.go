package podcontract

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestGo: a Go message is ControlGo and the version, the descriptors'
// numbers and the command line, NUL-separated; ParseGo reads back what
// Encode writes, and refuses anything else, quoting it.
func TestGo(t *testing.T) {
	if want := "--control-fd=" + strconv.Itoa(ControlFD); ControlFDFlag != want {
		t.Errorf("ControlFDFlag = %q, want %q", ControlFDFlag, want)
	}
	for _, tc := range []struct {
		m    Go
		wire string
	}{
		{Go{Args: []string{"/pod"}}, "g v=5\x00fds=\x00/pod"},
		{Go{FDs: []int{0}, Args: []string{"--debug", "/var/lib/acirun/pods/run/x"}}, "g v=5\x00fds=0\x00--debug\x00/var/lib/acirun/pods/run/x"},
		{Go{FDs: []int{0, 4, 5, 6}, Args: []string{"--console-fd=4", "--app-stdio-fd=5", "--set-env=A=b c", "/pod"}},
			"g v=5\x00fds=0,4,5,6\x00--console-fd=4\x00--app-stdio-fd=5\x00--set-env=A=b c\x00/pod"},
		{Go{FDs: []int{7, 4}, Args: []string{"x"}}, "g v=5\x00fds=7,4\x00x"},
	} {
		b, err := tc.m.Encode()
		if err != nil || string(b) != tc.wire {
			t.Errorf("Encode(%+v) = %q, %v; want %q", tc.m, b, err, tc.wire)
			continue
		}
		if m, err := ParseGo(b); err != nil || !slices.Equal(m.FDs, tc.m.FDs) || !slices.Equal(m.Args, tc.m.Args) {
			t.Errorf("ParseGo(%q) = %+v, %v; want %+v", b, m, err, tc.m)
		}
	}
	for _, tc := range []struct {
		m    Go
		want string
	}{
		{Go{}, "no command line"},
		{Go{FDs: []int{0}}, "no command line"},
		{Go{Args: []string{""}}, `argument "": empty or with a NUL`},
		{Go{Args: []string{"a\x00b"}}, `argument "a\x00b": empty or with a NUL`},
		{Go{FDs: []int{3}, Args: []string{"x"}}, "descriptor number 3: want 0 or above 3"},
		{Go{FDs: []int{1}, Args: []string{"x"}}, "descriptor number 1: want 0 or above 3"},
		{Go{FDs: []int{-1}, Args: []string{"x"}}, "descriptor number -1: want 0 or above 3"},
		{Go{FDs: []int{4, 4}, Args: []string{"x"}}, "descriptor number 4 twice"},
		{Go{FDs: make([]int, MaxGoDescriptors+1), Args: []string{"x"}}, fmt.Sprintf("%d descriptors, more than %d", MaxGoDescriptors+1, MaxGoDescriptors)},
		{Go{Args: []string{strings.Repeat("a", MaxGoMessage)}}, fmt.Sprintf("bytes, more than %d", MaxGoMessage)},
	} {
		if b, err := tc.m.Encode(); err == nil || !strings.HasPrefix(err.Error(), "control message: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Encode(%+v) = %q, %v; want an error saying %q", tc.m, b, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", `want "g v=5"`}, {"g", `want "g v=5"`}, {"g v=4\x00fds=\x00/pod", `want "g v=5"`}, {"n v=5", `want "g v=5"`},
		{"g v=5", "no fds"}, {"g v=5\x00/pod", "no fds"}, {"g v=5\x00fds=", "no command line"},
		{"g v=5\x00fds=\x00", `argument "": empty`}, {"g v=5\x00fds=\x00/pod\x00", `argument "": empty`},
		{"g v=5\x00fds=04\x00/pod", `descriptor number "04": not in canonical form`},
		{"g v=5\x00fds=4,\x00/pod", `descriptor number "": not in canonical form`},
		{"g v=5\x00fds=+4\x00/pod", `descriptor number "+4": not in canonical form`},
		{"g v=5\x00fds=2\x00/pod", "descriptor number 2: want 0 or above 3"},
		{"g v=5\x00fds=5,5\x00/pod", "descriptor number 5 twice"},
		{"g v=5 \x00fds=\x00/pod", `want "g v=5"`},
	} {
		want := fmt.Sprintf("bad go message %q: %s", tc.in, tc.want)
		if m, err := ParseGo([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseGo(%q) = %+v, %v; want an error saying %q", tc.in, m, err, want)
		}
	}
}

// FuzzGo feeds ParseGo hostile bytes: it never panics, and what it
// accepts encodes back to the same bytes.
func FuzzGo(f *testing.F) {
	for _, s := range []string{"g v=5\x00fds=\x00/pod", "g v=5\x00fds=0,4,5,6\x00--console-fd=4\x00--app-stdio-fd=5\x00/pod",
		"g v=5", "g v=5\x00fds=3\x00x", "g v=5\x00fds=-0\x00x", "n v=5"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseGo(b)
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

func TestNetworkReady(t *testing.T) {
	addr, gw := netip.MustParseAddr("172.16.28.5"), netip.MustParseAddr("172.16.28.1")
	addr6, gw6 := netip.MustParseAddr("fd61:6369:7275::5"), netip.MustParseAddr("fd61:6369:7275::1")
	for _, tc := range []struct {
		m    NetworkReady
		wire string
	}{
		{NetworkReady{}, "n v=5"},
		{NetworkReady{Addr: addr, Gateway: gw}, "n v=5 addr=172.16.28.5 gateway=172.16.28.1"},
		{NetworkReady{MetadataURL: "http://127.0.0.1:18112/abc"}, "n v=5 metadata=http://127.0.0.1:18112/abc"},
		{NetworkReady{Addr: addr, Gateway: gw, MetadataURL: "http://172.16.28.1:18112/t=x"}, "n v=5 addr=172.16.28.5 gateway=172.16.28.1 metadata=http://172.16.28.1:18112/t=x"},
		{NetworkReady{Addr: addr, Gateway: gw, Addr6: addr6, Gateway6: gw6, MetadataURL: "http://172.16.28.1:18112/t"},
			"n v=5 addr=172.16.28.5 gateway=172.16.28.1 addr6=fd61:6369:7275::5 gateway6=fd61:6369:7275::1 metadata=http://172.16.28.1:18112/t"},
		{NetworkReady{Addr6: addr6, Gateway6: gw6}, "n v=5 addr6=fd61:6369:7275::5 gateway6=fd61:6369:7275::1"},
	} {
		b, err := tc.m.Encode()
		if err != nil || string(b) != tc.wire {
			t.Errorf("Encode(%+v) = %q, %v; want %q", tc.m, b, err, tc.wire)
			continue
		}
		if m, err := ParseNetworkReady(b); err != nil || m != tc.m {
			t.Errorf("ParseNetworkReady(%q) = %+v, %v; want %+v", b, m, err, tc.m)
		}
	}
	noGateway := "an address without a gateway"
	for _, tc := range []struct {
		m    NetworkReady
		want string
	}{
		{NetworkReady{Addr: addr}, noGateway},
		{NetworkReady{Gateway: gw}, noGateway},
		{NetworkReady{Addr6: addr6}, noGateway},
		{NetworkReady{Gateway6: gw6}, noGateway},
		{NetworkReady{Addr: addr6, Gateway: gw6}, addr6.String() + " is not an IPv4 address"},
		{NetworkReady{Addr6: addr, Gateway6: gw}, addr.String() + " is not an IPv6 address without a zone"},
		{NetworkReady{Addr6: netip.MustParseAddr("::ffff:172.16.28.5"), Gateway6: gw6}, "::ffff:172.16.28.5 is not an IPv6 address without a zone"},
		{NetworkReady{Addr6: netip.MustParseAddr("fe80::5%eth0"), Gateway6: gw6}, "fe80::5%eth0 is not an IPv6 address without a zone"},
		{NetworkReady{MetadataURL: "http://a b/"}, `metadata: "http://a b/": want an http or https URL`},
		{NetworkReady{MetadataURL: "ftp://x/"}, `metadata: "ftp://x/": want an http or https URL`},
		{NetworkReady{MetadataURL: "http://x/" + strings.Repeat("a", MaxControlMessage)}, fmt.Sprintf("bytes, more than %d", MaxControlMessage)},
	} {
		if b, err := tc.m.Encode(); err == nil || !strings.HasPrefix(err.Error(), "control message: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Encode(%+v) = %q, %v; want an error saying %q", tc.m, b, err, tc.want)
		}
	}
	// Each refusal names the message and what is wrong with it.
	misplaced := func(f string) string { return fmt.Sprintf("unknown, repeated or misplaced field %q", f) }
	for _, tc := range []struct{ in, want string }{
		{"", "not a network-ready message"}, {"n", "want version 5"}, {"r", "not a network-ready message"}, {"g v=5", "not a network-ready message"}, {"n v=1", "want version 5"},
		{"n v=2", "want version 5"}, {"n v=5 ", misplaced("")}, {"n  v=3", "want version 5"},
		{"n v=5 addr=1.2.3.4", noGateway}, {"n v=5 addr6=fd00::2", noGateway},
		{"n v=5 addr6=fd00::2 gateway6=1.1.1.1", "1.1.1.1 is not an IPv6 address without a zone"},
		{"n v=5 gateway6=fd00::1 addr6=fd00::2", misplaced("addr6")},
		{"n v=5 addr6=fd00::2 gateway6=fd00::1 addr=1.2.3.4 gateway=1.1.1.1", misplaced("addr")},
		{"n v=5 addr6=fd00:0::2 gateway6=fd00::1", "addr6: not in canonical form"},
		{"n v=5 addr=fd00::2 gateway=fd00::1", "fd00::2 is not an IPv4 address"}, {"n v=5 gateway=1.2.3.4", noGateway},
		{"n v=5 addr=x gateway=1.2.3.4", `addr: ParseAddr("x")`}, {"n v=5 gateway=1.1.1.1 addr=1.2.3.4", misplaced("addr")},
		{"n v=5 addr=1.2.3.4 addr=1.2.3.4 gateway=1.1.1.1", misplaced("addr")}, {"n v=5 metadata=", "metadata: empty"},
		{"n v=5 metadata=http://x/ metadata=http://y/", misplaced("metadata")}, {"n v=5 bogus=1", misplaced("bogus")},
		{"n v=5 metadata=file:///etc/passwd", `metadata: "file:///etc/passwd": want an http or https URL`},
		{"N v=3", "not a network-ready message"}, {"n addr=1.2.3.4 gateway=1.1.1.1", "want version 5"},
		{"n v=5 metadata=http://x/\n", `metadata: "http://x/\n": want an http or https URL`},
	} {
		want := fmt.Sprintf("bad network-ready message %q: %s", tc.in, tc.want)
		if m, err := ParseNetworkReady([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseNetworkReady(%q) = %+v, %v; want an error saying %q", tc.in, m, err, want)
		}
	}
}

// FuzzNetworkReady feeds the parser hostile bytes: it never panics, and
// what it accepts encodes back to the same bytes.
func FuzzNetworkReady(f *testing.F) {
	for _, s := range []string{"n v=5", "n v=5 addr=172.16.28.5 gateway=172.16.28.1 metadata=http://172.16.28.1:18112/t",
		"n v=5 addr=172.16.28.5 gateway=172.16.28.1 addr6=fd61:6369:7275::5 gateway6=fd61:6369:7275::1 metadata=http://172.16.28.1:18112/t",
		"n v=5 addr6=fe80::1%eth0 gateway6=::1", "n v=1", "n", "r", "g v=5", "n v=5 metadata=http://x/?a=b=c"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseNetworkReady(b)
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

// FuzzNetworkReadyEncode builds messages from arbitrary fields: what Encode
// accepts, ParseNetworkReady reads back equal.
func FuzzNetworkReadyEncode(f *testing.F) {
	f.Add("172.16.28.5", "172.16.28.1", "fd61:6369:7275::5", "fd61:6369:7275::1", "http://172.16.28.1:18112/t")
	f.Add("", "", "", "", "")
	f.Add("::1", "fe80::1%eth0", "172.16.28.5", "::ffff:1.2.3.4", "https://[::1]:1/ x")
	f.Fuzz(func(t *testing.T, addr, gw, addr6, gw6, url string) {
		var m NetworkReady
		m.Addr, _ = netip.ParseAddr(addr)
		m.Gateway, _ = netip.ParseAddr(gw)
		m.Addr6, _ = netip.ParseAddr(addr6)
		m.Gateway6, _ = netip.ParseAddr(gw6)
		m.MetadataURL = url
		b, err := m.Encode()
		if err != nil {
			return
		}
		back, err := ParseNetworkReady(b)
		if err != nil || back != m {
			t.Fatalf("%+v encoded as %q, parsed as %+v, %v", m, b, back, err)
		}
	})
}

// TestDown: a Down message is ControlDown and the version, then a NUL and
// the pod's exit record, which ParseDown gives back; without the record
// (one too large for a message, which PID 1 writes itself) ParseDown says
// so with nil; anything else is refused, quoting the message.
func TestDown(t *testing.T) {
	for _, e := range []*Exit{
		{ExitCode: 0, Apps: []AppExit{}},
		{ExitCode: 137, Apps: []AppExit{{Name: "web", ExitCode: 137, Signal: "SIGKILL"}, {Name: "db", ExitCode: 0}}},
	} {
		b, carried := EncodeDown(e)
		if !carried || !strings.HasPrefix(string(b), "d v=5\x00{") {
			t.Errorf("EncodeDown(%+v) = %q, %t; want the record after %q", e, b, carried, "d v=5\x00")
			continue
		}
		if back, err := ParseDown(b); err != nil || back == nil || back.ExitCode != e.ExitCode || !slices.Equal(back.Apps, e.Apps) {
			t.Errorf("ParseDown(%q) = %+v, %v; want %+v", b, back, err, e)
		}
	}
	// A record too large for a message is left out.
	big := &Exit{ExitCode: 1}
	for i := 0; len(big.AppendJSON(nil)) <= MaxDownMessage; i++ {
		big.Apps = append(big.Apps, AppExit{Name: strings.Repeat("a", 100) + strconv.Itoa(i), ExitCode: 1})
	}
	if b, carried := EncodeDown(big); carried || string(b) != "d v=5" {
		t.Errorf("EncodeDown of a %d-byte record = %q…, %t; want %q, false", len(big.AppendJSON(nil)), b[:min(len(b), 20)], carried, "d v=5")
	}
	if e, err := ParseDown([]byte("d v=5")); e != nil || err != nil {
		t.Errorf(`ParseDown("d v=5") = %+v, %v; want nil, nil`, e, err)
	}
	for _, tc := range []struct{ in, want string }{
		{"", `want "d v=5"`}, {"d", `want "d v=5"`}, {"d v=4\x00{\"exitCode\":0,\"apps\":[]}", `want "d v=5"`},
		{"r", `want "d v=5"`}, {"d v=5 ", `want "d v=5"`},
		{"d v=5\x00", "exit record: unexpected end of JSON input"}, {"d v=5\x00{}", "exit record: no exitCode"},
		{"d v=5\x00{\"exitCode\":1,\"apps\":[{\"name\":\"a\"}]}", `exit record: app "a": no exitCode`},
	} {
		want := fmt.Sprintf("control socket: bad down message %q: %s", tc.in, tc.want)
		if e, err := ParseDown([]byte(tc.in)); err == nil || err.Error() != want {
			t.Errorf("ParseDown(%q) = %+v, %v; want %s", tc.in, e, err, want)
		}
	}
}

// FuzzDown feeds the parser hostile bytes: it never panics, and the record
// it accepts encodes into a message that parses back equal.
func FuzzDown(f *testing.F) {
	for _, s := range []string{"d v=5", "d v=5\x00{\"exitCode\":0,\"apps\":[]}",
		"d v=5\x00{\"exitCode\":137,\"apps\":[{\"name\":\"web\",\"exitCode\":137,\"signal\":\"SIGKILL\"}]}", "d v=4", "d", "r"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseDown(b)
		if err != nil || e == nil {
			return
		}
		msg, carried := EncodeDown(e)
		if !carried {
			return
		}
		back, err := ParseDown(msg)
		if err != nil || back == nil || back.ExitCode != e.ExitCode || !slices.Equal(back.Apps, e.Apps) {
			t.Fatalf("%q parsed as %+v, encoded as %q, parsed back as %+v, %v", b, e, msg, back, err)
		}
	})
}
