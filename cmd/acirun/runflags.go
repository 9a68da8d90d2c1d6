package main

// The values of the flags of `acirun run` and `acirun prepare`: their syntax
// (appc's volume syntax, rkt's --seccomp, capability lists) and the setters
// that put them into a pod.RunRequest. Values stage1 reads too are parsed by
// internal/podcontract, quantities by aci.

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/pod"
	"github.com/acirun/acirun/userns"
)

// checkACName accepts an appc AC Name (aci.ACName): pod app, volume and
// mount point names.
func checkACName(s string) error {
	if aci.ACName(s).Validate() != nil {
		return fmt.Errorf("%q is not an AC Name (lower-case letters, digits and single dashes, e.g. data-1)", s)
	}
	return nil
}

// parseUserKeyValue parses the NAME=VALUE of --user-annotation and
// --user-label. NAME is an AC Identifier (see pod.AppRequest.UserAnnotations
// for why) and may be given once per app; VALUE is any string.
func parseUserKeyValue(m map[string]string, s string) (map[string]string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return m, errors.New("not NAME=VALUE")
	}
	if aci.ACIdentifier(k).Validate() != nil {
		return m, fmt.Errorf("name %q is not an AC Identifier (lower-case letters and digits, with single - . _ ~ / between them, e.g. example.com/team)", k)
	}
	if _, dup := m[k]; dup {
		return m, fmt.Errorf("name %s given twice", k)
	}
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m, nil
}

func checkAbs(what, p string) error {
	if p == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if !path.IsAbs(p) {
		return fmt.Errorf("%s %q is not an absolute path", what, p)
	}
	if strings.ContainsRune(p, 0) {
		return fmt.Errorf("%s contains a NUL byte", what)
	}
	return nil
}

// keyValues splits "k=v,k=v" and refuses unknown or repeated keys.
func keyValues(parts []string, allowed ...string) (map[string]string, error) {
	m := map[string]string{}
	for _, part := range parts {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not KEY=VALUE", part)
		}
		known := false
		for _, a := range allowed {
			known = known || a == k
		}
		if !known {
			return nil, fmt.Errorf("unknown key %q (known: %s)", k, strings.Join(allowed, ", "))
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("key %q given twice", k)
		}
		m[k] = v
	}
	return m, nil
}

// parseVolume parses the value of --volume in appc's syntax:
// NAME,kind=host,source=PATH[,readOnly=BOOL][,recursive=BOOL][,idmap=BOOL] or
// NAME,kind=empty[,mode=OCTAL][,uid=N][,gid=N][,readOnly=BOOL].
func parseVolume(s string) (pod.VolumeFlag, error) {
	parts := strings.Split(s, ",")
	var v pod.VolumeFlag
	v.Name = parts[0]
	if err := checkACName(v.Name); err != nil {
		return v, fmt.Errorf("volume name: %w", err)
	}
	kv, err := keyValues(parts[1:], "kind", "source", "readOnly", "recursive", "idmap", "mode", "uid", "gid")
	if err != nil {
		return v, err
	}
	v.Kind = kv["kind"]
	if ro, ok := kv["readOnly"]; ok {
		if v.ReadOnly, err = parseBool(ro); err != nil {
			return v, fmt.Errorf("readOnly=%s: %w", ro, err)
		}
	}
	only := func(kind string, keys ...string) error {
		for _, k := range keys {
			if _, ok := kv[k]; ok {
				return fmt.Errorf("key %q applies to kind=%s volumes only", k, kind)
			}
		}
		return nil
	}
	switch v.Kind {
	case "host":
		if err := only("empty", "mode", "uid", "gid"); err != nil {
			return v, err
		}
		src, ok := kv["source"]
		if !ok {
			return v, errors.New("kind=host needs source=PATH")
		}
		if err := checkAbs("source", src); err != nil {
			return v, err
		}
		v.Source = path.Clean(src)
		if r, ok := kv["recursive"]; ok {
			b, err := parseBool(r)
			if err != nil {
				return v, fmt.Errorf("recursive=%s: %w", r, err)
			}
			v.Recursive = &b
		}
		if m, ok := kv["idmap"]; ok {
			if v.IDMap, err = parseBool(m); err != nil {
				return v, fmt.Errorf("idmap=%s: %w", m, err)
			}
		}
	case "empty":
		if err := only("host", "source", "recursive", "idmap"); err != nil {
			return v, err
		}
		if m, ok := kv["mode"]; ok {
			n, err := strconv.ParseUint(m, 8, 32)
			if err != nil || n > 0o7777 {
				return v, fmt.Errorf("mode=%s: not an octal file mode such as 0755", m)
			}
			v.Mode = m
		}
		for _, k := range []string{"uid", "gid"} {
			s, ok := kv[k]
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(s, 10, 31)
			if err != nil {
				return v, fmt.Errorf("%s=%s: not a non-negative number", k, s)
			}
			id := int(n)
			if k == "uid" {
				v.UID = &id
			} else {
				v.GID = &id
			}
		}
	case "":
		return v, errors.New("kind=host or kind=empty is required")
	default:
		return v, fmt.Errorf("kind=%s: unknown kind (host or empty)", v.Kind)
	}
	return v, nil
}

