package e2e

// The units we ship (units/), unchanged, in the box (tests/box), with acirun
// installed in the box's /usr/local/bin, where systemd's search path finds
// it, and acirun's default directories: the box's own /etc/acirun (in its
// upper layer), /var/lib/acirun and /run/acirun (on its tmpfs), emptied
// when each test ends.

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// installUnits installs units/* into the box's /etc/systemd/system and
// acirun as /usr/local/bin/acirun, and reloads systemd. The default
// directories are emptied when the test ends.
func (p *boxPod) installUnits(ctx context.Context) {
	p.t.Helper()
	units, err := filepath.Glob(filepath.Join(e.repo, "units", "*"))
	if err != nil || len(units) == 0 {
		p.t.Fatalf("no units in %s/units: %v", e.repo, err)
	}
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			p.t.Fatal(err)
		}
		if err := p.b.WriteFile("/etc/systemd/system/"+filepath.Base(u), b, 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
	bin, err := p.b.Path("/usr/local/bin")
	if err != nil {
		p.t.Fatal(err)
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.Symlink(e.acirun, filepath.Join(bin, "acirun")); err != nil && !os.IsExist(err) {
		p.t.Fatal(err)
	}
	if err := p.b.Exec(ctx, "systemctl", "daemon-reload"); err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p.b.Exec(c, "rm", "-rf", "/etc/acirun", "/var/lib/acirun/pods", "/var/lib/acirun/store", "/run/acirun")
	})
}

// waitJournal waits up to 10 s for the journal of unit to hold want (an
// app's output, which may come after the unit is up) and returns it.
func (p *boxPod) waitJournal(ctx context.Context, unit, want string) string {
	p.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		journal, _ := p.b.Journal(ctx, unit)
		if strings.Contains(journal, want) {
			return journal
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("journal of %s lacks %q:\n%s", unit, want, journal)
		}
	}
}

// defaultData is the host's path to the box's /var/lib/acirun.
func (p *boxPod) defaultData() string {
	p.t.Helper()
	d, err := p.b.Path("/var/lib/acirun")
	if err != nil {
		p.t.Fatal(err)
	}
	return d
}

// TestAciTemplateUnit: the shipped units/aci@.service, unchanged, with
// acirun installed in the box's /usr/local/bin and its default directories:
// a key trusted for the image's prefix, the signed image fetched, then
// `systemctl start aci@NAME:VERSION.service`.
func TestAciTemplateUnit(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p.installUnits(ctx)
	img := p.image(podImage(t, manifest("example.com/tpl-app", map[string]string{"version": "1.0"}, nil,
		"hostname", "+", "sleep", "1h"), nil))
	alice := newSigner(t, "alice")
	alice.sign(img) // img.asc beside the copy, where fetch looks
	key := filepath.Join(p.dir, "alice.gpg")
	if b, err := os.ReadFile(alice.pub); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(key, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p.b.Exec(c, "systemctl", "stop", `aci@example.com-tpl\x2dapp:1.0.service`)
	})
	if err := p.b.Exec(ctx, e.acirun, "trust", "--prefix=example.com/tpl-app", "--skip-fingerprint-review", key); err != nil {
		t.Fatal(err)
	}
	if err := p.b.Exec(ctx, e.acirun, "fetch", img); err != nil {
		t.Fatal(err)
	}
	name, err := p.b.Output(ctx, "systemd-escape", "--template=aci@.service", "example.com/tpl-app:1.0")
	if err != nil {
		t.Fatal(err)
	}
	u := strings.TrimSpace(string(name))
	if u != `aci@example.com-tpl\x2dapp:1.0.service` {
		t.Fatalf("systemd-escape: %q", u)
	}
	if err := p.b.Exec(ctx, "systemctl", "start", u); err != nil {
		j, _ := p.b.Journal(ctx, u)
		t.Fatalf("%v\njournal:\n%s", err, j)
	}
	props := p.show(ctx, u, "ActiveState", "SubState", "StatusText", "Type", "Delegate")
	if props["ActiveState"] != "active" || props["SubState"] != "running" || props["Type"] != "notify" ||
		!strings.HasPrefix(props["StatusText"], "Running 1 app(s) at 172.16.28.") || props["Delegate"] != "yes" {
		t.Errorf("%s after systemctl start: %v", u, props)
	}
	uuid := onlyPod(t, p.defaultData())
	if m := p.machineOf(ctx, uuid); m["Unit"] != u {
		t.Errorf("machine of the pod: %v, want unit %s", m, u)
	}
	journal := p.waitJournal(ctx, u, "hostname=acirun-"+uuid[:8])
	// The app's lines are its own entries in the unit (journal_test.go):
	// in this invocation of it, since the box's journal keeps earlier ones
	// (go test -count).
	inv := p.show(ctx, u, "InvocationID")["InvocationID"]
	if inv == "" {
		t.Fatalf("%s has no InvocationID", u)
	}
	for _, m := range p.journalEntries(ctx, "-u", u, "SYSLOG_IDENTIFIER=tpl-app", "_SYSTEMD_INVOCATION_ID="+inv) {
		if m["ACIRUN_APP"] != "tpl-app" || m["ACIRUN_POD_UUID"] != uuid || (m["MESSAGE"] != "hostname ok" && m["MESSAGE"] != "hostname=acirun-"+uuid[:8]) {
			t.Errorf("journal entry of app tpl-app in %s: %v", u, m)
		}
	}
	if got := p.journalEntries(ctx, "-t", "tpl-app", "ACIRUN_POD_UUID="+uuid); len(got) != 2 {
		t.Errorf("journalctl -t tpl-app ACIRUN_POD_UUID=%s: %q, want the app's two lines", uuid, messages(got))
	}
	if strings.Contains(journal, "WARNING") || strings.Contains(journal, "insecure") {
		t.Errorf("the pod of a signed image warned:\n%s", journal)
	}
	if err := p.b.Exec(ctx, "systemctl", "stop", u); err != nil {
		t.Fatal(err)
	}
	if st := p.show(ctx, u, "ActiveState", "ExecMainStatus"); st["ActiveState"] != "inactive" && st["ActiveState"] != "failed" {
		t.Errorf("%s after systemctl stop: %v", u, st)
	}
	st, err := p.b.Output(ctx, e.acirun, "status", uuid)
	if err != nil || !strings.Contains(string(st), "state=exited\n") || !strings.Contains(string(st), "exit-code=143\n") {
		t.Errorf("acirun status after systemctl stop: %s %v", st, err)
	}
}

