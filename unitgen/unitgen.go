package unitgen

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/coreos/go-systemd/v22/unit"
	"github.com/godbus/dbus/v5"

	"github.com/acirun/acirun/aci"
)

const (
	// DefaultSlice is the slice of a pod's unit, where systemd-nspawn and
	// systemd-machined keep containers and virtual machines.
	DefaultSlice = "machine.slice"
	// DefaultStopTimeout is how long stage1 gives a stopping pod's apps
	// between SIGTERM and SIGKILL when --stop-timeout is not given.
	DefaultStopTimeout = 10 * time.Second
	// StopGrace is what TimeoutStopSec= allows beyond the pod's stop
	// timeout. The stop signal goes to stage1 alone (KillMode=mixed), which
	// stops the apps in order, kills what is left after the stop timeout,
	// runs the post-stop handlers and takes down the pod's mounts and
	// network; systemd kills the whole unit only if stage1 has not ended
	// StopGrace after that.
	StopGrace = 20 * time.Second
	// TasksMax bounds the processes and threads of a pod's unit (its
	// supervisor and every app; the cgroup's pids.max): a fork bomb in an
	// app gets EAGAIN from fork and clone past it, instead of the host's
	// process table filling up. systemd's own default (DefaultTasksMax,
	// 15% of kernel.pid_max, or infinity where a distribution sets so)
	// depends on the host; this is the pod's, the same everywhere. A
	// drop-in's TasksMax= overrides it for an aci@ unit. systemd-nspawn's
	// unit allows 16384 for a whole OS container; podman's default pids
	// limit is 2048.
	TasksMax = 4096
	// JournalFieldUUID is the journal field that carries the pod's UUID in
	// every entry of its unit (journalctl ACIRUN_POD_UUID=...).
	JournalFieldUUID = "ACIRUN_POD_UUID"
)

// CollectMode values (systemd.unit(5)).
const (
	// CollectInactive, the default, keeps a failed unit until
	// `systemctl reset-failed`, so that a pod that failed can be seen.
	CollectInactive = "inactive"
	// CollectInactiveOrFailed unloads the unit however it ended.
	CollectInactiveOrFailed = "inactive-or-failed"
)

// Unit file sections.
const (
	sectionUnit    = "Unit"
	sectionService = "Service"
	sectionInstall = "Install"
)

// Pod is what unitgen needs of a prepared pod; the host side fills it from
// the pod directory. The pod's resource isolators (resource/memory,
// resource/cpu, os/linux/cpu-shares and os/linux/oom-score-adj, of its apps
// and of the pod), its annotations and its images' names are read from
// Manifest.
type Pod struct {
	// UUID is the pod's UUID; it names the default unit and is recorded in
	// the journal field JournalFieldUUID.
	UUID string
	// Manifest is the reified pod manifest (every app has its App).
	Manifest *aci.PodManifest
	// Command is the stage1 command line (pod.Stage1Command); Command[0]
	// is the executable's absolute, clean path.
	Command []string
	// StopTimeout is the pod's --stop-timeout; 0 means
	// DefaultStopTimeout.
	StopTimeout time.Duration
	// Slice is the unit's slice; "" means DefaultSlice.
	Slice string
	// Name is the unit's name; "" means UnitName(UUID).
	Name string
	// CollectMode is CollectInactive ("" means it) or
	// CollectInactiveOrFailed.
	CollectMode string
}

// UnitName returns the name of the transient unit of the pod uuid.
func UnitName(uuid string) string { return "acirun-" + uuid + ".service" }

// Unit is one description of a pod's unit, to hand to systemd as the
// properties of a transient unit (Properties) or as a unit file (Options,
// File).
type Unit struct {
	name string
	// fileOnly, if not "", says why the unit is a unit file only and no
	// transient unit (Properties refuses with it): a template, or a
	// persistent service.
	fileOnly string
	settings []setting
}

// setting is one setting of a unit in both of its forms.
type setting struct {
	section, name string
	// value is the setting's unit-file text, escaped.
	value string
	// fileErr, when not nil, says why the setting cannot be written in a
	// unit file (the value is then empty).
	fileErr error
	// prop is the D-Bus property; nil for settings that only a unit file
	// has ([Install]).
	prop *sdbus.Property
	// specifiers tells that value holds specifiers for systemd to expand
	// (a template's).
	specifiers bool
}

