package e2e

// End-to-end tests of the pod commands (run, prepare, run-prepared, list,
// status, rm, gc) through the real binary in a plain root shell: images
// built around testapp, pods run by the real stage1, and after every pod a
// check of the host that nothing of it is left (mounts, processes).

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/internal/testenv"
	"github.com/acirun/acirun/tests/testimage"
)

// defaultCapSet is the spec's default capability bounding set, in the order
// testapp prints it (by number).
const defaultCapSet = "CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER,CAP_FSETID,CAP_KILL,CAP_SETGID,CAP_SETUID,CAP_SETPCAP," +
	"CAP_NET_BIND_SERVICE,CAP_NET_RAW,CAP_SYS_CHROOT,CAP_MKNOD,CAP_AUDIT_WRITE,CAP_SETFCAP"

// appcPath is the PATH the appc spec gives every app.
const appcPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// podManifest returns an image manifest named name whose app runs testapp
// with args as root, with app fields overridden or added by app (isolators,
// environment, mountPoints, user, …).
func podManifest(t *testing.T, name string, app map[string]any, args ...string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(testimage.Manifest(name, args...), &m); err != nil {
		t.Fatal(err)
	}
	a := m["app"].(map[string]any)
	for k, v := range app {
		a[k] = v
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// podImage lays out an image around testapp with manifest and opt and
// builds it into an ACI with `acirun image build`; it returns the ACI's path.
func podImage(t *testing.T, manifest []byte, opt *testimage.Options) string {
	t.Helper()
	dir := t.TempDir()
	testimage.Build(t, filepath.Join(dir, "img"), manifest, e.testapp, opt)
	out := filepath.Join(dir, "image.aci")
	if b, err := exec.Command(e.acirun, "image", "build", filepath.Join(dir, "img"), out).CombinedOutput(); err != nil {
		t.Fatalf("image build: %v\n%s", err, b)
	}
	return out
}

// podHost is a host for pod tests: it needs root.
func podHost(t *testing.T) *host {
	t.Helper()
	needRoot(t)
	return newHost(t)
}

// pod runs `acirun run --insecure-options=image ARGS…` (for at most two
// minutes) and then checks that the pod left nothing behind on the host.
func (h *host) pod(args ...string) result {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := h.runCtx(ctx, append([]string{"run", "--insecure-options=image"}, args...)...)
	if ctx.Err() != nil {
		h.t.Errorf("acirun run %q did not end in 2 minutes: %s", args, r)
	}
	h.noLeftovers()
	return r
}

// podDirs lists the pods directory, without the prepare lock.
func (h *host) podDirs() []string {
	h.t.Helper()
	ents, err := os.ReadDir(filepath.Join(h.data, "pods"))
	if err != nil && !os.IsNotExist(err) {
		h.t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.Name() != ".lock" {
			names = append(names, e.Name())
		}
	}
	return names
}

// noLeftovers fails the test if a mount under the data directory is left in
// the host's mount table, or a process is left whose command line names the
// data directory (stage1 run, acirun run and init do) or that lives in a mount namespace
// with a mount of it (the apps).
func (h *host) noLeftovers() {
	h.t.Helper()
	pods := h.data + "/pods/"
	if b, err := os.ReadFile("/proc/self/mountinfo"); err != nil {
		h.t.Fatal(err)
	} else {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, h.data) {
				h.t.Errorf("mount of the pod left on the host: %s", l)
			}
		}
	}
	// The supervisor exits after its PID 1 is gone, and the kernel kills a
	// PID namespace with its PID 1, but give stragglers a moment to die.
	var left []string
	for try := 0; try < 50; try++ {
		left = podProcesses(pods)
		if len(left) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.t.Errorf("processes of the pod left running:\n%s", strings.Join(left, "\n"))
}

// podProcesses lists the processes that belong to a pod under dir (a data
// directory's pods/): those whose command line names it (stage1 run started
// by a unit, and the pod's PID 1) or its data directory as --dir (acirun
// run, in whose process stage1 runs the pod), those in a pod's mount
// namespace, and every process in the PID namespace whose PID 1
// is one of these (the apps: after pivot_root nothing in their mount table
// names the pod directory, since stage1 hands overlayfs its directories as
// /proc/self/fd/N).
func podProcesses(dir string) []string {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	var left []string
	listed := make(map[string]bool)
	podNS := make(map[string]bool)
	dataFlag := "--dir=" + strings.TrimSuffix(strings.TrimSuffix(dir, "/"), "/"+podcontract.PodsDir) + " "
	for _, p := range procs {
		cmdline, err := os.ReadFile(p + "/cmdline")
		if err != nil || len(cmdline) == 0 { // gone, or a zombie or kernel thread
			continue
		}
		cl := strings.ReplaceAll(string(cmdline), "\x00", " ")
		switch mi, _ := os.ReadFile(p + "/mountinfo"); {
		case strings.Contains(cl, dir), strings.Contains(cl, dataFlag):
			left = append(left, filepath.Base(p)+": "+cl)
		case strings.Contains(string(mi), dir):
			left = append(left, filepath.Base(p)+": "+cl+" (in a pod's mount namespace)")
		default:
			continue
		}
		listed[p] = true
		if ns, err := os.Readlink(p + "/ns/pid"); err == nil && isNamespaceInit(p) {
			podNS[ns] = true
		}
	}
	for _, p := range procs {
		if listed[p] {
			continue
		}
		ns, err := os.Readlink(p + "/ns/pid")
		if err != nil || !podNS[ns] {
			continue
		}
		cmdline, err := os.ReadFile(p + "/cmdline")
		if err != nil || len(cmdline) == 0 {
			continue
		}
		left = append(left, filepath.Base(p)+": "+strings.ReplaceAll(string(cmdline), "\x00", " ")+" (in a pod's PID namespace)")
	}
	return left
}

// isNamespaceInit tells whether the process /proc/N is PID 1 of its own PID
// namespace: the last of its NSpid numbers is 1.
func isNamespaceInit(proc string) bool {
	status, err := os.ReadFile(proc + "/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(status), "\n") {
		if ids, ok := strings.CutPrefix(l, "NSpid:"); ok {
			f := strings.Fields(ids)
			return len(f) > 1 && f[len(f)-1] == "1"
		}
	}
	return false
}

// lines returns the lines of out that start with prefix, in order.
func outLines(out, prefix string) []string {
	var ls []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			ls = append(ls, l)
		}
	}
	return ls
}

