//go:build linux

package box

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/acirun/acirun/internal/testenv"
	sddbus "github.com/coreos/go-systemd/v22/dbus"
	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// ErrNotRoot is returned by New when the caller is not root: a box needs to
// create namespaces, mounts and cgroups.
var ErrNotRoot = errors.New("box: booting a box needs root")

// DefaultSystemd is the systemd a box boots (Debian's layout).
const DefaultSystemd = "/lib/systemd/systemd"

// DataDir is acirun's default data directory. Every box has a fresh tmpfs
// there: the box's root is an overlay, and an overlay whose upper directory
// lies on overlayfs cannot be mounted, so pods could not get a writable layer.
const DataDir = "/var/lib/acirun"

// sigPoweroff is SIGRTMIN+4 as systemd counts (glibc's SIGRTMIN is 34):
// systemd starts poweroff.target on it.
const sigPoweroff = unix.Signal(38)

// Options configure a box. The zero value boots a box with a scratch
// directory of its own.
type Options struct {
	// Dir is the scratch directory, bound read-write at the same path in the
	// box so that paths mean the same on both sides. If empty, New makes one
	// in os.TempDir and Close removes it. The box keeps its state (boot log,
	// the mount point of its root) in Dir/.acirun-box, removed by Close.
	Dir string
	// Name is the box's hostname and the name of its cgroups; it must be a
	// valid hostname. If empty, "acirun-box-" and random hex digits.
	Name string
	// Binds are more host directories bound read-write at the same path in
	// the box. Dir and, when the test runs inside the repository, the
	// repository's bin/ (made if missing) are always bound.
	Binds []string
	// Tmpfs are more directories in the box that get a fresh tmpfs, for
	// data directories that must not lie on the box's overlay root.
	// DataDir always gets one.
	Tmpfs []string
	// Units are unit files (name → contents) written into the box's
	// /etc/systemd/system before it boots.
	Units map[string]string
	// Wants are units the box's default target pulls in besides basic.target,
	// D-Bus, journald and machined.
	Wants []string
	// Systemd is the systemd binary to boot; DefaultSystemd if empty.
	Systemd string
}

// A Box is a systemd booted as PID 1 of new pid, mount, cgroup, network, UTS
// and IPC namespaces on an overlay of the host's root, with cgroups of its
// own. Its methods are safe for concurrent use.
type Box struct {
	name    string
	dir     string
	ownDir  bool
	state   string
	self    string // the test binary, re-executed by Command
	nsenter string
	hs      []hierarchy
	cmd     *exec.Cmd
	boot    time.Duration

	done    chan struct{} // closed once systemd has exited and been reaped
	waitErr error         // how it exited; read after done

	console     []*os.File    // the pty that is the box's /dev/console
	consoleDone chan struct{} // closed when its copier has ended

	closeOnce sync.Once
	closeErr  error
}

