package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/testenv"
	"github.com/acirun/acirun/tests/testimage"
)

// uidMapOf returns the first ID and the count of the one line of
// /proc/self/uid_map that `testapp cat` printed, or fails t.
func uidMapOf(t *testing.T, r result) (first, count uint64) {
	t.Helper()
	for _, l := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == "0" {
			first, _ = strconv.ParseUint(f[1], 10, 32)
			count, _ = strconv.ParseUint(f[2], 10, 32)
			return first, count
		}
	}
	t.Fatalf("no uid_map line in the output: %s", r)
	return 0, 0
}

// wantOnlyProcesses fails t unless the processes of the pod, as `testapp
// pid + ls /proc` in its one app listed them, are PID 1 and the app: PID 1
// reaps what it forked on its own account (the child that makes the pod's
// user namespace) before any app could see it.
func wantOnlyProcesses(t *testing.T, r result) {
	t.Helper()
	var app string
	var pids []string
	for _, l := range strings.Split(r.stdout, "\n") {
		if p, ok := strings.CutPrefix(l, "pid="); ok {
			app = p
		} else if _, err := strconv.Atoi(l); err == nil {
			pids = append(pids, l)
		}
	}
	if app == "" || len(pids) != 2 || pids[0] != "1" || pids[1] != app {
		t.Errorf("the pod's processes: %v, want PID 1 and the app's (%s) alone: %s", pids, app, r)
	}
}

// TestRunPrivateUsers: with --private-users the pod's root is root in a
// user namespace mapped to a range of unprivileged host IDs: its
// capabilities are the default set there, /proc/self/uid_map shows the
// range, the image's files are root's to it (shared read-only from the
// store through an ID-mapped overlay) while what it writes to a host
// volume is owned by the range's first ID on the host, and the host's own
// files (a host-owned file in the volume, the host's /etc through a
// symlink in the volume to PID 1's root) stay out of its reach.
func TestRunPrivateUsers(t *testing.T) {
	h := podHost(t)
	img := podImage(t, podManifest(t, "example.com/userns", map[string]any{
		"mountPoints": []map[string]any{{"name": "data", "path": "/data"}},
	}, "exit", "0"), &testimage.Options{Files: map[string]string{"/etc/motd": "image\n"}})
	vol := t.TempDir()
	if err := os.Chmod(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "hostfile"), []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/1/root/etc", filepath.Join(vol, "escape")); err != nil {
		t.Fatal(err)
	}
	marker := "acirun-userns-breakout-" + strconv.Itoa(os.Getpid())
	r := h.pod("--net=none", "--private-users", "--volume=data,kind=host,source="+vol,
		img, "--exec=/testapp", "--", "cat", "/proc/self/uid_map", "+", "ids", "+", "caps",
		"+", "stat", "/etc/motd", "+", "write", "/etc/motd", "pod", "+", "write", "/data/made", "by the pod",
		"+", "write", "/data/hostfile", "pod", "+", "write", "/data/escape/"+marker, "x", "+", "pid", "+", "ls", "/proc")
	wantExit(t, r, 0)
	wantOnlyProcesses(t, r)
	first, count := uidMapOf(t, r)
	if first < 0x80000 || count != 65536 {
		t.Errorf("uid_map: the pod's 0 is the host's %d, %d IDs; want an automatic range (65536 IDs from 524288 on)", first, count)
	}
	wantLines(t, r, "uid=0", "CapEff-names="+defaultCapSet, "CapBnd-names="+defaultCapSet,
		"write /etc/motd ok", "write /data/made ok")
	if !strings.Contains(r.stdout, "write /data/hostfile error=EACCES") {
		t.Errorf("the pod's root wrote a file of the host's root in a host volume: %s", r)
	}
	if !strings.Contains(r.stdout, "write /data/escape/"+marker+" error=") {
		t.Errorf("the pod's root wrote through a symlink in a host volume to PID 1's root: %s", r)
	}
	if _, err := os.Lstat("/etc/" + marker); err == nil {
		os.Remove("/etc/" + marker)
		t.Fatalf("a --private-users pod wrote /etc/%s on the host", marker)
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(vol, "made"), &st); err != nil || uint64(st.Uid) != first || uint64(st.Gid) != first {
		t.Errorf("the pod root's file on the host volume: owner %d:%d, %v; want the range's %d", st.Uid, st.Gid, err, first)
	}
	if b, _ := os.ReadFile(filepath.Join(vol, "hostfile")); string(b) != "host\n" {
		t.Errorf("the host's file in the volume changed: %q", b)
	}
	// The image's ID-mapped copy is handed to the overlay unattached on a
	// kernel that takes it (Linux 6.15 on): no directory is made for it.
	if testenv.KernelAtLeast(t, 6, 15) {
		if dirs, _ := filepath.Glob(filepath.Join(h.data, "pods", "*", "apps", "*", "lower")); len(dirs) != 0 {
			t.Errorf("the pod made a directory to attach its image's ID-mapped copy at: %v", dirs)
		}
	}
	// The range is given back with the pod.
	if ents, _ := filepath.Glob(filepath.Join(h.data, "run", "userns", "[0-9]*")); len(ents) != 0 {
		t.Errorf("range leases left after the pod: %v", ents)
	}

	// The operator's range.
	r = h.pod("--net=none", "--private-users=3000000:65536", img, "--exec=/testapp", "--", "cat", "/proc/self/uid_map")
	wantExit(t, r, 0)
	if first, count := uidMapOf(t, r); first != 3000000 || count != 65536 {
		t.Errorf("--private-users=3000000:65536: uid_map %d %d", first, count)
	}
	// Bad ranges are refused before anything runs.
	for arg, want := range map[string]string{
		"--private-users=0:65536":    "UID 0: the pod's root would be the host's root",
		"--private-users=100000:100": "COUNT 100: want at least 65536",
		"--private-users=lots":       "want auto or UID:COUNT",
	} {
		r := h.pod("--net=none", arg, img)
		if r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: want a refusal with %q: %s", arg, want, r)
		}
	}
}