// wantLines fails t unless every want is a whole line of r's stdout.
func wantLines(t *testing.T, r result, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(strings.Split(r.stdout, "\n"), w) {
			t.Errorf("stdout lacks the line %q:\n%s", w, r)
		}
	}
}

// wantExit fails t unless r exited with code.
func wantExit(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit code %d: %s", code, r)
	}
}

// podStatus is `acirun status UUID` as a map (app-NAME keys hold the rest
// of their line).
func (h *host) podStatus(uuid string) map[string]string {
	h.t.Helper()
	r := h.ok("status", uuid)
	st := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			h.t.Fatalf("status line %q is not KEY=VALUE:\n%s", l, r.stdout)
		}
		st[k] = v
	}
	return st
}

// uuidSaveFile returns a path for --uuid-file-save and a function reading it.
func uuidSaveFile(t *testing.T) (string, func() string) {
	f := filepath.Join(t.TempDir(), "uuid")
	return f, func() string {
		t.Helper()
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("--uuid-file-save: %v", err)
		}
		u := strings.TrimSpace(string(b))
		if len(u) != 36 || strings.Count(u, "-") != 4 || strings.ToLower(u) != u {
			t.Fatalf("--uuid-file-save wrote %q, not a canonical UUID", b)
		}
		return u
	}
}

