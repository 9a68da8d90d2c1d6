package e2e

// unitgen's description of a pod's unit, handed to the box's real systemd:
// a prepared pod started as a transient unit from unitgen's properties,
// and hostile command lines run from the properties and from the unit
// file, which systemd must run byte for byte.

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/unitgen"
)

// startTransient starts a transient unit and returns the job's result
// ("done" once a Type=notify unit is ready).
func startTransient(ctx context.Context, t *testing.T, conn *sdbus.Conn, name string, props []sdbus.Property) string {
	t.Helper()
	ch := make(chan string, 1)
	if _, err := conn.StartTransientUnitContext(ctx, name, "fail", props, ch); err != nil {
		t.Fatalf("StartTransientUnit %s: %v", name, err)
	}
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		t.Fatalf("StartTransientUnit %s: %v", name, ctx.Err())
	}
	return ""
}

// TestUnitgenTransientUnit: a prepared pod runs as the transient unit
// unitgen describes, and systemd reports the properties unitgen set.
func TestUnitgenTransientUnit(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/ug-app", nil, "hostname", "+", "sleep", "1h"), nil))
	out, err := p.b.Output(ctx, p.acirun("prepare", "--insecure-options=image", "--net=none", img, "--memory=64M", "--cpu=500m")...)
	if err != nil {
		t.Fatalf("prepare: %v\n%s", err, out)
	}
	uuid := strings.TrimSpace(string(out))
	b, err := os.ReadFile(filepath.Join(p.data, "pods", uuid, "pod"))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := aci.ParsePodManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	u, err := unitgen.New(unitgen.Pod{
		UUID:        uuid,
		Manifest:    pm,
		Command:     p.acirun("run-prepared", uuid),
		StopTimeout: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	props, err := u.Properties()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := p.b.Systemd(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	name := u.Name()
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p.b.Exec(c, "systemctl", "stop", name)
		p.b.Exec(c, "systemctl", "reset-failed", name)
	})
	if r := startTransient(ctx, t, conn, name, props); r != "done" {
		j, _ := p.b.Journal(ctx, name)
		t.Fatalf("start %s: %s\n%s", name, r, j)
	}
	want := map[string]string{
		"ActiveState":        "active",
		"Type":               "notify",
		"NotifyAccess":       "main",
		"KillMode":           "mixed",
		"Delegate":           "yes",
		"Slice":              "machine.slice",
		"CollectMode":        "inactive",
		"TimeoutStopUSec":    "23s",
		"MemoryMax":          "64000000", // 64M is decimal
		"CPUQuotaPerSecUSec": "500ms",
		"CPUWeight":          "50",
		"SyslogIdentifier":   "acirun-" + uuid,
		"Description":        "App Container pod example.com/ug-app",
		"ExecMainStatus":     "0",
	}
	got := p.show(ctx, name, slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	})...)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("systemctl show %s: %s=%q, want %q", name, k, got[k], v)
		}
	}
	journal := p.waitJournal(ctx, name, "hostname=acirun-"+uuid[:8])
	byField, err := p.b.Output(ctx, "journalctl", "-o", "cat", unitgen.JournalFieldUUID+"="+uuid)
	if err != nil || !strings.Contains(string(byField), "hostname=acirun-"+uuid[:8]) {
		t.Errorf("journalctl %s=%s: %v\n%s\nthe unit's journal:\n%s", unitgen.JournalFieldUUID, uuid, err, byField, journal)
	}
	ch := make(chan string, 1)
	if _, err := conn.StopUnitContext(ctx, name, "replace", ch); err != nil {
		t.Fatal(err)
	}
	if r := <-ch; r != "done" {
		t.Errorf("stop %s: %s", name, r)
	}
	if _, m := p.exitJSON(); m["exitCode"] != float64(143) {
		t.Errorf("exit.json after the unit stopped: %v, want exit code 143 (SIGTERM)", m)
	}
}

// TestUnitgenExecArgv: hostile arguments reach the command byte for byte,
// through the ExecStart property and through the unit file.
func TestUnitgenExecArgv(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hostile := []string{"$HOME", "${HOME}", "$$", "a$", "%n", "%%", "%", `\`, `\\`, `"`, `'`, "a b", "", ";", `\;`,
		"#x", "-x", "@x", "\ttab", "é\u00a0", "\x01", "$0"}
	// The script writes its arguments, NUL-terminated, to the file $0.
	const script = `printf '%s\0' "$@" > "$0"`
	pm := &aci.PodManifest{ACKind: aci.ACKindPodManifest, Apps: []aci.RuntimeApp{{
		Name: "sh", Image: aci.RuntimeImage{Name: "example.com/sh"}, App: &aci.App{Exec: []string{"/bin/sh"}, User: "0", Group: "0"},
	}}}
	const uuid = "4f215d60-0b37-4c2d-9a1e-5b0c9f3e2a11"
	conn, err := p.b.Systemd(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	check := func(what, file string, args []string) {
		t.Helper()
		var b []byte
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if b, err = os.ReadFile(file); err == nil && len(b) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the command wrote nothing to %s: %v", what, file, err)
			}
		}
		got := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		if !slices.Equal(got, args) {
			t.Errorf("%s: the command got\n%q\nwant\n%q", what, got, args)
		}
	}
	unit := func(name, out string, args []string) *unitgen.Unit {
		t.Helper()
		u, err := unitgen.New(unitgen.Pod{UUID: uuid, Manifest: pm, Name: name,
			Command: append([]string{"/bin/sh", "-c", script, out}, args...)})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	cleanup := func(name string) {
		t.Cleanup(func() {
			c, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			p.b.Exec(c, "systemctl", "stop", name)
			p.b.Exec(c, "systemctl", "reset-failed", name)
		})
	}

	// The properties carry a line break too. sh never says READY=1: the
	// unit fails once it exits, which is no matter here.
	args := append(slices.Clone(hostile), "line\nbreak", "cr\r")
	out := filepath.Join(p.dir, "argv-dbus")
	u := unit("ug-argv-dbus.service", out, args)
	props, err := u.Properties()
	if err != nil {
		t.Fatal(err)
	}
	cleanup(u.Name())
	startTransient(ctx, t, conn, u.Name(), props)
	check("the ExecStart property", out, args)
	if _, err := u.File(); err == nil || !strings.Contains(err.Error(), "line break") {
		t.Errorf("the unit file of a command with a line break: %v, want an error", err)
	}

	out = filepath.Join(p.dir, "argv-file")
	u = unit("ug-argv-file.service", out, hostile)
	file, err := u.File()
	if err != nil {
		t.Fatal(err)
	}
	const dir = "/etc/systemd/system/"
	if err := p.b.WriteFile(dir+u.Name(), file, 0o644); err != nil {
		t.Fatal(err)
	}
	cleanup(u.Name())
	t.Cleanup(func() {
		if path, err := p.b.Path(dir + u.Name()); err == nil {
			os.Remove(path)
		}
		p.b.Exec(context.Background(), "systemctl", "daemon-reload")
	})
	if err := p.b.Exec(ctx, "systemctl", "daemon-reload"); err != nil {
		t.Fatal(err)
	}
	p.b.Exec(ctx, "systemctl", "start", "--no-block", u.Name())
	check("the unit file\n"+string(file), out, hostile)
}
