package aci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// Names of the isolators the spec (0.8.11) defines. Isolators with other
// names are kept with their raw value (RawIsolatorValue) and listed by
// Isolators.Unknown, so the executor can report them as ignored.
const (
	IsolatorResourceCPU              ACIdentifier = "resource/cpu"
	IsolatorResourceMemory           ACIdentifier = "resource/memory"
	IsolatorResourceBlockBandwidth   ACIdentifier = "resource/block-bandwidth"
	IsolatorResourceBlockIOPS        ACIdentifier = "resource/block-iops"
	IsolatorResourceNetworkBandwidth ACIdentifier = "resource/network-bandwidth"
	IsolatorCapabilitiesRetainSet    ACIdentifier = "os/linux/capabilities-retain-set"
	IsolatorCapabilitiesRemoveSet    ACIdentifier = "os/linux/capabilities-remove-set"
	IsolatorNoNewPrivileges          ACIdentifier = "os/linux/no-new-privileges"
	IsolatorSeccompRetainSet         ACIdentifier = "os/linux/seccomp-retain-set"
	IsolatorSeccompRemoveSet         ACIdentifier = "os/linux/seccomp-remove-set"
	IsolatorSELinuxContext           ACIdentifier = "os/linux/selinux-context"
	IsolatorAppArmorProfile          ACIdentifier = "os/linux/apparmor-profile"
	IsolatorOOMScoreAdj              ACIdentifier = "os/linux/oom-score-adj"
	IsolatorCPUShares                ACIdentifier = "os/linux/cpu-shares"
	IsolatorSysctl                   ACIdentifier = "os/unix/sysctl"
)

// KnownIsolators returns the names of the isolators this package decodes
// into typed values, in the order of the constants above.
func KnownIsolators() []ACIdentifier {
	return []ACIdentifier{
		IsolatorResourceCPU, IsolatorResourceMemory, IsolatorResourceBlockBandwidth,
		IsolatorResourceBlockIOPS, IsolatorResourceNetworkBandwidth,
		IsolatorCapabilitiesRetainSet, IsolatorCapabilitiesRemoveSet, IsolatorNoNewPrivileges,
		IsolatorSeccompRetainSet, IsolatorSeccompRemoveSet, IsolatorSELinuxContext,
		IsolatorAppArmorProfile, IsolatorOOMScoreAdj, IsolatorCPUShares, IsolatorSysctl,
	}
}

// IsKnownIsolator reports whether name is one of KnownIsolators.
func IsKnownIsolator(name ACIdentifier) bool {
	for _, k := range KnownIsolators() {
		if k == name {
			return true
		}
	}
	return false
}

// Isolator is one entry of an isolators list. For a known Name, Value holds
// the matching typed value (*ResourceCPU for resource/cpu, and so on: see
// the Isolator* constants); for an unknown Name it holds a RawIsolatorValue.
type Isolator struct {
	Name  ACIdentifier
	Value IsolatorValue
}

// IsolatorValue is the typed value of an isolator. The implementations are
// this package's: ResourceCPU, ResourceMemory, ResourceBlockBandwidth,
// ResourceBlockIOPS, ResourceNetworkBandwidth, LinuxCapabilitiesRetainSet,
// LinuxCapabilitiesRemoveSet, LinuxNoNewPrivileges, LinuxSeccompRetainSet,
// LinuxSeccompRemoveSet, LinuxSELinuxContext, LinuxAppArmorProfile,
// LinuxOOMScoreAdj, LinuxCPUShares, UnixSysctl and RawIsolatorValue.
type IsolatorValue interface {
	// IsolatorName returns the name the value belongs under ("" for a
	// RawIsolatorValue, which may belong under any unknown name).
	IsolatorName() ACIdentifier
	validate(errs *ErrorList, path string)
}

// NewIsolator wraps a typed value in an Isolator with the value's name.
func NewIsolator(v IsolatorValue) Isolator {
	return Isolator{Name: v.IsolatorName(), Value: v}
}

// RawIsolatorValue is the value of an isolator this package does not know,
// kept as compact JSON so that writing the manifest back loses nothing.
type RawIsolatorValue json.RawMessage

// IsolatorName returns "": a raw value has no name of its own.
func (RawIsolatorValue) IsolatorName() ACIdentifier { return "" }