func TestRunExitCodes(t *testing.T) {
	h := podHost(t)
	img := podImage(t, podManifest(t, "example.com/codes", nil, "exit", "0"), nil)

	wantExit(t, h.pod("--net=none", img), 0)
	wantExit(t, h.pod("--net=none", img, "--exec=/testapp", "--", "exit", "7"), 7)
	wantExit(t, h.pod("--net=none", img, "--exec=/testapp", "--", "exit", "255"), 255)

	// Killed by signal N: 128+N.
	for sig, code := range map[string]int{"KILL": 137, "TERM": 143, "HUP": 129} {
		r := h.pod("--net=none", img, "--exec=/testapp", "--", "signal", sig)
		wantExit(t, r, code)
	}

	// Several apps, one fails: its code is the pod's, the others are stopped
	// (the sleeper by SIGTERM, long before its hour is up), the one done
	// before keeps its 0.
	f, uuid := uuidSaveFile(t)
	start := time.Now()
	r := h.pod("--net=none", "--uuid-file-save="+f,
		img, "--name=fine", "--exec=/testapp", "--", "exit", "0", "---",
		img, "--name=sleeper", "--exec=/testapp", "--", "sleep", "1h", "---",
		img, "--name=failing", "--exec=/testapp", "--", "sleep", "1s", "+", "exit", "9")
	wantExit(t, r, 9)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the pod took %v to stop after an app failed", d)
	}
	if !strings.Contains(r.stderr, "failing") {
		t.Errorf("stderr does not name the failing app: %s", r)
	}
	st := h.podStatus(uuid())
	want := map[string]string{
		"state":       "exited",
		"exit-code":   "9",
		"app-fine":    " exited=0",
		"app-sleeper": " exited=143 signal=SIGTERM",
		"app-failing": " exited=9",
	}
	for k, v := range want {
		got := st[k]
		if strings.HasPrefix(k, "app-") {
			// app-NAME=IMAGEID exited=…: compare what follows the image ID.
			if i := strings.IndexByte(got, ' '); i >= 0 {
				got = got[i:]
			} else {
				got = ""
			}
		}
		if got != v {
			t.Errorf("status %s=%q, want %q (status %v)", k, got, v, st)
		}
	}
	// The same image file named three ways in one pod (as given, through
	// a symlink, relative): pulled once, no waiting on the pod's own hold.
	link := filepath.Join(t.TempDir(), "link.aci")
	if err := os.Symlink(img, link); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, img)
	if err != nil {
		t.Fatal(err)
	}
	wantExit(t, h.pod("--net=none", img, "--name=a", link, "--name=b", rel, "--name=c", "--exec=/testapp", "--", "exit", "5"), 5)

	b, err := os.ReadFile(filepath.Join(h.data, "pods", uuid(), "exit.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		ExitCode int `json:"exitCode"`
		Apps     []struct {
			Name     string `json:"name"`
			ExitCode int    `json:"exitCode"`
			Signal   string `json:"signal"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(b, &ex); err != nil {
		t.Fatalf("exit.json %s: %v", b, err)
	}
	if ex.ExitCode != 9 || len(ex.Apps) != 3 {
		t.Errorf("exit.json: %s", b)
	}
}

func TestRunArgsAndExec(t *testing.T) {
	h := podHost(t)
	// The image runs "testapp hostname"; arguments after -- are appended.
	img := podImage(t, podManifest(t, "example.com/args", nil, "hostname"),
		&testimage.Options{Symlinks: map[string]string{"/bin/probe": "/testapp"}})

	r := h.pod("--net=none", "--hostname=args", img, "--", "+", "exit", "4")
	wantExit(t, r, 4)
	wantLines(t, r, "hostname=args")

	// Two apps, each with its own arguments separated by ---: the first
	// ends with 0 after printing its cwd, the second prints its pid and
	// exits 6. Neither sees the other's arguments.
	r = h.pod("--net=none", "--hostname=two",
		img, "--name=one", "--", "+", "cwd", "+", "exit", "0", "---",
		img, "--name=two", "--exec=/testapp", "--", "sleep", "1s", "+", "pid", "+", "exit", "6")
	wantExit(t, r, 6)
	if got := outLines(r.stdout, "hostname="); len(got) != 1 {
		t.Errorf("want hostname printed once (by app one only): %q", got)
	}
	if got := outLines(r.stdout, "cwd="); len(got) != 1 || got[0] != "cwd=/" {
		t.Errorf("want cwd=/ once (app one): %q", got)
	}
	if got := outLines(r.stdout, "pid="); len(got) != 1 {
		t.Errorf("want pid printed once (app two): %q", got)
	}

	// --exec with a bare name is looked up in the app's PATH, and replaces
	// the image's exec with its arguments.
	r = h.pod("--net=none", img, "--exec=probe", "--", "ids", "+", "exit", "3")
	wantExit(t, r, 3)
	wantLines(t, r, "uid=0")
	if got := outLines(r.stdout, "hostname="); len(got) != 0 {
		t.Errorf("--exec did not replace the image's exec: %q", got)
	}

	// --exec to a path that is not in the image: the pod fails, naming it.
	r = h.pod("--net=none", img, "--exec=/nonexistent/prog")
	if r.code == 0 || !strings.Contains(r.stderr, "/nonexistent/prog") {
		t.Errorf("--exec of a missing program: want a failure naming it: %s", r)
	}
}

// podEnv returns the NAME=VALUE lines of testapp env in r, sorted.
// podEnv is the environment testapp env printed, sorted. The metadata
// URL, whose token is new for every pod, reads "AC_METADATA_URL=TOKEN-URL"
// if it has the form the pod's own metadata service gives a pod with no
// network (port 18112 of its loopback, a 128-bit token).
func podEnv(r result) []string {
	var env []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if metadataURLLine.MatchString(l) {
			l = "AC_METADATA_URL=TOKEN-URL"
		}
		if l != "" {
			env = append(env, l)
		}
	}
	sort.Strings(env)
	return env
}

var metadataURLLine = regexp.MustCompile(`^AC_METADATA_URL=http://127\.0\.0\.1:18112/[0-9a-f]{32}$`)

func TestRunEnvironment(t *testing.T) {
	h := podHost(t)
	img := podImage(t, podManifest(t, "example.com/env", map[string]any{
		"environment": []map[string]string{
			{"name": "IMG", "value": "image"}, {"name": "A", "value": "image"},
			{"name": "B", "value": "image"}, {"name": "C", "value": "image"},
			{"name": "D", "value": "image"},
		},
	}, "env"), nil)
	envFile := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(envFile, []byte("# comment\nB=file\nC=file\nD=file\nFILE=file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--net=none", "--set-env-file=" + envFile, "--set-env=C=set", "--set-env=D=set", "--set-env=SET=set",
		img, "--name=envapp", "--environment=D=app", "--environment=APP=app"}
	r := h.pod(args...)
	wantExit(t, r, 0)
	want := []string{
		"A=image", "AC_APP_NAME=envapp", "AC_METADATA_URL=TOKEN-URL", "APP=app", "B=file", "C=set", "D=app", "FILE=file", "IMG=image",
		"PATH=" + appcPath, "SET=set", "container=acirun",
	}
	if got := podEnv(r); !slices.Equal(got, want) {
		t.Errorf("environment:\n got %q\nwant %q", got, want)
	}

	// --inherit-env: the host's environment comes first, everything else
	// overrides it; without the flag none of it reaches the app.
	// The runtime's own variables are the pod's even when the host, itself
	// in a container, has them.
	h.env = []string{"HOSTONLY=host", "A=host", "D=host", "AC_APP_NAME=host", "container=docker", "AC_METADATA_URL=http://host"}
	r = h.pod(append([]string{"--inherit-env"}, args...)...)
	wantExit(t, r, 0)
	wantLines(t, r, "HOSTONLY=host", "A=image", "D=app", "AC_APP_NAME=envapp", "container=acirun")
	if got := outLines(r.stdout, "AC_APP_NAME="); len(got) != 1 {
		t.Errorf("AC_APP_NAME set %d times: %q", len(got), got)
	}
	if got := outLines(r.stdout, "AC_METADATA_URL="); len(got) != 1 || !metadataURLLine.MatchString(got[0]) {
		t.Errorf("AC_METADATA_URL: %q, want once, the pod's own", got)
	}
	r = h.pod(args...)
	wantExit(t, r, 0)
	if got := podEnv(r); !slices.Equal(got, want) {
		t.Errorf("host environment reached the app without --inherit-env:\n got %q\nwant %q", got, want)
	}
}

func TestRunHostnameAndEtcFiles(t *testing.T) {
	h := podHost(t)
	img := podImage(t, podManifest(t, "example.com/etc", nil,
		"hostname", "+", "cat", "/etc/hosts", "+", "cat", "/etc/resolv.conf"), nil)

	// Default hostname: acirun- and the UUID's first 8 characters, also in
	// /etc/hosts with localhost.
	f, uuid := uuidSaveFile(t)
	r := h.pod("--net=none", "--uuid-file-save="+f, "--dns=none", img)
	wantExit(t, r, 0)
	name := "acirun-" + uuid()[:8]
	wantLines(t, r, "hostname="+name, "127.0.0.1\tlocalhost localhost.localdomain "+name,
		"cat /etc/resolv.conf error=ENOENT open /etc/resolv.conf: no such file or directory")

	r = h.pod("--net=none", "--hostname=web1", "--dns=192.0.2.53", "--dns=2001:db8::53",
		"--dns-search=a.example", "--dns-search=b.example",
		"--hosts-entry=192.0.2.10=db.example", "--hosts-entry=192.0.2.11=cache.example", img)
	wantExit(t, r, 0)
	wantLines(t, r, "hostname=web1",
		"127.0.0.1\tlocalhost localhost.localdomain web1",
		"::1\tlocalhost ip6-localhost ip6-loopback web1",
		"192.0.2.10\tdb.example", "192.0.2.11\tcache.example",
		"search a.example b.example", "nameserver 192.0.2.53", "nameserver 2001:db8::53")

	// --dns=host copies the host's resolv.conf.
	if host, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		r = h.pod("--net=none", "--dns=host", img)
		wantExit(t, r, 0)
		if !strings.Contains(r.stdout, string(host)) {
			t.Errorf("--dns=host: the host's resolv.conf %q is not in the pod's:\n%s", host, r.stdout)
		}
	}

	// A bad --dns or --hosts-entry is a usage error naming the value, and
	// no pod is left.
	for _, bad := range []string{"--dns=not-an-ip", "--hosts-entry=nonsense"} {
		r = h.pod("--net=none", bad, img)
		if r.code != 2 || !strings.Contains(r.stderr, strings.SplitN(bad, "=", 2)[1]) {
			t.Errorf("%s: want exit 2 naming the value: %s", bad, r)
		}
	}
}

func TestRunVolumes(t *testing.T) {
	h := podHost(t)
	img := podImage(t, podManifest(t, "example.com/vols", map[string]any{
		"mountPoints": []map[string]any{
			{"name": "data", "path": "/data"},
			{"name": "scratch", "path": "/var/scratch"},
		},
	}, "exit", "0"), &testimage.Options{Files: map[string]string{"/data/hidden": "image file under the mount point"}})
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "in"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// A read-write host volume: read the host's file, write one back; the
	// image's own file under the mount point is hidden.
	r := h.pod("--net=none", "--volume=data,kind=host,source="+src,
		"--volume=scratch,kind=empty,mode=0710,uid=1000,gid=2000",
		img, "--exec=/testapp", "--", "cat", "/data/in", "+", "write", "/data/out", "from the pod",
		"+", "ls", "/data", "+", "stat", "/var/scratch", "+", "write", "/var/scratch/x", "y")
	wantExit(t, r, 0)
	wantLines(t, r, "from the host", "write /data/out ok", "type=dir", "perm=0710", "uid=1000", "gid=2000",
		"write /var/scratch/x ok")
	if strings.Contains(r.stdout, "hidden") {
		t.Errorf("the image's file under the mount point is visible: %s", r)
	}
	if b, err := os.ReadFile(filepath.Join(src, "out")); err != nil || string(b) != "from the pod" {
		t.Errorf("host volume: out = %q, %v", b, err)
	}

	// Read-only host volume: writes fail with EROFS, the host file stays.
	r = h.pod("--net=none", "--volume=data,kind=host,source="+src+",readOnly=true",
		img, "--exec=/testapp", "--", "write", "/data/in", "overwritten", "+", "cat", "/data/in")
	wantExit(t, r, 0)
	wantLines(t, r, "write /data/in error=EROFS open /data/in: read-only file system", "from the host")
	if b, _ := os.ReadFile(filepath.Join(src, "in")); string(b) != "from the host\n" {
		t.Errorf("read-only volume changed on the host: %q", b)
	}

	// A volume mounted at a target that is no mount point of the image,
	// nested below another volume, with --mount.
	nested := t.TempDir()
	os.WriteFile(filepath.Join(nested, "n"), []byte("nested\n"), 0o644)
	r = h.pod("--net=none", "--volume=data,kind=host,source="+src, "--volume=extra,kind=host,source="+nested,
		img, "--mount=volume=extra,target=/data/sub/dir", "--exec=/testapp", "--", "cat", "/data/sub/dir/n", "+", "cat", "/data/in")
	wantExit(t, r, 0)
	wantLines(t, r, "nested", "from the host")

	// Missing host source: a clear error naming it, and no pod left.
	before := h.podDirs()
	r = h.pod("--net=none", "--volume=data,kind=host,source="+filepath.Join(src, "missing"), img)
	if r.code != 254 || !strings.Contains(r.stderr, filepath.Join(src, "missing")) || !strings.Contains(r.stderr, "data") {
		t.Errorf("missing host source: want exit 254 naming volume and path: %s", r)
	}
	if after := h.podDirs(); !slices.Equal(before, after) {
		t.Errorf("a refused pod left a directory: before %v, after %v", before, after)
	}

	// --mount of a volume that does not exist: an error naming it, no pod.
	r = h.pod("--net=none", img, "--mount=volume=nosuchvol,target=/data")
	if r.code == 0 || !strings.Contains(r.stderr, "nosuchvol") {
		t.Errorf("unknown volume in --mount: want an error naming it: %s", r)
	}
	if after := h.podDirs(); !slices.Equal(before, after) {
		t.Errorf("a refused pod left a directory: before %v, after %v", before, after)
	}
}

func TestRunUserGroup(t *testing.T) {
	h := podHost(t)
	opt := &testimage.Options{Files: map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/:/bin/sh\n",
		"/etc/group":  "root:x:0:\nalice:x:1000:\nbob:x:1001:\nstaff:x:50:alice,bob\n",
	}}
	img := podImage(t, podManifest(t, "example.com/users", map[string]any{"user": "alice", "group": "staff"}, "ids"), opt)
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"image's names", nil, []string{"uid=1000", "euid=1000", "gid=50", "egid=50", "groups="}},
		{"numbers", []string{"--user=4242", "--group=4343"}, []string{"uid=4242", "gid=4343"}},
		{"names", []string{"--user=bob", "--group=bob"}, []string{"uid=1001", "gid=1001"}},
		{"supplementary", []string{"--user=0", "--group=0", "--supplementary-gids=7,50,1000"}, []string{"uid=0", "gid=0", "groups=7,50,1000"}},
		{"path", []string{"--user=/etc/passwd", "--group=/etc/group"}, []string{"uid=0", "gid=0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := h.pod(append([]string{"--net=none", img}, c.args...)...)
			wantExit(t, r, 0)
			wantLines(t, r, c.want...)
		})
	}
	// A user the image does not know: the app does not run, the error names it.
	r := h.pod("--net=none", img, "--user=mallory")
	if r.code == 0 || !strings.Contains(r.stderr, "mallory") || strings.Contains(r.stdout, "uid=") {
		t.Errorf("unknown user: want a failure naming it: %s", r)
	}
}