// TestRunPrivateUsersIDMapVolume: a host volume given idmap=true is bound
// through an ID-mapped mount of the pod's map, so that on it the pod's IDs
// are the host's: the host's root-owned files are the pod root's, and what
// the pod's root writes is owned by the host's root, not by the range. A
// file system the kernel cannot ID-map (ramfs) is refused naming it, as is
// idmap=true without --private-users; nothing is chowned.
func TestRunPrivateUsersIDMapVolume(t *testing.T) {
	h := podHost(t)
	img := podImage(t, podManifest(t, "example.com/userns-idmap", map[string]any{
		"mountPoints": []map[string]any{{"name": "data", "path": "/data"}},
	}, "exit", "0"), nil)
	vol := t.TempDir() // 0700, the host root's
	if err := os.WriteFile(filepath.Join(vol, "hostfile"), []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "alices"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(vol, "alices"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	r := h.pod("--net=none", "--private-users", "--volume=data,kind=host,source="+vol+",idmap=true",
		img, "--exec=/testapp", "--", "cat", "/proc/self/uid_map", "+", "stat", "/data/hostfile", "+", "stat", "/data/alices",
		"+", "write", "/data/hostfile", "pod", "+", "write", "/data/made", "by the pod")
	wantExit(t, r, 0)
	if first, _ := uidMapOf(t, r); first < 0x80000 {
		t.Errorf("uid_map: the pod's 0 is the host's %d, want an automatic range", first)
	}
	if !strings.Contains(r.stdout, "perm=0644\nuid=0\ngid=0\n") || !strings.Contains(r.stdout, "perm=0600\nuid=1000\ngid=1000\n") {
		t.Errorf("through idmap=true the host's 0 and 1000 are not the pod's 0 and 1000: %s", r)
	}
	wantLines(t, r, "write /data/hostfile ok", "write /data/made ok")
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(vol, "made"), &st); err != nil || st.Uid != 0 || st.Gid != 0 {
		t.Errorf("the pod root's file on an idmap=true volume: owner %d:%d, %v; want the host's root (0:0)", st.Uid, st.Gid, err)
	}
	if b, _ := os.ReadFile(filepath.Join(vol, "hostfile")); string(b) != "pod" {
		t.Errorf("the host root's file, written by the pod's root through idmap=true: %q", b)
	}
	if err := syscall.Lstat(filepath.Join(vol, "alices"), &st); err != nil || st.Uid != 1000 {
		t.Errorf("alices: owner %d, %v; want 1000 as before (nothing chowned)", st.Uid, err)
	}

	// Refusals, before or instead of running anything.
	ram := t.TempDir()
	if err := syscall.Mount("ramfs", ram, "ramfs", 0, ""); err != nil {
		t.Fatalf("mount a ramfs (a file system without ID-mapped mounts) at %s: %v", ram, err)
	}
	t.Cleanup(func() { syscall.Unmount(ram, syscall.MNT_DETACH) })
	r = h.pod("--net=none", "--private-users", "--volume=data,kind=host,source="+ram+",idmap=true", img, "--exec=/testapp", "--", "write", "/data/x", "x")
	if r.code == 0 || !strings.Contains(r.stderr, "volume data") || !strings.Contains(r.stderr, "(ramfs) cannot be ID-mapped") || !strings.Contains(r.stderr, "drop idmap=true") {
		t.Errorf("idmap=true on a ramfs: want a refusal naming the volume and ramfs: %s", r)
	}
	if _, err := os.Lstat(filepath.Join(ram, "x")); err == nil {
		t.Errorf("the pod wrote to the ramfs it was refused")
	}
	r = h.pod("--net=none", "--volume=data,kind=host,source="+vol+",idmap=true", img)
	if r.code == 0 || !strings.Contains(r.stderr, "--volume data: idmap=true needs --private-users") {
		t.Errorf("idmap=true without --private-users: want a refusal: %s", r)
	}
}

// TestRunPrivateUsersDisjoint: two pods running at once get ranges that
// share no ID.
func TestRunPrivateUsersDisjoint(t *testing.T) {
	h := podHost(t)
	img := podImage(t, podManifest(t, "example.com/userns2", nil, "exit", "0"), nil)
	outs := make(chan string, 2)
	for range 2 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, e.acirun, h.args("run", "--insecure-options=image", "--net=none", "--private-users",
				img, "--exec=/testapp", "--", "cat", "/proc/self/uid_map", "+", "sleep", "3s")...).CombinedOutput()
			if err != nil {
				t.Errorf("pod: %v\n%s", err, out)
			}
			outs <- string(out)
		}()
	}
	a, b := <-outs, <-outs
	fa, ca := uidMapOf(t, result{stdout: a})
	fb, cb := uidMapOf(t, result{stdout: b})
	if fa < fb+cb && fb < fa+ca {
		t.Errorf("two running pods share IDs: %d+%d and %d+%d", fa, ca, fb, cb)
	}
}