// New describes the unit of a prepared pod. It fails, naming the value,
// when the pod cannot be described faithfully as a transient unit; Options
// and File can fail beyond that, for what a unit file cannot hold.
func New(p Pod) (*Unit, error) {
	if p.Manifest == nil || len(p.Manifest.Apps) == 0 {
		return nil, errors.New("unit of a pod: the pod manifest has no apps")
	}
	for _, ra := range p.Manifest.Apps {
		if ra.App == nil {
			return nil, fmt.Errorf("unit of a pod: app %s has no app in the pod manifest: the manifest is not reified (use the pod's own, as acirun prepare writes it)", ra.Name)
		}
	}
	if p.UUID == "" || strings.Trim(p.UUID, "0123456789abcdefABCDEF-") != "" {
		return nil, fmt.Errorf("unit of a pod: UUID %q: want the pod's UUID (hexadecimal digits and '-')", p.UUID)
	}
	what := "pod " + p.UUID
	if err := checkCommand(p.Command); err != nil {
		return nil, fmt.Errorf("unit of %s: %w", what, err)
	}
	name := p.Name
	if name == "" {
		name = UnitName(p.UUID)
	}
	if err := checkUnitName(name, ".service"); err != nil {
		return nil, fmt.Errorf("unit of %s: %w", what, err)
	}
	slice := p.Slice
	if slice == "" {
		slice = DefaultSlice
	}
	if err := checkUnitName(slice, ".slice"); err != nil {
		return nil, fmt.Errorf("unit of %s: slice: %w", what, err)
	}
	stop := p.StopTimeout
	if stop == 0 {
		stop = DefaultStopTimeout
	}
	if stop < 0 || stop > time.Duration(1<<63-1)-StopGrace {
		return nil, fmt.Errorf("unit of %s: stop timeout %s: want a positive duration", what, p.StopTimeout)
	}
	collect := p.CollectMode
	switch collect {
	case "":
		collect = CollectInactive
	case CollectInactive, CollectInactiveOrFailed:
	default:
		return nil, fmt.Errorf("unit of %s: collect mode %q: want %s or %s", what, collect, CollectInactive, CollectInactiveOrFailed)
	}
	d := description{
		description: literal(podDescription(p.Manifest)),
		stopTimeout: stop,
		slice:       slice,
		collect:     collect,
		syslogID:    literal(strings.TrimSuffix(name, ".service")),
		resources:   podResources(p.Manifest),
		fields:      []string{JournalFieldUUID + "=" + p.UUID},
	}
	for _, a := range p.Command {
		d.exec = append(d.exec, literal(a))
	}
	return &Unit{name: name, settings: d.settings()}, nil
}

// Name returns the unit's name.
func (u *Unit) Name() string { return u.name }

// Properties returns the unit's properties for StartTransientUnit.
func (u *Unit) Properties() ([]sdbus.Property, error) {
	if u.fileOnly != "" {
		return nil, fmt.Errorf("%s is no transient unit: %s", u.name, u.fileOnly)
	}
	props := make([]sdbus.Property, 0, len(u.settings))
	for _, s := range u.settings {
		if s.prop != nil {
			props = append(props, *s.prop)
		}
	}
	return props, nil
}

// Options returns the unit's settings as unit-file options, or an error
// naming the first value a unit file cannot hold.
func (u *Unit) Options() ([]*unit.UnitOption, error) {
	opts := make([]*unit.UnitOption, 0, len(u.settings))
	for _, s := range u.settings {
		if s.fileErr != nil {
			return nil, fmt.Errorf("unit file %s: %s=: %w", u.name, s.name, s.fileErr)
		}
		opts = append(opts, unit.NewUnitOption(s.section, s.name, s.value))
	}
	return opts, nil
}

// File returns the unit file (unit.Serialize of Options).
func (u *Unit) File() ([]byte, error) {
	opts, err := u.Options()
	if err != nil {
		return nil, err
	}
	return io.ReadAll(unit.Serialize(opts))
}