// parseMount parses the value of --mount: volume=NAME,target=PATH.
func parseMount(s string) (pod.MountFlag, error) {
	kv, err := keyValues(strings.Split(s, ","), "volume", "target")
	if err != nil {
		return pod.MountFlag{}, err
	}
	m := pod.MountFlag{Volume: kv["volume"], Target: kv["target"]}
	if _, ok := kv["volume"]; !ok {
		return m, errors.New("volume=NAME is required")
	}
	if err := checkACName(m.Volume); err != nil {
		return m, fmt.Errorf("volume: %w", err)
	}
	if _, ok := kv["target"]; !ok {
		return m, errors.New("target=PATH is required")
	}
	if err := checkAbs("target", m.Target); err != nil {
		return m, err
	}
	m.Target = path.Clean(m.Target)
	return m, nil
}

// parseSeccomp parses the value of --seccomp:
// mode=retain|remove[,errno=ERRNO],SYSCALL[,SYSCALL...]. The set may use
// the appc wildcards @appc.io/all and @appc.io/empty.
func parseSeccomp(s string) (*pod.SeccompFlag, error) {
	f := &pod.SeccompFlag{}
	seen := map[string]bool{}
	listed := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		k, v, isKV := strings.Cut(part, "=")
		if !isKV {
			switch {
			case part == aci.SeccompAll || part == aci.SeccompEmpty:
			case isSyscallName(part):
			default:
				return nil, fmt.Errorf("%q is not a system call name", part)
			}
			if listed[part] {
				return nil, fmt.Errorf("system call %q given twice", part)
			}
			listed[part] = true
			f.Set = append(f.Set, part)
			continue
		}
		if seen[k] {
			return nil, fmt.Errorf("key %q given twice", k)
		}
		seen[k] = true
		switch k {
		case "mode":
			if v != "retain" && v != "remove" {
				return nil, fmt.Errorf("mode=%s: mode is retain or remove", v)
			}
			f.Mode = v
		case "errno":
			if !isErrnoName(v) {
				return nil, fmt.Errorf("errno=%s: not an errno name such as EPERM", v)
			}
			f.Errno = v
		default:
			return nil, fmt.Errorf("unknown key %q (mode, errno)", k)
		}
	}
	if f.Mode == "" {
		return nil, errors.New("mode=retain or mode=remove is required")
	}
	if len(f.Set) == 0 {
		return nil, errors.New("no system calls given")
	}
	return f, nil
}

