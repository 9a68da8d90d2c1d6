package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	"golang.org/x/term"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/stage0/pod"
	"github.com/acirun/acirun/unitgen"
)

// SystemdBooted reports whether systemd is the init system, as
// sd_booted(3) tells: /run/systemd/system exists (systemd makes it early in
// boot; a container's systemd too).
func SystemdBooted() bool {
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// UnitOptions say how RunPod hands a pod to systemd.
type UnitOptions struct {
	// NoUnit runs the pod in this process even where systemd could
	// supervise it (--no-unit).
	NoUnit bool
	// Name is the unit's name (--unit); "" means unitgen.UnitName(UUID).
	Name string
	// Detach returns once the pod is ready (its unit's start job is done),
	// leaving its output to the journal. Otherwise RunPod waits for the
	// pod to end, with Stdin, Stdout and Stderr handed to the unit.
	Detach bool
	// Stdin, Stdout and Stderr are the caller's, passed to the unit as
	// file descriptors (what `systemd-run --pipe` does) unless Detach.
	Stdin, Stdout, Stderr *os.File
}

// InPlace reports whether RunPod runs the pod in this process without
// asking systemd (--no-unit, or no systemd): the caller may then make
// ahead what its Starter will need (the CLI: the pod's thread).
func (o UnitOptions) InPlace() bool { return o.NoUnit || !SystemdBooted() }

// UnitResult is what RunPod did with a unit.
type UnitResult struct {
	UUID string
	Unit string
	// ExitCode is the pod's exit code (0, N, or 128+N for a signal), once
	// it has ended; with Detach it is not known and is 0.
	ExitCode int
}

// RunPod runs the pod req describes: as a transient systemd unit (RunUnit)
// where systemd is the init system, or in this process with inPlace (the
// CLI runs stage1 in its own process): with opts.NoUnit, without systemd, and
// when this process is already the main process of a service, which was
// made for this pod (units/aci@.service, `systemd-run acirun run …`, a
// unit of the administrator's), so that its unit, not a new one,
// supervises the pod. Being a process of a service is not enough: a script
// that a service runs gets a unit of its own for each pod it starts, as it
// would with systemd-run; and a process of a scope (a login session,
// `systemd-run --scope`) is never a service's main process. The result is
// nil when the pod ran in this process (inPlace returned).
func (h *Host) RunPod(ctx context.Context, req *pod.RunRequest, prep PrepareOptions, opts UnitOptions, inPlace Starter) (*UnitResult, error) {
	nc, err := h.NetworkConfig()
	if err != nil {
		return nil, err
	}
	return h.runPod(ctx, opts, podSource{made: true, nc: nc, get: func(ctx context.Context) (*pod.Pod, error) {
		return h.prepare(ctx, req, prep, nc)
	}}, inPlace)
}

// RunPreparedPod runs the prepared pod ref (a UUID or a unique prefix of
// one), with the options of o in place of those prepare recorded, as
// RunPod runs a new pod: as a transient unit, or in this process with
// inPlace (see RunPod). A prepared pod whose unit cannot be started stays
// prepared.
func (h *Host) RunPreparedPod(ctx context.Context, ref string, o pod.StartOptions, opts UnitOptions, inPlace Starter) (*UnitResult, error) {
	nc, err := h.NetworkConfig()
	if err != nil {
		return nil, err
	}
	return h.runPod(ctx, opts, podSource{nc: nc, get: func(ctx context.Context) (*pod.Pod, error) {
		return h.preparedPod(ctx, ref, o)
	}}, inPlace)
}

// podSource is where RunPod and RunPreparedPod get the pod they start.
type podSource struct {
	// get returns the pod, ready to start (its Stage1Args final).
	get func(context.Context) (*pod.Pod, error)
	// made says get made the pod, which then goes again if its unit
	// cannot be started.
	made bool
	// nc is the host's network configuration, read once for the start
	// (the pod's publish setting, stage1's subnets).
	nc NetworkConfig
}

// runPod is RunPod and RunPreparedPod: it starts the pod src gives as a
// transient unit or, with inPlace, in this process.
func (h *Host) runPod(ctx context.Context, opts UnitOptions, src podSource, inPlace Starter) (*UnitResult, error) {
	if opts.InPlace() {
		if opts.Detach {
			return nil, errors.New("--detach needs systemd to supervise the pod, and this host has none or --no-unit was given")
		}
		// No unit bounds the pod's processes: it bounds them itself, as
		// its unit would (TasksMax).
		return nil, h.startInPlace(ctx, src, inPlace, "--tasks-max="+strconv.Itoa(unitgen.TasksMax))
	}
	tr := h.cfg.Trace
	if !inServiceCgroup() {
		// No service's main process (mainProcessOfService): the pod gets
		// a unit of its own, and the connection to systemd that starts
		// it is made while the pod is prepared, not before.
		c := make(chan error, 1)
		var conn *sdbus.Conn
		go func() {
			var err error
			if conn, err = connectSystemd(ctx); err == nil {
				tr.Step("connected to systemd")
				err = subscribe(conn)
			}
			c <- err
		}()
		return h.runUnit(ctx, sync.OnceValues(func() (*sdbus.Conn, error) {
			if err := <-c; err != nil {
				return nil, err
			}
			return conn, nil
		}), src, opts)
	}
	conn, err := connectSystemd(ctx)
	if err != nil {
		return nil, err
	}
	tr.Step("connected to systemd")
	main, err := mainProcessOfService(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	tr.Step("main process of a service: %t", main)
	if main {
		conn.Close()
		if opts.Detach || opts.Name != "" {
			return nil, errors.New("--detach and --unit make a unit of the pod's own, but acirun is already the main process of a service, which runs the pod: drop them, or start acirun some other way")
		}
		return nil, h.startInPlace(ctx, src, inPlace)
	}
	return h.runUnit(ctx, sync.OnceValues(func() (*sdbus.Conn, error) { return conn, subscribe(conn) }), src, opts)
}

// subscribe has systemd send conn the changes of its units' properties
// (waitUnit watches the pod's), before the pod's unit exists, so that no
// change of a pod that ends at once is missed.
func subscribe(conn *sdbus.Conn) error {
	if err := conn.Subscribe(); err != nil {
		conn.Close()
		return fmt.Errorf("subscribe to systemd's signals: %w", err)
	}
	return nil
}

// startInPlace starts the pod src gives with start (the CLI runs its
// stage1 in its own process), with the flags of stage1 run startFlags
// besides those of every start (Stage1Command).
func (h *Host) startInPlace(ctx context.Context, src podSource, start Starter, startFlags ...string) error {
	// Without the stage1 binary no pod can run: say so before anything
	// is prepared.
	if _, err := podcontract.FindStage1(); err != nil {
		return err
	}
	pd, err := src.get(ctx)
	if err != nil {
		return err
	}
	argv, err := h.Stage1Command(pd, src.nc, startFlags...)
	if err != nil {
		return err
	}
	return start(pd, argv)
}

// mainProcessOfService reports whether this process is the main process of
// the service it runs in, as systemd knows it (GetUnitByPID, then the
// service's MainPID): the environment ($INVOCATION_ID, $NOTIFY_SOCKET) is
// inherited by every descendant and proves nothing.
func mainProcessOfService(ctx context.Context, conn *sdbus.Conn) (bool, error) {
	if !inServiceCgroup() {
		return false, nil
	}
	self := os.Getpid()
	name, err := conn.GetUnitNameByPID(ctx, uint32(self))
	var de dbus.Error
	if errors.As(err, &de) && de.Name == "org.freedesktop.systemd1.NoUnitForPID" {
		// In no unit at all: the root cgroup.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ask systemd for the unit of process %d: %w", self, err)
	}
	if !strings.HasSuffix(name, ".service") {
		return false, nil
	}
	v, err := conn.GetServicePropertyContext(ctx, name, "MainPID")
	if err != nil {
		return false, fmt.Errorf("ask systemd for the main process of %s: %w", name, err)
	}
	pid, _ := v.Value.Value().(uint32)
	return int(pid) == self, nil
}

// inServiceCgroup reports whether this process may be in a service: a
// directory of its cgroup path (/proc/self/cgroup, any hierarchy) is named
// NAME.service, which systemd names a service's cgroup and every cgroup
// below it. A process in none (a login session's scope, the root cgroup)
// is no service's main process, and mainProcessOfService need not ask
// systemd: two D-Bus calls less on the way to a pod's start. When the file
// cannot be read, systemd is asked.
func inServiceCgroup() bool {
	b, err := os.ReadFile("/proc/self/cgroup")
	return err != nil || cgroupsInService(string(b))
}

// cgroupsInService reports whether the cgroups of a /proc/PID/cgroup file
// name a service (see inServiceCgroup).
func cgroupsInService(procCgroup string) bool {
	for _, l := range strings.Split(procCgroup, "\n") {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, d := range strings.Split(parts[2], "/") {
			if strings.HasSuffix(d, ".service") {
				return true
			}
		}
	}
	return false
}

// connectSystemd connects to systemd: its private socket as root (what
// systemctl and systemd-run use; it needs no bus daemon), else the system
// bus. The connection outlives ctx (godbus would close it when ctx is
// done): a cancelled run still has to stop its unit and watch it end.
func connectSystemd(ctx context.Context) (*sdbus.Conn, error) {
	ctx = context.WithoutCancel(ctx)
	if os.Geteuid() == 0 {
		if conn, err := sdbus.NewConnection(privateSystemdConn(ctx)); err == nil {
			return conn, nil
		}
	}
	conn, err := sdbus.NewSystemConnectionContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to systemd: %w (run the pod in this process with --no-unit)", err)
	}
	return conn, nil
}

// privateSystemdConn is go-systemd's dial of systemd's private socket
// (NewSystemdConnectionContext: EXTERNAL authentication, no Hello) for
// sdbus.NewConnection, which dials twice, one connection for calls and one
// for signals: this one dials once and hands the same connection out both
// times, so that a run costs one connection and authentication handshake
// with systemd rather than two, on the way to its pod's start. A D-Bus
// connection carries calls and signals alike.
func privateSystemdConn(ctx context.Context) func() (*dbus.Conn, error) {
	var conn *dbus.Conn
	return func() (*dbus.Conn, error) {
		if conn != nil {
			return conn, nil
		}
		c, err := dbus.Dial("unix:path=/run/systemd/private", dbus.WithContext(ctx))
		if err != nil {
			return nil, err
		}
		if err := c.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
			c.Close()
			return nil, err
		}
		conn = c
		return c, nil
	}
}

