package aci

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// App says how to run the one program an image provides. In a pod manifest
// it replaces the image's App completely.
type App struct {
	// Exec is the command line: Exec[0] is an absolute path, or a bare
	// command name looked up in PATH; never a relative path with a '/'.
	// It may be empty, leaving the executor to supply a command.
	Exec []string `json:"exec,omitempty"`
	// User and Group are names from the image's /etc/passwd and /etc/group,
	// numeric IDs, or absolute paths whose owner is used. Both are required.
	User  string `json:"user"`
	Group string `json:"group"`
	// SupplementaryGIDs are added to the app's groups. The spec's example
	// spells the key "supplementaryGids"; both are read, this one is written.
	SupplementaryGIDs []uint32 `json:"supplementaryGIDs,omitempty"`
	// WorkingDirectory is absolute; empty means "/" (see WorkingDir).
	WorkingDirectory string         `json:"workingDirectory,omitempty"`
	EventHandlers    []EventHandler `json:"eventHandlers,omitempty"`
	Environment      Environment    `json:"environment,omitempty"`
	MountPoints      []MountPoint   `json:"mountPoints,omitempty"`
	Ports            []Port         `json:"ports,omitempty"`
	Isolators        Isolators      `json:"isolators,omitempty"`
	// UserAnnotations and UserLabels are for people; they must not change
	// how the app runs.
	UserAnnotations map[string]string `json:"userAnnotations,omitempty"`
	UserLabels      map[string]string `json:"userLabels,omitempty"`
}

// UnmarshalJSON decodes and validates an app on its own (for instance an
// override given on the command line) as strictly as ParseImageManifest
// decodes the app inside a manifest; error paths start with "app".
func (a *App) UnmarshalJSON(b []byte) error {
	root, err := parseJSON(b)
	if err != nil {
		return ErrorList{{Path: "app", Msg: err.Error()}}
	}
	var d decoder
	app := d.app(root, "app")
	if app != nil {
		var verrs ErrorList
		app.validate(&verrs, "app")
		d.errs.addUncovered(verrs)
	}
	if len(d.errs) > 0 {
		sortErrors(root, d.errs)
		return d.errs.truncated()
	}
	*a = *app
	return nil
}

// WorkingDir returns WorkingDirectory, or "/" if it is empty.
func (a *App) WorkingDir() string {
	if a.WorkingDirectory == "" {
		return "/"
	}
	return a.WorkingDirectory
}

// EventHandler runs Exec at a point of the app's life: "pre-start" (before
// the app, as root in the app's rootfs) or "post-stop".
type EventHandler struct {
	Name string   `json:"name"`
	Exec []string `json:"exec"`
}

// Event handler names.
const (
	EventPreStart = "pre-start"
	EventPostStop = "post-stop"
)

// EnvironmentVariable is one entry of App.Environment. Values are literal:
// no expansion happens.
type EnvironmentVariable struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Environment is an ordered list of variables with unique names matching
// ^[A-Za-z_][A-Za-z_0-9.-]*$.
type Environment []EnvironmentVariable

// Get returns the value of the variable called name.
func (e Environment) Get(name string) (string, bool) {
	for _, v := range e {
		if v.Name == name {
			return v.Value, true
		}
	}
	return "", false
}

// Set replaces the value of name, or appends it.
func (e *Environment) Set(name, value string) {
	for i := range *e {
		if (*e)[i].Name == name {
			(*e)[i].Value = value
			return
		}
	}
	*e = append(*e, EnvironmentVariable{Name: name, Value: value})
}