func TestRunCapabilities(t *testing.T) {
	h := podHost(t)
	img := podImage(t, podManifest(t, "example.com/caps", nil, "caps"), nil)

	r := h.pod("--net=none", img)
	wantExit(t, r, 0)
	wantLines(t, r, "CapBnd-names="+defaultCapSet, "CapEff-names="+defaultCapSet, "CapAmb=0000000000000000")

	r = h.pod("--net=none", img, "--caps-retain=CAP_KILL,CAP_CHOWN")
	wantExit(t, r, 0)
	wantLines(t, r, "CapBnd-names=CAP_CHOWN,CAP_KILL", "CapEff-names=CAP_CHOWN,CAP_KILL")

	r = h.pod("--net=none", img, "--caps-remove=CAP_CHOWN,CAP_NET_RAW,CAP_MKNOD")
	wantExit(t, r, 0)
	wantLines(t, r, "CapBnd-names=CAP_DAC_OVERRIDE,CAP_FOWNER,CAP_FSETID,CAP_KILL,CAP_SETGID,CAP_SETUID,CAP_SETPCAP,"+
		"CAP_NET_BIND_SERVICE,CAP_SYS_CHROOT,CAP_AUDIT_WRITE,CAP_SETFCAP")

	// An image asking for CAP_SYS_ADMIN does not get it unless the operator
	// says --insecure-options=capabilities, and acirun says so either way.
	admin := podImage(t, podManifest(t, "example.com/admin", map[string]any{
		"isolators": []map[string]any{{"name": "os/linux/capabilities-retain-set", "value": map[string]any{"set": []string{"CAP_SYS_ADMIN", "CAP_CHOWN"}}}},
	}, "caps"), nil)
	r = h.pod("--net=none", admin)
	if !strings.Contains(r.stderr, "CAP_SYS_ADMIN") || !strings.Contains(r.stderr, "--insecure-options=capabilities") {
		t.Errorf("CAP_SYS_ADMIN refused without a word: %s", r)
	}
	if strings.Contains(r.stdout, "CAP_SYS_ADMIN") {
		t.Fatalf("the app got CAP_SYS_ADMIN without --insecure-options=capabilities: %s", r)
	}
	r = h.pod("--net=none", "--insecure-options=capabilities", admin)
	wantExit(t, r, 0)
	wantLines(t, r, "CapBnd-names=CAP_CHOWN,CAP_SYS_ADMIN")
	if !strings.Contains(r.stderr, "WARNING") || !strings.Contains(r.stderr, "CAP_SYS_ADMIN") {
		t.Errorf("CAP_SYS_ADMIN granted without a warning: %s", r)
	}

	// The operator's own --caps-retain is the operator's intent: it needs no
	// --insecure-options=capabilities, for an image that asks for nothing
	// and for one that asks for more (whose set it replaces).
	r = h.pod("--net=none", img, "--caps-retain=CAP_SYS_ADMIN,CAP_KILL")
	wantExit(t, r, 0)
	wantLines(t, r, "CapBnd-names=CAP_KILL,CAP_SYS_ADMIN", "CapEff-names=CAP_KILL,CAP_SYS_ADMIN")
	if !strings.Contains(r.stderr, "as the operator's --caps-retain names them") {
		t.Errorf("the operator's grant of CAP_SYS_ADMIN is not reported: %s", r)
	}
	r = h.pod("--net=none", admin, "--caps-retain=CAP_SYS_ADMIN")
	wantExit(t, r, 0)
	wantLines(t, r, "CapBnd-names=CAP_SYS_ADMIN")
	r = h.pod("--net=none", admin, "--caps-remove=CAP_NET_RAW")
	wantExit(t, r, 0)
	if strings.Contains(r.stdout, "CAP_SYS_ADMIN") || !strings.Contains(r.stdout, "CAP_CHOWN") {
		t.Errorf("--caps-remove from the operator: want the default set less CAP_NET_RAW: %s", r)
	}
	// Nobody but stage0 may speak for the operator.
	r = h.pod("--net=none", admin, "--user-annotation=acirun.io/operator-capabilities=true")
	if r.code == 0 || !strings.Contains(r.stderr, "acirun.io/operator-capabilities") || strings.Contains(r.stdout, "CAP_SYS_ADMIN") {
		t.Errorf("--user-annotation acirun.io/operator-capabilities: want a refusal: %s", r)
	}
}