// New boots a box and waits until its systemd reports the system running
// (see WaitRunning). ctx bounds the boot only; the box lives until Close.
// A box that fails to boot is torn down, and the error carries systemd's log.
// The test binary must call Main or Reexec in its TestMain: that is how the
// re-executed binary finds the box's init step.
func New(ctx context.Context, opts Options) (*Box, error) {
	start := time.Now()
	b := &Box{name: opts.Name, dir: opts.Dir, done: make(chan struct{})}
	if b.name == "" {
		b.name = "acirun-box-" + randomHex(4)
	}
	if !validName.MatchString(b.name) {
		return nil, fmt.Errorf("box: name %q: not a valid hostname (letters, digits, -; at most 63)", b.name)
	}
	for _, d := range opts.Tmpfs {
		if !filepath.IsAbs(d) {
			return nil, fmt.Errorf("box %s: tmpfs %q: not an absolute path", b.name, d)
		}
	}
	for n := range opts.Units {
		if n == "" || strings.ContainsRune(n, '/') {
			return nil, fmt.Errorf("box %s: unit name %q: not a plain file name", b.name, n)
		}
	}
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	systemd := opts.Systemd
	if systemd == "" {
		systemd = DefaultSystemd
	}
	if _, err := os.Stat(systemd); err != nil {
		return nil, fmt.Errorf("box %s: systemd: %w", b.name, err)
	}
	var err error
	if b.nsenter, err = exec.LookPath("nsenter"); err != nil {
		return nil, fmt.Errorf("box %s: %w (package util-linux)", b.name, err)
	}
	if b.self, err = os.Executable(); err != nil {
		return nil, fmt.Errorf("box %s: %w", b.name, err)
	}

	if b.dir == "" {
		if b.dir, err = os.MkdirTemp("", b.name+"-"); err != nil {
			return nil, fmt.Errorf("box %s: %w", b.name, err)
		}
		b.ownDir = true
	} else if b.dir, err = filepath.Abs(b.dir); err != nil {
		return nil, fmt.Errorf("box %s: %w", b.name, err)
	}
	b.state = filepath.Join(b.dir, ".acirun-box")
	if err := os.Mkdir(b.state, 0o700); err != nil {
		b.removeDirs()
		return nil, fmt.Errorf("box %s: state directory: %w", b.name, err)
	}
	if err := os.Mkdir(filepath.Join(b.state, "mnt"), 0o700); err != nil {
		b.removeDirs()
		return nil, fmt.Errorf("box %s: %w", b.name, err)
	}

	cfg := initConfig{
		Name:      b.name,
		MachineID: randomHex(16),
		State:     filepath.Join(b.state, "mnt"),
		Systemd:   systemd,
		Binds:     []string{b.dir},
		Tmpfs:     append([]string{DataDir}, opts.Tmpfs...),
		Masks:     maskedUnits,
	}
	if bin, ok := repoBin(); ok {
		if err := os.MkdirAll(bin, 0o755); err != nil {
			b.removeDirs()
			return nil, fmt.Errorf("box %s: %w", b.name, err)
		}
		cfg.Binds = append(cfg.Binds, bin)
	}
	if d := testenv.CoverDir(); d != "" {
		// Coverage asked for (scripts/cover): the acirun processes of the
		// box, its units' included, write their counters there.
		cfg.Binds = append(cfg.Binds, d)
	}
	for _, d := range opts.Binds {
		d, err := filepath.Abs(d)
		if err == nil {
			_, err = os.Stat(d)
		}
		if err != nil {
			b.removeDirs()
			return nil, fmt.Errorf("box %s: bind: %w", b.name, err)
		}
		cfg.Binds = append(cfg.Binds, d)
	}
	cfg.Files = bootFiles(b.name, cfg.MachineID, opts)

	if b.hs, err = hostHierarchies(b.name); err != nil {
		b.removeDirs()
		return nil, fmt.Errorf("box %s: %w", b.name, err)
	}
	cfg.Hierarchies = b.hs
	if err := createCgroups(b.hs); err != nil {
		b.removeDirs()
		return nil, fmt.Errorf("box %s: %w", b.name, err)
	}

	if err := b.start(ctx, &cfg); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.WaitRunning(ctx); err != nil {
		log := b.BootLog()
		b.Close()
		return nil, fmt.Errorf("%w\n--- systemd's log:\n%s", err, log)
	}
	b.boot = time.Since(start)
	return b, nil
}

// validName matches a hostname label.
var validName = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

// start runs the init step and waits until it has exec'd systemd.
func (b *Box) start(ctx context.Context, cfg *initConfig) error {
	log, err := os.OpenFile(filepath.Join(b.state, "boot.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("box %s: %w", b.name, err)
	}
	defer log.Close()
	if cfg.Console, err = b.openConsole(log); err != nil {
		return fmt.Errorf("box %s: console: %w", b.name, err)
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer syncW.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		syncR.Close()
		return err
	}
	defer errR.Close()
	b.cmd = &exec.Cmd{
		Path:       b.self,
		Args:       []string{os.Args[0]},
		Env:        []string{initEnv + "=" + string(js)},
		Stdout:     log,
		Stderr:     log,
		ExtraFiles: []*os.File{syncR, errW}, // syncFd, errorFd
		SysProcAttr: &unix.SysProcAttr{
			Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWNET |
				unix.CLONE_NEWUTS | unix.CLONE_NEWIPC,
			Setpgid:   true,
			Pdeathsig: unix.SIGKILL,
		},
	}
	// Pdeathsig fires when the thread that forked the box exits, and Go
	// ends threads that a goroutine left locked. So the box is forked from a
	// thread locked for the box's whole life.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := b.cmd.Start(); err != nil {
			started <- err
			close(b.done)
			return
		}
		started <- nil
		b.waitErr = b.cmd.Wait()
		close(b.done)
	}()
	err = <-started
	syncR.Close()
	errW.Close()
	if err != nil {
		return fmt.Errorf("box %s: start init: %w", b.name, err)
	}
	if err := joinCgroups(b.hs, b.cmd.Process.Pid); err != nil {
		return fmt.Errorf("box %s: %w", b.name, err)
	}
	if _, err := syncW.Write([]byte{0}); err != nil {
		return fmt.Errorf("box %s: start init: %w", b.name, err)
	}
	// The error pipe reads EOF when systemd was exec'd (it is close-on-exec)
	// or the init step died.
	msg := make(chan []byte, 1)
	go func() {
		m, _ := io.ReadAll(errR)
		msg <- m
	}()
	select {
	case m := <-msg:
		if len(m) > 0 {
			return fmt.Errorf("box %s: %s", b.name, m)
		}
	case <-ctx.Done():
		return fmt.Errorf("box %s: init step: %w", b.name, ctx.Err())
	}
	return nil
}

