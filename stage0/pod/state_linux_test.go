package pod

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/flock"
	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/internal/testenv"
)

// TestMain doubles as the lock holder: with ACIRUN_TEST_HOLD_LOCK set, the
// test binary takes LOCK_EX on that file, says "locked", and keeps it until
// its stdin closes, as a running stage1 would.
//
// With ACIRUN_TEST_PREPARE_CRASH set to a prepareStep, it prepares a pod
// instead and SIGKILLs itself at that step (TestCrashAtEveryPrepareStep).
func TestMain(m *testing.M) {
	if step := os.Getenv("ACIRUN_TEST_PREPARE_CRASH"); step != "" {
		os.Exit(crashingPrepare(prepareStep(step), os.Getenv("ACIRUN_TEST_DATA"), os.Getenv("ACIRUN_TEST_IMAGE")))
	}
	if name := os.Getenv("ACIRUN_TEST_HOLD_LOCK"); name != "" {
		f, err := flock.Lock(context.Background(), name, true)
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		defer f.Close()
		os.Stdout.WriteString("locked\n")
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holdLock makes another process hold the lock until the test ends.
func holdLock(t *testing.T, name string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ACIRUN_TEST_HOLD_LOCK="+name)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("lock holder: %q, %v", line, err)
	}
}

// preparedPod prepares a pod with one app and returns its directory.
func preparedPod(t *testing.T, data string) *Pod {
	t.Helper()
	img := testImage(t, manifestJSON("example.com/hello", `{"exec":["/hello"],"user":"0","group":"0"}`))
	p, _, err := Prepare(context.Background(), Config{DataDir: data, Resolver: mapResolver{"a": img}}, apps("a"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPodStates(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  State
		check func(t *testing.T, p *Pod)
	}{
		{"prepared", func(t *testing.T, dir string) {}, StatePrepared, nil},
		{"running", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "pid"), "4242\n")
			holdLock(t, filepath.Join(dir, "lock"))
		}, StateRunning, func(t *testing.T, p *Pod) {
			if p.PID != 4242 || p.Started.IsZero() || p.ExitCode != nil {
				t.Errorf("pod %+v", p)
			}
		}},
		{"starting: lock held, no pid yet", func(t *testing.T, dir string) {
			holdLock(t, filepath.Join(dir, "lock"))
		}, StateRunning, nil},
		{"stopping: exit.json written, lock still held", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "pid"), "1\n")
			write(t, filepath.Join(dir, "exit.json"), `{"exitCode":3,"apps":[]}`)
			holdLock(t, filepath.Join(dir, "lock"))
		}, StateRunning, func(t *testing.T, p *Pod) {
			if p.ExitCode != nil || !p.Exited.IsZero() {
				t.Errorf("a running pod has no exit code yet: %+v", p)
			}
		}},
		{"exited", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "pid"), "4242\n")
			write(t, filepath.Join(dir, "exit.json"), `{"exitCode": 137, "apps": [{"name": "hello", "exitCode": 137, "signal": "SIGKILL"}]}`)
		}, StateExited, func(t *testing.T, p *Pod) {
			if p.ExitCode == nil || *p.ExitCode != 137 || p.Exited.IsZero() {
				t.Errorf("pod %+v", p)
			}
			if a := p.Apps[0]; a.ExitCode == nil || *a.ExitCode != 137 || a.Signal != "SIGKILL" {
				t.Errorf("app %+v", a)
			}
		}},
		{"stage1 died without exit.json", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "pid"), "4242\n")
		}, StateExited, func(t *testing.T, p *Pod) {
			if p.ExitCode != nil {
				t.Errorf("exit code %d, want unknown", *p.ExitCode)
			}
		}},
		{"abandoned", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "prepared"))
		}, StateAbandoned, nil},
		{"preparing", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "prepared"))
			holdLock(t, filepath.Join(dir, "lock"))
		}, StatePreparing, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			p := preparedPod(t, data)
			tt.setup(t, p.Dir)
			got, err := Load(data, p.UUID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tt.want {
				t.Errorf("state %s, want %s", got.State, tt.want)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestLoadByPrefix(t *testing.T) {
	data := t.TempDir()
	p := preparedPod(t, data)
	got, err := Load(data, strings.ToUpper(p.UUID[:6]))
	if err != nil || got.UUID != p.UUID {
		t.Fatalf("Load(prefix) = %v, %v", got, err)
	}
	if _, err := Load(data, "ffffffff-0000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load(unknown) error %v, want ErrNotFound", err)
	}
	if _, err := Load(data, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load(unknown full UUID) error %v, want ErrNotFound", err)
	}
	// Two pods whose UUIDs share a prefix (renamed by hand).
	q := preparedPod(t, data)
	fake := p.UUID[:9] + q.UUID[9:]
	if fake == p.UUID {
		t.Fatalf("pods %s and %s have random UUIDs equal but for their first 9 characters", p.UUID, q.UUID)
	}
	if err := os.Rename(q.Dir, filepath.Join(data, "pods", fake)); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(data, p.UUID[:9]); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("ambiguous prefix: %v", err)
	}
}