// runUnit gets the pod src gives and starts it as a transient systemd
// service (unitgen describes it) whose main process is the pod's stage1,
// so that the unit runs the pod whether or not this process lives on. It
// starts the unit over the connection connect returns (once made, it is
// closed when runUnit returns), subscribed to systemd's signals.
// Unless opts.Detach it waits for the pod to end and returns its exit
// code: a cancelled ctx (the user's Ctrl-C) stops the unit, gracefully,
// and runUnit still waits for the pod to stop and its post-stop handlers
// to run (systemd's TimeoutStopSec bounds that). A pod src made is removed
// if its unit cannot be started; a prepared one stays prepared.
func (h *Host) runUnit(ctx context.Context, connect func() (*sdbus.Conn, error), src podSource, opts UnitOptions) (*UnitResult, error) {
	defer func() {
		if conn, err := connect(); err == nil {
			conn.Close()
		}
	}()
	if _, err := podcontract.FindStage1(); err != nil {
		return nil, err
	}
	pd, err := src.get(ctx)
	if err != nil {
		return nil, err
	}
	conn, err := connect()
	if err != nil {
		if src.made {
			return nil, h.dropPod(pd, err)
		}
		return nil, err
	}
	flags, err := podcontract.ParseRecordedFlags(pd.Stage1Args)
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", pd.UUID, err)
	}
	if flags.Interactive && !opts.Detach && opts.Stdin != nil {
		// This process holds the terminal for the whole of the pod's
		// life, so it puts its settings back as it found them. Others
		// change them meanwhile: systemd resets a terminal it is handed
		// as standard input (IUTF8, IMAXBEL; it flushes what was typed
		// ahead), and the unit's stage1 makes it raw and restores only
		// what it found after systemd, and nothing when it is killed.
		if st, err := term.GetState(int(opts.Stdin.Fd())); err == nil {
			defer func() { _ = term.Restore(int(opts.Stdin.Fd()), st) }()
		}
	}
	res, err := h.startUnit(ctx, conn, pd, src, flags.StopTimeout, opts)
	if err != nil || opts.Detach {
		return res, err
	}
	return res, h.waitUnit(ctx, conn, pd, res)
}