// isSyscallName reports whether s may be a system call name in a seccomp
// set (besides the appc wildcards): ^[a-z_][a-z0-9_]*$.
func isSyscallName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func isErrnoName(s string) bool {
	if !strings.HasPrefix(s, "E") {
		return false
	}
	for e := syscall.Errno(1); e < 4096; e++ {
		if unix.ErrnoName(e) == s {
			return true
		}
	}
	return false
}

// parseCapabilities parses a comma-separated capability list. Names are
// accepted as aci.ParseLinuxCapability takes them (any case, with or without
// the CAP_ prefix) and returned once each, in the canonical CAP_NAME form the
// appc isolators use.
func parseCapabilities(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, c := range strings.Split(s, ",") {
		n, err := aci.ParseLinuxCapability(c)
		if err != nil {
			return nil, err
		}
		if !seen[string(n)] {
			out = append(out, string(n))
			seen[string(n)] = true
		}
	}
	return out, nil
}

func addEnv(list []pod.EnvVar, s string) ([]pod.EnvVar, error) {
	e, err := pod.ParseEnvAssignment(s)
	if err != nil {
		return list, err
	}
	for _, o := range list {
		if o.Name == e.Name {
			return list, fmt.Errorf("variable %s already set", e.Name)
		}
	}
	return append(list, e), nil
}

// The flag setters. Errors need not repeat the flag name and value:
// parseRunArgs prefixes them.

func (p *runParser) setVolume(s string) error {
	v, err := parseVolume(s)
	if err != nil {
		return err
	}
	p.req.Volumes = append(p.req.Volumes, v)
	return nil
}

func (p *runParser) setHostname(s string) error {
	if err := podcontract.CheckHostname(s); err != nil {
		return err
	}
	p.req.Hostname = s
	return nil
}

func (p *runParser) setDNS(s string) error {
	s, err := podcontract.ParseNameserver(s)
	if err != nil {
		return err
	}
	p.req.DNS = append(p.req.DNS, s)
	return nil
}

func (p *runParser) setDNSSearch(s string) error {
	if err := podcontract.CheckDomain(s); err != nil {
		return err
	}
	p.req.DNSSearch = append(p.req.DNSSearch, s)
	return nil
}

func (p *runParser) setDNSOpt(s string) error {
	o, err := podcontract.ParseDNSOption(s)
	if err != nil {
		return err
	}
	p.req.DNSOptions = append(p.req.DNSOptions, o)
	return nil
}

func (p *runParser) setDNSDomain(s string) error {
	if err := podcontract.CheckDomain(s); err != nil {
		return err
	}
	p.req.DNSDomain = s
	return nil
}

func (p *runParser) setHostsEntry(s string) error {
	if s == podcontract.HostsFromHost {
		p.req.HostsFromHost = true
		return nil
	}
	e, err := podcontract.ParseHostsEntry(s)
	if err != nil {
		return err
	}
	p.req.HostsEntries = append(p.req.HostsEntries, pod.HostsEntry{IP: e.IP.String(), Name: e.Name})
	return nil
}

func (p *runParser) setSetEnv(s string) (err error) {
	p.req.SetEnv, err = addEnv(p.req.SetEnv, s)
	return err
}

func (p *runParser) setSetEnvFile(s string) error {
	if s == "" {
		return errors.New("empty file name")
	}
	p.req.SetEnvFiles = append(p.req.SetEnvFiles, s)
	return nil
}

func (p *runParser) setInheritEnv(s string) (err error) {
	p.req.InheritEnv, err = parseBool(s)
	return err
}

func (p *runParser) setUUIDFileSave(s string) error {
	if s == "" {
		return errors.New("empty file name")
	}
	p.req.UUIDFileSave = s
	return nil
}

func (p *runParser) setPullPolicy(s string) error {
	if _, err := fetch.ParsePullPolicy(s); err != nil {
		return err
	}
	p.req.PullPolicy = s
	return nil
}