// openConsole makes the pty that the box's systemd gets as /dev/console,
// and copies what it writes there to log until Close. It returns the
// host's path of the pty's terminal end.
func (b *Box) openConsole(log *os.File) (string, error) {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return "", err
	}
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		ptmx.Close()
		return "", fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		ptmx.Close()
		return "", fmt.Errorf("pty number: %w", err)
	}
	path := fmt.Sprintf("/dev/pts/%d", n)
	// Held open until Close, so that reading the master does not fail
	// before systemd opens the console or between its writes.
	pts, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		ptmx.Close()
		return "", err
	}
	if t, err := unix.IoctlGetTermios(int(pts.Fd()), unix.TCGETS); err == nil {
		t.Oflag &^= unix.OPOST // no \r before each \n
		t.Lflag &^= unix.ECHO
		unix.IoctlSetTermios(int(pts.Fd()), unix.TCSETS, t)
	}
	out, err := os.OpenFile(log.Name(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		ptmx.Close()
		pts.Close()
		return "", err
	}
	b.consoleDone = make(chan struct{})
	go func() {
		io.Copy(out, ptmx)
		out.Close()
		close(b.consoleDone)
	}()
	b.console = []*os.File{pts, ptmx}
	return path, nil
}

// bootFiles are the files written into the box's upper layer before boot.
func bootFiles(name, machineID string, opts Options) []file {
	wants := append([]string{"dbus.socket", "dbus.service", "systemd-journald.service",
		"systemd-machined.service"}, opts.Wants...)
	target := fmt.Sprintf(`[Unit]
Description=acirun test box
Requires=basic.target
Wants=%s
After=basic.target %s
AllowIsolate=yes
`, strings.Join(wants, " "), strings.Join(wants, " "))
	fs := []file{
		{Path: "/etc/systemd/system/" + targetName, Data: target},
		{Path: "/etc/systemd/journald.conf.d/acirun-box.conf",
			Data: "[Journal]\nStorage=volatile\nRateLimitIntervalSec=0\n"},
		{Path: "/etc/machine-id", Data: machineID + "\n", Mode: 0o444},
		{Path: "/etc/hostname", Data: name + "\n"},
		{Path: "/etc/fstab", Data: "# acirun test box: nothing to mount\n"},
	}
	if env := testenv.CoverEnv(); env != "" {
		// Every unit's processes (pods' acirun-stage1 and acirun-pod,
		// transient units running acirun) get GOCOVERDIR, as Command's do.
		fs = append(fs, file{Path: "/etc/systemd/system.conf.d/acirun-box-cover.conf",
			Data: fmt.Sprintf("[Manager]\nDefaultEnvironment=%q\n", env)})
	}
	names := make([]string, 0, len(opts.Units))
	for n := range opts.Units {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fs = append(fs, file{Path: "/etc/systemd/system/" + n, Data: opts.Units[n]})
	}
	return fs
}

// repoBin returns the bin/ directory of the Go module the test runs in.
func repoBin() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "bin"), true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Name returns the box's name: its hostname and the name of its cgroups.
func (b *Box) Name() string { return b.name }

// Dir returns the scratch directory, the same path on both sides.
func (b *Box) Dir() string { return b.dir }

// Pid returns the host pid of the box's systemd.
func (b *Box) Pid() int { return b.cmd.Process.Pid }

// BootTime returns how long New took from its start to a running system.
func (b *Box) BootTime() time.Duration { return b.boot }

// BootLog returns what systemd wrote to its stdout and stderr: its own log
// until journald ran, and all of it if journald never came up.
func (b *Box) BootLog() string {
	d, err := os.ReadFile(filepath.Join(b.state, "boot.log"))
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(d)
}

// Path returns the host's path to path inside the box, through the box's
// /proc/PID/root, with symlinks resolved inside the box's root.
func (b *Box) Path(path string) (string, error) {
	return securejoin.SecureJoin(fmt.Sprintf("/proc/%d/root", b.Pid()), path)
}

