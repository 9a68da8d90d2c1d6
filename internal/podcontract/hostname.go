package podcontract

import (
	"fmt"
	"net/netip"
	"strings"
)

// MaxHostname is the longest host name sethostname(2) takes (HOST_NAME_MAX).
const MaxHostname = 64

// MaxDomain is the longest DNS name (RFC 1035: 255 octets on the wire, 253
// characters written out).
const MaxDomain = 253

// CheckHostname accepts the pod's host name (--hostname): an RFC 1123 name
// of letters, digits, '-' and '.', of 1 to MaxHostname characters, which
// sethostname(2) takes and which keeps /etc/hosts free of injected lines.
func CheckHostname(s string) error { return checkName(s, MaxHostname, "host name") }

// CheckDomain accepts a DNS name of up to MaxDomain characters in the same
// alphabet as CheckHostname: a --dns-search domain, or the name of an
// /etc/hosts entry.
func CheckDomain(s string) error { return checkName(s, MaxDomain, "domain name") }

func checkName(s string, max int, what string) error {
	if s == "" || len(s) > max {
		return fmt.Errorf("%q: a %s has 1 to %d characters", s, what, max)
	}
	if !rfc1123(s) {
		return fmt.Errorf("%q is not a valid %s (letters, digits, '-' and '.')", s, what)
	}
	return nil
}

// rfc1123 reports whether every dot-separated label of s has 1 to 63
// letters, digits and inner dashes.
func rfc1123(s string) bool {
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// HostsEntry is one --hosts-entry IP=NAME: a line of the apps' /etc/hosts.
type HostsEntry struct {
	IP   netip.Addr
	Name string
}

// String is the entry as --hosts-entry takes it, IP=NAME.
func (e HostsEntry) String() string { return e.IP.String() + "=" + e.Name }

// HostsFromHost is the --hosts-entry value that copies the host's
// /etc/hosts instead of naming an entry.
const HostsFromHost = "host"

// ParseHostsEntry parses IP=NAME (not the word HostsFromHost, which the
// caller handles). NAME is checked by CheckDomain.
func ParseHostsEntry(s string) (HostsEntry, error) {
	ip, name, ok := strings.Cut(s, "=")
	if !ok {
		return HostsEntry{}, fmt.Errorf("%q is not IP=NAME (or %s)", s, HostsFromHost)
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return HostsEntry{}, fmt.Errorf("%q is not an IP address", ip)
	}
	if err := CheckDomain(name); err != nil {
		return HostsEntry{}, err
	}
	return HostsEntry{IP: addr, Name: name}, nil
}

// The --dns values that are words rather than nameserver addresses, each
// of which must be the only --dns value.
const (
	DNSHost = "host" // the apps get a copy of the host's /etc/resolv.conf
	DNSNone = "none" // the apps get no /etc/resolv.conf from the pod
)

// ParseNameserver parses one --dns value: an IP address, returned in its
// canonical form, or DNSHost or DNSNone.
func ParseNameserver(s string) (string, error) {
	if s == DNSHost || s == DNSNone {
		return s, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", fmt.Errorf("%q is not an IP address, %s or %s", s, DNSHost, DNSNone)
	}
	return a.String(), nil
}

// CheckNameservers checks a whole --dns list whose values ParseNameserver
// accepted: DNSHost and DNSNone stand alone.
func CheckNameservers(dns []string) error {
	if len(dns) < 2 {
		return nil
	}
	for _, d := range dns {
		if d == DNSHost || d == DNSNone {
			return fmt.Errorf("--dns %s cannot be combined with other --dns values", d)
		}
	}
	return nil
}
