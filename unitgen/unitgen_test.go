package unitgen

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/acirun/acirun/aci"
)

const testUUID = "4f215d60-0b37-4c2d-9a1e-5b0c9f3e2a11"

// testApp is an app of image name (version "1.0") with isolators.
func testApp(name string, isolators ...aci.IsolatorValue) aci.RuntimeApp {
	app := &aci.App{Exec: []string{"/bin/" + name}, User: "0", Group: "0"}
	for _, v := range isolators {
		app.Isolators = append(app.Isolators, aci.NewIsolator(v))
	}
	return aci.RuntimeApp{
		Name:  aci.ACName(name),
		Image: aci.RuntimeImage{Name: aci.ACIdentifier("example.com/" + name), Labels: aci.Labels{{Name: "version", Value: "1.0"}}},
		App:   app,
	}
}

func testManifest(apps ...aci.RuntimeApp) *aci.PodManifest {
	return &aci.PodManifest{ACKind: aci.ACKindPodManifest, Apps: apps}
}

func testCommand(args ...string) []string {
	argv := []string{"/usr/local/bin/acirun", "stage1", "run", "--hostname=acirun-4f215d60"}
	argv = append(argv, args...)
	return append(argv, "/var/lib/acirun/pods/"+testUUID)
}

func testPod() Pod {
	return Pod{UUID: testUUID, Manifest: testManifest(testApp("hello")), Command: testCommand()}
}

// props returns the properties by name, their values unwrapped.
func props(t *testing.T, u *Unit) map[string]any {
	t.Helper()
	ps, err := u.Properties()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	for _, p := range ps {
		if _, dup := m[p.Name]; dup {
			t.Errorf("property %s twice", p.Name)
		}
		m[p.Name] = p.Value.Value()
	}
	return m
}

// TestPodProperties: the properties of a one-app pod without isolators,
// and of pods with flags set, value by value.
func TestPodProperties(t *testing.T) {
	exec := func(argv []string) []execCommand {
		return []execCommand{{Path: argv[0], Args: argv}}
	}
	base := map[string]any{
		"Description":      "App Container pod example.com/hello:1.0",
		"CollectMode":      "inactive",
		"Type":             "notify",
		"NotifyAccess":     "main",
		"ExecStart":        exec(testCommand()),
		"KillMode":         "mixed",
		"TimeoutStopUSec":  uint64(30e6),
		"Delegate":         true,
		"Slice":            "machine.slice",
		"TasksMax":         uint64(TasksMax),
		"SyslogIdentifier": "acirun-" + testUUID,
		"LogExtraFields":   [][]byte{[]byte("ACIRUN_POD_UUID=" + testUUID)},
	}
	with := func(changes map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range changes {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		change func(p *Pod)
		want   map[string]any
		unit   string
	}{
		{"defaults", func(*Pod) {}, base, "acirun-" + testUUID + ".service"},
		{"named, in a slice, collected, stop timeout", func(p *Pod) {
			p.Name, p.Slice, p.CollectMode, p.StopTimeout = "web.service", "pods-web.slice", CollectInactiveOrFailed, 2500*time.Millisecond
		}, with(map[string]any{
			"Slice": "pods-web.slice", "CollectMode": "inactive-or-failed", "TimeoutStopUSec": uint64(22.5e6),
			"SyslogIdentifier": "web",
		}), "web.service"},
		{"isolators", func(p *Pod) {
			p.Manifest = testManifest(testApp("hello", aci.ResourceMemory{Limit: 64 << 20}, aci.ResourceCPU{RequestMilli: 250, LimitMilli: 500}, aci.LinuxOOMScoreAdj(-100)))
		}, with(map[string]any{
			"MemoryMax": uint64(64 << 20), "CPUQuotaPerSecUSec": uint64(500e3), "CPUWeight": uint64(25), "OOMScoreAdjust": int32(-100),
		}), "acirun-" + testUUID + ".service"},
		{"three images and more", func(p *Pod) {
			p.Manifest = testManifest(testApp("a"), testApp("b"), testApp("c"), testApp("d"), testApp("e"))
			p.Manifest.Apps[1].Image.Labels = nil
			p.Manifest.Apps[2].Image.Labels[0].Value = "1.0 beta\n%n"
		}, with(map[string]any{
			"Description": `App Container pod example.com/a:1.0, example.com/b, example.com/c:"1.0 beta\n%n", and 2 more`,
		}), "acirun-" + testUUID + ".service"},
		{"a $ in the executable's path", func(p *Pod) {
			p.Command = []string{"/opt/$x/acirun", "$HOME"}
		}, with(map[string]any{
			"ExecStart": []execCommand{{Path: "/opt/$x/acirun", Args: []string{"/opt/$$x/acirun", "$$HOME"}}},
		}), "acirun-" + testUUID + ".service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPod()
			tc.change(&p)
			u, err := New(p)
			if err != nil {
				t.Fatal(err)
			}
			if u.Name() != tc.unit {
				t.Errorf("Name() = %q, want %q", u.Name(), tc.unit)
			}
			got := props(t, u)
			for k, want := range tc.want {
				if !reflect.DeepEqual(got[k], want) {
					t.Errorf("%s = %#v, want %#v", k, got[k], want)
				}
			}
			for k := range got {
				if _, ok := tc.want[k]; !ok {
					t.Errorf("unexpected property %s = %#v", k, got[k])
				}
			}
		})
	}
}