// WriteFile writes a file inside the box (e.g. a unit under
// /etc/systemd/system, which lands in the box's upper layer).
func (b *Box) WriteFile(path string, data []byte, perm os.FileMode) error {
	p, err := b.Path(path)
	if err == nil {
		err = os.WriteFile(p, data, perm)
	}
	if err != nil {
		return fmt.Errorf("box %s: write %s: %w", b.name, path, err)
	}
	return nil
}

// Command returns a command that runs argv in all of the box's namespaces
// and its cgroups, as root with all capabilities, in the box's root
// directory. The test binary is re-executed to join the box's cgroups (so
// that systemd in the box can move the command, e.g. into a scope) and then
// execs nsenter(1), which forks argv into the box's pid namespace. Env
// defaults to PATH, HOME and LANG (and GOCOVERDIR in a coverage run, see
// testenv.CoverVar); the caller may set Stdin, Stdout, Env and
// the like as for any exec.Cmd. Cancelling ctx kills nsenter, not argv:
// Close kills whatever is left in the box.
func (b *Box) Command(ctx context.Context, argv ...string) *exec.Cmd {
	cfg := execConfig{Pid: b.Pid(), Nsenter: b.nsenter}
	for _, h := range b.hs {
		cfg.Procs = append(cfg.Procs, filepath.Join(h.Dir, "cgroup.procs"))
	}
	js, _ := json.Marshal(cfg)
	cmd := exec.CommandContext(ctx, b.self, append([]string{execMarker + string(js)}, argv...)...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = []string{boxPATH, "HOME=/root", "LANG=C.UTF-8"}
	if env := testenv.CoverEnv(); env != "" {
		cmd.Env = append(cmd.Env, env)
	}
	return cmd
}

// Exec runs argv in the box; the error carries its output.
func (b *Box) Exec(ctx context.Context, argv ...string) error {
	out, err := b.Command(ctx, argv...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("box %s: %s: %w\n%s", b.name, strings.Join(argv, " "), err, out)
	}
	return nil
}

// Output runs argv in the box and returns its standard output; the error
// carries its standard error.
func (b *Box) Output(ctx context.Context, argv ...string) ([]byte, error) {
	cmd := b.Command(ctx, argv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("box %s: %s: %w\n%s", b.name, strings.Join(argv, " "), err, stderr.Bytes())
	}
	return out, nil
}

// Journal returns the messages journald holds for unit (journalctl -u, so
// systemd's own messages about the unit too), one per line without
// metadata. It asks journald to sync first, so everything the unit wrote
// before the call is there.
func (b *Box) Journal(ctx context.Context, unit string) (string, error) {
	if err := b.Exec(ctx, "journalctl", "--sync"); err != nil {
		return "", err
	}
	out, err := b.Output(ctx, "journalctl", "--unit", unit, "--no-pager", "--quiet", "--output", "cat")
	return string(out), err
}

// Systemd returns a go-systemd connection to the box's systemd over its
// private socket (/run/systemd/private), as systemctl uses it. No bus daemon
// is involved, so it works from early boot; JobRemoved signals arrive after
// Subscribe.
func (b *Box) Systemd(ctx context.Context) (*sddbus.Conn, error) {
	c, err := sddbus.NewConnection(func() (*dbus.Conn, error) {
		return b.dial(ctx, "/run/systemd/private", false)
	})
	if err != nil {
		return nil, fmt.Errorf("box %s: connect to systemd: %w", b.name, err)
	}
	return c, nil
}

// SystemBus returns a connection to the box's D-Bus system bus, for the
// box's machined, logind and the like.
func (b *Box) SystemBus(ctx context.Context) (*dbus.Conn, error) {
	c, err := b.dial(ctx, "/run/dbus/system_bus_socket", true)
	if err != nil {
		return nil, fmt.Errorf("box %s: connect to the system bus: %w", b.name, err)
	}
	return c, nil
}

// WaitRunning waits until the box's systemd has finished starting up, as
// `systemctl is-system-running --wait` does, and returns nil if the system
// is running. If it is degraded, the error lists the failed units; if
// systemd exits or ctx ends first, the error says so.
func (b *Box) WaitRunning(ctx context.Context) error {
	var conn *dbus.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	state := "not reachable"
	for {
		select {
		case <-b.done:
			return fmt.Errorf("box %s: systemd exited during boot: %v", b.name, b.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("box %s: wait for the system to run: state %s: %w", b.name, state, ctx.Err())
		case <-tick.C:
		}
		if conn == nil {
			// Cheap check first: dialing spawns a process.
			if p, err := b.Path("/run/systemd/private"); err != nil {
				continue
			} else if _, err := os.Stat(p); err != nil {
				continue
			}
			c, err := b.dial(ctx, "/run/systemd/private", false)
			if err != nil {
				continue // not up yet
			}
			conn = c
		}
		v, err := conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1").
			GetProperty("org.freedesktop.systemd1.Manager.SystemState")
		if err != nil {
			conn.Close()
			conn = nil
			continue
		}
		state, _ = v.Value().(string)
		switch state {
		case "initializing", "starting":
			continue
		case "running":
			return nil
		}
		var failed []string
		var units []sddbus.UnitStatus
		call := conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1").
			CallWithContext(ctx, "org.freedesktop.systemd1.Manager.ListUnitsFiltered", 0, []string{"failed"})
		if call.Store(&units) == nil {
			for _, u := range units {
				failed = append(failed, u.Name)
			}
		}
		return fmt.Errorf("box %s: system is %s; failed units: %s", b.name, state, strings.Join(failed, " "))
	}
}

// InNetNS runs f on an OS thread that has joined a network namespace of the
// box: the box's own if name is empty, else the one `ip netns add name`
// made inside the box. Sockets f opens stay in that namespace and can be
// used from any goroutine afterwards. The thread is never given back to
// the Go scheduler: it ends with f.
func (b *Box) InNetNS(name string, f func() error) error {
	path := fmt.Sprintf("/proc/%d/ns/net", b.Pid())
	if name != "" {
		if strings.ContainsAny(name, "/") || name == "." || name == ".." {
			return fmt.Errorf("box %s: netns name %q: not a plain name", b.name, name)
		}
		p, err := b.Path("/run/netns/" + name)
		if err != nil {
			return fmt.Errorf("box %s: netns %s: %w", b.name, name, err)
		}
		path = p
	}
	ns, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("box %s: netns: %w", b.name, err)
	}
	defer ns.Close()
	res := make(chan error, 1)
	go func() {
		// No UnlockOSThread: after setns the thread must die with the
		// goroutine rather than run other goroutines in the wrong netns.
		runtime.LockOSThread()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			res <- fmt.Errorf("box %s: setns %s: %w", b.name, path, err)
			return
		}
		res <- f()
	}()
	return <-res
}