// SystemdRunProperties returns the unit's [Service] settings as the
// NAME=VALUE arguments of `systemd-run -p` (which reads them with the
// unit-file syntax), leaving out the command (systemd-run's own arguments)
// and the settings that use specifiers, which systemd-run does not expand.
func (u *Unit) SystemdRunProperties() []string {
	var out []string
	for _, s := range u.settings {
		if s.section != sectionService || s.name == "ExecStart" || s.fileErr != nil || s.specifiers {
			continue
		}
		out = append(out, s.name+"="+s.value)
	}
	return out
}

// description is a unit as values, before they are written either way.
type description struct {
	description  text
	docs         []string
	wants, after []string
	exec         []text
	stopTimeout  time.Duration
	startTimeout time.Duration // 0: systemd's default
	slice        string
	collect      string
	syslogID     text
	resources    resources
	fields       []string // journal fields, NAME=value
	wantedBy     []string
}

// settings builds every setting in both forms, in unit-file order.
func (d *description) settings() []setting {
	var ss []setting
	add := func(section, name, value string, fileErr error, prop *sdbus.Property) {
		ss = append(ss, setting{section: section, name: name, value: value, fileErr: fileErr, prop: prop})
	}
	prop := func(name string, v any) *sdbus.Property {
		return &sdbus.Property{Name: name, Value: dbus.MakeVariant(v)}
	}
	ptr := func(p sdbus.Property) *sdbus.Property { return &p }
	printf := func(t text) (string, error) {
		v := t.printf()
		return v, checkLine(v)
	}

	v, err := printf(d.description)
	add(sectionUnit, "Description", v, err, ptr(sdbus.PropDescription(d.description.s)))
	ss[len(ss)-1].specifiers = d.description.specifier
	if len(d.docs) > 0 {
		add(sectionUnit, "Documentation", strings.Join(d.docs, " "), nil, prop("Documentation", d.docs))
	}
	if len(d.wants) > 0 {
		add(sectionUnit, "Wants", strings.Join(d.wants, " "), nil, ptr(sdbus.PropWants(d.wants...)))
	}
	if len(d.after) > 0 {
		add(sectionUnit, "After", strings.Join(d.after, " "), nil, ptr(sdbus.PropAfter(d.after...)))
	}
	add(sectionUnit, "CollectMode", d.collect, nil, prop("CollectMode", d.collect))

	// stage1 tells systemd when every app has started (sd_notify from the
	// main process, which the stage1 command becomes).
	add(sectionService, "Type", "notify", nil, ptr(sdbus.PropType("notify")))
	add(sectionService, "NotifyAccess", "main", nil, prop("NotifyAccess", "main"))
	v, err = execValue(d.exec)
	add(sectionService, "ExecStart", v, err, prop("ExecStart", []execCommand{execProperty(d.exec)}))
	ss[len(ss)-1].specifiers = slices.ContainsFunc(d.exec, func(t text) bool { return t.specifier })
	// SIGTERM to stage1 alone, which stops the apps gracefully.
	add(sectionService, "KillMode", "mixed", nil, prop("KillMode", "mixed"))
	stop := d.stopTimeout + StopGrace
	add(sectionService, "TimeoutStopSec", formatTimespan(stop), nil, prop("TimeoutStopUSec", uint64(stop/time.Microsecond)))
	if d.startTimeout > 0 {
		add(sectionService, "TimeoutStartSec", formatTimespan(d.startTimeout), nil, prop("TimeoutStartUSec", uint64(d.startTimeout/time.Microsecond)))
	}
	// stage1 makes cgroups for its apps below the unit's.
	add(sectionService, "Delegate", "yes", nil, prop("Delegate", true))
	add(sectionService, "Slice", d.slice, nil, ptr(sdbus.PropSlice(d.slice)))
	add(sectionService, "TasksMax", strconv.Itoa(TasksMax), nil, prop("TasksMax", uint64(TasksMax)))
	r := d.resources
	if r.memoryMax > 0 {
		add(sectionService, "MemoryMax", strconv.FormatUint(r.memoryMax, 10), nil, prop("MemoryMax", r.memoryMax))
	}
	if r.cpuQuotaMilli > 0 {
		add(sectionService, "CPUQuota", formatPercent(r.cpuQuotaMilli), nil, prop("CPUQuotaPerSecUSec", r.cpuQuotaMilli*1000))
	}
	if r.cpuWeight > 0 {
		add(sectionService, "CPUWeight", strconv.FormatUint(r.cpuWeight, 10), nil, prop("CPUWeight", r.cpuWeight))
	}
	if r.oomScoreAdj != nil {
		add(sectionService, "OOMScoreAdjust", strconv.Itoa(*r.oomScoreAdj), nil, prop("OOMScoreAdjust", int32(*r.oomScoreAdj)))
	}
	v, err = printf(d.syslogID)
	add(sectionService, "SyslogIdentifier", v, err, prop("SyslogIdentifier", d.syslogID.s))
	ss[len(ss)-1].specifiers = d.syslogID.specifier
	if len(d.fields) > 0 {
		words := make([]string, len(d.fields))
		raw := make([][]byte, len(d.fields))
		for i, f := range d.fields {
			words[i] = quoteWord(literal(f).printf())
			raw[i] = []byte(f)
		}
		v, err = joinWords("LogExtraFields", words, func(i int) string { return "journal field " + d.fields[i] })
		if err == nil {
			err = checkLine(v)
		}
		add(sectionService, "LogExtraFields", v, err, prop("LogExtraFields", raw))
	}
	if len(d.wantedBy) > 0 {
		add(sectionInstall, "WantedBy", strings.Join(d.wantedBy, " "), nil, nil)
	}
	return ss
}

