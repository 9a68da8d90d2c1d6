package stage1

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/internal/testenv"
)

// The tests run real pods: the test binary is acirun-stage1 and acirun-pod
// (TestMain, main_linux_test.go, hands `stage1 run …` to supervisor.Main and
// the pod's processes to Main when testMainEnv is set), and the app is
// probe (testdata/probe), built statically for the test.

const testMainEnv = "ACIRUN_STAGE1_TEST_MAIN"

// probe is the probe program, built once on first use.
var probe struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// probeBin builds testdata/probe statically (CGO_ENABLED=0) and returns its path.
func probeBin(t testing.TB) string {
	t.Helper()
	probe.once.Do(func() {
		probe.dir, probe.err = os.MkdirTemp("", "stage1-probe-")
		if probe.err != nil {
			return
		}
		probe.path = filepath.Join(probe.dir, "probe")
		cmd := exec.Command("go", "build", "-o", probe.path, "./testdata/probe")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			probe.err = fmt.Errorf("build probe: %v\n%s", err, out)
		}
	})
	if probe.err != nil {
		t.Fatal(probe.err)
	}
	return probe.path
}

// needRoot is testenv.NeedRoot for the tests of stage1, which all need root
// for the same reason.
func needRoot(t testing.TB) {
	t.Helper()
	testenv.NeedRoot(t, "namespaces, mounts and cgroups of a pod")
}

// testApp describes one app of a test pod.
type testApp struct {
	name     string
	exec     []string
	user     string // default "0"
	group    string // default "0"
	supp     []uint32
	workDir  string
	env      map[string]string
	handlers map[string][]string
	mounts   [][2]string // volume, path
	mountRO  []string    // mountPoint paths that are read-only
	iso      []string    // isolator JSON objects
	ports    []string    // port JSON objects
	readOnly bool
	// annotations are the RuntimeApp's (name, value).
	annotations [][2]string
	// rootfs customises the image's rootfs after the standard layout.
	rootfs func(t testing.TB, dir string)
}

// testPod is a pod directory laid out by hand per docs/pod-layout.md.
type testPod struct {
	dir  string
	uuid string
}

var passwd = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\ndaemon:x:2:2::/:\n"
var group = "root:x:0:\nuser:x:1000:\nstaff:x:50:user\n"

