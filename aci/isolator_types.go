package aci

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// ResourceCPU is the value of resource/cpu, in millicores (1000 = one
// core). A zero LimitMilli means no limit. When the manifest gives only a
// limit, the request equals it, as the spec says.
type ResourceCPU struct {
	RequestMilli int64
	LimitMilli   int64
}

// ResourceMemory is the value of resource/memory, in bytes. A zero Limit
// means no limit; an absent request equals the limit.
type ResourceMemory struct {
	Request int64
	Limit   int64
}

// ResourceBlockBandwidth is the value of resource/block-bandwidth: a limit
// in bytes per second applied to every block device ("default": true).
type ResourceBlockBandwidth struct{ Limit int64 }

// ResourceBlockIOPS is the value of resource/block-iops: a limit in I/O
// operations per second applied to every block device.
type ResourceBlockIOPS struct{ Limit int64 }

// ResourceNetworkBandwidth is the value of resource/network-bandwidth: a
// limit in bytes per second on every network interface but loopback.
type ResourceNetworkBandwidth struct{ Limit int64 }

// LinuxCapabilitiesRetainSet is the value of os/linux/capabilities-retain-set:
// the app's capability bounding set is exactly Set.
type LinuxCapabilitiesRetainSet struct{ Set []LinuxCapability }

// LinuxCapabilitiesRemoveSet is the value of os/linux/capabilities-remove-set:
// the bounding set is DefaultCapabilities minus Set.
type LinuxCapabilitiesRemoveSet struct{ Set []LinuxCapability }

// LinuxNoNewPrivileges is the value of os/linux/no-new-privileges: when true
// the app runs with PR_SET_NO_NEW_PRIVS.
type LinuxNoNewPrivileges bool

// The seccomp wildcards a seccomp set may hold besides syscall names.
const (
	SeccompAll   = "@appc.io/all"   // every syscall
	SeccompEmpty = "@appc.io/empty" // no syscall
)

// LinuxSeccompRetainSet is the value of os/linux/seccomp-retain-set: only
// the syscalls in Set are allowed. The others fail with Errno (a name such
// as "EPERM"), or kill the app with SIGSYS if Errno is empty. Set entries
// are syscall names or groups starting with '@' (SeccompAll,
// SeccompEmpty).
type LinuxSeccompRetainSet struct {
	Set   []string
	Errno string
}

// LinuxSeccompRemoveSet is the value of os/linux/seccomp-remove-set: the
// syscalls in Set are blocked, the way LinuxSeccompRetainSet blocks.
type LinuxSeccompRemoveSet struct {
	Set   []string
	Errno string
}

// LinuxSELinuxContext is the value of os/linux/selinux-context.
type LinuxSELinuxContext struct {
	User, Role, Type, Level string
}

// String returns the context as user:role:type:level.
func (c LinuxSELinuxContext) String() string {
	return c.User + ":" + c.Role + ":" + c.Type + ":" + c.Level
}

// LinuxAppArmorProfile is the value of os/linux/apparmor-profile; the
// profile must already be loaded on the host.
type LinuxAppArmorProfile struct{ Profile string }

// LinuxOOMScoreAdj is the value of os/linux/oom-score-adj (-1000..1000).
type LinuxOOMScoreAdj int

// LinuxCPUShares is the value of os/linux/cpu-shares (MinCPUShares to
// MaxCPUShares), the cgroup v1 cpu.shares weight.
type LinuxCPUShares int

// The bounds of LinuxCPUShares, the kernel's for cpu.shares.
const (
	MinCPUShares = 2
	MaxCPUShares = 262144
)

// Weight is the cgroup v2 cpu.weight (1-10000), systemd's CPUWeight=, of
// these cpu.shares, as systemd converts CPUShares= to CPUWeight=: scaled
// so that the defaults, 1024 and 100, meet, so that what is weighed
// against processes that set neither weighs as it would on cgroup v1.
// stage1 writes it for an app on cgroup v2 and unitgen sums it for the
// pod's unit: one conversion for both.
func (s LinuxCPUShares) Weight() int64 {
	return min(max(int64(s)*100/1024, 1), 10000)
}

