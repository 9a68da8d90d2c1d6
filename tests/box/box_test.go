//go:build linux

package box_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/acirun/acirun/tests/box"
)

// shared is the box of the tests that need no box of their own.
var shared box.Shared

func TestMain(m *testing.M) { box.Main(m, &shared) }

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// A transient unit started over D-Bus from the test process runs in the
// box; its output is in the box's journal and its exit status is read back.
func TestTransientUnit(t *testing.T) {
	b := shared.Get(t)
	ctx := testContext(t)
	conn, err := b.Systemd(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	const unit = "acirun-box-transient.service"
	done := make(chan string, 1)
	_, err = conn.StartTransientUnitContext(ctx, unit, "replace", []sddbus.Property{
		sddbus.PropDescription("box test: transient unit"),
		sddbus.PropType("oneshot"), // the start job ends when the unit exits
		// The shell computes the marker, so finding it proves the unit ran.
		// go-systemd's second argument ends up as ExecStart's ignore-failure
		// flag: false, so that exit 7 fails the unit.
		sddbus.PropExecStart([]string{"/bin/sh", "-c", "echo transient-output-$((6*7)); exit 7"}, false),
	}, done)
	if err != nil {
		t.Fatalf("StartTransientUnit: %v", err)
	}
	if r := <-done; r != "failed" {
		t.Fatalf("start job: %s, want failed (exit 7)", r)
	}
	defer conn.ResetFailedUnitContext(ctx, unit)

	var state string
	for state != "failed" {
		p, err := conn.GetUnitPropertyContext(ctx, unit, "ActiveState")
		if err != nil {
			t.Fatal(err)
		}
		state = p.Value.Value().(string)
		if state == "inactive" {
			t.Fatalf("%s: inactive, want failed (exit 7)", unit)
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: still %s", unit, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
	props, err := conn.GetUnitTypePropertiesContext(ctx, unit, "Service")
	if err != nil {
		t.Fatal(err)
	}
	if code, status := props["ExecMainCode"], props["ExecMainStatus"]; code != int32(1) || status != int32(7) {
		t.Errorf("%s: ExecMainCode=%v ExecMainStatus=%v, want 1 (exited) and 7", unit, code, status)
	}
	journal, err := b.Journal(ctx, unit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(journal, "transient-output-42\n") {
		t.Errorf("journal of %s lacks its output:\n%s", unit, journal)
	}
}

// A unit file written into the box starts with systemctl; machinectl and
// machined on the box's system bus answer.
func TestUnitFileAndMachinectl(t *testing.T) {
	b := shared.Get(t)
	ctx := testContext(t)
	const unit = "acirun-box-unitfile.service"
	text := `[Unit]
Description=box test: unit file
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'echo unit-file-ran-$((6*7)); hostname > /run/acirun-box-unitfile'
`
	if err := b.WriteFile("/etc/systemd/system/"+unit, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := b.Exec(ctx, "systemctl", "daemon-reload"); err != nil {
		t.Fatal(err)
	}
	if err := b.Exec(ctx, "systemctl", "start", unit); err != nil {
		t.Fatal(err)
	}
	defer b.Exec(ctx, "systemctl", "stop", unit)
	if out, err := b.Output(ctx, "systemctl", "is-active", unit); err != nil || string(out) != "active\n" {
		t.Errorf("systemctl is-active %s: %q, %v", unit, out, err)
	}
	p, err := b.Path("/run/acirun-box-unitfile")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(p); err != nil || string(got) != b.Name()+"\n" {
		t.Errorf("the unit wrote %q (%v), want the box's hostname %q", got, err, b.Name())
	}
	if j, err := b.Journal(ctx, unit); err != nil || !strings.Contains(j, "unit-file-ran-42\n") {
		t.Errorf("journal of %s: %v\n%s", unit, err, j)
	}

	if out, err := b.Output(ctx, "machinectl", "list", "--no-pager"); err != nil {
		t.Errorf("machinectl list: %v", err)
	} else {
		t.Logf("machinectl list: %s", strings.TrimSpace(string(out)))
	}
	bus, err := b.SystemBus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	var machines []any
	err = bus.Object("org.freedesktop.machine1", "/org/freedesktop/machine1").
		CallWithContext(ctx, "org.freedesktop.machine1.Manager.ListMachines", 0).Store(&machines)
	if err != nil {
		t.Errorf("machined ListMachines on the box's system bus: %v", err)
	}
}

// The scratch directory is shared both ways after boot; /var/lib/acirun is
// a real filesystem where an overlay can have its upper directory; commands
// run in the box's cgroups.
func TestFilesystems(t *testing.T) {
	b := shared.Get(t)
	ctx := testContext(t)
	dir := filepath.Join(b.Dir(), "TestFilesystems")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "from-host"), []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := b.Output(ctx, "cat", filepath.Join(dir, "from-host")); err != nil || string(out) != "host\n" {
		t.Errorf("a file the host wrote after boot, read in the box: %q, %v", out, err)
	}
	if err := b.Exec(ctx, "sh", "-c", "echo box > "+filepath.Join(dir, "from-box")); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "from-box")); err != nil || string(got) != "box\n" {
		t.Errorf("a file the box wrote, read on the host: %q, %v", got, err)
	}

	for path, want := range map[string]string{"/": "overlayfs", box.DataDir: "tmpfs", "/run": "tmpfs", "/tmp": "tmpfs"} {
		out, err := b.Output(ctx, "stat", "-f", "-c", "%T", path)
		if err != nil || strings.TrimSpace(string(out)) != want {
			t.Errorf("filesystem of %s in the box: %q, %v; want %s", path, out, err, want)
		}
	}
	if bin, err := filepath.Abs("../../bin"); err == nil {
		if err := b.Exec(ctx, "mountpoint", "-q", bin); err != nil {
			t.Errorf("the repository's bin/ is not bound into the box: %v", err)
		}
	}

	// What pods need: an overlay whose upper directory is in the data dir.
	script := `set -e
d=` + box.DataDir + `/TestFilesystems
mkdir -p $d/lower $d/upper $d/work $d/merged
echo lower > $d/lower/f
mount -t overlay overlay -o lowerdir=$d/lower,upperdir=$d/upper,workdir=$d/work $d/merged
echo upper > $d/merged/g
cat $d/merged/f $d/upper/g
umount $d/merged
rm -rf $d`
	if out, err := b.Output(ctx, "sh", "-c", script); err != nil || string(out) != "lower\nupper\n" {
		t.Errorf("overlay with its upper directory in %s: %q, %v", box.DataDir, out, err)
	}

	out, err := b.Output(ctx, "cat", "/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasSuffix(line, ":/") {
			t.Errorf("a command run in the box is not in the box's root cgroup: %s", line)
		}
	}
}

// MemoryMax= on a unit in the box is enforced: the box's systemd has the
// memory controller in cgroups of its own.
func TestMemoryMax(t *testing.T) {
	b := shared.Get(t)
	ctx := testContext(t)
	run := func(limit string) (string, error) {
		unit := "acirun-box-memory-" + limit + ".service"
		defer b.Exec(ctx, "systemctl", "reset-failed", unit)
		err := b.Exec(ctx, "systemd-run", "--wait", "--quiet", "--unit", unit, "-p", "MemoryMax="+limit,
			"dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1")
		out, _ := b.Output(ctx, "systemctl", "show", "--property", "Result,ExecMainStatus", unit)
		return strings.Join(strings.Fields(string(out)), " "), err
	}
	if res, err := run("512M"); err != nil {
		t.Fatalf("128 MB under MemoryMax=512M: %v (%s)", err, res)
	}
	// On cgroup v1 systemd cannot tell an OOM kill from another SIGKILL, so
	// Result is "signal" there and "oom-kill" on v2.
	res, err := run("32M")
	if err == nil || (res != "Result=signal ExecMainStatus=9" && res != "Result=oom-kill ExecMainStatus=9") {
		t.Errorf("128 MB under MemoryMax=32M: %q, error %v; want SIGKILL by the OOM killer", res, err)
	}
}

// A veth pair between the box and a namespace made inside it carries a TCP
// connection; the addresses exist only inside those two namespaces.
func TestVethTCP(t *testing.T) {
	b := shared.Get(t)
	ctx := testContext(t)
	setup := `set -e
ip netns add abx-tcp
ip link add abx-tcp0 type veth peer name abx-tcp1 netns abx-tcp
ip addr add 10.213.0.1/30 dev abx-tcp0
ip link set abx-tcp0 up
ip -n abx-tcp addr add 10.213.0.2/30 dev abx-tcp1
ip -n abx-tcp link set abx-tcp1 up`
	if err := b.Exec(ctx, "sh", "-c", setup); err != nil {
		t.Fatal(err)
	}
	defer b.Exec(ctx, "ip", "netns", "delete", "abx-tcp")
	if exec.Command("ip", "link", "show", "abx-tcp0").Run() == nil {
		t.Fatal("the box's veth abx-tcp0 is visible on the host")
	}

	var ln net.Listener
	err := b.InNetNS("abx-tcp", func() (err error) {
		ln, err = net.Listen("tcp4", "10.213.0.2:0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			peer <- err.Error()
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Fprintf(c, "pong %s", line)
		peer <- c.RemoteAddr().(*net.TCPAddr).IP.String()
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	client := fmt.Sprintf(`exec 3<>/dev/tcp/10.213.0.2/%d; echo ping >&3; read -r l <&3; echo "$l"`, port)
	out, err := b.Output(ctx, "bash", "-c", client)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "pong ping\n" {
		t.Errorf("reply over the veth: %q, want %q", out, "pong ping\n")
	}
	if p := <-peer; p != "10.213.0.1" {
		t.Errorf("server saw the client as %s, want 10.213.0.1", p)
	}
}

// A box that comes up degraded fails New with the failed unit named and
// systemd's log attached, and leaves nothing behind.
func TestBootFailure(t *testing.T) {
	if os.Geteuid() != 0 {
		shared.Get(t) // skips, or fails with CI=true
	}
	name := fmt.Sprintf("acirun-box-broken-%d", os.Getpid())
	_, err := box.New(testContext(t), box.Options{
		Name:  name,
		Units: map[string]string{"acirun-box-broken.service": "[Service]\nType=oneshot\nExecStart=/bin/false\n"},
		Wants: []string{"acirun-box-broken.service"},
	})
	if err == nil {
		t.Fatal("New succeeded with a failing unit")
	}
	for _, want := range []string{"degraded", "acirun-box-broken.service", "running in system mode"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if dirs := cgroupDirs(name); len(dirs) > 0 {
		t.Errorf("cgroups left behind: %v", dirs)
	}
	if m, _ := filepath.Glob(filepath.Join(os.TempDir(), name+"*")); len(m) > 0 {
		t.Errorf("files left behind: %v", m)
	}
}

// Two boxes run at once, each with its own hostname, cgroups and network;
// neither touches the host's /tmp or /sys/fs/cgroup; after Close nothing of
// them is left on the host: no mount, link, process, namespace, cgroup or
// file.
func TestTwoBoxesAndClose(t *testing.T) {
	if os.Geteuid() != 0 {
		shared.Get(t) // skips, or fails with CI=true
	}
	ctx := testContext(t)
	sentinel := filepath.Join(os.TempDir(), fmt.Sprintf("acirun-box-sentinel-%d", os.Getpid()))
	if err := os.WriteFile(sentinel, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(sentinel)
	before := snapshot(t)

	boxes := make([]*box.Box, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range boxes {
		wg.Go(func() { boxes[i], errs[i] = box.New(ctx, box.Options{}) })
	}
	wg.Wait()
	for i, b := range boxes {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		defer b.Close()
		t.Logf("box %s: running after %v", b.Name(), b.BootTime().Round(time.Millisecond))
	}
	if boxes[0].Name() == boxes[1].Name() {
		t.Fatal("two boxes with one name")
	}

	var gone []string   // names and paths that must not be on the host afterwards
	var nsGone []string // the boxes' namespaces, e.g. net:[4026532291]
	for i, b := range boxes {
		veth := fmt.Sprintf("abx-two%d", i)
		script := fmt.Sprintf(`set -e
hostname
ip link add %s type veth peer name %s-p
touch /tmp/acirun-box-probe /var/tmp/acirun-box-probe-%s
systemctl is-system-running`, veth, veth, b.Name())
		out, err := b.Output(ctx, "sh", "-c", script)
		if err != nil {
			t.Fatal(err)
		}
		if want := b.Name() + "\nrunning\n"; string(out) != want {
			t.Errorf("box %d: %q, want %q", i, out, want)
		}
		if exec.Command("ip", "link", "show", veth).Run() == nil {
			t.Errorf("box %s's veth %s is visible on the host", b.Name(), veth)
		}
		// systemd built its tree inside the box's cgroups.
		var built bool
		for _, d := range cgroupDirs(b.Name()) {
			if _, err := os.Stat(filepath.Join(d, "init.scope")); err == nil {
				built = true
			}
		}
		if !built {
			t.Errorf("box %s: no init.scope below its cgroups %v", b.Name(), cgroupDirs(b.Name()))
		}
		gone = append(gone, veth, b.Name(), b.Dir(), "/var/tmp/acirun-box-probe-"+b.Name())
		for _, ns := range []string{"pid", "mnt", "net", "cgroup", "uts", "ipc"} {
			l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", b.Pid(), ns))
			if err != nil {
				t.Fatal(err)
			}
			nsGone = append(nsGone, l)
		}
	}
	if _, err := os.Stat(filepath.Join(os.TempDir(), "acirun-box-probe")); err == nil {
		t.Error("a file the box wrote to its /tmp appeared in the host's /tmp")
	}
	during := snapshot(t)
	compareHost(t, "while the boxes ran", before, during, nil)
	// Namespace inode numbers are reused, so a namespace of a box counts
	// as left only if what holds it after Close already held it before.
	var heldBefore []string
	for _, p := range during.procs {
		if slices.ContainsFunc(nsGone, func(ns string) bool { return strings.Contains(p, ns) }) {
			heldBefore = append(heldBefore, p)
		}
	}
	for _, m := range strings.Split(during.allMounts, "\n") {
		if slices.ContainsFunc(nsGone, func(ns string) bool { return strings.Contains(m, ns) }) {
			heldBefore = append(heldBefore, m)
		}
	}

	start := time.Now()
	for i, b := range boxes {
		wg.Go(func() { errs[i] = b.Close() })
	}
	wg.Wait()
	t.Logf("closed both boxes in %v", time.Since(start).Round(time.Millisecond))
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	after := snapshot(t)
	compareHost(t, "after Close", before, after, gone)
	for _, p := range append(after.procs, strings.Split(after.allMounts, "\n")...) {
		if slices.Contains(heldBefore, p) {
			t.Errorf("after Close: a namespace of a box is still held: %s", p)
		}
	}
	if got, err := os.ReadFile(sentinel); err != nil || string(got) != "keep me\n" {
		t.Errorf("a file in the host's /tmp changed: %q, %v", got, err)
	}
}

// hostState is what the host looks like, for before/after comparisons.
type hostState struct {
	mounts    []string // mountinfo lines of the host's own key mounts
	allMounts string
	links     string
	tmp       []string // names in /tmp
	rootCgrps []string // cgroups at the root of every hierarchy
	procs     []string // pid, ns links and cgroups of every process
}

func snapshot(t *testing.T) hostState {
	t.Helper()
	var s hostState
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	s.allMounts = string(mi)
	for _, line := range strings.Split(string(mi), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (slices.Contains([]string{"/", "/proc", "/sys", "/dev", "/tmp", "/run"}, f[4]) ||
			strings.HasPrefix(f[4], "/sys/fs/cgroup")) {
			s.mounts = append(s.mounts, line)
		}
	}
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		t.Fatal(err)
	}
	s.links = string(out)
	es, err := os.ReadDir(os.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		s.tmp = append(s.tmp, e.Name())
	}
	hs, _ := filepath.Glob("/sys/fs/cgroup/*/cgroup.procs")
	hs = append(hs, "/sys/fs/cgroup/cgroup.procs")
	for _, h := range hs {
		es, _ := os.ReadDir(filepath.Dir(h))
		for _, e := range es {
			if e.IsDir() {
				s.rootCgrps = append(s.rootCgrps, filepath.Join(filepath.Dir(h), e.Name()))
			}
		}
	}
	pids, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range pids {
		var b strings.Builder
		fmt.Fprintf(&b, "%s:", p)
		for _, ns := range []string{"pid", "mnt", "net", "cgroup", "uts", "ipc"} {
			l, _ := os.Readlink(filepath.Join(p, "ns", ns))
			fmt.Fprintf(&b, " %s", l)
		}
		cg, _ := os.ReadFile(filepath.Join(p, "cgroup"))
		fmt.Fprintf(&b, " %s", strings.ReplaceAll(string(cg), "\n", " "))
		if st, err := os.ReadFile(filepath.Join(p, "stat")); err == nil {
			if i := strings.LastIndexByte(string(st), ')'); i > 0 {
				if f := strings.Fields(string(st[i+1:])); len(f) > 1 {
					fmt.Fprintf(&b, " ppid=%s", f[1])
				}
			}
		}
		s.procs = append(s.procs, b.String())
	}
	return s
}

// compareHost reports what the boxes changed: the host's key mounts, /tmp
// entries, cgroups at the hierarchies' roots, children of the test process,
// and any mount, link, process or /tmp entry that mentions one of gone.
// Other work on the machine may add mounts, links and processes of its own
// meanwhile, so only these are compared.
func compareHost(t *testing.T, when string, before, after hostState, gone []string) {
	t.Helper()
	if !slices.Equal(before.mounts, after.mounts) {
		t.Errorf("%s: the host's mounts of /, /proc, /sys, /dev, /tmp, /run, /sys/fs/cgroup changed:\nbefore:\n%s\nafter:\n%s",
			when, strings.Join(before.mounts, "\n"), strings.Join(after.mounts, "\n"))
	}
	for _, c := range after.rootCgrps {
		// A box's own cgroups are below the test process's, which may be
		// the root; anything else there is systemd's tree in the wrong place.
		if !slices.Contains(before.rootCgrps, c) && !strings.HasPrefix(filepath.Base(c), "acirun-box-") {
			t.Errorf("%s: new cgroup at a hierarchy's root: %s", when, c)
		}
	}
	for _, e := range after.tmp {
		if !slices.Contains(before.tmp, e) && strings.HasPrefix(e, "acirun-box") && gone != nil {
			t.Errorf("%s: left in %s: %s", when, os.TempDir(), e)
		}
	}
	self := fmt.Sprintf("ppid=%d", os.Getpid())
	for _, p := range after.procs {
		if strings.HasSuffix(p, self) && !slices.Contains(before.procs, p) && gone != nil {
			t.Errorf("%s: a child of the test process is still there: %s", when, p)
		}
	}
	for _, g := range gone {
		if strings.Contains(after.allMounts, g) {
			t.Errorf("%s: a mount mentioning %s", when, g)
		}
		if strings.Contains(after.links, g) {
			t.Errorf("%s: a link mentioning %s", when, g)
		}
		for _, p := range after.procs {
			if strings.Contains(p, g) {
				t.Errorf("%s: a process in %s: %s", when, g, p)
			}
		}
		if strings.HasPrefix(g, "/") {
			if _, err := os.Lstat(g); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: %s still exists", when, g)
			}
		}
	}
	for _, g := range gone {
		if dirs := cgroupDirs(g); len(dirs) > 0 {
			t.Errorf("%s: cgroups left: %v", when, dirs)
		}
	}
}

// cgroupDirs finds the cgroups named name in every hierarchy, at most four
// levels down (the box's are below the test process's own).
func cgroupDirs(name string) []string {
	var dirs []string
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.Count(p, "/") > 8 {
			return filepath.SkipDir
		}
		if d.Name() == name {
			dirs = append(dirs, p)
			return filepath.SkipDir
		}
		return nil
	})
	return dirs
}

// Bad options are refused before anything is made.
func TestBadOptions(t *testing.T) {
	for _, tt := range []struct {
		opts box.Options
		err  string
	}{
		{box.Options{Name: "no_underscores"}, `name "no_underscores": not a valid hostname`},
		{box.Options{Name: "-lead"}, `name "-lead": not a valid hostname`},
		{box.Options{Name: "b", Tmpfs: []string{"var/x"}}, `tmpfs "var/x": not an absolute path`},
		{box.Options{Name: "b", Units: map[string]string{"../x.service": ""}}, `unit name "../x.service": not a plain file name`},
	} {
		_, err := box.New(context.Background(), tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("New(%+v): %v, want %q", tt.opts, err, tt.err)
		}
	}
}
