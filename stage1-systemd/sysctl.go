package stage1

import (
	"fmt"
	"sort"
	"strings"

	"github.com/acirun/acirun/aci"
)

// The os/unix/sysctl isolator has pod scope (E9): the apps of a pod share its
// namespaces, so a sysctl set for one app is set for the whole pod, whether
// it comes from the pod manifest's isolators or from an app's. stage1 sets
// only what lives in the pod's own namespaces, the way runc and Kubernetes
// allow "namespaced" sysctls, and refuses the pod for anything else (E9
// allows refusing): a sysctl of the host's kernel is never changed.
//
//   - net.* in the pod's network namespace, and only when the pod has one of
//     its own (refused with --net=host). A net.* name that is global to the
//     kernel does not exist in a pod's network namespace, or is read-only
//     there (net.core.rmem_max): writing it fails and so does the pod.
//   - kernel.shmmax, shmall, shmmni, shm_rmid_forced, msgmax, msgmnb, msgmni,
//     sem, auto_msgmni, shm_next_id, msg_next_id, sem_next_id and
//     fs.mqueue.* in the pod's IPC namespace.
//   - kernel.domainname in the pod's UTS namespace. kernel.hostname is
//     refused: the pod's host name is --hostname, which /etc/hosts follows.
//
// Names are dot-separated ("net.ipv4.ip_forward") or, as with sysctl(8),
// slash-separated ("net/ipv4/conf/eth0.1/forwarding"), where dots are part
// of a component. Two settings of the same sysctl with different values
// (the pod and an app, or two apps) refuse the pod, naming both: there is
// only one value per pod, and no order between apps to pick one by. Values
// are compared with their white space collapsed ("0 1" equals "0\t1").
//
// The values are written by the pod's PID 1, in the pod's namespaces, before
// any app starts, through a fresh procfs instance of its own (see
// writeSysctls); the apps see /proc/sys read-only.

// maxSysctlValue bounds a sysctl value: the kernel takes at most a page.
const maxSysctlValue = 4095

// sysctlSetting is one sysctl the pod sets.
type sysctlSetting struct {
	key   string // as the manifest names it
	path  string // below /proc/sys, slash-separated
	value string // leading and trailing white space trimmed
	ns    string // the namespace it belongs to: "net", "ipc" or "uts"
	from  string // "pod" or "app NAME"
	again bool   // an earlier source sets it to the same value: not written twice
}

// String is the setting as reported: KEY="VALUE".
func (s sysctlSetting) String() string { return fmt.Sprintf("%s=%q", s.key, s.value) }

// ipcSysctls are the kernel.* sysctls of an IPC namespace (ipc/ipc_sysctl.c).
func ipcSysctls() []string {
	return []string{"shmmax", "shmall", "shmmni", "shm_rmid_forced", "msgmax", "msgmnb", "msgmni", "sem",
		"auto_msgmni", "shm_next_id", "msg_next_id", "sem_next_id"}
}

// sysctlPath checks key and returns its components below /proc/sys.
func sysctlPath(key string) ([]string, error) {
	if key == "" || len(key) > 512 {
		return nil, fmt.Errorf("not a sysctl name (empty or longer than 512 bytes)")
	}
	sep := "."
	if strings.Contains(key, "/") {
		sep = "/"
	}
	comps := strings.Split(key, sep)
	for _, c := range comps {
		if c == "" || c == "." || c == ".." {
			return nil, fmt.Errorf("not a sysctl name (empty, \".\" or \"..\" component)")
		}
		for _, r := range c {
			if r <= ' ' || r == 0x7f || r == '\\' || r == '/' {
				return nil, fmt.Errorf("not a sysctl name (%q in a component)", r)
			}
		}
	}
	return comps, nil
}

// classifySysctl returns the pod namespace the sysctl at comps belongs to,
// or why the pod may not set it.
func classifySysctl(comps []string) (string, error) {
	switch {
	case comps[0] == "net" && len(comps) >= 2:
		return "net", nil
	case comps[0] == "fs" && len(comps) == 3 && comps[1] == "mqueue":
		return "ipc", nil
	case comps[0] == "kernel" && len(comps) == 2:
		switch comps[1] {
		case "domainname":
			return "uts", nil
		case "hostname":
			return "", fmt.Errorf("the pod's host name is set with --hostname")
		}
		for _, n := range ipcSysctls() {
			if comps[1] == n {
				return "ipc", nil
			}
		}
	}
	return "", fmt.Errorf("not in the pod's namespaces: setting it would change the host's kernel " +
		"(a pod may set net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* and kernel.domainname)")
}

// podSysctls collects the pod's sysctls: the pod manifest's first, then each
// app's, in order (keys sorted within each); a setting repeated with the
// same value by a later source is marked again. It refuses
// names outside the pod's namespaces, malformed names and values, and
// conflicting values.
func podSysctls(pm *aci.PodManifest) ([]sysctlSetting, error) {
	var out []sysctlSetting
	seen := map[string]int{} // path -> index in out
	add := func(from string, is aci.Isolators) error {
		m, ok := is.Sysctl()
		if !ok {
			return nil
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s, err := newSysctlSetting(k, m[k], from)
			if err != nil {
				return fmt.Errorf("%s: isolator %s: %w", from, aci.IsolatorSysctl, err)
			}
			if i, dup := seen[s.path]; dup {
				o := out[i]
				if strings.Join(strings.Fields(o.value), " ") != strings.Join(strings.Fields(s.value), " ") {
					return fmt.Errorf("isolator %s: %s sets %s and %s sets %s: a pod has one value of a sysctl",
						aci.IsolatorSysctl, o.from, o, s.from, s)
				}
				s.again = true
			} else {
				seen[s.path] = len(out)
			}
			out = append(out, s)
		}
		return nil
	}
	if err := add("pod", pm.Isolators); err != nil {
		return nil, err
	}
	for _, ra := range pm.Apps {
		if ra.App == nil {
			continue
		}
		if err := add("app "+string(ra.Name), ra.App.Isolators); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// newSysctlSetting checks one key and value.
func newSysctlSetting(key, value, from string) (sysctlSetting, error) {
	comps, err := sysctlPath(key)
	if err != nil {
		return sysctlSetting{}, fmt.Errorf("%q: %w", key, err)
	}
	ns, err := classifySysctl(comps)
	if err != nil {
		return sysctlSetting{}, fmt.Errorf("%s refused: %w", key, err)
	}
	v := strings.TrimSpace(value)
	if v == "" || len(v) > maxSysctlValue {
		return sysctlSetting{}, fmt.Errorf("%s: value %q: want 1 to %d bytes", key, clipValue(v), maxSysctlValue)
	}
	for _, r := range v {
		if r < ' ' && r != '\t' || r == 0x7f {
			return sysctlSetting{}, fmt.Errorf("%s: value %q: control character %q", key, clipValue(v), r)
		}
	}
	return sysctlSetting{key: key, path: strings.Join(comps, "/"), value: v, ns: ns, from: from}, nil
}

func clipValue(v string) string {
	if len(v) > 64 {
		return v[:64] + "…"
	}
	return v
}

// checkSysctlNet refuses net.* sysctls in a pod that shares the host's
// network namespace: they would be the host's.
func checkSysctlNet(sysctls []sysctlSetting, net string) error {
	if net != "host" {
		return nil
	}
	for _, s := range sysctls {
		if s.ns == "net" {
			return fmt.Errorf("%s: isolator %s: %s refused: the pod shares the host's network namespace (--net=host), "+
				"so setting it would change the host's network", s.from, aci.IsolatorSysctl, s.key)
		}
	}
	return nil
}