func TestInUseImages(t *testing.T) {
	data := t.TempDir()
	mk := func(name string) *Pod {
		img := testImage(t, manifestJSON("example.com/"+name, `{"exec":["/x"],"user":"0","group":"0"}`))
		p, _, err := Prepare(context.Background(), Config{DataDir: data, Resolver: mapResolver{"a": img}}, apps("a"))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	prepared, running, exited, abandoned := mk("prepared"), mk("running"), mk("exited"), mk("abandoned")
	holdLock(t, filepath.Join(running.Dir, "lock"))
	write(t, filepath.Join(running.Dir, "pid"), "1\n")
	write(t, filepath.Join(exited.Dir, "exit.json"), `{"exitCode":0,"apps":[]}`)
	os.Remove(filepath.Join(abandoned.Dir, "prepared"))
	ids, err := InUseImages(data)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, id := range ids {
		got[id.String()] = true
	}
	want := map[string]bool{prepared.Apps[0].ImageID.String(): true, running.Apps[0].ImageID.String(): true}
	if len(got) != 2 || !got[prepared.Apps[0].ImageID.String()] || !got[running.Apps[0].ImageID.String()] {
		t.Errorf("in use %v, want %v", got, want)
	}
}

func TestRemove(t *testing.T) {
	data := t.TempDir()
	running := preparedPod(t, data)
	holdLock(t, filepath.Join(running.Dir, "lock"))
	if err := Remove(data, running.UUID); err == nil || !strings.Contains(err.Error(), "running") {
		t.Errorf("Remove(running) = %v", err)
	}
	exited := preparedPod(t, data)
	write(t, filepath.Join(exited.Dir, "exit.json"), `{"exitCode":0,"apps":[]}`)
	// The image symlink is removed, never followed.
	tree, _ := os.Readlink(filepath.Join(exited.Dir, "apps", "hello", "image"))
	if err := Remove(data, exited.UUID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(tree, "rootfs")); err != nil {
		t.Errorf("image tree damaged by Remove: %v", err)
	}
	if _, err := Load(data, exited.UUID); !errors.Is(err, ErrNotFound) {
		t.Errorf("removed pod still loads: %v", err)
	}
	if err := Remove(data, exited.UUID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove twice: %v", err)
	}
	if got := podsDirEntries(t, data); len(got) != 1 || got[0] != running.UUID {
		t.Errorf("pods directory holds %v", got)
	}
}

// mountHostDirBelow bind-mounts a host directory onto p's app root, as a
// pod whose stage1 died may leave it, until t ends. It returns the mount's
// target and the host file in that directory that no removal of the pod
// may delete.
func mountHostDirBelow(t *testing.T, p *Pod) (target, precious string) {
	t.Helper()
	target = filepath.Join(p.Dir, "apps", "hello", "rootfs")
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	hostDir := t.TempDir()
	precious = filepath.Join(hostDir, "precious")
	write(t, precious, "data")
	if err := unix.Mount(hostDir, target, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
	return target, precious
}

func TestRemoveRefusesMounts(t *testing.T) {
	testenv.NeedRoot(t, "to mount")
	data := t.TempDir()
	p := preparedPod(t, data)
	write(t, filepath.Join(p.Dir, "exit.json"), `{"exitCode":0,"apps":[]}`)
	// A host directory left bind-mounted in the pod: Remove must not
	// delete its contents.
	target, precious := mountHostDirBelow(t, p)
	if err := Remove(data, p.UUID); err == nil || !strings.Contains(err.Error(), "still mounted") {
		t.Errorf("Remove with a mount below: %v", err)
	}
	if _, err := os.Stat(precious); err != nil {
		t.Errorf("host data lost: %v", err)
	}
	if err := unix.Unmount(target, 0); err != nil {
		t.Fatal(err)
	}
	if err := Remove(data, p.UUID); err != nil {
		t.Errorf("Remove after unmount: %v", err)
	}
}

func TestRemoveStale(t *testing.T) {
	data := t.TempDir()
	p := preparedPod(t, data)
	pods := filepath.Join(data, "pods")
	for _, d := range []string{podcontract.PreparingPrefix + "x-1", podcontract.RemovingPrefix + p.UUID[:8]} {
		if err := os.MkdirAll(filepath.Join(pods, d, "apps"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// While a prepare is under way (it holds the pods lock shared), a
	// temporary directory may be its own: nothing is removed.
	unlock, err := lockFile(context.Background(), filepath.Join(pods, podcontract.PodsLockFile), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := RemoveStale(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	if got := podsDirEntries(t, data); len(got) != 3 {
		t.Errorf("RemoveStale during a prepare: pods directory holds %v", got)
	}
	unlock()
	if err := RemoveStale(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	if got := podsDirEntries(t, data); len(got) != 1 || got[0] != p.UUID {
		t.Errorf("pods directory holds %v", got)
	}
}

func TestUUID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		u, err := NewUUID()
		if err != nil {
			t.Fatal(err)
		}
		if !IsUUID(u) || u[14] != '4' || !strings.ContainsRune("89ab", rune(u[19])) || seen[u] {
			t.Fatalf("bad or repeated UUID %q", u)
		}
		seen[u] = true
	}
	for _, s := range []string{"", "ABCDEF01-0000-4000-8000-000000000000", "abcdef01-0000-4000-8000-00000000000", "abcdef01x0000-4000-8000-000000000000"} {
		if IsUUID(s) {
			t.Errorf("IsUUID(%q) = true", s)
		}
	}
}

func TestListDamagedPods(t *testing.T) {
	data := t.TempDir()
	good := preparedPod(t, data)
	badManifest := preparedPod(t, data)
	write(t, filepath.Join(badManifest.Dir, "pod"), "{not json")
	badExit := preparedPod(t, data)
	write(t, filepath.Join(badExit.Dir, "exit.json"), "{")
	noLock := preparedPod(t, data)
	os.Remove(filepath.Join(noLock.Dir, "lock"))
	pods, err := List(data)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*Pod{}
	for _, p := range pods {
		got[p.UUID] = p
	}
	if len(got) != 4 {
		t.Fatalf("listed %d pods, want 4", len(got))
	}
	check := func(p *Pod, state State, problem string) {
		t.Helper()
		q := got[p.UUID]
		if q.State != state || !strings.Contains(q.Problem, problem) || (problem == "" && q.Problem != "") {
			t.Errorf("pod state %s problem %q, want %s and %q", q.State, q.Problem, state, problem)
		}
	}
	check(good, StatePrepared, "")
	// List takes the apps from the summary, and leaves the pod manifest
	// to Load, which reports it.
	check(badManifest, StatePrepared, "")
	if q := got[badManifest.UUID]; len(q.Apps) != 1 || q.Apps[0] != good.Apps[0] {
		t.Errorf("pod with a damaged manifest listed with apps %+v, want %+v (its summary's)", q.Apps, good.Apps)
	}
	if q, err := Load(data, badManifest.UUID); err != nil || !strings.Contains(q.Problem, "pod manifest:") {
		t.Errorf("Load of a pod with a damaged manifest: problem %q, %v", q.Problem, err)
	}
	check(badExit, StateExited, "exit.json:")
	check(noLock, StatePrepared, "no lock file")
	if err := Remove(data, noLock.UUID); err != nil {
		t.Errorf("Remove(pod without lock): %v", err)
	}
}

// TestListSummary: List shows the same pods from their summaries as from
// their pod manifests (Load's), exit codes and all; a pod without a
// summary (prepared before they existed) or with a damaged one is listed
// from its pod manifest, never with wrong apps or none.
func TestListSummary(t *testing.T) {
	data := t.TempDir()
	img := testImage(t, manifestJSON("example.com/hello", `{"exec":["/hello"],"user":"0","group":"0"}`))
	other := testImage(t, manifestJSON("example.com/other-image", `{"exec":["/x"],"user":"0","group":"0"}`))
	r := mapResolver{"a": img, "b": other}
	summary := func(p *Pod) string { return filepath.Join(p.Dir, podcontract.SummaryFile) }
	mk := func(t *testing.T, damage func(p *Pod)) *Pod {
		p, _, err := Prepare(context.Background(), Config{DataDir: data, Resolver: r}, apps("a", "b"))
		if err != nil {
			t.Fatal(err)
		}
		if damage != nil {
			damage(p)
		}
		return p
	}
	good := mk(t, nil)
	b, err := os.ReadFile(summary(good))
	if err != nil {
		t.Fatalf("prepare wrote no summary: %v", err)
	}
	if want := "acirun pod summary 1\napp hello example.com/hello " + img.ID.String() + "\napp other-image example.com/other-image " + other.ID.String() + "\nend\n"; string(b) != want {
		t.Errorf("summary\n%s\nwant\n%s", b, want)
	}
	exited := mk(t, func(p *Pod) {
		write(t, filepath.Join(p.Dir, "pid"), "4242\n")
		write(t, filepath.Join(p.Dir, "exit.json"), `{"exitCode": 3, "apps": [{"name": "hello", "exitCode": 0}, {"name": "other-image", "exitCode": 3, "signal": "SIGKILL"}]}`)
	})
	damaged := map[string]*Pod{
		"missing": mk(t, func(p *Pod) { os.Remove(summary(p)) }),
		"empty":   mk(t, func(p *Pod) { write(t, summary(p), "") }),
		"cut":     mk(t, func(p *Pod) { write(t, summary(p), string(b[:len(b)-4])) }),
		"cut at a line": mk(t, func(p *Pod) {
			write(t, summary(p), strings.Join(strings.SplitAfter(string(b), "\n")[:2], ""))
		}),
		"version 2":    mk(t, func(p *Pod) { write(t, summary(p), strings.Replace(string(b), "summary 1", "summary 2", 1)) }),
		"bad image ID": mk(t, func(p *Pod) { write(t, summary(p), strings.Replace(string(b), "sha512-", "sha256-", 1)) }),
		"a directory": mk(t, func(p *Pod) {
			os.Remove(summary(p))
			os.Mkdir(summary(p), 0o700)
		}),
	}
	pods, err := List(data)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]*Pod{}
	for _, p := range pods {
		listed[p.UUID] = p
		if p.Manifest != nil || p.Stage1Args != nil {
			t.Errorf("List read pod %s's manifest or stage1 flags: Load's", p.UUID)
		}
	}
	if len(listed) != 2+len(damaged) {
		t.Fatalf("listed %d pods, want %d", len(listed), 2+len(damaged))
	}
	same := func(t *testing.T, p *Pod) {
		t.Helper()
		want, err := Load(data, p.UUID)
		if err != nil {
			t.Fatal(err)
		}
		got := listed[p.UUID]
		if got.State != want.State || !got.Created.Equal(want.Created) || got.Problem != "" || !reflect.DeepEqual(got.Apps, want.Apps) {
			t.Errorf("listed %s %v %q apps %+v; Load: %s %v apps %+v", got.State, got.Created, got.Problem, got.Apps, want.State, want.Created, want.Apps)
		}
		if len(got.Apps) != 2 || got.Apps[0].ImageID != img.ID || got.Apps[1].ImageName != "example.com/other-image" {
			t.Errorf("listed apps %+v", got.Apps)
		}
	}
	same(t, good)
	same(t, exited)
	if a := listed[exited.UUID].Apps[1]; a.ExitCode == nil || *a.ExitCode != 3 || a.Signal != "SIGKILL" {
		t.Errorf("exited pod's app %+v, want exit code 3 and SIGKILL", a)
	}
	for name, p := range damaged {
		t.Run(name, func(t *testing.T) { same(t, p) })
	}
}

// TestRemoveEach: each pod's outcome at its own index, whatever its
// neighbours' (a running pod, a missing one, a bad UUID, one with a mount
// below it), across more pods than one batch locks at once.
func TestRemoveEach(t *testing.T) {
	testenv.NeedRoot(t, "to mount")
	data := t.TempDir()
	running := preparedPod(t, data)
	holdLock(t, filepath.Join(running.Dir, "lock"))
	mounted := preparedPod(t, data)
	_, precious := mountHostDirBelow(t, mounted)
	gone, err := NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	uuids := []string{running.UUID, "not-a-uuid", gone, mounted.UUID}
	want := []string{"running", "not a pod UUID", ErrNotFound.Error(), "still mounted"}
	// Enough removable pods that the last batch starts after the
	// troublesome ones' batch: empty pod directories with a lock file
	// (what a prepare that died after locking leaves).
	for range removeBatch + 3 {
		u, err := NewUUID()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(data, podcontract.PodsDir, u), 0o700); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(data, podcontract.PodsDir, u, podcontract.LockFile), "")
		uuids = append(uuids, u)
		want = append(want, "")
	}
	errs := RemoveEach(data, uuids)
	if len(errs) != len(uuids) {
		t.Fatalf("%d errors for %d pods", len(errs), len(uuids))
	}
	for i, err := range errs {
		if (want[i] == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want[i])) {
			t.Errorf("pod %d (%s): %v, want %q", i, uuids[i], err, want[i])
		}
	}
	if got := podsDirEntries(t, data); len(got) != 2 {
		t.Errorf("pods directory holds %v, want the running and the mounted pod", got)
	}
	if _, err := os.Stat(precious); err != nil {
		t.Errorf("host data lost: %v", err)
	}
}

// listPods makes n pods in a new data directory as bench/scale.sh does:
// exited of them run and exited (pid, ppid1, ready, exit.json), the rest
// prepared, all of one image.
func listPods(b *testing.B, n, exited int) string {
	b.Helper()
	data := b.TempDir()
	img := testImage(b, manifestJSON("example.com/acirun-bench/scale", `{"exec":["/testapp","exit","0"],"user":"0","group":"0"}`))
	cfg := Config{DataDir: data, Resolver: mapResolver{"a": img}}
	req := &RunRequest{Net: "none", Apps: []AppRequest{{Image: "a"}}}
	for i := range n {
		p, _, err := Prepare(context.Background(), cfg, req)
		if err != nil {
			b.Fatal(err)
		}
		if i >= exited {
			continue
		}
		for _, f := range []string{podcontract.PIDFile, podcontract.PPID1File} {
			if err := podcontract.WritePID(p.Dir, f, 4242); err != nil {
				b.Fatal(err)
			}
		}
		if err := podcontract.WriteReady(p.Dir); err != nil {
			b.Fatal(err)
		}
		if err := podcontract.WriteExit(p.Dir, &podcontract.Exit{Apps: []podcontract.AppExit{{Name: "scale"}}}); err != nil {
			b.Fatal(err)
		}
	}
	return data
}

// BenchmarkList: List of the pods of bench/scale.sh (1,000, 100 of them
// exited), as prepared now (with summaries) and as prepared before
// summaries (each pod's manifest decoded). bench/scale.sh's `acirun list`
// is the judge; this is its part in stage0/pod.
func BenchmarkList(b *testing.B) {
	data := listPods(b, 1000, 100)
	list := func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pods, err := List(data)
			if err != nil || len(pods) != 1000 {
				b.Fatal(len(pods), err)
			}
		}
	}
	b.Run("summary", list)
	pods, err := os.ReadDir(filepath.Join(data, podcontract.PodsDir))
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range pods {
		if IsUUID(p.Name()) {
			if err := os.Remove(filepath.Join(data, podcontract.PodsDir, p.Name(), podcontract.SummaryFile)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("manifest", list)
}
