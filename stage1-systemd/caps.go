package stage1

import (
	"fmt"
	"math/bits"
	"strings"
)

// capSet is a set of Linux capabilities, bit N for capability number N.
type capSet uint64

// capNames maps capability numbers (linux/capability.h) to their names.
var capNames = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// defaultCaps is the appc spec's default bounding set (ace.md, 14 capabilities).
var defaultCaps = mustCaps("CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID",
	"CAP_FOWNER", "CAP_KILL", "CAP_MKNOD", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE", "CAP_SETUID",
	"CAP_SETGID", "CAP_SETPCAP", "CAP_SETFCAP", "CAP_SYS_CHROOT")

func mustCaps(names ...string) capSet {
	s, err := parseCaps(names)
	if err != nil {
		panic(err)
	}
	return s
}

// parseCaps parses capability names; the CAP_ prefix and case are optional,
// as rkt accepted them.
func parseCaps(names []string) (capSet, error) {
	var s capSet
	for _, n := range names {
		u := strings.ToUpper(strings.TrimSpace(n))
		if !strings.HasPrefix(u, "CAP_") {
			u = "CAP_" + u
		}
		found := false
		for i, c := range capNames {
			if c == u {
				s |= 1 << i
				found = true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown capability %q", n)
		}
	}
	return s, nil
}

// has reports whether capability number c is in s.
func (s capSet) has(c int) bool { return s&(1<<c) != 0 }

func (s capSet) String() string {
	var names []string
	for i := range capNames {
		if s.has(i) {
			names = append(names, capNames[i])
		}
	}
	return strings.Join(names, ",")
}

// count returns the number of capabilities in s.
func (s capSet) count() int { return bits.OnesCount64(uint64(s)) }

// capsDecision is the bounding set an app gets, and what to report about it.
type capsDecision struct {
	set    capSet
	extra  capSet // capabilities beyond the default the image asked for
	denied bool   // extra was asked for and refused (no --insecure-options=capabilities)
}

// decideCaps computes an app's bounding set from its isolators: retain means
// exactly the set, remove means the default minus the set (digest E9). A set
// beyond the default is granted only when the operator allowed it.
func decideCaps(retain, remove *capSet, allowExtra bool) capsDecision {
	set := defaultCaps
	switch {
	case retain != nil:
		set = *retain
	case remove != nil:
		set = defaultCaps &^ *remove
	}
	if retain != nil && remove != nil {
		set &^= *remove
	}
	d := capsDecision{set: set, extra: set &^ defaultCaps}
	if d.extra != 0 && !allowExtra {
		d.set &^= d.extra
		d.denied = true
	}
	return d
}