// TestGCUnits: acirun-gc.timer is enabled and waiting; acirun-gc.service
// removes a pod that exited long enough ago, and keeps a prepared pod, a pod
// that has just exited and the image they use.
func TestGCUnits(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p.installUnits(ctx)
	if err := p.b.Exec(ctx, "systemctl", "enable", "--now", "acirun-gc.timer"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.b.Exec(context.Background(), "systemctl", "disable", "--now", "acirun-gc.timer") })
	if st := p.show(ctx, "acirun-gc.timer", "ActiveState", "SubState", "Unit"); st["ActiveState"] != "active" ||
		st["SubState"] != "waiting" || st["Unit"] != "acirun-gc.service" {
		t.Errorf("acirun-gc.timer: %v, want active, waiting, for acirun-gc.service", st)
	}

	img := p.image(podImage(t, podManifest(t, "example.com/gc-app", nil, "exit", "0"), nil))
	var uuids []string
	for i := 0; i < 2; i++ {
		f := filepath.Join(p.dir, "uuid")
		if err := p.b.Exec(ctx, "acirun", "run", "--insecure-options=image", "--uuid-file-save="+f, img); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		uuids = append(uuids, strings.TrimSpace(string(b)))
	}
	prepared, err := p.b.Output(ctx, "acirun", "prepare", "--insecure-options=image", img)
	if err != nil {
		t.Fatal(err)
	}
	pods := filepath.Join(p.defaultData(), "pods")
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(filepath.Join(pods, uuids[0], "exit.json"), old, old); err != nil {
		t.Fatal(err)
	}
	if err := p.b.Exec(ctx, "systemctl", "start", "acirun-gc.service"); err != nil {
		j, _ := p.b.Journal(ctx, "acirun-gc.service")
		t.Fatalf("%v\n%s", err, j)
	}
	journal, _ := p.b.Journal(ctx, "acirun-gc.service")
	if !strings.Contains(journal, "removed "+uuids[0]) {
		t.Errorf("the journal of acirun-gc.service does not name the old pod %s:\n%s", uuids[0], journal)
	}
	for _, u := range []string{uuids[1], strings.TrimSpace(string(prepared))} {
		if _, err := os.Stat(filepath.Join(pods, u)); err != nil {
			t.Errorf("gc removed pod %s, which it must keep: %v", u, err)
		}
	}
	if _, err := os.Stat(filepath.Join(pods, uuids[0])); !os.IsNotExist(err) {
		t.Errorf("the pod that exited 2h ago is still there: %v", err)
	}
	if ids, err := p.b.Output(ctx, "acirun", "image", "list", "--format=json"); err != nil || !strings.Contains(string(ids), "example.com/gc-app") {
		t.Errorf("gc removed the image its pods use: %s %v", ids, err)
	}
	if st := p.show(ctx, "acirun-gc.service", "Result", "ActiveState"); st["Result"] != "success" || st["ActiveState"] != "inactive" {
		t.Errorf("acirun-gc.service after its run: %v", st)
	}
}

