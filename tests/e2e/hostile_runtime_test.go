package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/tests/testimage"
	"github.com/acirun/acirun/unitgen"
)

// TestPodTasksMax: a pod whose app forks 10000 processes is stopped at the
// unit's TasksMax (unitgen.TasksMax, shown by systemctl show): fork fails
// with EAGAIN once the unit's tasks (the supervisor's and the app's
// threads, and the forks) reach it, the pod goes on, and its processes are
// gone once it is stopped. The bound is the pod's own, whatever the host's
// DefaultTasksMax. A pod run with --no-unit, which no unit of acirun's
// bounds, bounds itself the same (a pids cgroup of its own, in the pod's
// cgroups record, whose pids.max is TasksMax), and its cgroup is gone
// with it.
func TestPodTasksMax(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/forks", nil, "forks", "10000", "+", "sleep", "1h"), nil))
	t.Run("unit", func(t *testing.T) {
		_, unit, _ := p.runDetached(ctx, "--insecure-options=image", "--net=none", img)
		if st := p.show(ctx, unit, "TasksMax"); st["TasksMax"] != strconv.Itoa(unitgen.TasksMax) {
			t.Errorf("systemctl show %s: %v, want TasksMax=%d", unit, st, unitgen.TasksMax)
		}
		journal := waitForks(t, func() string { j, _ := p.b.Journal(ctx, unit); return j })
		// The supervisor's and the app's threads count too (a few dozen,
		// more on a machine of many CPUs); without the unit's bound,
		// systemd's default (15% of pid_max: 4915 here) or none would let
		// more through.
		checkForks(t, journal, "the pod's threads")
		if st := p.show(ctx, unit, "TasksCurrent"); st["TasksCurrent"] != "" {
			t.Logf("the pod's tasks once its forks are gone: %s", st["TasksCurrent"])
		}
		if st := p.show(ctx, unit, "ActiveState"); st["ActiveState"] != "active" {
			t.Errorf("the pod after its fork bomb: %v, want it still active", st)
		}
	})
	t.Run("no-unit", func(t *testing.T) {
		uuid, _, done, out := p.shellPod(ctx, img)
		b, err := os.ReadFile(filepath.Join(p.data, "pods", uuid, "cgroups"))
		if err != nil {
			t.Fatalf("the pod's cgroups record: %v", err)
		}
		var pids string
		for _, d := range strings.Fields(string(b)) {
			if max, err := p.b.Output(ctx, "cat", d+"/pids.max"); err == nil {
				pids = d
				if got := strings.TrimSpace(string(max)); got != strconv.Itoa(unitgen.TasksMax) {
					t.Errorf("%s/pids.max: %s, want %d", d, got, unitgen.TasksMax)
				}
			}
		}
		if pids == "" {
			t.Fatalf("no pids cgroup among the pod's cgroups:\n%s", b)
		}
		// The app's own threads count, but not those of PID 1 or acirun
		// run, which stay outside.
		checkForks(t, waitForks(t, out.String), "the app's threads")
		r := p.runInBox(ctx, "stop", uuid)
		if r.code != 0 {
			t.Errorf("stop: %s", r)
		}
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("acirun run still running after stop returned")
		}
		if err := p.b.Exec(ctx, "test", "!", "-e", pids); err != nil {
			t.Errorf("the pod's pids cgroup %s is left after the pod: %v", pids, err)
		}
	})
}

// waitForks waits for the forks app's report in what output returns.
func waitForks(t *testing.T, output func() string) string {
	t.Helper()
	// A fork costs about a millisecond of system time here; on a loaded
	// machine the bomb takes a while to reach the bound.
	start := time.Now()
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		out := output()
		if strings.Contains(out, "killed=") {
			t.Logf("forks reported after %v", time.Since(start))
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app did not report its forks in 3 minutes:\n%s", out)
		}
	}
}