// MarshalJSON returns the raw value.
func (r RawIsolatorValue) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return []byte(r), nil
}

func (r RawIsolatorValue) validate(errs *ErrorList, path string) {
	if len(r) == 0 {
		errs.add(path, "required")
	} else if !json.Valid(r) {
		errs.add(path, "raw isolator value is not valid JSON")
	}
}

// MarshalJSON writes {"name": ..., "value": ...}.
func (i Isolator) MarshalJSON() ([]byte, error) {
	var v any = i.Value
	if i.Value == nil {
		v = nil
	}
	return json.Marshal(struct {
		Name  ACIdentifier `json:"name"`
		Value any          `json:"value"`
	}{i.Name, v})
}

// Isolators is an ordered list of isolators. Each known isolator may appear
// at most once; capabilities retain and remove sets exclude each other, and
// so do seccomp retain and remove sets.
type Isolators []Isolator

// Get returns the isolator called name.
func (is Isolators) Get(name ACIdentifier) (Isolator, bool) {
	for _, i := range is {
		if i.Name == name {
			return i, true
		}
	}
	return Isolator{}, false
}

// Unknown returns the isolators whose names this package does not know.
// The spec lets an executor ignore them but requires it to say so.
func (is Isolators) Unknown() Isolators {
	var out Isolators
	for _, i := range is {
		if !IsKnownIsolator(i.Name) {
			out = append(out, i)
		}
	}
	return out
}

// Validate checks every isolator and the rules between them.
func (is Isolators) Validate() error {
	var errs ErrorList
	is.validate(&errs, "isolators")
	return errs.Err()
}

func (is Isolators) validate(errs *ErrorList, path string) {
	first := map[ACIdentifier]int{}
	for n, i := range is {
		p := index(path, n)
		if i.Name == "" {
			errs.add(join(p, "name"), "required")
			continue
		}
		if err := i.Name.Validate(); err != nil {
			errs.add(join(p, "name"), err.Error())
			continue
		}
		if !IsKnownIsolator(i.Name) {
			switch v := i.Value.(type) {
			case nil:
				errs.add(join(p, "value"), fmt.Sprintf("required for isolator %s", i.Name))
			case RawIsolatorValue:
				v.validate(errs, join(p, "value"))
			default:
				errs.add(join(p, "value"), fmt.Sprintf("isolator %s is unknown but has a typed value %T", i.Name, i.Value))
			}
			continue
		}
		if i.Value == nil {
			errs.add(join(p, "value"), fmt.Sprintf("required for isolator %s", i.Name))
		} else if reflect.ValueOf(i.Value).Kind() == reflect.Pointer {
			errs.add(join(p, "value"), fmt.Sprintf("isolator %s has a pointer value %T; store the value itself", i.Name, i.Value))
		} else if i.Value.IsolatorName() != i.Name {
			errs.add(join(p, "value"), fmt.Sprintf("isolator %s has a value of type %T", i.Name, i.Value))
		} else {
			i.Value.validate(errs, join(p, "value"))
		}
		if j, dup := first[i.Name]; dup {
			errs.add(join(p, "name"), fmt.Sprintf("isolator %s given twice (also %s)", i.Name, index(path, j)))
		} else {
			first[i.Name] = n
		}
	}
	conflict := func(a, b ACIdentifier) {
		ia, oka := first[a]
		ib, okb := first[b]
		if oka && okb {
			errs.add(join(index(path, max(ia, ib)), "name"), fmt.Sprintf("isolators %s and %s exclude each other (%s, %s)", a, b, index(path, ia), index(path, ib)))
		}
	}
	conflict(IsolatorCapabilitiesRetainSet, IsolatorCapabilitiesRemoveSet)
	conflict(IsolatorSeccompRetainSet, IsolatorSeccompRemoveSet)
}

