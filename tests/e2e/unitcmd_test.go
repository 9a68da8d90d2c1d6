package e2e

// acirun unit name and unit generate, against the box's real systemd:
// names escaped exactly as systemd-escape does, and a generated unit file
// that systemd loads, enables and starts.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUnitName: acirun unit name IMAGE equals systemd-escape
// --template=aci@.service IMAGE, for names with '-', '/', ':', ',', '='
// and more.
func TestUnitName(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, img := range []string{
		"example.com/hello:1.0",
		"example.com/hello-world:1.0",
		"example.com/hello-world:1.0,os=linux,arch=amd64",
		"example.com/a/b/c",
		".hidden/x",
		"example.com/über:1.0",
		"example.com/x_y:v1.0.0-rc.1+build.5",
		"sha512-0123abcd",
	} {
		want, err := p.b.Output(ctx, "systemd-escape", "--template=aci@.service", img)
		if err != nil {
			t.Fatal(err)
		}
		r := p.runInBox(ctx, "unit", "name", img)
		if r.code != 0 || r.stdout != string(want) {
			t.Errorf("unit name %s: %s\nsystemd-escape: %s", img, r, want)
		}
	}
	if r := p.runInBox(ctx, "unit", "name"); r.code != 2 {
		t.Errorf("unit name without an image: %s", r)
	}
}

// TestUnitGenerate: the unit file acirun unit generate prints is loaded by
// systemd (daemon-reload), enabled, and started: it becomes active once
// the pod's app runs, and stopping it stops the pod gracefully.
func TestUnitGenerate(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/gen", nil, "hostname", "+", "env", "+", "sleep", "1h"), nil))
	r := p.runInBox(ctx, "unit", "generate", "--insecure-options=image", "--net=none", "--hostname=gen-pod", "--stop-timeout=3s", "--set-env=HOSTILE=$HOME %n \\ 'q'", img)
	if r.code != 0 {
		t.Fatalf("unit generate: %s", r)
	}
	for _, want := range []string{"Type=notify", "KillMode=mixed", "TimeoutStopSec=23s", "WantedBy=multi-user.target", "--dir=" + p.data, " run --insecure-options=image"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the unit lacks %q:\n%s", want, r.stdout)
		}
	}
	const name = "acirun-gen-test.service"
	if err := p.b.WriteFile("/etc/systemd/system/"+name, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p.b.Exec(c, "systemctl", "disable", "--now", name)
		p.b.Exec(c, "rm", "-f", "/etc/systemd/system/"+name)
		p.b.Exec(c, "systemctl", "daemon-reload")
	})
	for _, argv := range [][]string{{"systemctl", "daemon-reload"}, {"systemctl", "enable", name}, {"systemctl", "start", name}} {
		if err := p.b.Exec(ctx, argv...); err != nil {
			j, _ := p.b.Journal(ctx, name)
			t.Fatalf("%v\n%s", err, j)
		}
	}
	if st := p.show(ctx, name, "ActiveState", "UnitFileState", "TimeoutStopUSec"); st["ActiveState"] != "active" || st["UnitFileState"] != "enabled" || st["TimeoutStopUSec"] != "23s" {
		t.Errorf("%s after start: %v", name, st)
	}
	p.waitJournal(ctx, name, "hostname=gen-pod")
	// The unit file's escaping kept the value byte for byte.
	p.waitJournal(ctx, name, "HOSTILE=$HOME %n \\ 'q'")
	uuid := onlyPod(t, p.data)
	if r := p.runInBox(ctx, "status", uuid); !strings.Contains(r.stdout, "unit="+name+"\n") {
		t.Errorf("status of the generated unit's pod: %s", r)
	}
	if err := p.b.Exec(ctx, "systemctl", "stop", name); err != nil {
		t.Fatal(err)
	}
	if b, m := p.exitOf(uuid); m["exitCode"] != float64(143) {
		t.Errorf("exit.json after systemctl stop: %s", b)
	}
	// A relative image path cannot be a unit's.
	cmd := p.b.Command(ctx, p.acirun("unit", "generate", "--insecure-options=image", "./x.aci")...)
	cmd.Dir = "/"
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "relative path") {
		t.Errorf("unit generate ./x.aci: %s", out)
	}
	_ = os.Remove(filepath.Join(p.dir, "x"))
}