// startUnit starts pd's unit and waits for its start job. If the unit
// could not be made, a pod this command made (src.made) is removed, and a
// prepared one is left as it was.
func (h *Host) startUnit(ctx context.Context, conn *sdbus.Conn, pd *pod.Pod, src podSource, stopTimeout time.Duration, opts UnitOptions) (res *UnitResult, err error) {
	undo := func(err error) error {
		if src.made {
			return h.dropPod(pd, err)
		}
		if rerr := os.Remove(filepath.Join(pd.Dir, podcontract.UnitFile)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return errors.Join(err, rerr)
		}
		return err
	}
	argv, err := h.Stage1Command(pd, src.nc)
	if err != nil {
		return nil, undo(err)
	}
	u, err := unitgen.New(unitgen.Pod{UUID: pd.UUID, Manifest: pd.Manifest, Command: argv, StopTimeout: stopTimeout, Name: opts.Name})
	if err != nil {
		return nil, undo(err)
	}
	props, err := u.Properties()
	if err != nil {
		return nil, undo(err)
	}
	if !opts.Detach {
		props = append(props, terminalProperties(opts.Stdin, opts.Stdout, opts.Stderr)...)
	}
	if err := os.WriteFile(filepath.Join(pd.Dir, podcontract.UnitFile), []byte(u.Name()+"\n"), 0o644); err != nil {
		return nil, undo(fmt.Errorf("pod %s: record its unit: %w", pd.UUID, err))
	}
	res = &UnitResult{UUID: pd.UUID, Unit: u.Name()}
	if tr := h.cfg.Trace; tr.On() {
		props = append(props, sdbus.Property{Name: "Environment", Value: dbus.MakeVariant([]string{tr.ForChild()})})
		tr.Step("start unit %s", u.Name())
	}
	job := make(chan string, 1)
	if _, err := conn.StartTransientUnitContext(ctx, u.Name(), "fail", props, job); err != nil {
		return nil, undo(fmt.Errorf("pod %s: start unit %s: %w", pd.UUID, u.Name(), err))
	}
	h.cfg.Trace.Step("unit start queued")
	select {
	case r := <-job:
		h.cfg.Trace.Step("unit start job %s", r)
		if r != "done" && opts.Detach {
			return res, fmt.Errorf("pod %s: unit %s did not start (job %s): see journalctl -u %s", pd.UUID, u.Name(), r, u.Name())
		}
	case <-ctx.Done():
		// Interrupted while starting: the pod stops as it would once
		// running; a detached start then fails.
		if opts.Detach {
			stopUnit(conn, u.Name())
			return res, fmt.Errorf("pod %s: start of unit %s interrupted: %w", pd.UUID, u.Name(), ctx.Err())
		}
	}
	return res, nil
}