func (d *decoder) isolators(v *jval, path string) Isolators {
	var out Isolators
	for n, e := range d.array(v, path) {
		p := index(path, n)
		if e.kind == jnull {
			d.errorf(p, "null is not an isolator")
			continue
		}
		o := d.object(e, p)
		if o == nil {
			continue
		}
		var iso Isolator
		iso.Name = ACIdentifier(d.str(o.get("name"), join(p, "name")))
		val := o.get("value")
		o.done("name", "value")
		vp := join(p, "value")
		switch {
		case val == nil:
			d.errorf(vp, "required for isolator %s", iso.Name)
		case IsKnownIsolator(iso.Name):
			iso.Value = d.isolatorValue(iso.Name, val, vp)
		default:
			var b bytes.Buffer
			val.compact(&b)
			iso.Value = RawIsolatorValue(b.Bytes())
		}
		out = append(out, iso)
	}
	return out
}

// isolatorValue decodes the value of a known isolator. It returns nil if
// the value was too malformed to hold.
func (d *decoder) isolatorValue(name ACIdentifier, v *jval, path string) IsolatorValue {
	switch name {
	case IsolatorResourceCPU:
		req, lim, ok := d.requestLimit(v, path, 1000, false)
		if !ok {
			return nil
		}
		return ResourceCPU{RequestMilli: req, LimitMilli: lim}
	case IsolatorResourceMemory:
		req, lim, ok := d.requestLimit(v, path, 1, false)
		if !ok {
			return nil
		}
		return ResourceMemory{Request: req, Limit: lim}
	case IsolatorResourceBlockBandwidth:
		_, lim, ok := d.requestLimit(v, path, 1, true)
		if !ok {
			return nil
		}
		return ResourceBlockBandwidth{Limit: lim}
	case IsolatorResourceBlockIOPS:
		_, lim, ok := d.requestLimit(v, path, 1, true)
		if !ok {
			return nil
		}
		return ResourceBlockIOPS{Limit: lim}
	case IsolatorResourceNetworkBandwidth:
		_, lim, ok := d.requestLimit(v, path, 1, true)
		if !ok {
			return nil
		}
		return ResourceNetworkBandwidth{Limit: lim}
	case IsolatorCapabilitiesRetainSet:
		set, ok := d.capSet(v, path)
		if !ok {
			return nil
		}
		return LinuxCapabilitiesRetainSet{Set: set}
	case IsolatorCapabilitiesRemoveSet:
		set, ok := d.capSet(v, path)
		if !ok {
			return nil
		}
		return LinuxCapabilitiesRemoveSet{Set: set}
	case IsolatorNoNewPrivileges:
		if v.kind != jbool {
			d.wrongType(path, v, "true or false")
			return nil
		}
		return LinuxNoNewPrivileges(v.b)
	case IsolatorSeccompRetainSet:
		set, errno, ok := d.seccomp(v, path)
		if !ok {
			return nil
		}
		return LinuxSeccompRetainSet{Set: set, Errno: errno}
	case IsolatorSeccompRemoveSet:
		set, errno, ok := d.seccomp(v, path)
		if !ok {
			return nil
		}
		return LinuxSeccompRemoveSet{Set: set, Errno: errno}
	case IsolatorSELinuxContext:
		o := d.object(v, path)
		if o == nil {
			return nil
		}
		c := LinuxSELinuxContext{
			User:  d.str(o.get("user"), join(path, "user")),
			Role:  d.str(o.get("role"), join(path, "role")),
			Type:  d.str(o.get("type"), join(path, "type")),
			Level: d.str(o.get("level"), join(path, "level")),
		}
		o.done("user", "role", "type", "level")
		return c
	case IsolatorAppArmorProfile:
		o := d.object(v, path)
		if o == nil {
			return nil
		}
		p := LinuxAppArmorProfile{Profile: d.str(o.get("profile"), join(path, "profile"))}
		o.done("profile")
		return p
	case IsolatorOOMScoreAdj:
		n, ok := d.integer(v, path, -1000, 1000)
		if !ok {
			return nil
		}
		return LinuxOOMScoreAdj(n)
	case IsolatorCPUShares:
		n, ok := d.integer(v, path, MinCPUShares, MaxCPUShares)
		if !ok {
			return nil
		}
		return LinuxCPUShares(n)
	case IsolatorSysctl:
		if v.kind != jobject {
			d.wrongType(path, v, "an object of strings")
			return nil
		}
		m := d.stringMap(v, path)
		if m == nil {
			m = map[string]string{}
		}
		return UnixSysctl(m)
	}
	return nil
}

