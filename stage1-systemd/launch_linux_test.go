package stage1

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/trace"
)

// TestSeccompRefuses: the calls of PID 1's own launch are checked against
// an app's filter as the kernel would run it, arguments included: the
// default deny list lets them all through (clone of a vfork-style child,
// not of a user namespace), a remove set of unrelated calls too, and a
// filter refusing any of them sends the app through the launcher.
func TestSeccompRefuses(t *testing.T) {
	calls := launchCalls()
	for _, tc := range []struct {
		name  string
		iso   *seccompIsolator
		insec bool
		calls []seccompCall
		want  string
	}{
		{"default", nil, false, calls, ""},
		{"no filter", nil, true, calls, ""},
		{"remove set of other calls", &seccompIsolator{set: []string{"mkdir", "mkdirat"}}, false, calls, ""},
		{"remove set with clone", &seccompIsolator{set: []string{"clone"}}, false, calls, "clone"},
		{"remove set with ioctl", &seccompIsolator{set: []string{"ioctl"}, errno: "ENOTTY"}, false, calls, "ioctl"},
		{"remove set with dup3", &seccompIsolator{set: []string{"mkdir", "dup3"}}, false, calls, "dup3"},
		{"retain set", &seccompIsolator{retain: true, set: []string{"read", "write"}}, false, calls, "clone"},
		{"retain set of them all", &seccompIsolator{retain: true, set: launchCallNames()}, false, calls, ""},
		// The arguments count: the default filter refuses a clone of a
		// user namespace, and lets a plain one through.
		{"clone of a user namespace", nil, false, []seccompCall{{name: "clone", args: [6]uint64{unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}}}, "clone"},
		{"clone3", nil, false, []seccompCall{{name: "clone3"}}, "clone3"},
		{"mount", nil, false, []seccompCall{{name: "getpid"}, {name: "mount"}}, "mount"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := planSeccomp(tc.iso, tc.insec)
			must(t, err)
			got, err := seccompRefuses(plan.filter, tc.calls)
			must(t, err)
			if got != tc.want {
				t.Errorf("seccompRefuses = %q, want %q (filter %s)", got, tc.want, plan.report)
			}
		})
	}
}

func launchCallNames() []string {
	var names []string
	for _, c := range launchCalls() {
		if !slices.Contains(names, c.name) {
			names = append(names, c.name)
		}
	}
	return names
}

// launchBothWays runs app, a /probe app, in a pod of its own (--net=none,
// --debug, the trace, and flags) twice: as it is, which PID 1 executes
// itself, and socket-activated, which only the app launcher (a `stage1
// app` process) can start; it checks that each was started that way and
// returns both results, the pod's UUID in their output replaced by "UUID",
// for the caller to compare the confinement of the two.
func launchBothWays(t *testing.T, app testApp, flags ...string) (here, launched *podResult) {
	t.Helper()
	run := func(ports []string) *podResult {
		a := app
		a.ports = ports
		p := newPod(t, []testApp{a}, nil)
		cmd := p.command(append([]string{"--net=none", "--debug"}, flags...)...)
		cmd.Env = append(cmd.Env, trace.Var+"=1")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		r := p.result(t, cmd, cmd.Run(), &out, &errb)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		r.stdout = strings.ReplaceAll(r.stdout, p.uuid, "UUID")
		return r
	}
	here = run(nil)
	if strings.Contains(here.stderr, "stage1 app[") || !strings.Contains(here.stderr, "stage1 init[1]: app "+app.name+": exec /probe") {
		t.Errorf("PID 1 did not execute the app itself:\n%s", here.stderr)
	}
	launched = run([]string{`{"name":"www","protocol":"tcp","port":8080,"socketActivated":true}`})
	if !strings.Contains(launched.stderr, "through the app launcher: socket activation") || !strings.Contains(launched.stderr, "stage1 app[") {
		t.Errorf("the socket-activated app was not started through the launcher:\n%s", launched.stderr)
	}
	return here, launched
}