// TestNewRefuses: what cannot be a transient unit is an error naming it.
func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(p *Pod)
		want   string
	}{
		{"no manifest", func(p *Pod) { p.Manifest = nil }, "no apps"},
		{"no apps", func(p *Pod) { p.Manifest = testManifest() }, "no apps"},
		{"not reified", func(p *Pod) { p.Manifest.Apps[0].App = nil }, "app hello has no app in the pod manifest"},
		{"no UUID", func(p *Pod) { p.UUID = "" }, `UUID ""`},
		{"UUID with a newline", func(p *Pod) { p.UUID = "4f21\n" }, `UUID "4f21\n"`},
		{"no command", func(p *Pod) { p.Command = nil }, "no stage1 command"},
		{"relative executable", func(p *Pod) { p.Command[0] = "acirun" }, `executable "acirun": want an absolute path`},
		{"prefix on the executable", func(p *Pod) { p.Command[0] = "-/bin/acirun" }, `executable "-/bin/acirun": want an absolute path`},
		{"unclean executable", func(p *Pod) { p.Command[0] = "/usr//bin/acirun" }, `executable "/usr//bin/acirun"`},
		{"dot in the executable", func(p *Pod) { p.Command[0] = "/usr/./acirun" }, `executable "/usr/./acirun"`},
		{"quote in the executable", func(p *Pod) { p.Command[0] = `/opt/a"b/acirun` }, "quotes or backslashes"},
		{"backslash in the executable", func(p *Pod) { p.Command[0] = `/opt/a\b/acirun` }, "quotes or backslashes"},
		{"newline in the executable", func(p *Pod) { p.Command[0] = "/opt/a\nb/acirun" }, "control characters"},
		{"long component", func(p *Pod) { p.Command[0] = "/" + strings.Repeat("a", 256) }, "NAME_MAX"},
		{"NUL in an argument", func(p *Pod) { p.Command[2] = "a\x00b" }, `the command's argument 2 "a\x00b"`},
		{"not UTF-8", func(p *Pod) { p.Command[3] = "\xff" }, `the command's argument 3 "\xff": want UTF-8`},
		{"negative stop timeout", func(p *Pod) { p.StopTimeout = -time.Second }, "stop timeout -1s"},
		{"stop timeout overflowing", func(p *Pod) { p.StopTimeout = 1<<63 - 1 }, "stop timeout"},
		{"unit name without suffix", func(p *Pod) { p.Name = "web" }, `"web" is not a service unit name`},
		{"unit name with a space", func(p *Pod) { p.Name = "my web.service" }, `"my web.service" is not a unit name`},
		{"template name", func(p *Pod) { p.Name = "web@.service" }, "'@' must separate"},
		{"too long a name", func(p *Pod) { p.Name = strings.Repeat("a", 250) + ".service" }, "at most 255 bytes"},
		{"slice that is no slice", func(p *Pod) { p.Slice = "machine.service" }, `slice: "machine.service" is not a slice unit name`},
		{"collect mode", func(p *Pod) { p.CollectMode = "never" }, `collect mode "never"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPod()
			tc.change(&p)
			u, err := New(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, %v; want an error with %q", u, err, tc.want)
			}
		})
	}
}

// fileProperty maps a unit-file option back to the property systemd makes
// of it, reading the value with systemd's rules (systemd_test.go).
func fileProperty(o *unit.UnitOption) (string, any, error) {
	v := o.Value
	switch o.Name {
	case "Description", "SyslogIdentifier":
		s, err := unprintf(v)
		return o.Name, s, err
	case "Type", "NotifyAccess", "KillMode", "CollectMode", "Slice":
		return o.Name, v, nil
	case "Delegate":
		b, err := strconv.ParseBool(strings.NewReplacer("yes", "true", "no", "false").Replace(v))
		return o.Name, b, err
	case "ExecStart":
		path, argv, err := unitExec(v)
		return o.Name, []execCommand{{Path: path, Args: argv}}, err
	case "TimeoutStopSec", "TimeoutStartSec":
		us, err := parseTimespan(v)
		return strings.TrimSuffix(o.Name, "Sec") + "USec", us, err
	case "MemoryMax", "CPUWeight", "TasksMax":
		n, err := strconv.ParseUint(v, 10, 64)
		return o.Name, n, err
	case "CPUQuota":
		us, err := parsePercent(v)
		return "CPUQuotaPerSecUSec", us, err
	case "OOMScoreAdjust":
		n, err := strconv.ParseInt(v, 10, 32)
		return o.Name, int32(n), err
	case "LogExtraFields":
		words, err := splitWords(v)
		var fields [][]byte
		for _, w := range words {
			f, perr := unprintf(w)
			if perr != nil {
				err = perr
			}
			fields = append(fields, []byte(f))
		}
		return o.Name, fields, err
	case "Documentation", "Wants", "After":
		words, err := splitWords(v)
		return o.Name, words, err
	}
	return "", nil, fmt.Errorf("option %s has no property in this test", o.Name)
}

// checkSame checks that the unit file of u, read back with go-systemd's
// Deserialize and systemd's rules, says what the properties say: every
// option maps to a property of the same value, and every property to an
// option. It returns the ExecStart command of the file.
func checkSame(t *testing.T, u *Unit) execCommand {
	t.Helper()
	file, err := u.File()
	if err != nil {
		t.Fatalf("File: %v", err)
	}
	opts, err := unit.DeserializeOptions(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("Deserialize: %v\n%s", err, file)
	}
	want, err := u.Options()
	if err != nil {
		t.Fatal(err)
	}
	if !unit.AllMatch(opts, want) {
		t.Errorf("Deserialize(File()) differs from Options():\n%v\n%v", opts, want)
	}
	got := props(t, u)
	seen := map[string]bool{}
	var exec execCommand
	for _, o := range opts {
		name, v, err := fileProperty(o)
		if err != nil {
			t.Errorf("%s=%s: %v", o.Name, o.Value, err)
			continue
		}
		seen[name] = true
		if !reflect.DeepEqual(got[name], v) {
			t.Errorf("unit file %s=%s reads as %s %#v; the property is %#v", o.Name, o.Value, name, v, got[name])
		}
		if c, ok := v.([]execCommand); ok {
			exec = c[0]
		}
	}
	for name := range got {
		if !seen[name] {
			t.Errorf("property %s has no option in the unit file:\n%s", name, file)
		}
	}
	return exec
}

// TestPropertiesMatchFile: the two forms of a unit say the same thing.
func TestPropertiesMatchFile(t *testing.T) {
	long := strings.Repeat("x", 1000)
	for _, tc := range []struct {
		name   string
		change func(p *Pod)
	}{
		{"defaults", func(*Pod) {}},
		{"everything set", func(p *Pod) {
			p.Name, p.Slice, p.CollectMode, p.StopTimeout = `web\x2d1.service`, "a-b.slice", CollectInactiveOrFailed, 1500*time.Microsecond
			p.Manifest = testManifest(
				testApp("a", aci.ResourceMemory{Limit: 1 << 30}, aci.ResourceCPU{RequestMilli: 1255, LimitMilli: 1255}, aci.LinuxOOMScoreAdj(500)),
				testApp("b", aci.ResourceMemory{Request: 1, Limit: 1 << 20}, aci.ResourceCPU{LimitMilli: 1}))
			p.Manifest.Isolators = aci.Isolators{aci.NewIsolator(aci.LinuxOOMScoreAdj(-17))}
		}},
		{"hostile arguments", func(p *Pod) {
			p.Command = testCommand(`$HOME`, `${HOME}`, `$$`, `%n`, `%%`, `\`, `"`, `'`, `a b`, "\t", "", ";", `\;`, "#x", "-x", "@x", ":x", "+x", "!x", "é\u00a0", "\u0085")
		}},
		{"hostile path", func(p *Pod) { p.Command = []string{"/opt/%n $x;/a b", "$x"} }},
		{"long command, continued", func(p *Pod) { p.Command = testCommand(long, long, long, long) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPod()
			tc.change(&p)
			u, err := New(p)
			if err != nil {
				t.Fatal(err)
			}
			checkSame(t, u)
		})
	}
}

