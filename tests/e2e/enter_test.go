package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/tests/testimage"
)

// hostShell returns what an image needs to hold the host's dash as /bin/sh:
// the program and the libraries ldd names, at their host paths.
func hostShell(t *testing.T) map[string]string {
	t.Helper()
	const dash = "/usr/bin/dash"
	out, err := exec.Command("ldd", dash).Output()
	if err != nil {
		t.Fatalf("ldd %s (the test puts the host's dash into an image): %v", dash, err)
	}
	files := map[string]string{"/bin/sh": dash}
	for _, l := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(l) {
			if strings.HasPrefix(f, "/") {
				files[f] = f
			}
		}
	}
	if len(files) < 3 {
		t.Fatalf("ldd %s names no libraries:\n%s", dash, out)
	}
	return files
}

// hostPid returns the host PID of the process of the pod in podDir whose PID
// in the pod is pid: in the PID namespace of the pod's PID 1 (ppid1, a PID
// of the box's namespace, the second last of PID 1's NSpid numbers), the
// one whose last NSpid number is pid.
func hostPid(t *testing.T, podDir, pid string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(podDir, "ppid1"))
	if err != nil {
		t.Fatal(err)
	}
	initPid := strings.TrimSpace(string(b))
	procs, _ := filepath.Glob("/proc/[0-9]*")
	nspid := func(p string) []string {
		st, _ := os.ReadFile(p + "/status")
		return strings.Fields(statusFields(string(st))["NSpid"])
	}
	podNS := ""
	for _, p := range procs {
		if f := nspid(p); len(f) > 2 && f[len(f)-2] == initPid && f[len(f)-1] == "1" {
			podNS, _ = os.Readlink(p + "/ns/pid")
		}
	}
	for _, p := range procs {
		if ns, _ := os.Readlink(p + "/ns/pid"); ns == "" || ns != podNS {
			continue
		}
		if f := nspid(p); len(f) > 0 && f[len(f)-1] == pid {
			n, _ := strconv.Atoi(filepath.Base(p))
			return n
		}
	}
	t.Fatalf("no process is PID %s of the pod whose PID 1 is %s in the box (PID namespace %q)", pid, initPid, podNS)
	return 0
}

// statusFields parses /proc/PID/status text.
func statusFields(text string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return m
}