// TestPodLaunch: PID 1 executes an app itself, from a thread it confines
// (no `stage1 app` process in the trace), and the app is confined exactly
// as one started through the app launcher, which socket activation still
// needs: the same capability sets, no_new_privs, seccomp mode and filter
// count, user and groups, oom-score-adj, a seccomp remove set, no way to
// PID 1's root; and PID 1 keeps its own (lowered) oom-score-adj and its
// main thread's credentials.
func TestPodLaunch(t *testing.T) {
	iso := []string{`{"name":"os/linux/capabilities-remove-set","value":{"set":["CAP_CHOWN","CAP_NET_RAW"]}}`,
		`{"name":"os/linux/no-new-privileges","value":true}`, `{"name":"os/linux/oom-score-adj","value":700}`,
		`{"name":"os/linux/seccomp-remove-set","value":{"set":["mkdirat","mkdir"],"errno":"EXDEV"}}`}
	probe := []string{"/probe", "status", "ids", "cat:/proc/self/oom_score_adj", "mkdir:/tmp/d", "stat:/proc/1/root/",
		"sleep:300ms", "cat:/proc/1/oom_score_adj", "cat:/proc/1/task/1/status"}
	b, err := os.ReadFile("/proc/self/oom_score_adj")
	must(t, err)
	own, err := strconv.Atoi(strings.TrimSpace(string(b)))
	must(t, err)
	pid1 := supervisorOOMScoreAdj(t, own)
	here, launched := launchBothWays(t, testApp{name: "a", exec: probe, user: "user", group: "staff", supp: []uint32{7}, iso: iso})
	want := []string{"status CapBnd: " + capHex(defaultCaps()&^mustCaps("CAP_CHOWN", "CAP_NET_RAW")) + "\n",
		"status CapEff: 0000000000000000\n", "status CapPrm: 0000000000000000\n", "status CapInh: 0000000000000000\n",
		"status CapAmb: 0000000000000000\n", "status NoNewPrivs: 1\n", "status Seccomp: 2\n", "status Seccomp_filters: 1\n",
		"status Uid: 1000 1000 1000 1000\n", "status Gid: 50 50 50 50\n", "status Groups: 7\n",
		"uid 1000 gid 50 groups [7]\n", "cat /proc/self/oom_score_adj\n700\n", "mkdir error mkdir /tmp/d: invalid cross-device link",
		"stat error", "cat /proc/1/oom_score_adj\n" + strconv.Itoa(pid1) + "\n",
		// PID 1's main thread never launches: it stays root.
		"\nUid:\t0\t0\t0\t0\n"}
	for name, r := range map[string]*podResult{"PID 1's launch": here, "the launcher": launched} {
		t.Run(name, func(t *testing.T) { r.has(t, want...) })
	}
	statusLines := func(r *podResult) []string {
		var ls []string
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(l, "status ") {
				ls = append(ls, l)
			}
		}
		return ls
	}
	if a, b := statusLines(here), statusLines(launched); !slices.Equal(a, b) {
		t.Errorf("confinement differs:\nPID 1's launch: %q\nthe launcher:   %q", a, b)
	}
}

// TestPodLaunchPrivateUsers: PID 1 starts a --private-users app itself too
// (no `stage1 app` process in the trace), forked into a user namespace of
// its own, and the app is confined exactly as one started through the app
// launcher (which socket activation still needs): the same capability
// sets, no_new_privs, seccomp mode and filter, user and groups (given as a
// path in the image: its owner as the app's namespace sees it), the
// pod's map, cgroups, oom-score-adj, no way to PID 1's root, and no user
// namespace of its own making (refused by the remove set's filter as by
// the default one).
func TestPodLaunchPrivateUsers(t *testing.T) {
	iso := []string{`{"name":"os/linux/capabilities-remove-set","value":{"set":["CAP_CHOWN","CAP_NET_RAW"]}}`,
		`{"name":"os/linux/no-new-privileges","value":true}`, `{"name":"os/linux/oom-score-adj","value":700}`,
		`{"name":"os/linux/seccomp-remove-set","value":{"set":["mkdirat","mkdir"],"errno":"EXDEV"}}`,
		`{"name":"resource/memory","value":{"limit":"64Mi"}}`}
	probe := []string{"/probe", "status", "ids", "cat:/proc/self/uid_map", "cat:/proc/self/gid_map", "cat:/proc/self/cgroup",
		"cat:/proc/self/oom_score_adj", "mkdir:/tmp/d", "stat:/proc/1/root/", "userns"}
	const idRange = "3100000:65536"
	here, launched := launchBothWays(t, testApp{name: "a", exec: probe, user: "/home/user", group: "/home/user", supp: []uint32{7}, iso: iso},
		"--private-users="+idRange)
	want := []string{"status CapBnd: " + capHex(defaultCaps()&^mustCaps("CAP_CHOWN", "CAP_NET_RAW")) + "\n",
		"status CapEff: 0000000000000000\n", "status CapPrm: 0000000000000000\n", "status CapInh: 0000000000000000\n",
		"status CapAmb: 0000000000000000\n", "status NoNewPrivs: 1\n", "status Seccomp: 2\n", "status Seccomp_filters: 1\n",
		"status Uid: 1000 1000 1000 1000\n", "status Gid: 50 50 50 50\n", "status Groups: 7\n",
		"uid 1000 gid 50 groups [7]\n", "0    3100000      65536\n", "cat /proc/self/oom_score_adj\n700\n",
		"mkdir error mkdir /tmp/d: invalid cross-device link", "stat error", "userns error"}
	for name, r := range map[string]*podResult{"PID 1's launch": here, "the launcher": launched} {
		t.Run(name, func(t *testing.T) { r.has(t, want...) })
	}
	// Everything the probe printed but the socket's own lines is the same.
	lines := func(r *podResult) []string {
		var ls []string
		for _, l := range strings.Split(r.stdout, "\n") {
			if !strings.Contains(l, "listen") {
				ls = append(ls, l)
			}
		}
		return ls
	}
	if a, b := lines(here), lines(launched); !slices.Equal(a, b) {
		t.Errorf("confinement differs:\nPID 1's launch: %q\nthe launcher:   %q", a, b)
	}
}

