package podcontract

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// TestHostnames holds the names both stages once parsed apart: stage0 let
// --hostname have 64 characters and stage1 253, and /etc/hosts entries had
// the host name limit in stage0 and the domain limit in stage1.
func TestHostnames(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	long := label63 + "." + label63 + "." + label63 + "." + strings.Repeat("b", 61) // 253
	// hostname and dom: "" accepted, "length" refused for its length,
	// "name" refused for its characters or labels.
	for _, tc := range []struct {
		s             string
		hostname, dom string
	}{
		{"acirun-12345678", "", ""},
		{"db", "", ""},
		{"a.example.com", "", ""},
		{"A-1.b2", "", ""},
		{strings.Repeat("h", 64), "name", "name"}, // one label of 64
		{label63, "", ""},
		{label63 + ".a", "length", ""}, // 65 characters: too long for sethostname
		{strings.Repeat("a.", 32), "name", "name"},
		{strings.Repeat("a.", 31) + "bc", "", ""}, // 64
		{long, "length", ""},
		{long + "c", "length", "length"},
		{"", "length", "length"},
		{"-a", "name", "name"},
		{"a-", "name", "name"},
		{"a..b", "name", "name"},
		{".a", "name", "name"},
		{"a.", "name", "name"},
		{"my_host", "name", "name"},
		{"a b", "name", "name"},
		{"a\nnameserver 6.6.6.6", "name", "name"},
		{"a#b", "name", "name"},
		{"é", "name", "name"},
	} {
		why := map[string]string{
			"length": fmt.Sprintf("%q: a host name has 1 to 64 characters", tc.s),
			"name":   fmt.Sprintf("%q is not a valid host name (letters, digits, '-' and '.')", tc.s),
		}
		if err := CheckHostname(tc.s); (err == nil) != (tc.hostname == "") || err != nil && err.Error() != why[tc.hostname] {
			t.Errorf("CheckHostname(%q) = %v, want %q", tc.s, err, why[tc.hostname])
		}
		why = map[string]string{
			"length": fmt.Sprintf("%q: a domain name has 1 to 253 characters", tc.s),
			"name":   fmt.Sprintf("%q is not a valid domain name (letters, digits, '-' and '.')", tc.s),
		}
		if err := CheckDomain(tc.s); (err == nil) != (tc.dom == "") || err != nil && err.Error() != why[tc.dom] {
			t.Errorf("CheckDomain(%q) = %v, want %q", tc.s, err, why[tc.dom])
		}
	}
}

func TestParseHostsEntry(t *testing.T) {
	for _, tc := range []struct {
		s, want, err string
	}{
		{"10.0.0.1=db", "10.0.0.1=db", ""},
		{"::1=db.local", "::1=db.local", ""},
		{"10.0.0.1=" + strings.Repeat("a", 63) + ".b", "10.0.0.1=" + strings.Repeat("a", 63) + ".b", ""},
		{"1.2.3.4", "", "not IP=NAME"},
		{"host", "", "not IP=NAME"},
		{"x=db", "", `"x" is not an IP address`},
		{"1.2.3.4=-db", "", `"-db" is not a valid domain name`},
		{"1.2.3.4=a b", "", "not a valid domain name"},
		{"1.2.3.4=", "", "1 to 253"},
		{"=db", "", "not an IP address"},
	} {
		e, err := ParseHostsEntry(tc.s)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseHostsEntry(%q) = %v, %v; want error %q", tc.s, e, err, tc.err)
			}
		case err != nil || e.String() != tc.want:
			t.Errorf("ParseHostsEntry(%q) = %v, %v; want %s", tc.s, e, err, tc.want)
		}
	}
}

func TestNameservers(t *testing.T) {
	for s, want := range map[string]string{"1.1.1.1": "1.1.1.1", "2001:DB8::1": "2001:db8::1", "host": "host", "none": "none"} {
		if got, err := ParseNameserver(s); err != nil || got != want {
			t.Errorf("ParseNameserver(%q) = %q, %v; want %q", s, got, err, want)
		}
	}
	for _, s := range []string{"", "nope", "1.1.1", "Host", "1.1.1.1:53", "1.1.1.1 "} {
		if got, err := ParseNameserver(s); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q is not an IP address, host or none", s)) {
			t.Errorf("ParseNameserver(%q) = %q, %v; want a refusal naming it", s, got, err)
		}
	}
	for _, tc := range []struct {
		dns []string
		err string // the refusal; "" for none
	}{
		{nil, ""}, {[]string{"host"}, ""}, {[]string{"none"}, ""}, {[]string{"1.1.1.1", "8.8.8.8"}, ""},
		{[]string{"host", "1.1.1.1"}, "--dns host cannot be combined with other --dns values"},
		{[]string{"1.1.1.1", "none"}, "--dns none cannot be combined with other --dns values"},
		{[]string{"host", "host"}, "--dns host cannot be combined with other --dns values"},
	} {
		if err := CheckNameservers(tc.dns); (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
			t.Errorf("CheckNameservers(%q) = %v, want %q", tc.dns, err, tc.err)
		}
	}
}

// FuzzCheckDomain checks that whatever a name check accepts can go into
// /etc/hosts, /etc/resolv.conf and sethostname(2) as it is.
func FuzzCheckDomain(f *testing.F) {
	for _, s := range []string{"a.example", "acirun-1", "a\nb", "", strings.Repeat("a", 64), "a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hostErr, domErr := CheckHostname(s), CheckDomain(s)
		if hostErr == nil && domErr != nil {
			t.Fatalf("%q: a host name but not a domain name: %v", s, domErr)
		}
		if domErr != nil {
			return
		}
		if len(s) > MaxDomain || strings.ContainsAny(s, " \t\r\n#\x00") || strings.HasPrefix(s, "-") {
			t.Fatalf("%q accepted", s)
		}
		if hostErr == nil && len(s) > MaxHostname {
			t.Fatalf("%q accepted as a host name", s)
		}
	})
}

// FuzzParseHostsEntry checks that an accepted entry reads back the same
// from its String, the form stage0 writes into stage1's arguments.
func FuzzParseHostsEntry(f *testing.F) {
	for _, s := range []string{"10.0.0.1=db", "::1=x", "::ffff:1.2.3.4=a.b", "1=2", "=", "fe80::1%eth0=a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseHostsEntry(s)
		if err != nil {
			return
		}
		back, err := ParseHostsEntry(e.String())
		if err != nil || back != e {
			t.Fatalf("%q -> %q -> %v, %v", s, e.String(), back, err)
		}
		if CheckDomain(e.Name) != nil || !e.IP.IsValid() {
			t.Fatalf("%q parsed as %v", s, e)
		}
	})
}

// FuzzParseNameserver checks that the canonical form of an accepted
// nameserver is a fixed point.
func FuzzParseNameserver(f *testing.F) {
	for _, s := range []string{"1.1.1.1", "2001:DB8::1", "host", "none", "x", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseNameserver(s)
		if err != nil {
			return
		}
		again, err := ParseNameserver(c)
		if err != nil || again != c {
			t.Fatalf("%q -> %q -> %q, %v", s, c, again, err)
		}
		if c != DNSHost && c != DNSNone && !netip.MustParseAddr(c).IsValid() {
			t.Fatalf("%q -> %q", s, c)
		}
	})
}