// checkForks checks the forks app's report: fewer processes forked than
// TasksMax by the other tasks of the pod's bound (others) only, the last
// fork refused with EAGAIN.
func checkForks(t *testing.T, out, others string) {
	t.Helper()
	m := regexp.MustCompile(`forked=(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no forked= in the output:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	t.Logf("forked %d processes", n)
	if n >= unitgen.TasksMax || n < unitgen.TasksMax*3/4 {
		t.Errorf("the app forked %d processes, want fewer than TasksMax=%d by %s only", n, unitgen.TasksMax, others)
	}
	if !strings.Contains(out, "fork error=EAGAIN") {
		t.Errorf("the forks did not end with EAGAIN:\n%s", out)
	}
}

// TestRunSymlinkedSystemPaths: an image whose rootfs makes a path that
// stage1 mounts or writes (/proc, /dev, /sys, /etc/hosts,
// /etc/resolv.conf) or that apps write to (/tmp) a symlink out of the
// root, to a directory or file of the host (absolute, and climbing with
// ../), one expectation each. /proc, /dev and /sys are refused before the
// app runs, naming the path; /etc/hosts and /etc/resolv.conf are the pod's
// own (the app reads what --hosts-entry and --dns asked for, and its
// writes stay in the pod); the image's /tmp stays the image's symlink,
// resolved inside the root (here a loop: the app's write fails). In every
// case nothing is written behind the symlink on the host, and nothing of
// the pod is left.
func TestRunSymlinkedSystemPaths(t *testing.T) {
	h := podHost(t)
	pod := []string{"--net=none", "--hosts-entry=10.9.9.9=hosts-marker", "--dns=10.9.9.8"}
	ownFiles := []string{"10.9.9.9\thosts-marker", "nameserver 10.9.9.8"}
	for _, tc := range []struct {
		path   string
		toFile bool     // the symlink leads to a host file, not a directory
		want   []string // in the app's output; nil: refused, naming the path
	}{
		{path: "/proc"},
		{path: "/dev"},
		{path: "/sys"},
		{path: "/tmp", want: append([]string{"write /tmp/x error=ELOOP open /tmp/x: too many levels of symbolic links"}, ownFiles...)},
		{path: "/etc/hosts", toFile: true, want: append([]string{"write /etc/hosts ok"}, ownFiles...)},
		{path: "/etc/resolv.conf", toFile: true, want: append([]string{"write /etc/resolv.conf ok"}, ownFiles...)},
	} {
		t.Run(strings.TrimPrefix(strings.ReplaceAll(tc.path, "/", "_"), "_"), func(t *testing.T) {
			sentinel := t.TempDir()
			if err := os.WriteFile(filepath.Join(sentinel, "file"), []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
			target := sentinel
			if tc.toFile {
				target = filepath.Join(sentinel, "file")
			}
			args := []string{"cat", "/etc/hosts", "+", "cat", "/etc/resolv.conf", "+", "write", tc.path + "/x", "y"}
			if tc.toFile {
				args = append(args, "+", "write", tc.path, "y")
			}
			for _, link := range []string{target, "../../../../../../.." + target} {
				img := podImage(t, podManifest(t, "example.com/hostile-system", nil, args...),
					&testimage.Options{Symlinks: map[string]string{tc.path: link}})
				r := h.pod(append(pod, img)...)
				if tc.want == nil {
					if want := "mount point " + tc.path + " (symlinks are refused here)"; r.code != 254 || !strings.Contains(r.stderr, want) || r.stdout != "" {
						t.Errorf("%s -> %s: want exit 254 saying %q, and the app not run: %s", tc.path, link, want, r)
					}
				} else {
					wantExit(t, r, 0)
					wantLines(t, r, tc.want...)
				}
				if b, _ := os.ReadFile(filepath.Join(sentinel, "file")); string(b) != "keep" {
					t.Errorf("%s -> %s: the host file behind the symlink changed: %q", tc.path, link, b)
				}
				if ents, _ := os.ReadDir(sentinel); len(ents) != 1 {
					t.Errorf("%s -> %s: the pod wrote into the host directory behind the symlink: %v", tc.path, link, ents)
				}
			}
		})
	}
}

// TestRunStrayDescriptors: acirun started with descriptors left open (not
// close-on-exec) by its caller, of every kind a careless or hostile parent
// leaves: a file, a directory of the host's root (the classic way out of a
// chroot), a listening TCP socket and a connected Unix socket. None reaches
// the app (what it finds in /proc/self/fd) nor the pod's PID 1 (what the
// host sees in /proc/PID/fd of the process that is PID 1 in the pod's PID
// namespace), compared by device and inode, whatever the descriptor's
// number.
func TestRunStrayDescriptors(t *testing.T) {
	h := podHost(t)
	img := podImage(t, podManifest(t, "example.com/stray-fds", nil, "fds", "+", "sleep", "3s"), nil)
	file, err := os.Create(filepath.Join(t.TempDir(), "stray-file"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	root, err := os.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lnFile, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer lnFile.Close()
	pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unixEnd, peer := os.NewFile(uintptr(pair[0]), "unix"), os.NewFile(uintptr(pair[1]), "peer")
	defer unixEnd.Close()
	defer peer.Close()
	stray := map[[2]uint64]string{}
	for _, f := range []*os.File{file, root, lnFile, unixEnd} {
		var st syscall.Stat_t
		if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		stray[[2]uint64{st.Dev, st.Ino}] = f.Name()
	}
	leaked := func(pid int) []string {
		var found []string
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, e := range ents {
			var st syscall.Stat_t
			if syscall.Stat(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()), &st) == nil {
				if name, ok := stray[[2]uint64{st.Dev, st.Ino}]; ok {
					found = append(found, "fd "+e.Name()+": "+name)
				}
			}
		}
		return found
	}
	// The check itself: the test's own process holds all four (the
	// listener twice: ln and its dup).
	own := map[string]bool{}
	for _, l := range leaked(os.Getpid()) {
		own[l[strings.Index(l, ": ")+2:]] = true
	}
	if len(own) != len(stray) {
		t.Fatalf("the test's own descriptors found by device and inode: %v, want all %d", own, len(stray))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.acirun, h.args("run", "--insecure-options=image", "--net=none", img)...)
	// fds 3 to 6 of acirun, and 9 past a gap (a descriptor's number
	// proves nothing).
	cmd.ExtraFiles = []*os.File{file, root, lnFile, unixEnd, nil, nil, root}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The pod's PID 1: a process whose NSpid is "HOST 1".
	pid1 := 0
	for deadline := time.Now().Add(90 * time.Second); pid1 == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		pid1 = podPID1(cmd.Process.Pid)
	}
	t.Logf("acirun (pid %d) holds %q; the pod's PID 1 is pid %d", cmd.Process.Pid, leaked(cmd.Process.Pid), pid1)
	if pid1 == 0 {
		t.Errorf("no process of the pod is PID 1 of a PID namespace below acirun (pid %d)", cmd.Process.Pid)
	} else {
		if l := leaked(pid1); len(l) != 0 {
			t.Errorf("the pod's PID 1 (host pid %d) holds the caller's descriptors: %q", pid1, l)
		}
		// PID 1 holds the image's tree while it sets the apps' roots up;
		// once they have started (the pod's ready file), nothing.
		ready := false
		for deadline := time.Now().Add(90 * time.Second); !ready && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			for _, uuid := range h.podDirs() {
				if _, err := os.Stat(filepath.Join(h.data, "pods", uuid, podcontract.ReadyFile)); err == nil {
					ready = true
				}
			}
		}
		if !ready {
			t.Errorf("the pod's apps did not start in 90s")
		} else {
			if l := hostFiles(pid1); len(l) != 0 {
				t.Errorf("the pod's PID 1 (host pid %d) holds descriptors of the host's files once its apps run: %q", pid1, l)
			}
			// The supervisor (stage1 run in acirun's process here) holds
			// its pod's files, but nothing of the cgroup file system for
			// the pod's life (Go's container-aware GOMAXPROCS would).
			for _, l := range hostFiles(cmd.Process.Pid) {
				if strings.Contains(l, ": /sys/fs/cgroup/") {
					t.Errorf("acirun, the pod's supervisor (pid %d), holds a descriptor of the cgroup file system while its pod runs: %s", cmd.Process.Pid, l)
				}
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	h.noLeftovers()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if fds := outLines(r.stdout, "fd="); len(fds) != 3 || !strings.HasPrefix(fds[0], "fd=0 ") || !strings.HasPrefix(fds[2], "fd=2 ") {
		t.Errorf("descriptors other than 0-2 reach the app: %q", fds)
	}
}

// hostFiles lists the descriptors of process pid that name a file of a
// file system (what readlink of /proc/PID/fd/N gives as a path) other than
// /dev/null and a terminal: a pod's PID 1 needs none once it runs (pipes,
// sockets, an epoll and an eventfd are not files), and one that it held
// would be the host's (runc's CVE-2024-21626 was a descriptor of the host's
// cgroup file system left open in the container's first process; Go's
// container-aware GOMAXPROCS keeps the CPU quota files of the process's
// cgroup open unless the binary turns it off).
func hostFiles(pid int) []string {
	var found []string
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, e := range ents {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		if err != nil || !strings.HasPrefix(target, "/") || target == "/dev/null" || strings.HasPrefix(target, "/dev/pts/") {
			continue
		}
		found = append(found, "fd "+e.Name()+": "+target)
	}
	return found
}

// podPID1 finds, among the descendants of pid, a process that is PID 1 of
// its own PID namespace (its NSpid line ends in 1), or returns 0.
func podPID1(pid int) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		var nspid []string
		for _, l := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(l, "NSpid:"); ok {
				nspid = strings.Fields(rest)
			}
		}
		if len(nspid) < 2 || nspid[len(nspid)-1] != "1" {
			continue
		}
		for a := p; a > 1; {
			a = parentOf(a)
			if a == pid {
				return p
			}
		}
	}
	return 0
}

func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "PPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(rest))
			return n
		}
	}
	return 0
}

// unitSyntax are strings that systemd's unit syntax would change on the
// way (variables, specifiers, quotes, escapes, separators, line breaks,
// the prefixes of ExecStart=) or testapp's own command syntax (+).
var unitSyntax = []string{"$HOME", "${HOME}", "$$", "%n", "%%", "% n", `\`, `\\`, `\n`, "a\nb", "a\tb", `"`, "'", `"'"`, ";", `\;`, "#x",
	"-x", "@x", ":x", "+x", "!x", "!!x", "-@:+!x", "+", " lead", "trail ", ""}

// TestHostileUnitSyntax: an image whose exec arguments and environment
// values hold unit syntax, run with more of it from the command line
// (arguments after --, --set-env, --environment), through the transient
// unit of `acirun run` and through the shipped aci@ unit (systemctl start):
// the app gets every argument and variable byte for byte (testapp argv
// prints them quoted).
func TestHostileUnitSyntax(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var env []map[string]string
	for i, s := range unitSyntax {
		env = append(env, map[string]string{"name": fmt.Sprintf("IMG_%d", i), "value": s})
	}
	m := podManifest(t, "example.com/unit-syntax", map[string]any{"environment": env}, append([]string{"argv"}, unitSyntax...)...)
	var mm map[string]any
	if err := json.Unmarshal(m, &mm); err != nil {
		t.Fatal(err)
	}
	mm["labels"] = append(mm["labels"].([]any), map[string]string{"name": "version", "value": "1.0"})
	m, _ = json.Marshal(mm)
	img := p.image(podImage(t, m, nil))

	// check compares testapp argv's lines with the arguments and
	// environment variables wanted.
	check := func(how, out string, args []string, vars map[string]string) {
		t.Helper()
		got := map[string]bool{}
		for _, l := range strings.Split(out, "\n") {
			got[l] = true
		}
		for i, a := range args {
			if l := fmt.Sprintf("argv[%d]=%q", i+2, a); !got[l] {
				t.Errorf("%s: the app's argument %d is not %q (no line %s)", how, i+2, a, l)
			}
		}
		if l := fmt.Sprintf("argv[%d]=", len(args)+2); strings.Contains(out, l) {
			t.Errorf("%s: the app has more arguments than the %d given", how, len(args))
		}
		for k, v := range vars {
			if l := fmt.Sprintf("env %q", k+"="+v); !got[l] {
				t.Errorf("%s: the app's %s is not %q (no line %s)", how, k, v, l)
			}
		}
	}
	imgVars := map[string]string{}
	for i, s := range unitSyntax {
		imgVars[fmt.Sprintf("IMG_%d", i)] = s
	}

	// acirun run: its transient unit.
	run := []string{"run", "--insecure-options=image", "--net=none"}
	vars := maps.Clone(imgVars)
	for i, s := range unitSyntax {
		run = append(run, fmt.Sprintf("--set-env=POD_%d=%s", i, s))
		vars[fmt.Sprintf("POD_%d", i)] = s
	}
	run = append(run, img)
	for i, s := range unitSyntax {
		run = append(run, fmt.Sprintf("--environment=APP_%d=%s", i, s))
		vars[fmt.Sprintf("APP_%d", i)] = s
	}
	extra := []string{"---x", "--", "-- ", "$HOME", "%n"}
	run = append(append(run, "--"), extra...)
	r := p.runInBox(ctx, run...)
	if r.code != 0 {
		t.Fatalf("acirun run: %s", r)
	}
	check("acirun run", r.stdout, append(slices.Clone(unitSyntax), extra...), vars)

	// systemctl start aci@…: the image from the store, signed.
	p.installUnits(ctx)
	alice := newSigner(t, "alice")
	alice.sign(img)
	key := filepath.Join(p.dir, "alice.gpg")
	if b, err := os.ReadFile(alice.pub); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(key, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.b.Exec(ctx, e.acirun, "trust", "--prefix=example.com/unit-syntax", "--skip-fingerprint-review", key); err != nil {
		t.Fatal(err)
	}
	if err := p.b.Exec(ctx, e.acirun, "fetch", img); err != nil {
		t.Fatal(err)
	}
	u := `aci@example.com-unit\x2dsyntax:1.0.service`
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p.b.Exec(c, "systemctl", "stop", u)
		p.b.Exec(c, "systemctl", "reset-failed", u)
	})
	// The pod ends as soon as the app has printed: --no-block, and the
	// journal read once the last line is there.
	if err := p.b.Exec(ctx, "systemctl", "start", "--no-block", u); err != nil {
		t.Fatal(err)
	}
	last := fmt.Sprintf("env %q", fmt.Sprintf("IMG_%d=%s", len(unitSyntax)-1, unitSyntax[len(unitSyntax)-1]))
	var journal string
	for deadline := time.Now().Add(90 * time.Second); !strings.Contains(journal, "argv[0]=") || !strings.Contains(journal, "PATH="); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the journal of %s lacks the app's output (%s):\n%s", u, last, journal)
		}
		journal, _ = p.b.Journal(ctx, u)
	}
	check("aci@ unit", journal, unitSyntax, imgVars)
}