// UnixSysctl is the value of os/unix/sysctl: kernel parameters to set in the
// pod's namespaces, by name ("net.ipv4.tcp_fin_timeout").
type UnixSysctl map[string]string

// IsolatorName returns IsolatorResourceCPU.
func (ResourceCPU) IsolatorName() ACIdentifier { return IsolatorResourceCPU }

// IsolatorName returns IsolatorResourceMemory.
func (ResourceMemory) IsolatorName() ACIdentifier { return IsolatorResourceMemory }

// IsolatorName returns IsolatorResourceBlockBandwidth.
func (ResourceBlockBandwidth) IsolatorName() ACIdentifier { return IsolatorResourceBlockBandwidth }

// IsolatorName returns IsolatorResourceBlockIOPS.
func (ResourceBlockIOPS) IsolatorName() ACIdentifier { return IsolatorResourceBlockIOPS }

// IsolatorName returns IsolatorResourceNetworkBandwidth.
func (ResourceNetworkBandwidth) IsolatorName() ACIdentifier { return IsolatorResourceNetworkBandwidth }

// IsolatorName returns IsolatorCapabilitiesRetainSet.
func (LinuxCapabilitiesRetainSet) IsolatorName() ACIdentifier { return IsolatorCapabilitiesRetainSet }

// IsolatorName returns IsolatorCapabilitiesRemoveSet.
func (LinuxCapabilitiesRemoveSet) IsolatorName() ACIdentifier { return IsolatorCapabilitiesRemoveSet }

// IsolatorName returns IsolatorNoNewPrivileges.
func (LinuxNoNewPrivileges) IsolatorName() ACIdentifier { return IsolatorNoNewPrivileges }

// IsolatorName returns IsolatorSeccompRetainSet.
func (LinuxSeccompRetainSet) IsolatorName() ACIdentifier { return IsolatorSeccompRetainSet }

// IsolatorName returns IsolatorSeccompRemoveSet.
func (LinuxSeccompRemoveSet) IsolatorName() ACIdentifier { return IsolatorSeccompRemoveSet }

// IsolatorName returns IsolatorSELinuxContext.
func (LinuxSELinuxContext) IsolatorName() ACIdentifier { return IsolatorSELinuxContext }

// IsolatorName returns IsolatorAppArmorProfile.
func (LinuxAppArmorProfile) IsolatorName() ACIdentifier { return IsolatorAppArmorProfile }

// IsolatorName returns IsolatorOOMScoreAdj.
func (LinuxOOMScoreAdj) IsolatorName() ACIdentifier { return IsolatorOOMScoreAdj }

// IsolatorName returns IsolatorCPUShares.
func (LinuxCPUShares) IsolatorName() ACIdentifier { return IsolatorCPUShares }

// IsolatorName returns IsolatorSysctl.
func (UnixSysctl) IsolatorName() ACIdentifier { return IsolatorSysctl }

// --- validation (for values built in code; the decoder checks as it goes) ---

func validateRequestLimit(errs *ErrorList, path string, req, lim int64, format func(int64) string) {
	switch {
	case req < 0:
		errs.add(join(path, "request"), fmt.Sprintf("%s is negative", format(req)))
	case lim < 0:
		errs.add(join(path, "limit"), fmt.Sprintf("%s is negative", format(lim)))
	case req == 0 && lim == 0:
		errs.add(path, "needs a limit or a request")
	case lim > 0 && req > lim:
		errs.add(join(path, "request"), fmt.Sprintf("%s is more than the limit %s", format(req), format(lim)))
	}
}

func validateLimit(errs *ErrorList, path string, lim int64) {
	if lim <= 0 {
		errs.add(join(path, "limit"), fmt.Sprintf("%d must be greater than zero", lim))
	}
}

func fmtInt(n int64) string { return strconv.FormatInt(n, 10) }