// requestLimit decodes {default, request, limit}. For bandwidth-like
// resources (limitOnly) "default" must be true and "request" absent; for
// cpu and memory "default" must be false or absent and an absent request
// equals the limit.
func (d *decoder) requestLimit(v *jval, path string, scale int64, limitOnly bool) (req, lim int64, ok bool) {
	o := d.object(v, path)
	if o == nil {
		return 0, 0, false
	}
	ok = true
	def := o.get("default")
	defVal := d.boolean(def, join(path, "default"))
	if limitOnly && !defVal {
		if def == nil || def.kind == jbool {
			d.errorf(join(path, "default"), "must be true for this isolator")
		}
		ok = false
	}
	if !limitOnly && defVal {
		d.errorf(join(path, "default"), "must be false or absent for this isolator")
		ok = false
	}
	quantity := func(key string) (int64, bool, bool) {
		q := o.get(key)
		if q == nil {
			return 0, false, true
		}
		var s string
		switch q.kind {
		case jstring, jnumber:
			s = q.s
		default:
			d.wrongType(join(path, key), q, "a quantity string")
			return 0, true, false
		}
		n, err := ParseQuantity(s, scale)
		if err != nil {
			d.errorf(join(path, key), "%v", err)
			return 0, true, false
		}
		return n, true, true
	}
	r, hasReq, okr := quantity("request")
	l, hasLim, okl := quantity("limit")
	o.done("default", "request", "limit")
	ok = ok && okr && okl
	switch {
	case limitOnly && hasReq:
		d.errorf(join(path, "request"), "not supported by this isolator (only limit)")
		ok = false
	case limitOnly && !hasLim:
		d.errorf(join(path, "limit"), "required")
		ok = false
	case !hasReq && !hasLim:
		d.errorf(path, "needs a limit or a request")
		ok = false
	}
	if hasLim && okl && l == 0 {
		d.errorf(join(path, "limit"), "%s must be greater than zero", o.get("limit").quote())
		ok = false
	}
	if !hasReq {
		r = l
	}
	return r, l, ok
}

func (d *decoder) capSet(v *jval, path string) ([]LinuxCapability, bool) {
	o := d.object(v, path)
	if o == nil {
		return nil, false
	}
	sv := o.get("set")
	o.done("set")
	if sv == nil {
		d.errorf(join(path, "set"), "required")
		return nil, false
	}
	var set []LinuxCapability
	for _, s := range d.stringList(sv, join(path, "set")) {
		set = append(set, LinuxCapability(s))
	}
	return set, true
}

func (d *decoder) seccomp(v *jval, path string) ([]string, string, bool) {
	o := d.object(v, path)
	if o == nil {
		return nil, "", false
	}
	sv := o.get("set")
	errno := d.str(o.get("errno"), join(path, "errno"))
	o.done("set", "errno")
	if sv == nil {
		d.errorf(join(path, "set"), "required")
		return nil, "", false
	}
	return d.stringList(sv, join(path, "set")), errno, true
}

// checkSet reports an empty set and duplicate entries.
func checkSet[T ~string](errs *ErrorList, path string, set []T) bool {
	if len(set) == 0 {
		errs.add(path, "must not be empty")
		return false
	}
	ok := true
	names := seen[T]{}
	for i, s := range set {
		if j, dup := names.dup(s, i); dup {
			errs.add(index(path, i), fmt.Sprintf("%q listed twice (also %s)", clip(string(s)), index(path, j)))
			ok = false
		}
	}
	return ok
}

// validSysctlKey accepts dotted or slashed sysctl names whose components are
// non-empty and not "." or "..": the key becomes a path under /proc/sys.
func validSysctlKey(k string) bool {
	if k == "" || strings.ContainsAny(k, " \t\n\x00\\") {
		return false
	}
	for _, c := range strings.FieldsFunc(k, func(r rune) bool { return r == '.' || r == '/' }) {
		if c == ".." {
			return false
		}
	}
	// Empty components ("a..b", ".a", "a/") are not allowed either.
	return !strings.Contains(k, "..") && !strings.Contains(k, "//") && !strings.Contains(k, "./") && !strings.Contains(k, "/.") &&
		!strings.HasPrefix(k, ".") && !strings.HasPrefix(k, "/") && !strings.HasSuffix(k, ".") && !strings.HasSuffix(k, "/")
}
