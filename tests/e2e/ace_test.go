package e2e

// The appc spec's own conformance suite, the ACE validator
// (github.com/appc/spec/ace, pinned in go.mod as a tool dependency): its two
// images, built with `acirun image build` from the spec's manifests and the
// validator binary, signed with gpg, run as one pod sharing the `database`
// volume, on the default network and with --net=none. The validator checks
// from inside: the pre-start and post-stop event handlers run in the app's
// root in order, PATH, the working directory, the environment, AC_APP_NAME,
// /db a read-write mount point shared by the two apps, and the metadata
// service (pod manifest, UUID, annotations, each app's image manifest, ID and
// annotations, HMAC sign and verify, each within the validator's 100 ms).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/testenv"
)

// aceVersion is the version of github.com/appc/spec pinned in go.mod; the
// spec's manifests carry it as their version label.
const aceVersion = "0.8.11"

// aceModule is where the go command keeps the pinned github.com/appc/spec.
func aceModule(t *testing.T) string {
	t.Helper()
	// -json, not a -f template: Dir is empty until the module is in the
	// cache (a fresh machine), which a space-separated line loses.
	cmd := exec.Command("go", "list", "-m", "-json", "github.com/appc/spec")
	cmd.Dir = e.repo
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m github.com/appc/spec (the ACE validator is a tool dependency in go.mod): %v", err)
	}
	var listed struct{ Dir, Version string }
	if err := json.Unmarshal(out, &listed); err != nil {
		t.Fatalf("go list -m -json github.com/appc/spec: %v\n%s", err, out)
	}
	dir, version := listed.Dir, listed.Version
	if version != "v"+aceVersion {
		t.Fatalf("go.mod pins github.com/appc/spec %q, the test expects v%s", version, aceVersion)
	}
	if dir == "" {
		// Not in the module cache yet: go mod download fetches it.
		dl := exec.Command("go", "mod", "download", "-json", "github.com/appc/spec")
		dl.Dir = e.repo
		b, err := dl.Output()
		if err != nil {
			t.Fatalf("go mod download github.com/appc/spec: %v", err)
		}
		var m struct{ Dir string }
		if err := json.Unmarshal(b, &m); err != nil || m.Dir == "" {
			t.Fatalf("go mod download github.com/appc/spec: no directory in %s (%v)", b, err)
		}
		dir = m.Dir
	}
	return dir
}

// goTool builds a tool dependency of go.mod (static) into dir and returns
// the binary's path. A build failure fails the test: the tools are pinned
// and the module proxy is reachable wherever the suite runs.
func goTool(t *testing.T, pkg, dir string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	if err := testenv.GoBuild(e.repo, out, pkg); err != nil {
		t.Fatalf("build the tool %s (a tool dependency in go.mod): %v", pkg, err)
	}
	return out
}