// TestPrivateUsersUnit: a --private-users pod as its transient unit in the
// box's systemd: its app runs in the range, and acirun enter runs a command
// as one more process of the app: in the app's user namespace (not as the
// host's root), confined exactly as the app is, in its cgroups, with the
// host's PID 1 and the pod's PID 1 out of reach.
func TestPrivateUsersUnit(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/userns-unit", map[string]any{
		"isolators": []map[string]any{{"name": "os/linux/no-new-privileges", "value": true}},
	}, "sleep", "1h"), &testimage.Options{Copies: hostShell(t)}))
	uuid, _, _ := p.runDetached(ctx, "--insecure-options=image", "--net=none", "--private-users=2000000:65536", img,
		"--caps-remove=CAP_NET_RAW,CAP_CHOWN", "--seccomp=mode=remove,errno=ENOTSUP,keyctl,add_key")
	podDir := filepath.Join(p.data, "pods", uuid)
	var pid, podPid int
	for deadline := time.Now().Add(20 * time.Second); pid == 0; time.Sleep(50 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(podDir, "apps", "userns-unit", "process.json"))
		var rec struct{ PID int }
		if err == nil && json.Unmarshal(b, &rec) == nil && rec.PID > 1 {
			podPid, pid = rec.PID, hostPid(t, podDir, strconv.Itoa(rec.PID))
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app's process.json: %v %q", err, b)
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", pid))
	if f := strings.Fields(string(b)); err != nil || len(f) != 3 || f[0] != "0" || f[1] != "2000000" || f[2] != "65536" {
		t.Errorf("the app's uid_map: %q, %v; want 0 2000000 65536", b, err)
	}
	st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	app := statusFields(string(st))
	if uid := app["Uid"]; uid != "2000000 2000000 2000000 2000000" {
		t.Errorf("the app's Uid on the host: %q, want the range's first ID", uid)
	}

	// enter runs acirun enter UUID ARGS until the app is no longer
	// starting.
	enter := func(args ...string) result {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			r := p.runInBox(ctx, append([]string{"enter", uuid}, args...)...)
			if !strings.Contains(r.stderr, "still starting") || time.Now().After(deadline) {
				return r
			}
		}
	}
	r := enter("/testapp", "pid", "+", "cat", "/proc/self/status", "+", "cat", "/proc/self/uid_map",
		"+", "ls", "/proc", "+", "exe-overwrite", "+", "seccomp", "keyctl")
	wantExit(t, r, 0)
	var self map[string]string
	if i := strings.Index(r.stdout, "Name:"); i >= 0 {
		self = statusFields(r.stdout[i:])
	}
	for _, k := range []string{"CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb", "Seccomp", "Seccomp_filters", "NoNewPrivs", "Uid", "Gid", "Groups"} {
		if self[k] != app[k] && !(k == "Uid" || k == "Gid") {
			t.Errorf("%s: the entered process has %q, the app %q", k, self[k], app[k])
		}
	}
	// Seen from inside, the IDs are the namespace's: 0, as the app's are.
	for k, want := range map[string]string{"Uid": "0 0 0 0", "Gid": "0 0 0 0", "NoNewPrivs": "1", "Seccomp": "2", "CapBnd": "00000000a80405fa"} {
		if self[k] != want {
			t.Errorf("%s of the entered process: %q, want %q", k, self[k], want)
		}
	}
	if first, count := uidMapOf(t, r); first != 2000000 || count != 65536 {
		t.Errorf("the entered process's uid_map: %d %d, want 2000000 65536", first, count)
	}
	if !strings.Contains(r.stdout, "keyctl error=EOPNOTSUPP") {
		t.Errorf("keyctl in the entered process (the app's --seccomp says ENOTSUP): %s", r)
	}
	for _, w := range []string{"readlink /proc/self/exe ok target=/testapp", "readlink /proc/1/exe error=EACCES",
		"open-write /proc/1/exe error=EACCES", "open-read /proc/1/exe error=EACCES", "readdir /proc/1/root error=EACCES",
		"open-write /proc/self/exe error="} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("the entered process reaches out of its app: no %q in\n%s", w, r.stdout)
		}
	}
	// On the host, it is the app's user namespace's, and its IDs the range's.
	var mypid string
	for _, l := range strings.Split(r.stdout, "\n") {
		if v, ok := strings.CutPrefix(l, "pid="); ok {
			mypid = v
		}
	}
	if mypid == "" || mypid == strconv.Itoa(podPid) {
		t.Fatalf("the entered process's PID: %q: %s", mypid, r)
	}
	// Its RLIMIT_NOFILE is its caller's, as without --private-users (and
	// as nsenter's), not the one Go's runtime raised in the processes on
	// the way in (acirun enter, acirun-pod enter). A shell, which raises
	// nothing itself, tells.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		cmd := p.b.Command(ctx, append([]string{"sh", "-c", `ulimit -Sn 1000 && exec "$@"`, "sh"},
			p.acirun("enter", uuid, "/bin/sh", "-c", "ulimit -Sn; ulimit -Hn")...)...)
		out, err := cmd.CombinedOutput()
		if strings.Contains(string(out), "still starting") && time.Now().Before(deadline) {
			continue
		}
		if hard, _ := os.ReadFile("/proc/self/limits"); err != nil || string(out) != "1000\n"+limitField(string(hard), "Max open files", 1)+"\n" {
			t.Errorf("soft and hard RLIMIT_NOFILE of a process entered with a soft limit of 1000: %q (%v), want 1000 and the caller's hard limit", out, err)
		}
		break
	}
	r = enter("/testapp", "cat", "/proc/"+strconv.Itoa(podPid)+"/status")
	if got := statusFields(r.stdout)["Uid"]; r.code != 0 || got != "0 0 0 0" {
		t.Errorf("the app's Uid seen from the entered process: %q, want 0 (the namespace's root): %s", got, r)
	}
	// An entered process that stays, seen from the host.
	done := make(chan result, 1)
	go func() { done <- enter("/testapp", "sleep", "5s") }()
	var entered int
	for deadline := time.Now().Add(10 * time.Second); entered == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		procs, _ := filepath.Glob("/proc/[0-9]*")
		for _, pp := range procs {
			if cmd, _ := os.ReadFile(pp + "/cmdline"); string(cmd) == "/testapp\x00sleep\x005s\x00" {
				entered, _ = strconv.Atoi(filepath.Base(pp))
			}
		}
	}
	if entered == 0 {
		t.Fatalf("the entered /testapp sleep 5s is nowhere on the host: %s", <-done)
	}
	appNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid))
	for _, ns := range []string{"user", "mnt", "net", "uts", "ipc", "cgroup", "pid"} {
		a, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		e, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", entered, ns))
		if a == "" || a != e {
			t.Errorf("the entered process's %s namespace: %q, the app's %q", ns, e, a)
		}
	}
	if self, _ := os.Readlink("/proc/self/ns/user"); appNS == self {
		t.Errorf("the app runs in the host's user namespace %s", appNS)
	}
	cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if ecg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", entered)); string(ecg) != string(cg) || !strings.Contains(string(cg), "acirun-"+uuid) {
		t.Errorf("cgroups of the entered process:\n%s\nof the app:\n%s", ecg, cg)
	}
	est, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", entered))
	if uid := statusFields(string(est))["Uid"]; uid != "2000000 2000000 2000000 2000000" {
		t.Errorf("the entered process's Uid on the host: %q, want the range's first ID", uid)
	}
	if r := <-done; r.code != 0 {
		t.Errorf("acirun enter UUID /testapp sleep 5s: %s", r)
	}
}

// limitField is field i of the line of a /proc/PID/limits text for name,
// counted after the name (0 the soft limit, 1 the hard one, 2 the unit), or
// "".
func limitField(text, name string, i int) string {
	for _, l := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(l, name); ok {
			if f := strings.Fields(rest); i < len(f) {
				return f[i]
			}
		}
	}
	return ""
}