func (p *runParser) setStallTimeout(s string) error {
	d, err := parseStallTimeout(s)
	if err != nil {
		return err
	}
	p.req.StallTimeout = d
	return nil
}

func (p *runParser) setNet(s string) error {
	if _, err := podcontract.ParseNet(s); err != nil {
		return err
	}
	p.req.Net = s
	return nil
}

// setPort parses NAME:HOSTPORT or NAME:IP:HOSTPORT.
func (p *runParser) setPort(s string) error {
	name, rest, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return errors.New("want NAME:[IP:]HOSTPORT")
	}
	if err := checkACName(name); err != nil {
		return fmt.Errorf("port name: %v", err)
	}
	ep := aci.ExposedPort{Name: aci.ACName(name)}
	port := rest
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		ip, err := netip.ParseAddr(rest[:i])
		if err != nil || !ip.Is4() {
			return fmt.Errorf("%q is not an IPv4 address", rest[:i])
		}
		ep.HostIP, port = ip, rest[i+1:]
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return fmt.Errorf("host port %q: want 1-65535", port)
	}
	ep.HostPort = uint(n)
	for _, o := range p.req.Ports {
		if o.Name == ep.Name {
			return fmt.Errorf("port %s is published twice", name)
		}
	}
	p.req.Ports = append(p.req.Ports, ep)
	return nil
}

func (p *runParser) setPodManifest(s string) error {
	if s == "" {
		return errors.New("empty file name")
	}
	p.req.PodManifest = s
	return nil
}