// aceImages builds ace-validator-main.aci and ace-validator-sidekick.aci in
// dir the way the spec's scripts/build-ace-validator-acis does, with
// `acirun image build` instead of actool: the manifest from the spec's
// template with this machine's os and arch, the validator at
// /ace-validator, and the working directory /opt/acvalidator.
func aceImages(t *testing.T, dir string) (main, sidekick string) {
	t.Helper()
	mod := aceModule(t)
	validator := goTool(t, "github.com/appc/spec/ace", t.TempDir())
	bin, err := os.ReadFile(validator)
	if err != nil {
		t.Fatal(err)
	}
	var out [2]string
	for i, typ := range []string{"main", "sidekick"} {
		tmpl, err := os.ReadFile(filepath.Join(mod, "ace", "image_manifest_"+typ+".json.in"))
		if err != nil {
			t.Fatalf("the spec's %s manifest: %v", typ, err)
		}
		m := strings.NewReplacer("@ACI_OS@", "linux", "@ACI_ARCH@", appcArch()).Replace(string(tmpl))
		if strings.Contains(m, "@ACI_") || !strings.Contains(m, `"value": "`+aceVersion+`"`) {
			t.Fatalf("the spec's %s manifest: unfilled template or no version %s:\n%s", typ, aceVersion, m)
		}
		layout := filepath.Join(t.TempDir(), "ace-validator-"+typ)
		if err := os.MkdirAll(filepath.Join(layout, "rootfs", "opt", "acvalidator"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(layout, "manifest"), []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(layout, "rootfs", "ace-validator"), bin, 0o755); err != nil {
			t.Fatal(err)
		}
		out[i] = filepath.Join(dir, "ace-validator-"+typ+".aci")
		if b, err := exec.Command(e.acirun, "image", "build", layout, out[i]).CombinedOutput(); err != nil {
			t.Fatalf("image build of the ACE %s image: %v\n%s", typ, err, b)
		}
	}
	return out[0], out[1]
}

// acePhases are the validator's phases in the pod: the main app's
// pre-start handler, its main process, the sidekick app, the post-stop
// handler.
var acePhases = []string{"prestart", "main", "sidekick", "poststop"}

// aceReport reads the validator's output: each phase prints "PHASE OK" or
// "PHASE FAIL" on stdout, and after a FAIL one "==> CHECK" line per failed
// check on stderr. out is the pod's stdout and stderr in one stream, so a
// check line belongs to the FAIL line before it. It returns one message per
// failed check or missing phase; none when all four phases said OK.
func aceReport(out string) []string {
	state := map[string]string{}
	checks := map[string][]string{}
	last := ""
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if phase, verdict, ok := strings.Cut(l, " "); ok && (verdict == "OK" || verdict == "FAIL") {
			for _, p := range acePhases {
				if p == phase {
					state[phase] = verdict
					if verdict == "FAIL" {
						last = phase
					}
				}
			}
			continue
		}
		if check, ok := strings.CutPrefix(l, "==> "); ok {
			checks[last] = append(checks[last], check)
		}
	}
	var fails []string
	for _, p := range acePhases {
		switch state[p] {
		case "OK":
		case "FAIL":
			if len(checks[p]) == 0 {
				fails = append(fails, fmt.Sprintf("phase %s: FAIL without a check named", p))
			}
			for _, c := range checks[p] {
				fails = append(fails, fmt.Sprintf("phase %s: %s", p, c))
			}
		default:
			fails = append(fails, fmt.Sprintf("phase %s: no report (it did not run)", p))
		}
	}
	if c := checks[""]; len(c) > 0 {
		fails = append(fails, "checks before any phase reported: "+strings.Join(c, "; "))
	}
	return fails
}

// checkACE fails t naming each failed check in out, the output of the ACE
// pod, and if the pod failed (runErr).
func checkACE(t *testing.T, how, out string, runErr error) {
	t.Helper()
	for _, f := range aceReport(out) {
		t.Errorf("ACE check failed (%s): %s", how, f)
	}
	if runErr != nil {
		t.Errorf("acirun run of the ACE pod (%s): %v", how, runErr)
	}
	if t.Failed() {
		t.Logf("output of the pod:\n%s", out)
	}
}

