package stage1

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/acirun/acirun/internal/podcontract"
)

func TestLookupID(t *testing.T) {
	const passwd = `root:x:0:0:root:/root:/bin/sh
# comment
bad line
nobody:x:65534:65534::/:/bin/false
user:x:notanumber:1::/:
user:x:1000:1000::/home/user:/bin/sh
`
	for _, tc := range []struct {
		name string
		id   uint32
		ok   bool
	}{
		{"root", 0, true},
		{"nobody", 65534, true},
		{"user", 1000, true},
		{"missing", 0, false},
		{"", 0, false},
		{"#", 0, false},
	} {
		id, ok, err := lookupID(strings.NewReader(passwd), tc.name)
		if err != nil || id != tc.id || ok != tc.ok {
			t.Errorf("lookupID(%q) = %d, %v, %v; want %d, %v", tc.name, id, ok, err, tc.id, tc.ok)
		}
	}
}

func TestParseNumericID(t *testing.T) {
	for _, tc := range []struct {
		in string
		id uint32
		ok bool
	}{
		{"0", 0, true}, {"1000", 1000, true}, {"4294967295", 4294967295, true},
		{"4294967296", 0, false}, {"", 0, false}, {"-1", 0, false}, {"1a", 0, false}, {"+1", 0, false},
	} {
		id, ok := parseNumericID(tc.in)
		if id != tc.id || ok != tc.ok {
			t.Errorf("parseNumericID(%q) = %d, %v; want %d, %v", tc.in, id, ok, tc.id, tc.ok)
		}
	}
}

func FuzzLookupID(f *testing.F) {
	f.Add("root:x:0:0::/:\n", "root")
	f.Add("a:b\n::::\n", "")
	f.Fuzz(func(t *testing.T, file, name string) {
		id, ok, err := lookupID(strings.NewReader(file), name)
		if err == nil && ok && !strings.Contains(file, name+":") {
			t.Fatalf("found %q (%d) in a file that does not name it", name, id)
		}
	})
}

func TestHostsFile(t *testing.T) {
	got := string(hostsFile("acirun-12345678", []podcontract.HostsEntry{{IP: netip.MustParseAddr("10.0.0.1"), Name: "db"}}))
	for _, want := range []string{"127.0.0.1\tlocalhost localhost.localdomain acirun-12345678\n", "::1\t", "10.0.0.1\tdb\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts file %q lacks %q", got, want)
		}
	}
}

func TestResolvConf(t *testing.T) {
	for _, tc := range []struct {
		s    resolvSettings
		want string
	}{
		{resolvSettings{servers: []string{"10.0.0.53", "::1"}, search: []string{"example.com", "corp"}},
			"search example.com corp\nnameserver 10.0.0.53\nnameserver ::1\n"},
		{resolvSettings{servers: []string{"10.0.0.53"}, options: []string{"ndots:2", "rotate"}, domain: "corp.example"},
			"domain corp.example\noptions ndots:2 rotate\nnameserver 10.0.0.53\n"},
		// The domain first: the C libraries take the last of domain and
		// search, and the search list is the one meant.
		{resolvSettings{search: []string{"a.example"}, domain: "corp.example", options: []string{"edns0"}},
			"domain corp.example\nsearch a.example\noptions edns0\n"},
	} {
		if got, want := string(resolvConf(tc.s)), "# written by acirun stage1\n"+tc.want; got != want {
			t.Errorf("resolvConf(%+v) =\n%s\nwant\n%s", tc.s, got, want)
		}
	}
}