// execCommand is one command of the ExecStart property, systemd's (sasb):
// the executable's path, the argument vector from argv[0], and whether a
// failure is ignored (the '-' prefix). go-systemd's PropExecStart makes the
// path argv[0]; here they differ when the path holds a '$', which systemd
// expands in the arguments (argv[0] too) and never in the path.
type execCommand struct {
	Path          string
	Args          []string
	IgnoreFailure bool
}

// execProperty is the ExecStart command of argv: the path as is, every
// argument with '$' doubled. systemd expands $VAR and ${VAR} in the
// arguments of every command it runs, a transient unit's included, and
// reads "$$" as one '$'.
func execProperty(argv []text) execCommand {
	c := execCommand{Path: argv[0].s}
	for _, a := range argv {
		c.Args = append(c.Args, strings.ReplaceAll(a.s, "$", "$$"))
	}
	return c
}

// execValue writes argv as the value of ExecStart=. Every word has its '%'
// doubled (specifiers) and is quoted as needed; the arguments have their
// '$' doubled too. A path with a '$' is written with the '@' prefix, which
// gives the path and argv[0] separately, as the path gets no '$' expansion.
// An argument with a line break is an error: systemd's C escapes ("\n")
// would express it in double quotes, but not in every version, and a unit
// that ran something else would be worse than none.
func execValue(argv []text) (string, error) {
	for i, a := range argv {
		if strings.ContainsAny(a.s, "\n\r") {
			return "", fmt.Errorf("%s %q holds a line break, which a unit file's command line cannot hold in every systemd version; start the pod as a transient unit instead", argName(i), a.s)
		}
	}
	words := make([]string, 0, len(argv)+1)
	if strings.Contains(argv[0].s, "$") {
		// "@PATH ARGV0". Prefixes are read on the unquoted word, so the
		// '@' may stay outside the quotes.
		words = append(words, "@"+quoteWord(argv[0].printf()))
	}
	for _, a := range argv {
		w := a.printf()
		if !a.specifier {
			w = strings.ReplaceAll(w, "$", "$$")
		}
		words = append(words, quoteWord(w))
	}
	off := len(words) - len(argv)
	return joinWords("ExecStart", words, func(i int) string {
		if i < off {
			return "the executable's path"
		}
		return argName(i - off)
	})
}

func argName(i int) string {
	if i == 0 {
		return "the command's argv[0]"
	}
	return fmt.Sprintf("the command's argument %d", i)
}

