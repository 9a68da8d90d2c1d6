package podcontract

import (
	"strings"
	"testing"
)

func TestParseDNSOption(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"rotate", "rotate", ""},
		{"edns0", "edns0", ""},
		{"trust-ad", "trust-ad", ""},
		{"ndots:0", "ndots:0", ""},
		{"ndots:15", "ndots:15", ""},
		{"ndots:02", "ndots:2", ""},
		{"timeout:30", "timeout:30", ""},
		{"attempts:1", "attempts:1", ""},
		{"ndots:16", "", "ndots:16: want ndots:N, N from 0 to 15"},
		{"timeout:0", "", "N from 1 to 30"},
		{"attempts:6", "", "N from 1 to 5"},
		{"ndots:-1", "", "want ndots:N"},
		{"ndots:", "", "want ndots:N"},
		{"ndots", "", `"ndots" needs a value`},
		{"rotate:1", "", `"rotate" takes no value`},
		{"Rotate", "", `"Rotate" is not a resolv.conf option (known: ndots:N, timeout:N`},
		{"", "", "is not a resolv.conf option"},
		{"rotate edns0", "", "is not a resolv.conf option"},
		{"rotate\nnameserver 6.6.6.6", "", "is not a resolv.conf option"},
	} {
		got, err := ParseDNSOption(tc.in)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseDNSOption(%q) = %q, %v; want error %q", tc.in, got, err, tc.err)
			}
		case err != nil || got != tc.want:
			t.Errorf("ParseDNSOption(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestCheckResolv(t *testing.T) {
	for _, tc := range []struct {
		dns, search, opts []string
		domain, err       string
	}{
		{nil, []string{"a"}, []string{"rotate"}, "d", ""},
		{[]string{"1.1.1.1"}, []string{"a"}, []string{"rotate"}, "d", ""},
		{[]string{"host"}, nil, nil, "", ""},
		{[]string{"none"}, nil, nil, "", ""},
		{[]string{"host", "1.1.1.1"}, nil, nil, "", "cannot be combined"},
		{[]string{"host"}, []string{"a"}, nil, "", "--dns=host copies the host's /etc/resolv.conf as it is: --dns-search would be ignored"},
		{[]string{"none"}, nil, []string{"rotate"}, "d", "--dns=none leaves the image's /etc/resolv.conf as it is: --dns-opt, --dns-domain would be ignored"},
	} {
		err := CheckResolv(tc.dns, tc.search, tc.opts, tc.domain)
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("CheckResolv(%q, %q, %q, %q) = %v, want %q", tc.dns, tc.search, tc.opts, tc.domain, err, tc.err)
		}
	}
}

// FuzzParseDNSOption checks that an accepted option is one word of an
// options line and its own canonical form.
func FuzzParseDNSOption(f *testing.F) {
	for _, s := range []string{"ndots:2", "rotate", "timeout:007", "x", "ndots:99", "edns0\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseDNSOption(s)
		if err != nil {
			return
		}
		if o == "" || strings.ContainsAny(o, " \t\r\n#;\x00") {
			t.Fatalf("%q accepted as %q", s, o)
		}
		if again, err := ParseDNSOption(o); err != nil || again != o {
			t.Fatalf("%q -> %q -> %q, %v", s, o, again, err)
		}
	})
}
