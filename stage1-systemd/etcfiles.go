package stage1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/acirun/acirun/internal/podcontract"
)

// hostsFile renders /etc/hosts for an app: localhost, the pod's hostname and
// the operator's --hosts-entry lines, in that order.
func hostsFile(hostname string, entries []podcontract.HostsEntry) []byte {
	var b bytes.Buffer
	b.WriteString("# written by acirun stage1\n")
	fmt.Fprintf(&b, "127.0.0.1\tlocalhost localhost.localdomain %s\n", hostname)
	fmt.Fprintf(&b, "::1\tlocalhost ip6-localhost ip6-loopback %s\n", hostname)
	for _, e := range entries {
		fmt.Fprintf(&b, "%s\t%s\n", e.IP, e.Name)
	}
	return b.Bytes()
}

// resolvSettings are what the --dns flags put into /etc/resolv.conf, each
// value checked by podcontract's parsers.
type resolvSettings struct {
	servers []string // --dns: addresses (the words host and none are the caller's)
	search  []string // --dns-search
	options []string // --dns-opt
	domain  string   // --dns-domain
}

// resolvSettingsOf are the settings the pod's flags ask for.
func resolvSettingsOf(o *podOptions) resolvSettings {
	return resolvSettings{servers: o.DNS, search: o.DNSSearch, options: o.DNSOptions, domain: o.DNSDomain}
}

// empty reports whether s asks for nothing.
func (s resolvSettings) empty() bool {
	return len(s.servers) == 0 && len(s.search) == 0 && len(s.options) == 0 && s.domain == ""
}

// resolvConf renders /etc/resolv.conf from s. The domain line comes before
// the search line: the C libraries take the last of the two, and a search
// list given with a domain is meant to be the search list.
func resolvConf(s resolvSettings) []byte {
	var b bytes.Buffer
	b.WriteString("# written by acirun stage1\n")
	b.WriteString(resolvLines(s))
	for _, ns := range s.servers {
		fmt.Fprintf(&b, "nameserver %s\n", ns)
	}
	return b.Bytes()
}

// resolvLines are the domain, search and options lines of s.
func resolvLines(s resolvSettings) string {
	var b strings.Builder
	if s.domain != "" {
		fmt.Fprintf(&b, "domain %s\n", s.domain)
	}
	if len(s.search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(s.search, " "))
	}
	if len(s.options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(s.options, " "))
	}
	return b.String()
}

// overrideResolv is conf (a file podResolvConf wrote) with the lines s
// sets in place of the host's of the same kind: --dns-opt replaces the
// options lines, --dns-search and --dns-domain the search and domain lines
// (one setting: the last of them wins). The servers stay the host's.
func overrideResolv(conf []byte, s resolvSettings) []byte {
	var kept []string
	for _, l := range strings.SplitAfter(string(conf), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 0:
			continue
		case f[0] == "options" && len(s.options) > 0:
		case (f[0] == "search" || f[0] == "domain") && (len(s.search) > 0 || s.domain != ""):
		default:
			kept = append(kept, l)
		}
	}
	return []byte(strings.Join(kept, "") + resolvLines(resolvSettings{search: s.search, options: s.options, domain: s.domain}))
}

// podResolvConf is the resolv.conf a pod on the default network gets when
// it asks for no DNS: the host's name servers, as far as the pod can reach
// them. A loopback name server (systemd-resolved's 127.0.0.53, a local
// dnsmasq) is the host's own and not the pod's, and the network is IPv4
// only, so such servers are dropped; when only loopback ones were there,
// resolved's list of its upstream servers (upstream,
// /run/systemd/resolve/resolv.conf) is used instead, if given.
// search, domain and options lines are kept. Nil when no server is left:
// the image's own file stays.
func podResolvConf(host, upstream []byte) []byte {
	keep := func(conf []byte) (lines []string, servers int, local bool) {
		for _, l := range strings.Split(string(conf), "\n") {
			f := strings.Fields(l)
			if len(f) == 0 || f[0][0] == '#' || f[0][0] == ';' {
				continue
			}
			switch f[0] {
			case "nameserver":
				if len(f) < 2 {
					continue
				}
				a, err := netip.ParseAddr(f[1])
				if err != nil || a.IsLoopback() || !a.Is4() {
					local = local || (err == nil && a.IsLoopback())
					continue
				}
				servers++
			case "search", "domain", "options":
			default:
				continue
			}
			lines = append(lines, strings.Join(f, " "))
		}
		return lines, servers, local
	}
	lines, n, local := keep(host)
	if n == 0 && local && upstream != nil {
		if ul, un, _ := keep(upstream); un > 0 {
			lines, n = ul, un
		}
	}
	if n == 0 {
		return nil
	}
	return []byte("# written by acirun stage1 from the host's name servers\n" + strings.Join(lines, "\n") + "\n")
}

// maxIDFile bounds how much of an image's /etc/passwd or /etc/group is read:
// the files come from an untrusted image.
const maxIDFile = 4 << 20

// lookupID finds name in an /etc/passwd or /etc/group formatted file and
// returns the numeric ID in its third field. Lines that are malformed are
// skipped, as the C library does.
func lookupID(r io.Reader, name string) (uint32, bool, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxIDFile))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.SplitN(line, ":", 4)
		if len(f) < 3 || f[0] != name {
			continue
		}
		id, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		return uint32(id), true, nil
	}
	return 0, false, sc.Err()
}

// parseNumericID parses an all-digits user or group value.
func parseNumericID(s string) (uint32, bool) {
	if s == "" {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(id), true
}