// TestAciTemplateUnitDiscovery: the brief's own example, end to end. Nothing
// is in the store: `systemctl start aci@example.com-disc\x2dapp:1.0.service`
// makes the unit resolve the name by appc discovery over https (a server of
// the test on the box's 127.0.0.1:443, its CA given to the unit in a
// drop-in, as an administrator would), fetch the image and its signature,
// verify it with the key trusted by discovery, and run it.
func TestAciTemplateUnitDiscovery(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p.installUnits(ctx)
	ca := newCA(t)
	var ln net.Listener
	if err := p.b.InNetNS("", func() (err error) {
		ln, err = net.Listen("tcp4", "127.0.0.1:443")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := ca.serve(t, ln, "example.com")
	addHosts(t, p.b, "127.0.0.1 example.com")
	caFile := filepath.Join(p.dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.net.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	dropIn := "/etc/systemd/system/aci@.service.d/ca.conf"
	if err := p.b.Exec(ctx, "mkdir", "-p", filepath.Dir(dropIn)); err != nil {
		t.Fatal(err)
	}
	if err := p.b.WriteFile(dropIn, []byte("[Service]\nEnvironment=SSL_CERT_FILE="+caFile+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const unit = `aci@example.com-disc\x2dapp:1.0.service`
	t.Cleanup(func() {
		c := context.Background()
		p.b.Exec(c, "systemctl", "stop", unit)
		p.b.Exec(c, "rm", "-rf", filepath.Dir(dropIn))
		p.b.Exec(c, "systemctl", "daemon-reload")
	})
	if err := p.b.Exec(ctx, "systemctl", "daemon-reload"); err != nil {
		t.Fatal(err)
	}

	alice := newSigner(t, "alice")
	srv.put("/keys/alice.gpg", mustRead(t, alice.arm))
	tpl := "https://example.com/images/{name}-{version}-{os}-{arch}.{ext}"
	srv.put("/?ac-discovery=1", []byte(`<html><head>
<meta name="ac-discovery" content="example.com `+tpl+`">
<meta name="ac-discovery-pubkeys" content="example.com https://example.com/keys/alice.gpg">
</head></html>`))
	img := podImage(t, manifest("example.com/disc-app", map[string]string{"version": "1.0"}, nil, "hostname", "+", "sleep", "1h"), nil)
	alice.sign(img)
	srv.putFile("/images/example.com/disc-app-1.0-linux-"+appcArch()+".aci", img)

	if err := p.b.Exec(ctx, "env", "SSL_CERT_FILE="+caFile, "acirun", "trust", "--prefix=example.com/disc-app", "--skip-fingerprint-review"); err != nil {
		t.Fatal(err)
	}
	if err := p.b.Exec(ctx, "systemctl", "start", unit); err != nil {
		j, _ := p.b.Journal(ctx, unit)
		t.Fatalf("%v\njournal:\n%s", err, j)
	}
	if st := p.show(ctx, unit, "ActiveState", "SubState"); st["ActiveState"] != "active" || st["SubState"] != "running" {
		t.Errorf("%s: %v", unit, st)
	}
	uuid := onlyPod(t, p.defaultData())
	journal := p.waitJournal(ctx, unit, "hostname=acirun-"+uuid[:8])
	if strings.Contains(journal, "WARNING") || strings.Contains(journal, "insecure") {
		t.Errorf("the unit warned:\n%s", journal)
	}
	if n := len(only(srv.requests(), "/images/example.com/disc-app-1.0-linux-"+appcArch()+".aci.asc")); n != 1 {
		t.Errorf("the unit fetched the signature %d times, want 1", n)
	}
	if err := p.b.Exec(ctx, "systemctl", "stop", unit); err != nil {
		t.Fatal(err)
	}
}