func newPod(t testing.TB, apps []testApp, volumes []string, podIsolators ...string) *testPod {
	t.Helper()
	needRoot(t)
	base := t.TempDir()
	uuid := "3f2a9c1e-8b7d-4e6f-9a01-" + fmt.Sprintf("%012x", time.Now().UnixNano()&0xffffffffffff)
	dir := filepath.Join(base, "pods", uuid)
	var appsJSON []string
	for _, a := range apps {
		img := filepath.Join(base, "store", a.name)
		rootfs := filepath.Join(img, "rootfs")
		for _, d := range []string{"etc", "proc", "sys", "dev", "tmp", "mnt", "home/user"} {
			must(t, os.MkdirAll(filepath.Join(rootfs, d), 0o755))
		}
		must(t, os.Chmod(filepath.Join(rootfs, "tmp"), 0o1777))
		copyFileT(t, probeBin(t), filepath.Join(rootfs, "probe"), 0o755)
		must(t, os.WriteFile(filepath.Join(rootfs, "etc/passwd"), []byte(passwd), 0o644))
		must(t, os.WriteFile(filepath.Join(rootfs, "etc/group"), []byte(group), 0o644))
		must(t, os.Chown(filepath.Join(rootfs, "home/user"), 1000, 50))
		if a.rootfs != nil {
			a.rootfs(t, rootfs)
		}
		must(t, os.WriteFile(filepath.Join(img, "manifest"), []byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/`+a.name+`"}`), 0o644))
		must(t, os.MkdirAll(filepath.Join(dir, "apps", a.name), 0o755))
		must(t, os.Symlink(img, filepath.Join(dir, "apps", a.name, "image")))

		app := map[string]any{"exec": a.exec, "user": def(a.user, "0"), "group": def(a.group, "0")}
		if a.supp != nil {
			app["supplementaryGIDs"] = a.supp
		}
		if a.workDir != "" {
			app["workingDirectory"] = a.workDir
		}
		var env []map[string]string
		for k, v := range a.env {
			env = append(env, map[string]string{"name": k, "value": v})
		}
		if env != nil {
			app["environment"] = env
		}
		var hs []map[string]any
		for n, e := range a.handlers {
			hs = append(hs, map[string]any{"name": n, "exec": e})
		}
		if hs != nil {
			app["eventHandlers"] = hs
		}
		var mps []map[string]any
		var mounts []map[string]any
		for i, m := range a.mounts {
			ro := false
			for _, p := range a.mountRO {
				ro = ro || p == m[1]
			}
			mps = append(mps, map[string]any{"name": fmt.Sprintf("mp%d", i), "path": m[1], "readOnly": ro})
			mounts = append(mounts, map[string]any{"volume": m[0], "path": m[1]})
		}
		if mps != nil {
			app["mountPoints"] = mps
		}
		if a.ports != nil {
			app["ports"] = json.RawMessage("[" + strings.Join(a.ports, ",") + "]")
		}
		if a.iso != nil {
			app["isolators"] = json.RawMessage("[" + strings.Join(a.iso, ",") + "]")
		}
		sum := sha512.Sum512([]byte(a.name))
		ra := map[string]any{
			"name":  a.name,
			"image": map[string]any{"name": "example.com/" + a.name, "id": "sha512-" + hex.EncodeToString(sum[:])},
			"app":   app,
		}
		if mounts != nil {
			ra["mounts"] = mounts
		}
		if a.readOnly {
			ra["readOnlyRootFS"] = true
		}
		var anns []map[string]string
		for _, kv := range a.annotations {
			anns = append(anns, map[string]string{"name": kv[0], "value": kv[1]})
		}
		if anns != nil {
			ra["annotations"] = anns
		}
		b, err := json.Marshal(ra)
		must(t, err)
		appsJSON = append(appsJSON, string(b))
	}
	manifest := `{"acVersion":"0.8.11","acKind":"PodManifest","apps":[` + strings.Join(appsJSON, ",") + `]`
	if volumes != nil {
		manifest += `,"volumes":[` + strings.Join(volumes, ",") + `]`
	}
	if podIsolators != nil {
		manifest += `,"isolators":[` + strings.Join(podIsolators, ",") + `]`
	}
	manifest += "}"
	must(t, os.WriteFile(filepath.Join(dir, "pod"), []byte(manifest), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "lock"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "prepared"), nil, 0o644))
	p := &testPod{dir: dir, uuid: uuid}
	t.Cleanup(func() { p.checkClean(t) })
	return p
}

func def(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func copyFileT(t testing.TB, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	must(t, err)
	must(t, os.WriteFile(dst, b, mode))
}

// podResult is what a pod run produced.
type podResult struct {
	code           int
	stdout, stderr string
	exit           podcontract.Exit
}

// run runs `stage1 run FLAGS… POD-DIR` and waits for it.
func (p *testPod) run(t testing.TB, flags ...string) *podResult {
	t.Helper()
	cmd := p.command(flags...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return p.result(t, cmd, err, &out, &errb)
}

func (p *testPod) command(flags ...string) *exec.Cmd {
	// Off the test machine's network unless a test asks: the default
	// network would change it (tests/e2e tests that one in its box).
	if !slices.ContainsFunc(flags, func(f string) bool { return strings.HasPrefix(f, "--net=") }) {
		flags = append([]string{"--net=none"}, flags...)
	}
	// The host state pods share (the metadata key), in the pod's test
	// directory rather than the test machine's /run/acirun.
	flags = append([]string{"--run-dir=" + filepath.Join(filepath.Dir(p.dir), "run")}, flags...)
	args := append([]string{"run"}, flags...)
	args = append(args, p.dir)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), testMainEnv+"=1")
	return cmd
}

func (p *testPod) result(t testing.TB, cmd *exec.Cmd, err error, out, errb *bytes.Buffer) *podResult {
	t.Helper()
	r := &podResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("run pod: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(p.dir, "exit.json")); err == nil {
		if err := json.Unmarshal(b, &r.exit); err != nil {
			t.Errorf("exit.json: %v", err)
		}
	}
	t.Logf("pod exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	return r
}

// checkClean verifies that a pod left nothing behind on the host: no
// mounts, no processes, no cgroups.
func (p *testPod) checkClean(t testing.TB) {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	must(t, err)
	if strings.Contains(string(mi), p.uuid) {
		t.Errorf("mounts of pod %s left on the host:\n%s", p.uuid, mi)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, c := range procs {
		b, _ := os.ReadFile(c)
		if bytes.Contains(b, []byte(p.uuid)) {
			t.Errorf("process of pod %s left: %s %q", p.uuid, c, b)
		}
	}
	cm, err := findCgroups()
	must(t, err)
	for _, base := range []string{cm.memory, cm.cpu, cm.v2} {
		if base == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(base, podCgroupName(p.uuid))); err == nil {
			t.Errorf("cgroup of pod %s left in %s", p.uuid, base)
		}
	}
}

func (r *podResult) has(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}

func (r *podResult) lacks(t *testing.T, bad ...string) {
	t.Helper()
	for _, w := range bad {
		if strings.Contains(r.stdout, w) {
			t.Errorf("output has %q", w)
		}
	}
}

func TestPodExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		apps []testApp
		want int
	}{
		{"zero", []testApp{{name: "a", exec: []string{"/probe", "exit:0"}}}, 0},
		{"one app", []testApp{{name: "a", exec: []string{"/probe", "exit:3"}}}, 3},
		{"several", []testApp{
			{name: "a", exec: []string{"/probe", "exit:0"}},
			{name: "b", exec: []string{"/probe", "sleep:100ms", "exit:7"}},
			{name: "c", exec: []string{"/probe", "sleep:30s"}},
		}, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPod(t, tc.apps, nil)
			r := p.run(t, "--net=none")
			if r.code != tc.want || r.exit.ExitCode != tc.want {
				t.Errorf("exit code %d (exit.json %d), want %d", r.code, r.exit.ExitCode, tc.want)
			}
			if len(r.exit.Apps) != len(tc.apps) {
				t.Errorf("exit.json lists %d apps, want %d", len(r.exit.Apps), len(tc.apps))
			}
			// A plain pod says nothing of its own: no warning about a
			// missing system bus on a host without one, as here in CI.
			if strings.Contains(r.stderr, "WARNING") || strings.Contains(r.stderr, "machine") {
				t.Errorf("stderr of a plain pod:\n%s", r.stderr)
			}
		})
	}
}

// BenchmarkWarmStart measures `stage1 run` of a pod whose app exits at once
// (--net=none): namespaces, sealed executable, overlay, /proc, /sys, /dev,
// masks, app start and teardown.
func BenchmarkWarmStart(b *testing.B) {
	needRoot(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p := newPod(b, []testApp{{name: "a", exec: []string{"/probe", "exit:0"}}}, nil)
		cmd := p.command("--net=none")
		b.StartTimer()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("pod: %v\n%s", err, out)
		}
	}
}
