package aci

import (
	"fmt"
	"strings"
)

// LinuxCapability is a capability name as isolators write it: "CAP_" and the
// kernel's upper-case name, e.g. "CAP_NET_BIND_SERVICE".
type LinuxCapability string

// capName returns the name of capability number n (without "CAP_"), or ""
// past the last one this package knows. The numbering is the kernel's
// (include/uapi/linux/capability.h) up to CAP_CHECKPOINT_RESTORE.
func capName(n int) string {
	switch n {
	case 0:
		return "CHOWN"
	case 1:
		return "DAC_OVERRIDE"
	case 2:
		return "DAC_READ_SEARCH"
	case 3:
		return "FOWNER"
	case 4:
		return "FSETID"
	case 5:
		return "KILL"
	case 6:
		return "SETGID"
	case 7:
		return "SETUID"
	case 8:
		return "SETPCAP"
	case 9:
		return "LINUX_IMMUTABLE"
	case 10:
		return "NET_BIND_SERVICE"
	case 11:
		return "NET_BROADCAST"
	case 12:
		return "NET_ADMIN"
	case 13:
		return "NET_RAW"
	case 14:
		return "IPC_LOCK"
	case 15:
		return "IPC_OWNER"
	case 16:
		return "SYS_MODULE"
	case 17:
		return "SYS_RAWIO"
	case 18:
		return "SYS_CHROOT"
	case 19:
		return "SYS_PTRACE"
	case 20:
		return "SYS_PACCT"
	case 21:
		return "SYS_ADMIN"
	case 22:
		return "SYS_BOOT"
	case 23:
		return "SYS_NICE"
	case 24:
		return "SYS_RESOURCE"
	case 25:
		return "SYS_TIME"
	case 26:
		return "SYS_TTY_CONFIG"
	case 27:
		return "MKNOD"
	case 28:
		return "LEASE"
	case 29:
		return "AUDIT_WRITE"
	case 30:
		return "AUDIT_CONTROL"
	case 31:
		return "SETFCAP"
	case 32:
		return "MAC_OVERRIDE"
	case 33:
		return "MAC_ADMIN"
	case 34:
		return "SYSLOG"
	case 35:
		return "WAKE_ALARM"
	case 36:
		return "BLOCK_SUSPEND"
	case 37:
		return "AUDIT_READ"
	case 38:
		return "PERFMON"
	case 39:
		return "BPF"
	case 40:
		return "CHECKPOINT_RESTORE"
	}
	return ""
}

// LastCapability is the highest capability number LinuxCapabilities knows.
const LastCapability = 40

// LinuxCapabilities returns every capability this package knows, indexed by
// kernel number (LinuxCapabilities()[n].Number() == n).
func LinuxCapabilities() []LinuxCapability {
	caps := make([]LinuxCapability, 0, LastCapability+1)
	for n := 0; n <= LastCapability; n++ {
		caps = append(caps, LinuxCapability("CAP_"+capName(n)))
	}
	return caps
}

// Number returns the kernel's number for the capability, and false for a
// name that is not a known capability. Names are exact: "CAP_" prefix,
// upper case.
func (c LinuxCapability) Number() (int, bool) {
	name, ok := strings.CutPrefix(string(c), "CAP_")
	if !ok || name == "" {
		return 0, false
	}
	for n := 0; n <= LastCapability; n++ {
		if capName(n) == name {
			return n, true
		}
	}
	return 0, false
}

// ParseLinuxCapability returns the capability s names, accepting s as people
// type it on a command line (and as rkt accepted it): in any case, with or
// without the "CAP_" prefix, surrounding spaces ignored. Manifests are
// stricter: an isolator's set must hold the exact names (see Number).
func ParseLinuxCapability(s string) (LinuxCapability, error) {
	n := strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	c := LinuxCapability(n)
	if _, ok := c.Number(); !ok {
		return "", fmt.Errorf("%q is not a Linux capability", s)
	}
	return c, nil
}

// DefaultCapabilities returns the spec's default bounding set for apps
// (ace.md): the 14 capabilities an app keeps unless a capabilities isolator
// says otherwise. The caller owns the returned slice.
func DefaultCapabilities() []LinuxCapability {
	return []LinuxCapability{
		"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",
		"CAP_KILL", "CAP_MKNOD", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE", "CAP_SETUID",
		"CAP_SETGID", "CAP_SETPCAP", "CAP_SETFCAP", "CAP_SYS_CHROOT",
	}
}

// Bounding returns the capability bounding set an app with these isolators
// gets: the retain set if there is one, else the defaults minus the remove
// set, else the defaults.
func (is Isolators) Bounding() []LinuxCapability {
	if r, ok := is.CapabilitiesRetain(); ok {
		return append([]LinuxCapability(nil), r.Set...)
	}
	caps := DefaultCapabilities()
	if r, ok := is.CapabilitiesRemove(); ok {
		keep := caps[:0]
		for _, c := range caps {
			if !containsCap(r.Set, c) {
				keep = append(keep, c)
			}
		}
		caps = keep
	}
	return caps
}

func containsCap(set []LinuxCapability, c LinuxCapability) bool {
	for _, s := range set {
		if s == c {
			return true
		}
	}
	return false
}