func TestRunProcAndSeccomp(t *testing.T) {
	h := podHost(t)
	img := podImage(t, podManifest(t, "example.com/proc", nil, "exit", "0"), nil)

	// Read-only: /proc/sys and /proc/sysrq-trigger.
	r := h.pod("--net=none", img, "--exec=/testapp", "--",
		"write", "/proc/sys/kernel/hostname", "escaped", "+", "write", "/proc/sysrq-trigger", "h", "+", "seccomp")
	wantExit(t, r, 0)
	wantLines(t, r, "write /proc/sys/kernel/hostname error=EROFS open /proc/sys/kernel/hostname: read-only file system")
	if _, err := os.Stat("/proc/sysrq-trigger"); err == nil {
		wantLines(t, r, "write /proc/sysrq-trigger error=EROFS open /proc/sysrq-trigger: read-only file system")
	} else {
		t.Logf("this kernel has no /proc/sysrq-trigger")
		wantLines(t, r, "write /proc/sysrq-trigger error=ENOENT open /proc/sysrq-trigger: no such file or directory")
	}

	// Masked: each of these that exists on the host is, in the pod, an
	// empty character device (a bind of /dev/null): stat shows it, and cat
	// prints nothing.
	var probe []string
	for _, m := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/latency_stats"} {
		if _, err := os.Stat(m); err != nil {
			t.Logf("this kernel has no %s", m)
			continue
		}
		probe = append(probe, "+", "stat", m, "+", "cat", m)
	}
	if len(probe) == 0 {
		t.Fatal("no maskable /proc file exists on this host: masking is untested")
	}
	mr := h.pod(append([]string{"--net=none", img, "--exec=/testapp", "--"}, probe[1:]...)...)
	wantExit(t, mr, 0)
	if want := strings.Repeat("type=chardev\nperm=0666\nuid=0\ngid=0\nsize=0\n", len(probe)/6); mr.stdout != want {
		t.Errorf("masked /proc files (%q):\n got %q\nwant %q", probe, mr.stdout, want)
	}

	// The default seccomp filter denies these with EPERM.
	wantLines(t, r, "mount error=EPERM operation not permitted", "umount2 error=EPERM operation not permitted",
		"unshare error=EPERM operation not permitted", "keyctl error=EPERM operation not permitted",
		"setns error=EPERM operation not permitted", "bpf error=EPERM operation not permitted")

	// With --insecure-options=seccomp the filter is gone: setns of fd -1 gets
	// EBADF from the kernel, keyctl reaches the keyring code.
	r = h.pod("--net=none", "--insecure-options=seccomp", img, "--exec=/testapp", "--", "seccomp", "setns", "bpf")
	wantExit(t, r, 0)
	wantLines(t, r, "setns error=EBADF bad file descriptor")
	if !strings.Contains(r.stderr, "seccomp") {
		t.Errorf("--insecure-options=seccomp without a warning: %s", r)
	}
}