// checkCommand refuses a stage1 command line that systemd would not run as
// given: an executable that is not an absolute, clean path (systemd
// simplifies paths and reads leading '-', '@', ':', '+' and '!' as
// prefixes in unit files), or that holds control characters or quotes
// (refused by systemd), and arguments that D-Bus cannot carry (not UTF-8,
// NUL bytes).
func checkCommand(argv []string) error {
	if len(argv) == 0 {
		return errors.New("no stage1 command")
	}
	path := argv[0]
	switch {
	case !filepath.IsAbs(path) || filepath.Clean(path) != path:
		return fmt.Errorf("executable %q: want an absolute path without '.', '..' or repeated or trailing '/'", path)
	case strings.ContainsFunc(path, func(r rune) bool { return r < ' ' || r == 0x7f || r == '"' || r == '\'' || r == '\\' }):
		return fmt.Errorf("executable %q: systemd refuses paths with control characters, quotes or backslashes", path)
	case len(path) >= 4096:
		return fmt.Errorf("executable %q: longer than PATH_MAX", path)
	}
	for _, c := range strings.Split(path[1:], "/") {
		if len(c) > 255 {
			return fmt.Errorf("executable %q: a component is longer than NAME_MAX", path)
		}
	}
	for i, a := range argv {
		if !utf8.ValidString(a) || strings.ContainsRune(a, 0) {
			return fmt.Errorf("%s %q: want UTF-8 text without NUL bytes (D-Bus carries nothing else)", argName(i), a)
		}
	}
	return nil
}

// checkUnitName checks a unit name of the given suffix (".service") as
// systemd does: at most 255 bytes of ASCII letters, digits and ":-_.\",
// an optional "@instance" before the suffix, and not a template.
func checkUnitName(name, suffix string) error {
	prefix, ok := strings.CutSuffix(name, suffix)
	if !ok || prefix == "" || len(name) > 255 {
		return fmt.Errorf("%q is not a %s unit name (want NAME%s, at most 255 bytes)", name, suffix[1:], suffix)
	}
	if strings.ContainsFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(":-_.\\@", r))
	}) {
		return fmt.Errorf("%q is not a unit name: only ASCII letters, digits and \":-_.\\@\" (systemd-escape makes names of other text)", name)
	}
	if at := strings.IndexByte(prefix, '@'); at >= 0 && (at == 0 || at == len(prefix)-1 || strings.Count(prefix, "@") > 1) {
		return fmt.Errorf("%q is not a unit name: '@' must separate a name from an instance, once", name)
	}
	return nil
}

// podDescription is the Description= of a pod: its images, by name and
// version, the first three of them.
func podDescription(pm *aci.PodManifest) string {
	var names []string
	for i, ra := range pm.Apps {
		if i == 3 {
			names = append(names, fmt.Sprintf("and %d more", len(pm.Apps)-3))
			break
		}
		n := string(ra.Image.Name)
		if n == "" {
			n = string(ra.Name)
		}
		if v, ok := ra.Image.Labels.Get("version"); ok {
			// A version is any string: quoted unless plainly a word.
			if strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+_~-") != "" || v == "" {
				v = strconv.Quote(v)
			}
			n += ":" + v
		}
		names = append(names, n)
	}
	return "App Container pod " + strings.Join(names, ", ")
}

// formatTimespan writes d in systemd's time span syntax, in the largest
// unit that divides it (5min, 30s, 1500ms, 10us).
func formatTimespan(d time.Duration) string {
	us := uint64(d / time.Microsecond)
	for _, u := range []struct {
		n    uint64
		unit string
	}{{60e6, "min"}, {1e6, "s"}, {1e3, "ms"}} {
		if us%u.n == 0 && us > 0 {
			return strconv.FormatUint(us/u.n, 10) + u.unit
		}
	}
	return strconv.FormatUint(us, 10) + "us"
}

// formatPercent writes a quota in milli-CPUs as CPUQuota= percent: 250 is
// "25%", 1255 is "125.5%" (systemd 252 reads hundredths of a percent).
func formatPercent(milli uint64) string {
	s := strconv.FormatUint(milli/10, 10)
	if f := milli % 10; f != 0 {
		s += "." + strconv.FormatUint(f, 10)
	}
	return s + "%"
}
