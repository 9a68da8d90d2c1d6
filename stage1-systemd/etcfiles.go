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

// resolvConf renders /etc/resolv.conf from --dns nameservers and --dns-search
// domains. The words host and none are handled by the caller.
func resolvConf(servers, search []string) []byte {
	var b bytes.Buffer
	b.WriteString("# written by acirun stage1\n")
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	return b.Bytes()
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