func (v ResourceCPU) validate(errs *ErrorList, path string) {
	validateRequestLimit(errs, path, v.RequestMilli, v.LimitMilli, formatMilli)
}
func (v ResourceMemory) validate(errs *ErrorList, path string) {
	validateRequestLimit(errs, path, v.Request, v.Limit, fmtInt)
}
func (v ResourceBlockBandwidth) validate(errs *ErrorList, path string) {
	validateLimit(errs, path, v.Limit)
}
func (v ResourceBlockIOPS) validate(errs *ErrorList, path string) { validateLimit(errs, path, v.Limit) }
func (v ResourceNetworkBandwidth) validate(errs *ErrorList, path string) {
	validateLimit(errs, path, v.Limit)
}

func validateCaps(errs *ErrorList, path string, set []LinuxCapability) {
	path = join(path, "set")
	checkSet(errs, path, set)
	for i, c := range set {
		if _, ok := c.Number(); !ok {
			errs.add(index(path, i), fmt.Sprintf("%q is not a Linux capability (want a name such as CAP_NET_BIND_SERVICE)", clip(string(c))))
		}
	}
}

func (v LinuxCapabilitiesRetainSet) validate(errs *ErrorList, path string) {
	validateCaps(errs, path, v.Set)
}
func (v LinuxCapabilitiesRemoveSet) validate(errs *ErrorList, path string) {
	validateCaps(errs, path, v.Set)
}
func (LinuxNoNewPrivileges) validate(*ErrorList, string) {}

func validateSeccomp(errs *ErrorList, path string, set []string, errno string) {
	sp := join(path, "set")
	checkSet(errs, sp, set)
	for i, s := range set {
		if !validSyscallName(s) {
			errs.add(index(sp, i), fmt.Sprintf("%q is not a syscall name or an @group", clip(s)))
		}
	}
	if errno != "" && !validErrnoName(errno) {
		errs.add(join(path, "errno"), fmt.Sprintf("%q is not an errno name (E followed by upper-case letters and digits)", clip(errno)))
	}
}