func TestRunStopTimeout(t *testing.T) {
	h := podHost(t)
	img := podImage(t, podManifest(t, "example.com/stop", nil, "exit", "0"), nil)
	f, uuid := uuidSaveFile(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.acirun, h.args("run", "--insecure-options=image", "--net=none",
		"--stop-timeout=2s", "--uuid-file-save="+f,
		img, "--name=stubborn", "--exec=/testapp", "--", "ignore-sigterm", "---",
		img, "--name=polite", "--exec=/testapp", "--", "sleep", "1h")...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "ignoring SIGTERM" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the app did not start: %q %v\n%s", sc.Text(), sc.Err(), stderr.String())
	}
	if st := h.podStatus(uuid()); st["state"] != "running" {
		t.Errorf("status of the running pod: %v", st)
	}
	// The leftover check sees a running pod: stage1 run, its PID 1, two apps
	// (the second maybe a moment after the first has said it runs: PID 1
	// starts them one after the other).
	procs := podProcesses(h.data + "/pods/")
	for deadline := time.Now().Add(5 * time.Second); len(procs) != 4 && time.Now().Before(deadline); procs = podProcesses(h.data + "/pods/") {
		time.Sleep(10 * time.Millisecond)
	}
	if len(procs) != 4 {
		t.Errorf("processes of the running pod: want 4, found %q", procs)
	}
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
	}
	err = cmd.Wait()
	took := time.Since(sent)
	code := cmd.ProcessState.ExitCode()
	if took < 2*time.Second || took > 7*time.Second {
		t.Errorf("pod stopped %v after SIGTERM, want the 2s stop timeout (and not much more)", took)
	}
	if !strings.Contains(stderr.String(), "stubborn") || !strings.Contains(stderr.String(), "SIGKILL") {
		t.Errorf("stderr does not say the app was killed: %s", stderr.String())
	}
	st := h.podStatus(uuid())
	if st["state"] != "exited" || !strings.HasSuffix(st["app-stubborn"], " exited=137 signal=SIGKILL") ||
		!strings.HasSuffix(st["app-polite"], " exited=143 signal=SIGTERM") {
		t.Errorf("status after the stop: %v", st)
	}
	if code != 143 || st["exit-code"] != "143" {
		t.Errorf("pod stopped by SIGTERM exited %d (%v), status exit-code=%s, want 143 (the first app to end, by SIGTERM)",
			code, err, st["exit-code"])
	}
	h.noLeftovers()
}

func TestRunMemoryIsolator(t *testing.T) {
	h := podHost(t)
	img := podImage(t, podManifest(t, "example.com/hog", nil, "alloc", "128"), nil)
	f, uuid := uuidSaveFile(t)
	r := h.pod("--net=none", "--uuid-file-save="+f, img, "--memory=32M")
	if !strings.Contains(r.stderr, "resource/memory") {
		t.Errorf("the memory isolator is not reported: %s", r)
	}
	if strings.Contains(r.stderr, "resource/memory: enforced") {
		// Enforced: the app dies by SIGKILL on the way to 128 MiB.
		wantExit(t, r, 137)
		if strings.Contains(r.stdout, "alloc ok") || strings.Contains(r.stdout, "allocated 40 MiB") || !strings.Contains(r.stdout, "allocated 8 MiB") {
			t.Errorf("the app got past --memory=32M: %s", r)
		}
	} else {
		// No writable memory cgroup: it runs, and acirun says so; a
		// limit that is not enforced is a failure under CI.
		testenv.UnmetPart(t, "--memory=32M: no writable memory cgroup here: "+r.stderr,
			"CI's machine has a writable memory cgroup, and the box mounts its hierarchies fresh")
		wantExit(t, r, 0)
		if !strings.Contains(r.stderr, "resource/memory: not enforced") {
			t.Errorf("the memory isolator is neither enforced nor reported as not enforced: %s", r)
		}
	}
	// Nothing of the pod is left in any cgroup hierarchy.
	name := "acirun-" + uuid()
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if d.Name() == name {
			t.Errorf("cgroup of the pod left: %s", p)
			return filepath.SkipDir
		}
		if strings.Count(p, "/") > 10 {
			return filepath.SkipDir
		}
		return nil
	})
}

func TestRunEventHandlers(t *testing.T) {
	h := podHost(t)
	opt := &testimage.Options{Files: map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/:/bin/sh\n",
		"/etc/group":  "root:x:0:\nalice:x:1000:\n",
	}}
	handlers := func(pre ...string) map[string]any {
		return map[string]any{
			"user": "alice", "group": "alice",
			"mountPoints": []map[string]any{{"name": "data", "path": "/data"}},
			"eventHandlers": []map[string]any{
				{"name": "pre-start", "exec": append([]string{"/testapp"}, pre...)},
				{"name": "post-stop", "exec": []string{"/testapp", "write", "/data/post", "post-stop"}},
			},
		}
	}
	img := podImage(t, podManifest(t, "example.com/handlers", handlers("ids", "+", "write", "/data/pre", "pre-start"),
		"ids", "+", "write", "/data/app", "app", "+", "exit", "5"), opt)
	vol := t.TempDir()
	os.Chmod(vol, 0o777)

	// pre-start runs as root before the app, which runs as alice; post-stop
	// runs after it, and the app's exit code is the pod's.
	r := h.pod("--net=none", "--volume=data,kind=host,source="+vol, img)
	wantExit(t, r, 5)
	if got := outLines(r.stdout, "uid="); !slices.Equal(got, []string{"uid=0", "uid=1000"}) {
		t.Errorf("pre-start then app: uids %q, want root then alice:\n%s", got, r)
	}
	for name, want := range map[string]struct {
		content string
		uid     uint32
	}{"pre": {"pre-start", 0}, "app": {"app", 1000}, "post": {"post-stop", 0}} {
		p := filepath.Join(vol, name)
		b, err := os.ReadFile(p)
		if err != nil || string(b) != want.content {
			t.Errorf("%s: %q, %v; want %q", p, b, err, want.content)
			continue
		}
		fi, _ := os.Stat(p)
		if name != "post" && fi.Sys().(*syscall.Stat_t).Uid != want.uid {
			t.Errorf("%s written by uid %d, want %d", p, fi.Sys().(*syscall.Stat_t).Uid, want.uid)
		}
		os.Remove(p)
	}

	// A failing pre-start keeps the app from starting and fails the pod.
	bad := podImage(t, podManifest(t, "example.com/badpre", handlers("exit", "3"),
		"write", "/data/app", "app"), opt)
	r = h.pod("--net=none", "--volume=data,kind=host,source="+vol, bad)
	if r.code == 0 || !strings.Contains(r.stderr, "pre-start") {
		t.Errorf("failing pre-start: want a failure naming it: %s", r)
	}
	if _, err := os.Stat(filepath.Join(vol, "app")); err == nil {
		t.Errorf("the app ran although its pre-start handler failed")
	}
}