// TestPodOOMScoreAdj: the supervisor and PID 1 take SupervisorOOMScoreAdj,
// so that the OOM killer chooses an app before them (a pod whose supervisor
// it killed lost its exit status), while an app without
// os/linux/oom-score-adj gets the value the supervisor was started with
// and one with it its own, even below that; started by PID 1 or by the
// launcher, with --private-users or without. Without CAP_SYS_RESOURCE
// (a container that drops it) the supervisor and PID 1 go no lower than
// the caller's floor.
func TestPodOOMScoreAdj(t *testing.T) {
	// The caller's value, the unit's OOMScoreAdjust or the shell's: ours
	// for the instant of the test, which stage1 run inherits. Raising it
	// needs no capability.
	const caller = 300
	restore, err := setOOMScoreAdj(caller)
	must(t, err)
	defer restore()
	protected := supervisorOOMScoreAdj(t, caller)
	// PID 1's is read once every app has started: PID 1 has each app's
	// for the instant of its fork.
	probe := []string{"/probe", "cat:/proc/self/oom_score_adj", "sleep:1s", "cat:/proc/1/oom_score_adj", "sleep:500ms"}
	activated := []string{`{"name":"www","protocol":"tcp","port":8080,"socketActivated":true}`}
	for _, tc := range []struct {
		name  string
		flags []string
	}{{"host users", nil}, {"private users", []string{"--private-users=3200000:65536"}}} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPod(t, []testApp{
				{name: "plain", exec: probe},
				// Below the caller's, but not below the floor it sets
				// without CAP_SYS_RESOURCE (the value it had before).
				{name: "own", exec: probe, iso: []string{`{"name":"os/linux/oom-score-adj","value":100}`}},
				{name: "launched", exec: probe, ports: activated},
			}, nil)
			cmd := p.command(append([]string{"--net=none", "--debug"}, tc.flags...)...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			must(t, cmd.Start())
			// The supervisor lowers its own before it forks PID 1, and
			// lives as long as the apps sleep.
			file := fmt.Sprintf("/proc/%d/oom_score_adj", cmd.Process.Pid)
			supervisor := ""
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				b, err := os.ReadFile(file)
				if err != nil {
					break
				}
				if supervisor = strings.TrimSpace(string(b)); supervisor == strconv.Itoa(protected) {
					break
				}
			}
			r := p.result(t, cmd, cmd.Wait(), &out, &errb)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			if supervisor != strconv.Itoa(protected) {
				t.Errorf("the supervisor's oom_score_adj: %s, want %d", supervisor, protected)
			}
			if !strings.Contains(r.stderr, "through the app launcher: socket activation") {
				t.Errorf("app launched was not started through the launcher:\n%s", r.stderr)
			}
			pid1 := fmt.Sprintf("cat /proc/1/oom_score_adj\n%d\n", protected)
			if n := strings.Count(r.stdout, pid1); n != 3 {
				t.Errorf("PID 1's oom_score_adj is %d in %d apps' output, want 3", protected, n)
			}
			for want, n := range map[string]int{fmt.Sprintf("cat /proc/self/oom_score_adj\n%d\n", caller): 2, "cat /proc/self/oom_score_adj\n100\n": 1} {
				if got := strings.Count(r.stdout, want); got != n {
					t.Errorf("%q in %d apps' output, want %d", want, got, n)
				}
			}
		})
	}
}

// supervisorOOMScoreAdj is the oom_score_adj the pod's supervisor, and PID
// 1 after it, take when started by this process, whose own is own
// (ProtectFromOOM): SupervisorOOMScoreAdj, unless own is lower already;
// without CAP_SYS_RESOURCE, the lowest this process may write, found here
// one by one.
func supervisorOOMScoreAdj(t *testing.T, own int) int {
	t.Helper()
	if own <= SupervisorOOMScoreAdj {
		return own
	}
	low := own
	for v := own - 1; v >= SupervisorOOMScoreAdj; v-- {
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(v)), 0); err != nil {
			break
		}
		low = v
	}
	must(t, os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(own)), 0))
	if low != SupervisorOOMScoreAdj {
		t.Logf("without CAP_SYS_RESOURCE the supervisor goes from %d to %d only", own, low)
	}
	return low
}