// checkArgv checks that systemd runs exactly argv from the command c (of
// the property, or read from the unit file).
func checkArgv(t *testing.T, what string, c execCommand, argv []string) {
	t.Helper()
	got, err := expandArgv(c.Args)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if c.Path != argv[0] || !slices.Equal(got, argv) {
		t.Fatalf("%s runs %q as %q, want %q", what, c.Path, got, argv)
	}
}

// execRoundTrip hands argv to unitgen and checks that systemd would run
// exactly it, from the properties and from the unit file, or that the
// unit file is refused with an error naming the argument.
func execRoundTrip(t *testing.T, argv []string) {
	t.Helper()
	p := testPod()
	p.Command = argv
	u, err := New(p)
	if err != nil {
		if checkCommand(argv) == nil {
			t.Fatalf("New refused a command checkCommand accepts: %v", err)
		}
		return
	}
	ps := props(t, u)
	checkArgv(t, "the ExecStart property", ps["ExecStart"].([]execCommand)[0], argv)
	if _, err := u.File(); err != nil {
		if !strings.Contains(err.Error(), "ExecStart=") || !strings.Contains(err.Error(), "the command's") && !strings.Contains(err.Error(), "the executable's path") {
			t.Fatalf("the unit file's error does not name the argument: %v", err)
		}
		newline := slices.ContainsFunc(argv, func(a string) bool { return strings.ContainsAny(a, "\n\r") })
		tooLong := slices.ContainsFunc(argv, func(a string) bool { return len(a) > 1000 })
		if !newline && !tooLong {
			t.Fatalf("File refused %q: %v", argv, err)
		}
		return
	}
	checkArgv(t, "the unit file", checkSame(t, u), argv)
}