func TestPrepareAndPodCommands(t *testing.T) {
	h := podHost(t)
	img := podImage(t, podManifest(t, "example.com/prep", nil, "exit", "6"), nil)

	// prepare prints the UUID (and nothing else on stdout) and writes it
	// to --uuid-file-save.
	f, saved := uuidSaveFile(t)
	r := h.ok("prepare", "--insecure-options=image", "--net=none", "--uuid-file-save="+f, img)
	uuid := strings.TrimSpace(r.stdout)
	if uuid != saved() {
		t.Fatalf("prepare printed %q, --uuid-file-save has %q", r.stdout, saved())
	}
	if st := h.podStatus(uuid); st["state"] != "prepared" || st["exit-code"] != "" {
		t.Errorf("status of a prepared pod: %v", st)
	}
	r = h.ok("list", "--full")
	if !strings.Contains(r.stdout, uuid) || !strings.Contains(r.stdout, "prepared") || !strings.Contains(r.stdout, "example.com/prep") {
		t.Errorf("list lacks the prepared pod:\n%s", r.stdout)
	}
	// A prepared pod is not garbage.
	h.ok("gc", "--grace-period=0s")
	if st := h.podStatus(uuid); st["state"] != "prepared" {
		t.Fatalf("gc removed a prepared pod: %v", st)
	}

	// run-prepared runs it, with the app's exit code; by a UUID prefix too.
	r = h.run("run-prepared", uuid[:8])
	h.noLeftovers()
	wantExit(t, r, 6)
	st := h.podStatus(uuid)
	if st["state"] != "exited" || st["exit-code"] != "6" || !strings.HasSuffix(st["app-prep"], " exited=6") {
		t.Errorf("status after run-prepared: %v", st)
	}
	r = h.ok("list", "--format=json", "--full")
	var pods []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &pods); err != nil {
		t.Fatalf("list --format=json: %v\n%s", err, r.stdout)
	}
	if len(pods) != 1 || pods[0]["uuid"] != uuid || pods[0]["state"] != "exited" {
		t.Errorf("list --format=json: %s", r.stdout)
	}
	// Not twice.
	r = h.run("run-prepared", uuid)
	if r.code != 254 || !strings.Contains(r.stderr, "exited") {
		t.Errorf("run-prepared of an exited pod: %s", r)
	}

	// rm removes it, and then it is gone for status, rm and list.
	r = h.ok("rm", uuid)
	if strings.TrimSpace(r.stdout) != "removed "+uuid {
		t.Errorf("rm printed %q", r.stdout)
	}
	if dirs := h.podDirs(); len(dirs) != 0 {
		t.Errorf("rm left %v", dirs)
	}
	if r := h.run("status", uuid); r.code != 254 || !strings.Contains(r.stderr, uuid) {
		t.Errorf("status of a removed pod: %s", r)
	}
	if r := h.run("rm", uuid); r.code != 254 {
		t.Errorf("rm of a removed pod: %s", r)
	}

	// gc keeps exited pods younger than the grace period, removes them
	// with --grace-period=0s, and leaves prepared ones.
	wantExit(t, h.pod("--net=none", img), 6)
	kept := strings.TrimSpace(h.ok("prepare", "--insecure-options=image", "--net=none", img).stdout)
	if r := h.ok("gc"); strings.Contains(r.stdout, "removed") {
		t.Errorf("gc with the default grace period removed a fresh pod: %s", r.stdout)
	}
	if dirs := h.podDirs(); len(dirs) != 2 {
		t.Fatalf("pods before gc: %v", dirs)
	}
	r = h.ok("gc", "--grace-period=0s")
	if n := strings.Count(r.stdout, "removed "); n != 1 {
		t.Errorf("gc --grace-period=0s: %s", r.stdout)
	}
	if dirs := h.podDirs(); !slices.Equal(dirs, []string{kept}) {
		t.Errorf("after gc: %v, want only the prepared %s", dirs, kept)
	}
	h.ok("rm", kept)
	if dirs := h.podDirs(); len(dirs) != 0 {
		t.Errorf("rm left %v", dirs)
	}
}

func TestRunBadInput(t *testing.T) {
	h := podHost(t)
	img := podImage(t, podManifest(t, "example.com/bad", nil, "exit", "0"), nil)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--bogus", img}, 2, "--bogus"},
		{[]string{img, "--bogus-app-flag"}, 2, "--bogus-app-flag"},
		{[]string{"--net=none", "--net=none", img}, 2, "--net"},
		{[]string{img, "--mount=volume=ghost,target=/x"}, 2, "ghost"},
		{[]string{"--volume=v,kind=cloud", img}, 2, "cloud"},
		{[]string{"--stop-timeout=soon", img}, 2, "soon"},
		{[]string{img, "--user="}, 2, "--user"},
		{[]string{"--set-env-file=/nonexistent/env", img}, 254, "/nonexistent/env"},
		{[]string{filepath.Join(t.TempDir(), "missing.aci")}, 254, "missing.aci"},
		{nil, 2, "IMAGE"},
	} {
		r := h.pod(c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("run %q: want exit %d and %q in stderr: %s", c.args, c.code, c.want, r)
		}
	}
	if dirs := h.podDirs(); len(dirs) != 0 {
		t.Errorf("refused pods left %v", dirs)
	}
	if r := h.run("run-prepared", "00000000-0000-4000-8000-000000000000"); r.code != 254 || !strings.Contains(r.stderr, "00000000") {
		t.Errorf("run-prepared of an unknown pod: %s", r)
	}
	if r := h.run("run-prepared"); r.code != 2 {
		t.Errorf("run-prepared without a UUID: %s", r)
	}
}