// Close powers the box off (SIGRTMIN+4, as `systemctl poweroff`), kills
// its pid namespace if it has not exited within 5 s, removes the box's
// cgroups in every hierarchy once they are empty, and removes its state
// (and Dir, if New made it). Every mount of the box lived in the box's own
// mount namespace, and its network namespace went with its last process, so
// nothing else is left on the host; Close checks the cgroups are gone.
// Calling Close again returns the first result.
func (b *Box) Close() error {
	b.closeOnce.Do(func() { b.closeErr = b.close() })
	return b.closeErr
}

func (b *Box) close() error {
	var errs []error
	if b.cmd != nil && b.cmd.Process != nil {
		select {
		case <-b.done:
		default:
			b.cmd.Process.Signal(sigPoweroff)
			select {
			case <-b.done:
			case <-time.After(5 * time.Second):
				errs = append(errs, fmt.Errorf("box %s: systemd did not power off within 5s; killed", b.name))
				b.cmd.Process.Kill()
				<-b.done
			}
		}
	}
	for _, f := range b.console {
		f.Close()
	}
	if b.consoleDone != nil {
		<-b.consoleDone
	}
	if b.hs != nil {
		if err := removeCgroups(b.hs, 5*time.Second); err != nil {
			errs = append(errs, fmt.Errorf("box %s: %w", b.name, err))
		}
		for _, h := range b.hs {
			if _, err := os.Lstat(h.Dir); !os.IsNotExist(err) {
				errs = append(errs, fmt.Errorf("box %s: cgroup %s left behind", b.name, h.Dir))
			}
		}
	}
	if err := b.removeDirs(); err != nil {
		errs = append(errs, fmt.Errorf("box %s: %w", b.name, err))
	}
	return errors.Join(errs...)
}

// removeDirs removes the box's state directory, and Dir if New made it.
func (b *Box) removeDirs() error {
	if b.ownDir {
		return os.RemoveAll(b.dir)
	}
	if b.state != "" {
		return os.RemoveAll(b.state)
	}
	return nil
}