// TestExecHostile: hostile arguments reach the command byte for byte.
func TestExecHostile(t *testing.T) {
	for _, tc := range []struct {
		name string
		argv []string
	}{
		{"variables", []string{"/bin/sh", "$HOME", "${HOME}", "a$HOME", "$", "$$", "x$", "${", "$1"}},
		{"specifiers", []string{"/bin/sh", "%n", "%%", "%", "a%"}},
		{"quotes and backslashes", []string{"/bin/sh", `\`, `\\`, `"`, `'`, `"'"`, `a\"b`, `\n`, `\x41`}},
		{"white space", []string{"/bin/sh", "a b", " ", "\t", "\v", "\f", "\u00a0", "\u0085", "\u2028", ""}},
		{"separators and comments", []string{"/bin/sh", ";", `\;`, "; x", ";x", "#", "#x"}},
		{"prefixes as arguments", []string{"/bin/sh", "-", "@", ":", "+", "!", "!!", "-@:+!/x"}},
		{"control characters", []string{"/bin/sh", "\x01", "\x1b[31m", "\x7f"}},
		{"a $ and % in the path", []string{"/opt/$HOME%n/sh", "x"}},
		{"a space in the path", []string{"/opt/my app/sh"}},
		{"newline", []string{"/bin/sh", "a\nb"}},
		{"carriage return", []string{"/bin/sh", "a\rb"}},
		{"long arguments", []string{"/bin/sh", strings.Repeat("a", 2040), strings.Repeat("b", 3000)}},
		{"long path with a $", []string{"/" + strings.Repeat("$", 200) + strings.Repeat("/abc", 300)}},
		{"prefix on the path", []string{"-/bin/sh"}},
	} {
		t.Run(tc.name, func(t *testing.T) { execRoundTrip(t, tc.argv) })
	}
}

// FuzzExec feeds hostile strings through the command line: systemd must
// run exactly them, or unitgen must refuse them.
func FuzzExec(f *testing.F) {
	for _, s := range [][3]string{
		{"bin/sh", "$HOME", "%n"},
		{"opt/$x", `\`, `"a b"`},
		{"a b/%%", ";", "\n"},
		{"x", "${X}", `\;`},
		{"-x", "'", "#"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, path, a, b string) {
		execRoundTrip(t, []string{"/" + path, a, b})
	})
}

// TestOptionsRefuses: what a unit file cannot hold is an error naming it,
// while the properties carry it.
func TestOptionsRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(p *Pod)
		want   string
	}{
		{"newline in an argument", func(p *Pod) { p.Command[2] = "a\nb" }, `ExecStart=: the command's argument 2 "a\nb" holds a line break`},
		{"argument too long for a line", func(p *Pod) { p.Command[1] = strings.Repeat("a", 2046) }, "ExecStart=: the command's argument 1 is 2046 bytes long"},
		{"unit name ending in a backslash", func(p *Pod) { p.Name = `a\.service` }, `SyslogIdentifier=: "a\\" ends with a backslash`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPod()
			tc.change(&p)
			u, err := New(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := u.Properties(); err != nil {
				t.Fatal(err)
			}
			if _, err := u.File(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("File = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestFileOnlyUnitsHaveNoProperties: a template and a persistent service
// are only files, and asking for either as a transient unit is refused
// saying which it is (a service was called a template).
func TestFileOnlyUnitsHaveNoProperties(t *testing.T) {
	svc, err := NewService(Service{Images: []string{"example.com/hello"}, Command: []string{"/usr/bin/acirun", "run", "example.com/hello"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		u    *Unit
		want string
	}{
		{"template", Template(), "aci@.service is no transient unit: it is a template, whose instances systemd starts from the unit file"},
		{"service", svc, "acirun-service.service is no transient unit: it is a persistent service, to be installed as a unit file (File) and enabled"},
	} {
		if _, err := tc.u.Properties(); err == nil || err.Error() != tc.want {
			t.Errorf("%s: Properties() = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// checkSettings fails t for each Section.Name of want whose value in opts
// (the last one given) is not want's; file, when not "", is the unit file
// shown with the errors.
func checkSettings(t *testing.T, opts []*unit.UnitOption, file string, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, o := range opts {
		got[o.Section+"."+o.Name] = o.Value
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q\n%s", k, got[k], v, file)
		}
	}
}