func TestACEReport(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      []string
	}{
		{"all ok", "prestart OK\napp x: isolator\nsidekick OK\nmain OK\npoststop OK\n", nil},
		{"one check", "prestart OK\nmain FAIL\nsidekick OK\n==> AC_APP_NAME not set\npoststop OK\n",
			[]string{"phase main: AC_APP_NAME not set"}},
		{"missing phases", "prestart FAIL\n==> file \"/prestart\" exists unexpectedly\n==> b\n",
			[]string{`phase prestart: file "/prestart" exists unexpectedly`, "phase prestart: b",
				"phase main: no report (it did not run)", "phase sidekick: no report (it did not run)",
				"phase poststop: no report (it did not run)"}},
		{"fail without check", "prestart OK\nmain OK\nsidekick FAIL\npoststop OK\n",
			[]string{"phase sidekick: FAIL without a check named"}},
		{"stray check", "==> x\nprestart OK\nmain OK\nsidekick OK\npoststop OK\n",
			[]string{"checks before any phase reported: x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := aceReport(tc.out)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("aceReport:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestACEValidator runs the spec's conformance suite as one pod, signed
// and verified: on the default network with an empty `database` volume,
// with --net=none and a host directory as the volume, and from a pod
// manifest that gives the pod and the main app annotations of their own,
// with --no-overlay, and as a systemd unit.
func TestACEValidator(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	main, sidekick := aceImages(t, p.dir)
	signer := newSigner(t, "ace")
	signer.sign(main)
	signer.sign(sidekick)
	key := p.image(signer.pub)
	for _, name := range []string{"coreos.com/ace-validator-main", "coreos.com/ace-validator-sidekick"} {
		if out, err := p.b.Output(ctx, p.acirun("trust", "--prefix="+name, "--skip-fingerprint-review", key)...); err != nil {
			t.Fatalf("trust: %v\n%s", err, out)
		}
	}

	db := filepath.Join(p.dir, "db")
	if err := os.Mkdir(db, 0o755); err != nil {
		t.Fatal(err)
	}
	// A pod manifest with annotations of the pod and of the main app (one
	// overriding the image's "lorem", one new): the validator checks the
	// metadata service's merge of them, in order.
	ids, err := p.b.Output(ctx, p.acirun("fetch", "--full", main, sidekick)...)
	if err != nil || len(strings.Fields(string(ids))) != 2 {
		t.Fatalf("fetch of the ACE images: %v\n%s", err, ids)
	}
	id := strings.Fields(string(ids))
	pm, err := json.Marshal(map[string]any{
		"acVersion": aceVersion, "acKind": "PodManifest",
		"apps": []map[string]any{
			{"name": "ace-validator-main", "image": map[string]string{"id": id[0]},
				"annotations": []map[string]string{{"name": "lorem", "value": "dolor"}, {"name": "example.com/role", "value": "main"}}},
			{"name": "ace-validator-sidekick", "image": map[string]string{"id": id[1]}},
		},
		"volumes":     []map[string]string{{"name": "database", "kind": "empty"}},
		"annotations": []map[string]string{{"name": "ip-address", "value": "10.1.2.3"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	podManifest := filepath.Join(p.dir, "ace-pod.json")
	if err := os.WriteFile(podManifest, pm, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"default network", []string{"--volume=database,kind=empty", main, sidekick}},
		{"net=none", []string{"--net=none", "--volume=database,kind=host,source=" + db, main, sidekick}},
		{"pod manifest with annotations", []string{"--pod-manifest=" + podManifest}},
		// Roots that are private copies instead of overlays.
		{"no overlay", []string{"--net=none", "--no-overlay", "--volume=database,kind=empty", main, sidekick}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "-"), func(t *testing.T) {
			cmd := p.b.Command(ctx, p.acirun(append([]string{"run"}, tc.args...)...)...)
			var out lockedOutput
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("the ACE pod did not end in time:\n%s", out.String())
			}
			checkACE(t, tc.name, out.String(), err)
		})
	}
	// As the main process of a systemd unit, its output in the journal.
	t.Run("systemd-unit", func(t *testing.T) {
		out, code := p.systemdRun(ctx, append([]string{"--unit=ace-pod", "--wait", "--collect", "-p", "KillMode=mixed"},
			p.acirun("run", "--volume=database,kind=empty", main, sidekick)...)...)
		// journald may not have stored the last lines yet when the
		// unit ends: read until every phase has reported, for 10s.
		var journal string
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			j, err := p.b.Journal(ctx, "ace-pod.service")
			if err != nil {
				t.Fatal(err)
			}
			journal = j
			if !strings.Contains(strings.Join(aceReport(j), "\n"), "no report") || time.Now().After(deadline) {
				break
			}
		}
		var runErr error
		if code != 0 {
			runErr = fmt.Errorf("systemd-run --wait exited %d:\n%s", code, out)
		}
		checkACE(t, "systemd unit", journal, runErr)
	})
	// The validator compared what the service said with the pod manifest
	// it served: that manifest carried the annotations given.
	pods, _ := filepath.Glob(filepath.Join(p.data, "pods", "*", "pod"))
	found := false
	for _, f := range pods {
		b, err := os.ReadFile(f)
		found = found || err == nil && strings.Contains(string(b), `"ip-address"`) && strings.Contains(string(b), `"dolor"`)
	}
	if !found {
		t.Errorf("no pod of %v carries the pod manifest's annotations", pods)
	}
	// Both apps wrote into the host directory through their mount point.
	for _, f := range []string{"main", "sidekick"} {
		if _, err := os.Stat(filepath.Join(db, f)); err != nil {
			t.Errorf("the database volume on the host lacks the %s app's file: %v", f, err)
		}
	}
}