// TestEnter: acirun enter runs a command as one more process of a running
// app, confined exactly as the app is (rkt's enter was not: CVE-2019-10144
// bounding set, -10145 seccomp, -10147 cgroups), with no way to the host
// through /proc (CVE-2019-5736's class) and no descriptor of ours.
func TestEnter(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/enter", map[string]any{
		"isolators": []map[string]any{{"name": "os/linux/no-new-privileges", "value": true}},
	}, "sleep", "1h"), &testimage.Options{
		Files: map[string]string{
			"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/work:/bin/sh\n",
			"/etc/group":  "root:x:0:\nalice:x:1000:\n",
		},
		Dirs:   []string{"/work", "/tmp"},
		Copies: hostShell(t),
	}))
	uuid, unit, _ := p.runDetached(ctx, "--insecure-options=image", "--net=none",
		img, "--name=worker", "--user=alice", "--group=alice", "--supplementary-gids=27,100", "--working-dir=/work",
		"--caps-remove=CAP_NET_RAW,CAP_CHOWN", "--seccomp=mode=remove,errno=ENOTSUP,keyctl,add_key", "--memory=64M",
		"--environment=WHO=worker", "--oom-score-adj=300",
		img, "--name=other")
	podDir := filepath.Join(p.data, "pods", uuid)
	// The app's PID in the pod, as PID 1 records it for enter.
	appPid := func(app string) string {
		t.Helper()
		var rec struct{ PID int }
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			b, err := os.ReadFile(filepath.Join(podDir, "apps", app, "process.json"))
			if err == nil && json.Unmarshal(b, &rec) == nil && rec.PID > 1 {
				return strconv.Itoa(rec.PID)
			}
			if time.Now().After(deadline) {
				t.Fatalf("apps/%s/process.json: %v %q", app, err, b)
			}
		}
	}
	worker, other := appPid("worker"), appPid("other")
	// enter runs acirun enter ARGS (while the app may still be starting,
	// which enter refuses), with stdin.
	enter := func(stdin string, args ...string) result {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			cmd := p.b.Command(ctx, p.acirun(append([]string{"enter"}, args...)...)...)
			cmd.Stdin = strings.NewReader(stdin)
			var out, errb lockedOutput
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			if err != nil && cmd.ProcessState == nil {
				t.Fatalf("acirun enter %q: %v", args, err)
			}
			r := result{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
			if !strings.Contains(r.stderr, "still starting") || time.Now().After(deadline) {
				return r
			}
		}
	}
	in := func(app string, cmd ...string) string {
		t.Helper()
		r := enter("", append([]string{"--app=" + app, uuid}, cmd...)...)
		if r.code != 0 {
			t.Fatalf("acirun enter --app=%s %s %q: %s", app, uuid, cmd, r)
		}
		return r.stdout
	}

	// The confinement, side by side with the app's own.
	self, app := statusFields(in("worker", "/testapp", "cat", "/proc/self/status")), statusFields(in("worker", "/testapp", "cat", "/proc/"+worker+"/status"))
	for _, k := range []string{"CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb", "Seccomp", "Seccomp_filters", "NoNewPrivs", "Uid", "Gid", "Groups"} {
		if self[k] == "" || self[k] != app[k] {
			t.Errorf("%s: the entered process has %q, the app %q", k, self[k], app[k])
		}
	}
	for k, want := range map[string]string{"Seccomp": "2", "Seccomp_filters": "1", "NoNewPrivs": "1", "Uid": "1000 1000 1000 1000", "Gid": "1000 1000 1000 1000", "Groups": "27 100"} {
		if self[k] != want {
			t.Errorf("%s of the entered process: %q, want %q (the app's flags)", k, self[k], want)
		}
	}
	// 0xa80405fa is the default bounding set less CAP_CHOWN (0) and CAP_NET_RAW (13).
	if self["CapBnd"] != "00000000a80405fa" {
		t.Errorf("CapBnd of the entered process: %s, want the default less CAP_CHOWN and CAP_NET_RAW (00000000a80405fa)", self["CapBnd"])
	}
	if got := in("worker", "/testapp", "seccomp", "keyctl"); !strings.Contains(got, "keyctl error=EOPNOTSUPP") { // ENOTSUP is EOPNOTSUPP on Linux
		t.Errorf("keyctl in the entered process (the app's --seccomp says ENOTSUP):\n%s", got)
	}
	if got, want := in("worker", "/testapp", "cat", "/proc/self/oom_score_adj"), "300\n"; got != want {
		t.Errorf("oom_score_adj of the entered process: %q, want %q", got, want)
	}
	cgSelf, cgApp := in("worker", "/testapp", "cat", "/proc/self/cgroup"), in("worker", "/testapp", "cat", "/proc/"+worker+"/cgroup")
	if cgSelf != cgApp || !strings.Contains(cgSelf, "acirun-"+uuid) {
		t.Errorf("cgroups of the entered process:\n%s\nof the app:\n%s", cgSelf, cgApp)
	}
	envOf := func(text string) []string {
		env := strings.Split(strings.TrimSuffix(text, "\x00"), "\x00")
		slices.Sort(env)
		return env
	}
	// The app's environment is read from the host: the entered process is
	// kept from the app's /proc/PID as every app is from another's (its
	// own Landlock domain), so that code of the app's root it runs cannot
	// use it to reach the other apps.
	appEnv, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", hostPid(t, podDir, worker)))
	if err != nil {
		t.Fatal(err)
	}
	envSelf, envApp := envOf(in("worker", "/testapp", "cat", "/proc/self/environ")), envOf(string(appEnv))
	if !slices.Equal(envSelf, envApp) || !slices.Contains(envSelf, "WHO=worker") {
		t.Errorf("environment of the entered process:\n%q\nof the app:\n%q", envSelf, envApp)
	}
	if got := in("worker", "/testapp", "cat", "/proc/"+worker+"/environ"); !strings.Contains(got, "error=EACCES") {
		t.Errorf("the entered process reads the app's environ through /proc: %s", got)
	}
	if got := in("worker", "/testapp", "cwd"); !strings.Contains(got, "cwd=/work\n") {
		t.Errorf("working directory of the entered process: %s, want the app's /work", got)
	}
	if got := in("worker", "/testapp", "hostname"); !strings.Contains(got, "hostname=acirun-"+uuid[:8]) {
		t.Errorf("host name in the entered process: %s, want the pod's", got)
	}

	// No way out: nothing of ours but the pod's PID 1 in sight, whose
	// executable and root stay closed; no descriptor but the streams.
	out := in("worker", "/testapp", "pid", "+", "ls", "/proc", "+", "exe-overwrite")
	var pids []string
	var mypid string
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "pid="); ok {
			mypid = v
		}
		if _, err := strconv.Atoi(l); err == nil {
			pids = append(pids, l)
		}
	}
	slices.Sort(pids)
	want := []string{"1", worker, other, mypid}
	slices.Sort(want)
	if !slices.Equal(pids, want) {
		t.Errorf("processes in sight of the entered process: %v, want PID 1, the two apps and itself %v:\n%s", pids, want, out)
	}
	for _, w := range []string{"readlink /proc/self/exe ok target=/testapp", "readlink /proc/1/exe error=EACCES",
		"open-write /proc/1/exe error=EACCES", "open-read /proc/1/exe error=EACCES", "readdir /proc/1/root error=EACCES",
		"open-write /proc/self/exe error="} {
		if !strings.Contains(out, w) {
			t.Errorf("the entered process reaches out of its app: no %q in\n%s", w, out)
		}
	}
	if got := in("worker", "/testapp", "fds"); strings.TrimSpace(got) != strings.Join([]string{
		"fd=0 target=" + fdTarget(got, 0), "fd=1 target=" + fdTarget(got, 1), "fd=2 target=" + fdTarget(got, 2)}, "\n") {
		t.Errorf("descriptors of the entered process: want 0, 1 and 2 only:\n%s", got)
	}

	// --app chooses; the default command is /bin/sh, reading stdin.
	otherSt := statusFields(in("other", "/testapp", "cat", "/proc/self/status"))
	if otherSt["Uid"] != "0 0 0 0" || otherSt["CapBnd"] == self["CapBnd"] || otherSt["NoNewPrivs"] != "1" {
		t.Errorf("--app=other: Uid %q CapBnd %q NoNewPrivs %q, want the other app's (root, the default bounding set)", otherSt["Uid"], otherSt["CapBnd"], otherSt["NoNewPrivs"])
	}
	sh := enter("echo hello from $AC_APP_NAME in $(/testapp cwd)\nexit 7\n", "--app=worker", uuid)
	if sh.code != 7 || !strings.Contains(sh.stdout, "hello from worker in getwd ok cwd=/work") {
		t.Errorf("acirun enter --app=worker UUID (/bin/sh) with a script on stdin: want its output and exit code 7: %s", sh)
	}
	if r := enter("", "--app=worker", uuid, "/testapp", "signal", "KILL"); r.code != 137 {
		t.Errorf("enter of a command killed by SIGKILL: want 137: %s", r)
	}

	// Bad input: clear errors, exit 254.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{uuid, "/testapp", "ids"}, "has 2 apps (worker, other): choose one with --app"},
		{[]string{"--app=nope", uuid}, `has no app "nope" (its apps: worker, other)`},
		{[]string{"--app=worker", "00000000-0000-4000-8000-000000000000"}, "no such pod"},
		{[]string{"--app=worker", uuid, "/no/such/program"}, "/no/such/program"},
	} {
		if r := enter("", tc.args...); r.code != 254 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("acirun enter %q: want exit 254 and %q: %s", tc.args, tc.want, r)
		}
	}
	if err := p.b.Exec(ctx, "systemctl", "stop", unit); err != nil {
		t.Fatal(err)
	}
	if r := enter("", "--app=worker", uuid); r.code != 254 || !strings.Contains(r.stderr, "only a running pod can be entered") {
		t.Errorf("acirun enter of a stopped pod: %s", r)
	}
}

// fdTarget returns the target testapp's fds printed for fd n.
func fdTarget(out string, n int) string {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "fd="+strconv.Itoa(n)+" target="); ok {
			return v
		}
	}
	return "(none)"
}