// MountPoint is a place in the app's filesystem where the pod may mount a
// volume; a pod mount with the same Path fills it.
type MountPoint struct {
	Name     ACName `json:"name"`
	Path     string `json:"path"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// Port is a port the app listens on: Count ports from Port on (Count is at
// least 1; a zero Count in a value built in code means 1).
type Port struct {
	Name            ACName `json:"name"`
	Protocol        string `json:"protocol"`
	Port            uint   `json:"port"`
	Count           uint   `json:"count"`
	SocketActivated bool   `json:"socketActivated,omitempty"`
}

// MarshalJSON writes the port with its count (1 if unset).
func (p Port) MarshalJSON() ([]byte, error) {
	type port Port
	q := port(p)
	if q.Count == 0 {
		q.Count = 1
	}
	return json.Marshal(q)
}

// ValidEnvironmentName reports whether s may name an environment variable
// in an app: the spec's ^[A-Za-z_][A-Za-z_0-9.-]*$. It is exported so that
// names given on the command line (--environment, --set-env) are held to the
// same rule as the manifests they end up in.
func ValidEnvironmentName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// Validate checks the app on its own.
func (a *App) Validate() error {
	var errs ErrorList
	a.validate(&errs, "app")
	return errs.Err()
}

func validateExec(errs *ErrorList, p string, exec []string, required bool) {
	if len(exec) == 0 {
		if required {
			errs.add(p, "required")
		}
		return
	}
	switch e := exec[0]; {
	case e == "":
		errs.add(index(p, 0), "the command is empty")
	case !path.IsAbs(e) && strings.Contains(e, "/"):
		errs.add(index(p, 0), fmt.Sprintf("%q is a relative path; use an absolute path or a bare command name", clip(e)))
	}
	for i, arg := range exec {
		if strings.ContainsRune(arg, 0) {
			errs.add(index(p, i), "contains a NUL byte")
		}
	}
}

func (a *App) validate(errs *ErrorList, p string) {
	validateExec(errs, join(p, "exec"), a.Exec, false)
	if a.User == "" {
		errs.add(join(p, "user"), "required")
	} else if strings.ContainsRune(a.User, 0) {
		errs.add(join(p, "user"), "contains a NUL byte")
	}
	if a.Group == "" {
		errs.add(join(p, "group"), "required")
	} else if strings.ContainsRune(a.Group, 0) {
		errs.add(join(p, "group"), "contains a NUL byte")
	}
	for i, g := range a.SupplementaryGIDs {
		if g == 1<<32-1 {
			errs.add(index(join(p, "supplementaryGIDs"), i), "4294967295 is not a valid group ID")
		}
	}
	if a.WorkingDirectory != "" {
		validateAbsPath(errs, join(p, "workingDirectory"), a.WorkingDirectory)
	}
	ep := join(p, "eventHandlers")
	handlers, envNames, mpNames, portNames := seen[string]{}, seen[string]{}, seen[ACName]{}, seen[ACName]{}
	for i, h := range a.EventHandlers {
		hp := index(ep, i)
		if h.Name != EventPreStart && h.Name != EventPostStop {
			errs.add(join(hp, "name"), fmt.Sprintf("%q is not %q or %q", clip(h.Name), EventPreStart, EventPostStop))
		}
		if j, dup := handlers.dup(h.Name, i); dup {
			errs.add(join(hp, "name"), fmt.Sprintf("%q given twice (also %s)", h.Name, index(ep, j)))
		}
		validateExec(errs, join(hp, "exec"), h.Exec, true)
	}
	envp := join(p, "environment")
	env := a.Environment
	if tooMany(errs, envp, len(env), MaxEnvironment) {
		env = nil
	}
	for i, e := range env {
		vp := index(envp, i)
		if !ValidEnvironmentName(e.Name) {
			errs.add(join(vp, "name"), fmt.Sprintf("%q is not a valid variable name (^[A-Za-z_][A-Za-z_0-9.-]*$)", clip(e.Name)))
		}
		if j, dup := envNames.dup(e.Name, i); dup {
			errs.add(join(vp, "name"), fmt.Sprintf("%q given twice (also %s)", clip(e.Name), index(envp, j)))
		}
		if strings.ContainsRune(e.Value, 0) {
			errs.add(join(vp, "value"), "contains a NUL byte")
		}
	}
	mpp := join(p, "mountPoints")
	mps := a.MountPoints
	if tooMany(errs, mpp, len(mps), MaxMountPoints) {
		mps = nil
	}
	for i, m := range mps {
		mp := index(mpp, i)
		validateName(errs, join(mp, "name"), m.Name)
		if j, dup := mpNames.dup(m.Name, i); dup {
			errs.add(join(mp, "name"), fmt.Sprintf("%q given twice (also %s)", m.Name, index(mpp, j)))
		}
		validateAbsPath(errs, join(mp, "path"), m.Path)
	}
	pp := join(p, "ports")
	ports := a.Ports
	if tooMany(errs, pp, len(ports), MaxPorts) {
		ports = nil
	}
	for i, port := range ports {
		validatePort(errs, index(pp, i), port)
		if j, dup := portNames.dup(port.Name, i); dup {
			errs.add(join(index(pp, i), "name"), fmt.Sprintf("%q given twice (also %s)", port.Name, index(pp, j)))
		}
	}
	a.Isolators.validate(errs, join(p, "isolators"))
}

func validateName(errs *ErrorList, p string, n ACName) {
	if n == "" {
		errs.add(p, "required")
	} else if err := n.Validate(); err != nil {
		errs.add(p, err.Error())
	}
}

func validateIdentifier(errs *ErrorList, p string, n ACIdentifier) {
	if n == "" {
		errs.add(p, "required")
	} else if err := n.Validate(); err != nil {
		errs.add(p, err.Error())
	}
}

func validateAbsPath(errs *ErrorList, p, s string) {
	switch {
	case s == "":
		errs.add(p, "required")
	case !path.IsAbs(s):
		errs.add(p, fmt.Sprintf("%q is not an absolute path", clip(s)))
	case strings.ContainsRune(s, 0):
		errs.add(p, "contains a NUL byte")
	}
}

func validatePort(errs *ErrorList, p string, port Port) {
	validateName(errs, join(p, "name"), port.Name)
	if port.Protocol == "" {
		errs.add(join(p, "protocol"), "required")
	}
	if port.Port < 1 || port.Port > 65535 {
		errs.add(join(p, "port"), fmt.Sprintf("%d out of range 1-65535", port.Port))
		return
	}
	count := port.Count
	if count == 0 {
		count = 1
	}
	if count > 65536-port.Port {
		errs.add(join(p, "count"), fmt.Sprintf("%d ports from %d run past 65535", count, port.Port))
	}
}

func (d *decoder) exec(v *jval, p string) []string {
	return d.stringList(v, p)
}

func (d *decoder) app(v *jval, p string) *App {
	o := d.object(v, p)
	if o == nil {
		return nil
	}
	a := &App{}
	a.Exec = d.exec(o.get("exec"), join(p, "exec"))
	a.User = d.str(o.get("user"), join(p, "user"))
	a.Group = d.str(o.get("group"), join(p, "group"))
	gp := join(p, "supplementaryGIDs")
	for i, g := range d.array(o.get("supplementaryGIDs", "supplementaryGids"), gp) {
		if n, ok := d.integer(g, index(gp, i), 0, 1<<32-2); ok {
			a.SupplementaryGIDs = append(a.SupplementaryGIDs, uint32(n))
		}
	}
	a.WorkingDirectory = d.str(o.get("workingDirectory"), join(p, "workingDirectory"))
	ep := join(p, "eventHandlers")
	for i, e := range d.array(o.get("eventHandlers"), ep) {
		hp := index(ep, i)
		ho := d.object(e, hp)
		if ho == nil {
			continue
		}
		var h EventHandler
		h.Name = d.str(ho.get("name"), join(hp, "name"))
		h.Exec = d.exec(ho.get("exec"), join(hp, "exec"))
		ho.done("name", "exec")
		a.EventHandlers = append(a.EventHandlers, h)
	}
	envp := join(p, "environment")
	for i, e := range d.array(o.get("environment"), envp) {
		vp := index(envp, i)
		vo := d.object(e, vp)
		if vo == nil {
			continue
		}
		var ev EnvironmentVariable
		ev.Name = d.str(vo.get("name"), join(vp, "name"))
		val := vo.get("value")
		if val == nil {
			d.errorf(join(vp, "value"), "required")
		}
		ev.Value = d.str(val, join(vp, "value"))
		vo.done("name", "value")
		a.Environment = append(a.Environment, ev)
	}
	mpp := join(p, "mountPoints")
	for i, e := range d.array(o.get("mountPoints"), mpp) {
		mp := index(mpp, i)
		mo := d.object(e, mp)
		if mo == nil {
			continue
		}
		var m MountPoint
		m.Name = ACName(d.str(mo.get("name"), join(mp, "name")))
		m.Path = d.str(mo.get("path"), join(mp, "path"))
		m.ReadOnly = d.boolean(mo.get("readOnly"), join(mp, "readOnly"))
		mo.done("name", "path", "readOnly")
		a.MountPoints = append(a.MountPoints, m)
	}
	pp := join(p, "ports")
	for i, e := range d.array(o.get("ports"), pp) {
		if port, ok := d.port(e, index(pp, i)); ok {
			a.Ports = append(a.Ports, port)
		}
	}
	a.Isolators = d.isolators(o.get("isolators"), join(p, "isolators"))
	a.UserAnnotations = d.stringMap(o.get("userAnnotations"), join(p, "userAnnotations"))
	a.UserLabels = d.stringMap(o.get("userLabels"), join(p, "userLabels"))
	o.done("exec", "user", "group", "supplementaryGIDs", "workingDirectory", "eventHandlers",
		"environment", "mountPoints", "ports", "isolators", "userAnnotations", "userLabels")
	return a
}

func (d *decoder) port(v *jval, p string) (Port, bool) {
	o := d.object(v, p)
	if o == nil {
		return Port{}, false
	}
	var port Port
	port.Name = ACName(d.str(o.get("name"), join(p, "name")))
	port.Protocol = d.str(o.get("protocol"), join(p, "protocol"))
	if pv := o.get("port"); pv != nil {
		if n, ok := d.integer(pv, join(p, "port"), 1, 65535); ok {
			port.Port = uint(n)
		}
	} else {
		d.errorf(join(p, "port"), "required")
	}
	port.Count = 1
	if cv := o.get("count"); cv != nil {
		if n, ok := d.integer(cv, join(p, "count"), 1, 65535); ok {
			port.Count = uint(n)
		}
	}
	port.SocketActivated = d.boolean(o.get("socketActivated"), join(p, "socketActivated"))
	o.done("name", "protocol", "port", "count", "socketActivated")
	return port, true
}
