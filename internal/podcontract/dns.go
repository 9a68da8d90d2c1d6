package podcontract

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// dnsOptions are the options of resolv.conf(5) (glibc's, which musl's are
// a subset of), and for those that take a number (NAME:N) its bounds.
func dnsOptions() []struct {
	name     string
	min, max int // both 0 for an option without a value
} {
	return []struct {
		name     string
		min, max int
	}{
		{"ndots", 0, 15}, {"timeout", 1, 30}, {"attempts", 1, 5},
		{"debug", 0, 0}, {"rotate", 0, 0}, {"no-check-names", 0, 0}, {"inet6", 0, 0}, {"ip6-bytestring", 0, 0},
		{"ip6-dotint", 0, 0}, {"no-ip6-dotint", 0, 0}, {"edns0", 0, 0}, {"single-request", 0, 0},
		{"single-request-reopen", 0, 0}, {"no-tld-query", 0, 0}, {"use-vc", 0, 0}, {"no-reload", 0, 0},
		{"trust-ad", 0, 0}, {"no-aaaa", 0, 0},
	}
}

// ParseDNSOption parses one --dns-opt value: an option of resolv.conf(5)'s
// options line, NAME or NAME:N (ndots:2, timeout:1, attempts:3, rotate,
// edns0, ...). Only the options the C libraries know are taken, so that
// nothing but a word of that line can reach the file; the number is
// returned in canonical form.
func ParseDNSOption(s string) (string, error) {
	name, num, hasNum := strings.Cut(s, ":")
	var known []string
	for _, o := range dnsOptions() {
		if o.max > 0 {
			known = append(known, o.name+":N")
		} else {
			known = append(known, o.name)
		}
		if o.name != name {
			continue
		}
		switch {
		case o.max == 0 && hasNum:
			return "", fmt.Errorf("resolv.conf option %q takes no value", name)
		case o.max == 0:
			return name, nil
		case !hasNum:
			return "", fmt.Errorf("resolv.conf option %q needs a value: %s:N, N from %d to %d", name, name, o.min, o.max)
		}
		n, err := strconv.ParseUint(num, 10, 8)
		if err != nil || int(n) < o.min || int(n) > o.max {
			return "", fmt.Errorf("resolv.conf option %s:%s: want %s:N, N from %d to %d", name, num, name, o.min, o.max)
		}
		return name + ":" + strconv.Itoa(int(n)), nil
	}
	return "", fmt.Errorf("%q is not a resolv.conf option (known: %s)", s, strings.Join(known, ", "))
}

// CheckResolv checks the --dns* values together, once each was parsed:
// DNSHost and DNSNone stand alone (CheckNameservers), and with either of
// them the pod's resolv.conf is not written from the flags, so search
// domains, options and a domain would be lost: they are refused instead.
func CheckResolv(dns, search, options []string, domain string) error {
	if err := CheckNameservers(dns); err != nil {
		return err
	}
	if len(dns) != 1 || (dns[0] != DNSHost && dns[0] != DNSNone) {
		return nil
	}
	var given []string
	if len(search) > 0 {
		given = append(given, "--dns-search")
	}
	if len(options) > 0 {
		given = append(given, "--dns-opt")
	}
	if domain != "" {
		given = append(given, "--dns-domain")
	}
	if len(given) == 0 {
		return nil
	}
	what := "copies the host's /etc/resolv.conf as it is"
	if dns[0] == DNSNone {
		what = "leaves the image's /etc/resolv.conf as it is"
	}
	return errors.New("--dns=" + dns[0] + " " + what + ": " + strings.Join(given, ", ") + " would be ignored; give name servers with --dns, or drop " + strings.Join(given, ", "))
}