// dropPod removes a pod that never ran, so that a failed start leaves
// nothing behind, and returns err.
func (h *Host) dropPod(pd *pod.Pod, err error) error {
	if rerr := pod.Remove(h.cfg.DataDir, pd.UUID); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// terminalProperties hand the caller's standard streams to the unit, as
// systemd-run --pipe does. They are properties of this start alone, not of
// the pod's unit (a unit file cannot hold them), so unitgen does not know
// them.
func terminalProperties(stdin, stdout, stderr *os.File) []sdbus.Property {
	var props []sdbus.Property
	for _, s := range []struct {
		name string
		f    *os.File
	}{{"StandardInputFileDescriptor", stdin}, {"StandardOutputFileDescriptor", stdout}, {"StandardErrorFileDescriptor", stderr}} {
		if s.f != nil {
			props = append(props, sdbus.Property{Name: s.name, Value: dbus.MakeVariant(dbus.UnixFD(s.f.Fd()))})
		}
	}
	return props
}

// stopUnit asks systemd to stop a unit (SIGTERM to stage1 alone, which
// stops the apps and runs their post-stop handlers). It does not wait:
// the caller watches the unit end.
func stopUnit(conn *sdbus.Conn, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := conn.StopUnitContext(ctx, name, "replace", nil)
	return err
}

// waitUnit waits for the unit of a started pod to end (ActiveState
// inactive or failed), stopping it when ctx is cancelled, and sets the
// pod's exit code: exit.json's, the pod's own record, or else (stage1 was
// killed before it could write one) the unit's main process status. A unit
// that failed is then reset, so that it is collected: its status has been
// reported, and the pod directory and the journal keep the rest.
func (h *Host) waitUnit(ctx context.Context, conn *sdbus.Conn, pd *pod.Pod, res *UnitResult) error {
	// The updates only wake the loop, which reads the state itself; a full
	// channel (many units changing at once) reports on errs, which wakes
	// it too, so no change is lost. Updates of other units are dropped.
	updates := make(chan *sdbus.PropertiesUpdate, 256)
	errs := make(chan error, 1)
	conn.SetPropertiesSubscriber(updates, errs)
	defer conn.SetPropertiesSubscriber(nil, nil)

	done := ctx.Done()
	bg := context.Background()
	// state is the unit's ActiveState as last read or signalled; "" when
	// it must be read (at first, and after a lost or other change).
	state := ""
	for {
		if state == "" {
			st, err := conn.GetUnitPropertyContext(bg, res.Unit, "ActiveState")
			if err != nil {
				return fmt.Errorf("pod %s: read the state of unit %s: %w", pd.UUID, res.Unit, err)
			}
			state, _ = st.Value.Value().(string)
		}
		if state == "inactive" || state == "failed" {
			h.cfg.Trace.Step("unit %s", state)
			break
		}
		select {
		case u := <-updates:
			if u.UnitName != res.Unit {
				continue
			}
			// The signal carries the new state: no round trip to
			// read it again.
			v, ok := u.Changed["ActiveState"]
			if s, isString := v.Value().(string); ok && isString && s != "" {
				state = s
			} else {
				state = ""
			}
		case <-errs:
			state = ""
		case <-done:
			done = nil
			if err := stopUnit(conn, res.Unit); err != nil {
				return fmt.Errorf("pod %s: stop unit %s: %w", pd.UUID, res.Unit, err)
			}
			state = ""
		}
	}
	code, err := h.unitExitCode(bg, conn, pd, res.Unit)
	if err != nil {
		return err
	}
	res.ExitCode = code
	if state != "failed" {
		return nil // nothing to reset: systemd collects an inactive unit
	}
	if err := conn.ResetFailedUnitContext(bg, res.Unit); err != nil && !isNotFailed(err) {
		return fmt.Errorf("pod %s: reset failed unit %s: %w", pd.UUID, res.Unit, err)
	}
	return nil
}

// isNotFailed tells the errors of ResetFailedUnit for a unit that is not
// failed or no longer loaded, which are no failure of ours.
func isNotFailed(err error) bool {
	var de dbus.Error
	return errors.As(err, &de) && (de.Name == "org.freedesktop.systemd1.NoSuchUnit" || de.Name == "org.freedesktop.systemd1.UnitInactive")
}

// Child status codes of ExecMainCode (waitid(2)'s si_code).
const (
	cldExited = 1
	cldKilled = 2
	cldDumped = 3
)

// mainExitCode is the exit code of a process as a shell reports it (N, or
// 128+N for signal N) from a unit's ExecMainCode and ExecMainStatus; false
// when the main process has not ended (code 0).
func mainExitCode(code, status int32) (int, bool) {
	switch code {
	case cldExited:
		return int(status), true
	case cldKilled, cldDumped:
		return 128 + int(status), true
	}
	return 0, false
}

// unitExitCode is the exit code of a pod whose unit has ended.
func (h *Host) unitExitCode(ctx context.Context, conn *sdbus.Conn, pd *pod.Pod, unit string) (int, error) {
	if p, err := pod.Load(h.cfg.DataDir, pd.UUID); err == nil && p.ExitCode != nil {
		return *p.ExitCode, nil
	}
	props, err := conn.GetUnitTypePropertiesContext(ctx, unit, "Service")
	if err != nil {
		return 0, fmt.Errorf("pod %s: read the exit status of unit %s: %w", pd.UUID, unit, err)
	}
	code, _ := props["ExecMainCode"].(int32)
	status, _ := props["ExecMainStatus"].(int32)
	if c, ok := mainExitCode(code, status); ok {
		return c, nil
	}
	result, _ := props["Result"].(string)
	return 0, fmt.Errorf("pod %s: unit %s ended (result %s) without an exit status: see journalctl -u %s", pd.UUID, unit, result, unit)
}

// podUnit is the name of the transient unit pd was started in (the unit
// file of its directory), or "".
func podUnit(pd *pod.Pod) string {
	b, err := os.ReadFile(filepath.Join(pd.Dir, podcontract.UnitFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// resetFailedUnits resets the failed transient units of removed pods (a pod
// whose stage1 was killed leaves one, and a detached pod that failed), so
// that systemd unloads them. Units that are not failed, or gone, are no
// error.
func resetFailedUnits(ctx context.Context, units []string) error {
	if len(units) == 0 || !SystemdBooted() {
		return nil
	}
	conn, err := connectSystemd(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var errs []error
	for _, u := range units {
		if err := conn.ResetFailedUnitContext(ctx, u); err != nil && !isNotFailed(err) {
			errs = append(errs, fmt.Errorf("reset failed unit %s: %w", u, err))
		}
	}
	return errors.Join(errs...)
}