// validSyscallName accepts syscall names ([a-z0-9_]+) and groups ('@' and
// an AC-identifier-like name such as "@appc.io/all").
func validSyscallName(s string) bool {
	if g, ok := strings.CutPrefix(s, "@"); ok {
		return validWord(g, "-._~/")
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// validErrnoName checks ^E[A-Z0-9]*$. Whether the name is a real errno is
// for the executor to decide: the spec's own example uses "EACCESS".
func validErrnoName(s string) bool {
	if !strings.HasPrefix(s, "E") {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (v LinuxSeccompRetainSet) validate(errs *ErrorList, path string) {
	validateSeccomp(errs, path, v.Set, v.Errno)
}
func (v LinuxSeccompRemoveSet) validate(errs *ErrorList, path string) {
	validateSeccomp(errs, path, v.Set, v.Errno)
}

func (v LinuxSELinuxContext) validate(errs *ErrorList, path string) {
	for _, f := range []struct {
		key, val string
		colon    bool
	}{{"user", v.User, false}, {"role", v.Role, false}, {"type", v.Type, false}, {"level", v.Level, true}} {
		switch {
		case f.val == "":
			errs.add(join(path, f.key), "required")
		case !f.colon && strings.Contains(f.val, ":"):
			errs.add(join(path, f.key), fmt.Sprintf("%q must not contain ':'", clip(f.val)))
		case strings.ContainsAny(f.val, "\x00\n"):
			errs.add(join(path, f.key), fmt.Sprintf("%q contains a control character", clip(f.val)))
		}
	}
}

func (v LinuxAppArmorProfile) validate(errs *ErrorList, path string) {
	switch {
	case v.Profile == "":
		errs.add(join(path, "profile"), "required")
	case strings.ContainsAny(v.Profile, "\x00\n"):
		errs.add(join(path, "profile"), fmt.Sprintf("%q contains a control character", clip(v.Profile)))
	}
}

func (v LinuxOOMScoreAdj) validate(errs *ErrorList, path string) {
	if v < -1000 || v > 1000 {
		errs.add(path, fmt.Sprintf("%d out of range -1000-1000", int(v)))
	}
}

func (v LinuxCPUShares) validate(errs *ErrorList, path string) {
	if v < MinCPUShares || v > MaxCPUShares {
		errs.add(path, fmt.Sprintf("%d out of range %d-%d", int(v), MinCPUShares, MaxCPUShares))
	}
}

func (v UnixSysctl) validate(errs *ErrorList, path string) {
	for _, k := range sortedKeys(v) {
		if !validSysctlKey(k) {
			errs.add(join(path, k), fmt.Sprintf("%q is not a sysctl name (dot- or slash-separated, no empty, \".\" or \"..\" components)", clip(k)))
		}
		if strings.ContainsRune(v[k], 0) {
			errs.add(join(path, k), "value contains a NUL byte")
		}
	}
}

// --- encoding ---

// MarshalJSON writes {"request": "250m", "limit": "500m"}.
func (v ResourceCPU) MarshalJSON() ([]byte, error) {
	return marshalRequestLimit(v.RequestMilli, v.LimitMilli, formatMilli)
}

// MarshalJSON writes {"request": "N", "limit": "N"} in bytes.
func (v ResourceMemory) MarshalJSON() ([]byte, error) {
	return marshalRequestLimit(v.Request, v.Limit, fmtInt)
}

// marshalRequestLimit writes the request whenever a limit is set (so that an
// explicit request of 0 survives) and the limit when it is set.
func marshalRequestLimit(req, lim int64, format func(int64) string) ([]byte, error) {
	m := struct {
		Request *string `json:"request,omitempty"`
		Limit   *string `json:"limit,omitempty"`
	}{}
	if req != 0 || lim != 0 {
		s := format(req)
		m.Request = &s
	}
	if lim != 0 {
		s := format(lim)
		m.Limit = &s
	}
	return json.Marshal(m)
}

func marshalDefaultLimit(lim int64) ([]byte, error) {
	return json.Marshal(struct {
		Default bool   `json:"default"`
		Limit   string `json:"limit"`
	}{true, fmtInt(lim)})
}

// MarshalJSON writes {"default": true, "limit": "N"}.
func (v ResourceBlockBandwidth) MarshalJSON() ([]byte, error) { return marshalDefaultLimit(v.Limit) }

// MarshalJSON writes {"default": true, "limit": "N"}.
func (v ResourceBlockIOPS) MarshalJSON() ([]byte, error) { return marshalDefaultLimit(v.Limit) }

// MarshalJSON writes {"default": true, "limit": "N"}.
func (v ResourceNetworkBandwidth) MarshalJSON() ([]byte, error) {
	return marshalDefaultLimit(v.Limit)
}

type capSetJSON struct {
	Set []LinuxCapability `json:"set"`
}

// MarshalJSON writes {"set": [...]}.
func (v LinuxCapabilitiesRetainSet) MarshalJSON() ([]byte, error) {
	return json.Marshal(capSetJSON(v))
}

// MarshalJSON writes {"set": [...]}.
func (v LinuxCapabilitiesRemoveSet) MarshalJSON() ([]byte, error) {
	return json.Marshal(capSetJSON(v))
}

type seccompJSON struct {
	Set   []string `json:"set"`
	Errno string   `json:"errno,omitempty"`
}

// MarshalJSON writes {"set": [...], "errno": "..."}.
func (v LinuxSeccompRetainSet) MarshalJSON() ([]byte, error) {
	return json.Marshal(seccompJSON(v))
}

// MarshalJSON writes {"set": [...], "errno": "..."}.
func (v LinuxSeccompRemoveSet) MarshalJSON() ([]byte, error) {
	return json.Marshal(seccompJSON(v))
}

// MarshalJSON writes {"user", "role", "type", "level"}.
func (v LinuxSELinuxContext) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		User  string `json:"user"`
		Role  string `json:"role"`
		Type  string `json:"type"`
		Level string `json:"level"`
	}{v.User, v.Role, v.Type, v.Level})
}

// MarshalJSON writes {"profile": "..."}.
func (v LinuxAppArmorProfile) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Profile string `json:"profile"`
	}{v.Profile})
}

// --- typed access ---

// isolatorValue returns the value of the last isolator called name if it
// has type T, as the reference's GetByName does.
func isolatorValue[T IsolatorValue](is Isolators, name ACIdentifier) (T, bool) {
	var zero T
	for i := len(is) - 1; i >= 0; i-- {
		if is[i].Name != name {
			continue
		}
		v, ok := is[i].Value.(T)
		return v, ok
	}
	return zero, false
}