// TestOverrideResolv: on the default network without --dns, the host's
// servers stay and the flags replace the lines of their kind.
func TestOverrideResolv(t *testing.T) {
	const host = "# written by acirun stage1 from the host's name servers\nnameserver 192.0.2.1\nsearch h.example\noptions edns0\nnameserver 192.0.2.2\n"
	for _, tc := range []struct {
		s    resolvSettings
		want string
	}{
		{resolvSettings{options: []string{"ndots:3"}},
			"nameserver 192.0.2.1\nsearch h.example\nnameserver 192.0.2.2\noptions ndots:3\n"},
		{resolvSettings{domain: "d.example"},
			"nameserver 192.0.2.1\noptions edns0\nnameserver 192.0.2.2\ndomain d.example\n"},
		{resolvSettings{search: []string{"a.example", "b.example"}, options: []string{"rotate", "timeout:1"}},
			"nameserver 192.0.2.1\nnameserver 192.0.2.2\nsearch a.example b.example\noptions rotate timeout:1\n"},
	} {
		got := string(overrideResolv([]byte(host), tc.s))
		if want := "# written by acirun stage1 from the host's name servers\n" + tc.want; got != want {
			t.Errorf("overrideResolv(%+v) =\n%s\nwant\n%s", tc.s, got, want)
		}
	}
}

func TestPodResolvConf(t *testing.T) {
	const resolved = "# managed by systemd-resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.example\n"
	const upstream = "nameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch corp.example\n"
	for _, tc := range []struct {
		name           string
		host, upstream string
		want           string // "" for no file
	}{
		{"plain servers kept", "nameserver 192.0.2.1\n; comment\n# comment\nsearch a.example b.example\nsortlist 10.0.0.0\n", "",
			"nameserver 192.0.2.1\nsearch a.example b.example\n"},
		{"resolved stub: its upstream servers (IPv4: the pod network's)", resolved, upstream, "nameserver 192.0.2.53\nsearch corp.example\n"},
		{"resolved stub, no upstream list", resolved, "", ""},
		{"resolved stub, upstream list empty", resolved, "# no servers\n", ""},
		{"loopback and IPv6 dropped, others kept", "nameserver 127.0.0.1\nnameserver ::1\nnameserver fe80::1\nnameserver 198.51.100.7\n", upstream,
			"nameserver 198.51.100.7\n"},
		{"malformed lines dropped", "nameserver\nnameserver not-an-ip\nnameserver 192.0.2.9 extra\n", "", "nameserver 192.0.2.9 extra\n"},
		{"empty", "", upstream, ""},
	} {
		var up []byte
		if tc.upstream != "" {
			up = []byte(tc.upstream)
		}
		got := podResolvConf([]byte(tc.host), up)
		if tc.want == "" {
			if got != nil {
				t.Errorf("%s: %q, want no file", tc.name, got)
			}
			continue
		}
		if want := "# written by acirun stage1 from the host's name servers\n" + tc.want; string(got) != want {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.name, got, want)
		}
	}
}

// FuzzPodResolvConf: whatever the host's files hold, the pod's file names
// only IPv4 servers off loopback and holds only the kinds of lines kept.
func FuzzPodResolvConf(f *testing.F) {
	f.Add([]byte("nameserver 127.0.0.53\nsearch a.example\n"), []byte("nameserver 192.0.2.53\n"))
	f.Add([]byte("nameserver 192.0.2.1\noptions ndots:2\n"), []byte(nil))
	f.Fuzz(func(t *testing.T, host, upstream []byte) {
		out := podResolvConf(host, upstream)
		if out == nil {
			return
		}
		lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		servers := 0
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if len(f) == 0 || strings.Join(f, " ") != l {
				t.Fatalf("line %q in %q", l, out)
			}
			switch f[0] {
			case "nameserver":
				a, err := netip.ParseAddr(f[1])
				if err != nil || !a.Is4() || a.IsLoopback() {
					t.Fatalf("server %q in %q", f[1], out)
				}
				servers++
			case "search", "domain", "options":
			default:
				t.Fatalf("line %q in %q", l, out)
			}
		}
		if servers == 0 {
			t.Fatalf("a file without servers: %q", out)
		}
	})
}

func FuzzHostsEntry(f *testing.F) {
	f.Add("10.0.0.1=db.local")
	f.Add("::1=x")
	f.Fuzz(func(t *testing.T, s string) {
		e, err := podcontract.ParseHostsEntry(s)
		if err != nil {
			return
		}
		out := string(hostsFile("h", []podcontract.HostsEntry{e}))
		if strings.Count(out, "\n") != 4 || strings.ContainsAny(e.Name, " \t\r\n#") {
			t.Fatalf("entry %q rendered as %q", s, out)
		}
	})
}