func (p *runParser) setStopTimeout(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		n, nerr := strconv.ParseUint(s, 10, 31)
		if nerr != nil {
			return errors.New("not a duration such as 10s or a number of seconds")
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 {
		return errors.New("the stop timeout must be positive")
	}
	p.req.StopTimeout = d
	return nil
}

func (p *runParser) setInteractive(s string) (err error) {
	p.req.Interactive, err = parseBool(s)
	return err
}

func (p *runParser) setNoOverlay(s string) (err error) {
	p.req.NoOverlay, err = parseBool(s)
	return err
}

// setPrivateUsers takes --private-users without a value (auto), =auto,
// =UID:COUNT, or a boolean.
func (p *runParser) setPrivateUsers(s string) error {
	switch s {
	case "true", userns.Auto:
		p.req.PrivateUsers = userns.Auto
		return nil
	case "false":
		p.req.PrivateUsers = ""
		return nil
	}
	if _, err := userns.ParseRange(s); err != nil {
		return err
	}
	p.req.PrivateUsers = s
	return nil
}

func (p *runParser) setExec(s string) error {
	// As the appc App: an absolute path, or a bare name looked up in PATH
	// inside the app; never a relative path.
	if s == "" || strings.ContainsRune(s, 0) {
		return errors.New("empty exec")
	}
	if !path.IsAbs(s) && strings.Contains(s, "/") {
		return fmt.Errorf("exec %q is a relative path: give an absolute path or a bare command name", s)
	}
	p.last().Exec = s
	return nil
}

func (p *runParser) setName(s string) error {
	if err := checkACName(s); err != nil {
		return err
	}
	p.last().Name = s
	return nil
}

func (p *runParser) setUser(s string) error {
	if s == "" {
		return errors.New("empty user")
	}
	p.last().User = s
	return nil
}

func (p *runParser) setGroup(s string) error {
	if s == "" {
		return errors.New("empty group")
	}
	p.last().Group = s
	return nil
}

func (p *runParser) setGIDs(s string) error {
	var gids []int
	for _, g := range strings.Split(s, ",") {
		n, err := strconv.ParseUint(g, 10, 31)
		if err != nil {
			return fmt.Errorf("%q is not a group ID", g)
		}
		gids = append(gids, int(n))
	}
	p.last().SupplementaryGIDs = gids
	return nil
}

func (p *runParser) setWorkingDir(s string) error {
	if err := checkAbs("working directory", s); err != nil {
		return err
	}
	p.last().WorkingDir = s
	return nil
}

func (p *runParser) setEnvironment(s string) (err error) {
	app := p.last()
	app.Environment, err = addEnv(app.Environment, s)
	return err
}

func (p *runParser) setMount(s string) error {
	m, err := parseMount(s)
	if err != nil {
		return err
	}
	if app := p.last(); app != nil {
		app.Mounts = append(app.Mounts, m)
	} else {
		p.req.Mounts = append(p.req.Mounts, m)
	}
	return nil
}

func (p *runParser) setUserAnnotation(s string) (err error) {
	// Served as an annotation too (see pod.AppRequest): the values of the
	// names appc defines (created, homepage, ...) must be valid.
	if k, v, ok := strings.Cut(s, "="); ok && aci.ACIdentifier(k).Validate() == nil {
		if err := (aci.Annotations{{Name: aci.ACIdentifier(k), Value: v}}).Validate(); err != nil {
			return err
		}
	}
	if app := p.last(); app != nil {
		app.UserAnnotations, err = parseUserKeyValue(app.UserAnnotations, s)
	} else {
		p.req.UserAnnotations, err = parseUserKeyValue(p.req.UserAnnotations, s)
	}
	return err
}

func (p *runParser) setUserLabel(s string) (err error) {
	if app := p.last(); app != nil {
		app.UserLabels, err = parseUserKeyValue(app.UserLabels, s)
	} else {
		p.req.UserLabels, err = parseUserKeyValue(p.req.UserLabels, s)
	}
	return err
}

func (p *runParser) setMemory(s string) error {
	n, err := aci.ParseQuantity(s, 1)
	if err != nil {
		return err
	}
	// As rkt: anything under 4 KiB is almost surely a typo (16m is 16 millibytes).
	if n < 4096 {
		return fmt.Errorf("a memory limit of %d bytes is too low; did you mean %sM?", n, strings.TrimRight(s, "m"))
	}
	p.last().Memory = s
	return nil
}

func (p *runParser) setCPU(s string) error {
	milli, err := aci.ParseQuantity(s, 1000)
	if err != nil {
		return err
	}
	if milli < 1 {
		return errors.New("the CPU limit must be at least 1m")
	}
	p.last().CPU = s
	return nil
}

func (p *runParser) setCPUShares(s string) error {
	n, err := strconv.ParseUint(s, 10, 31)
	v := aci.LinuxCPUShares(n)
	if err == nil {
		err = aci.Isolators{aci.NewIsolator(v)}.Validate()
	}
	if err != nil {
		return fmt.Errorf("not a CPU weight from %d to %d", aci.MinCPUShares, aci.MaxCPUShares)
	}
	p.last().CPUShares = &v
	return nil
}

func (p *runParser) setCapsRetain(s string) error {
	app := p.last()
	if app.CapsRemove != nil {
		return errors.New("--caps-retain and --caps-remove exclude each other")
	}
	caps, err := parseCapabilities(s)
	app.CapsRetain = caps
	return err
}

func (p *runParser) setCapsRemove(s string) error {
	app := p.last()
	if app.CapsRetain != nil {
		return errors.New("--caps-retain and --caps-remove exclude each other")
	}
	caps, err := parseCapabilities(s)
	app.CapsRemove = caps
	return err
}

func (p *runParser) setSeccomp(s string) error {
	f, err := parseSeccomp(s)
	if err != nil {
		return err
	}
	p.last().Seccomp = f
	return nil
}

func (p *runParser) setReadOnlyRootFS(s string) (err error) {
	p.last().ReadOnlyRootFS, err = parseBool(s)
	return err
}

func (p *runParser) setOOMScoreAdj(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < -1000 || n > 1000 {
		return errors.New("not a number from -1000 to 1000")
	}
	p.last().OOMScoreAdj = &n
	return nil
}