// CPU returns the resource/cpu isolator.
func (is Isolators) CPU() (ResourceCPU, bool) {
	return isolatorValue[ResourceCPU](is, IsolatorResourceCPU)
}

// Memory returns the resource/memory isolator.
func (is Isolators) Memory() (ResourceMemory, bool) {
	return isolatorValue[ResourceMemory](is, IsolatorResourceMemory)
}

// BlockBandwidth returns the resource/block-bandwidth isolator.
func (is Isolators) BlockBandwidth() (ResourceBlockBandwidth, bool) {
	return isolatorValue[ResourceBlockBandwidth](is, IsolatorResourceBlockBandwidth)
}

// BlockIOPS returns the resource/block-iops isolator.
func (is Isolators) BlockIOPS() (ResourceBlockIOPS, bool) {
	return isolatorValue[ResourceBlockIOPS](is, IsolatorResourceBlockIOPS)
}

// NetworkBandwidth returns the resource/network-bandwidth isolator.
func (is Isolators) NetworkBandwidth() (ResourceNetworkBandwidth, bool) {
	return isolatorValue[ResourceNetworkBandwidth](is, IsolatorResourceNetworkBandwidth)
}

// CapabilitiesRetain returns the os/linux/capabilities-retain-set isolator.
func (is Isolators) CapabilitiesRetain() (LinuxCapabilitiesRetainSet, bool) {
	return isolatorValue[LinuxCapabilitiesRetainSet](is, IsolatorCapabilitiesRetainSet)
}

// CapabilitiesRemove returns the os/linux/capabilities-remove-set isolator.
func (is Isolators) CapabilitiesRemove() (LinuxCapabilitiesRemoveSet, bool) {
	return isolatorValue[LinuxCapabilitiesRemoveSet](is, IsolatorCapabilitiesRemoveSet)
}

// NoNewPrivileges reports the os/linux/no-new-privileges isolator's value;
// false when absent, the spec's default.
func (is Isolators) NoNewPrivileges() bool {
	v, _ := isolatorValue[LinuxNoNewPrivileges](is, IsolatorNoNewPrivileges)
	return bool(v)
}

// SeccompRetain returns the os/linux/seccomp-retain-set isolator.
func (is Isolators) SeccompRetain() (LinuxSeccompRetainSet, bool) {
	return isolatorValue[LinuxSeccompRetainSet](is, IsolatorSeccompRetainSet)
}

// SeccompRemove returns the os/linux/seccomp-remove-set isolator.
func (is Isolators) SeccompRemove() (LinuxSeccompRemoveSet, bool) {
	return isolatorValue[LinuxSeccompRemoveSet](is, IsolatorSeccompRemoveSet)
}

// SELinuxContext returns the os/linux/selinux-context isolator.
func (is Isolators) SELinuxContext() (LinuxSELinuxContext, bool) {
	return isolatorValue[LinuxSELinuxContext](is, IsolatorSELinuxContext)
}

// AppArmorProfile returns the os/linux/apparmor-profile isolator.
func (is Isolators) AppArmorProfile() (LinuxAppArmorProfile, bool) {
	return isolatorValue[LinuxAppArmorProfile](is, IsolatorAppArmorProfile)
}

// OOMScoreAdj returns the os/linux/oom-score-adj isolator.
func (is Isolators) OOMScoreAdj() (LinuxOOMScoreAdj, bool) {
	return isolatorValue[LinuxOOMScoreAdj](is, IsolatorOOMScoreAdj)
}

// CPUShares returns the os/linux/cpu-shares isolator.
func (is Isolators) CPUShares() (LinuxCPUShares, bool) {
	return isolatorValue[LinuxCPUShares](is, IsolatorCPUShares)
}

// Sysctl returns the os/unix/sysctl isolator.
func (is Isolators) Sysctl() (UnixSysctl, bool) {
	return isolatorValue[UnixSysctl](is, IsolatorSysctl)
}