func TestRunHostIsolation(t *testing.T) {
	h := podHost(t)
	img := podImage(t, podManifest(t, "example.com/isolation", nil, "fds", "+", "zombies", "+", "exe-overwrite"), nil)
	binBefore, err := os.ReadFile(e.acirun)
	if err != nil {
		t.Fatal(err)
	}

	// A descriptor the caller leaves open (not close-on-exec) must not
	// reach the app, nor any of acirun's own (store and pod locks).
	leak, err := os.Open("/etc/hostname")
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.acirun, h.args("run", "--insecure-options=image", "--net=none", img)...)
	cmd.ExtraFiles = []*os.File{leak} // fd 3 in acirun
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	h.noLeftovers()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if fds := outLines(r.stdout, "fd="); len(fds) != 3 || !strings.HasPrefix(fds[0], "fd=0 ") || !strings.HasPrefix(fds[2], "fd=2 ") {
		t.Errorf("descriptors other than 0-2 reach the app: %q", fds)
	}
	// Orphans are reaped by the pod's PID 1.
	wantLines(t, r, "orphaned=3", "zombies=0")
	// CVE-2019-5736: the runtime's binary cannot be opened for writing, the
	// host's root is out of reach through /proc/1/root.
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(l, "open-write ") && !strings.Contains(l, " error=") ||
			strings.HasPrefix(l, "create /proc/1/root") && !strings.Contains(l, " error=") ||
			strings.HasPrefix(l, "readdir /proc/1/root ok") {
			t.Errorf("the app reached the host: %q", l)
		}
	}
	if len(outLines(r.stdout, "open-write ")) != 2 {
		t.Errorf("exe-overwrite did not run:\n%s", r)
	}
	if binAfter, _ := os.ReadFile(e.acirun); !slices.Equal(binBefore, binAfter) {
		t.Errorf("the acirun binary changed while the pod ran")
	}
}

func TestRunHostileRootfs(t *testing.T) {
	h := podHost(t)
	sentinel := t.TempDir()
	if err := os.WriteFile(filepath.Join(sentinel, "file"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	app := map[string]any{"mountPoints": []map[string]any{{"name": "data", "path": "/data"}}}
	args := []string{"stat", "/dev/null", "+", "write", "/dev/null", "x", "+", "write", "/data/x", "y", "+", "ls", "/data"}
	check := func(t *testing.T) {
		t.Helper()
		if b, _ := os.ReadFile(filepath.Join(sentinel, "file")); string(b) != "keep" {
			t.Errorf("the host file behind a symlink in the image changed: %q", b)
		}
		if ents, _ := os.ReadDir(sentinel); len(ents) != 1 {
			t.Errorf("the pod wrote into the host directory behind a symlink: %v", ents)
		}
	}

	// /dev/null a symlink to a host file: /dev is the pod's own tmpfs.
	img := podImage(t, podManifest(t, "example.com/hostile-devnull", app, args...),
		&testimage.Options{Symlinks: map[string]string{"/dev/null": filepath.Join(sentinel, "file")}})
	r := h.pod("--net=none", img)
	wantExit(t, r, 0)
	wantLines(t, r, "type=chardev", "write /dev/null ok", "write /data/x ok", "x")
	check(t)

	// A mount point that is a symlink leading out of the root: resolved
	// inside the root, the volume lands there, the host directory stays.
	img = podImage(t, podManifest(t, "example.com/hostile-target", app, args...),
		&testimage.Options{Symlinks: map[string]string{"/data": "../../../../../../../.." + sentinel}})
	r = h.pod("--net=none", img)
	wantExit(t, r, 0)
	wantLines(t, r, "write /data/x ok", "x")
	check(t)

	// /proc a symlink to /: refused, naming it, before the app runs.
	img = podImage(t, podManifest(t, "example.com/hostile-proc", app, args...),
		&testimage.Options{Symlinks: map[string]string{"/proc": "/"}})
	r = h.pod("--net=none", img)
	if r.code != 254 || !strings.Contains(r.stderr, "/proc") || r.stdout != "" {
		t.Errorf("symlinked /proc: want exit 254 naming /proc, and no app: %s", r)
	}
	check(t)
}

func TestRunRootsArePrivate(t *testing.T) {
	h := podHost(t)
	img := podImage(t, podManifest(t, "example.com/roots", nil, "exit", "0"),
		&testimage.Options{Files: map[string]string{"/etc/motd": "from the image\n"}})
	for _, mode := range [][]string{nil, {"--no-overlay"}} {
		// An app's writes to its root stay in its pod and its app: the
		// next pod of the same image, and the other app of the same pod,
		// see the image as it is.
		args := append([]string{"--net=none"}, mode...)
		r := h.pod(append(args, img, "--exec=/testapp", "--", "write", "/written", "x", "+", "write", "/etc/motd", "clobbered")...)
		wantExit(t, r, 0)
		wantLines(t, r, "write /written ok", "write /etc/motd ok")
		r = h.pod(append(args,
			img, "--name=writer", "--exec=/testapp", "--", "write", "/mine", "x", "---",
			img, "--name=reader", "--exec=/testapp", "--", "sleep", "1s", "+", "stat", "/mine", "+", "stat", "/written", "+", "cat", "/etc/motd")...)
		wantExit(t, r, 0)
		wantLines(t, r, "write /mine ok", "stat /mine error=ENOENT lstat /mine: no such file or directory",
			"stat /written error=ENOENT lstat /written: no such file or directory", "from the image")
	}
	// The store's rendered tree is untouched.
	motd, _ := filepath.Glob(filepath.Join(h.data, "store", "trees", "*", "rootfs", "etc", "motd"))
	if len(motd) != 1 {
		t.Fatalf("rendered tree not found where expected: %v", motd)
	}
	if b, _ := os.ReadFile(motd[0]); string(b) != "from the image\n" {
		t.Errorf("a pod wrote into the store's tree: %q", b)
	}
	if written, _ := filepath.Glob(filepath.Join(h.data, "store", "*", "*", "rootfs", "written")); len(written) != 0 {
		t.Errorf("a pod wrote into the store: %v", written)
	}
}

func TestRunConcurrentPods(t *testing.T) {
	h := podHost(t)
	img := podImage(t, podManifest(t, "example.com/many", nil, "exit", "0"), nil)
	// Six pods of one image not yet in the store, at once: one import, six
	// pods, each with its own exit code.
	const n = 6
	codes := make(chan [2]int, n)
	for i := 1; i <= n; i++ {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, e.acirun, h.args("run", "--insecure-options=image", "--net=none",
				img, "--exec=/testapp", "--", "exit", strconv.Itoa(i))...)
			cmd.Run()
			codes <- [2]int{i, cmd.ProcessState.ExitCode()}
		}()
	}
	for range n {
		c := <-codes
		if c[0] != c[1] {
			t.Errorf("pod %d exited %d", c[0], c[1])
		}
	}
	h.noLeftovers()
	if ids := h.storeIDs(); len(ids) != 1 {
		t.Errorf("store after concurrent pods: %v", ids)
	}
	if dirs := h.podDirs(); len(dirs) != n {
		t.Errorf("want %d pods, have %v", n, dirs)
	}
}
