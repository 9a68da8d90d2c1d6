package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/flock"
	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/stage0/pod"
	"github.com/acirun/acirun/unitgen"
)

// StopResult says how a pod was stopped.
type StopResult struct {
	// Pod is the pod as it is after it stopped (exited, its exit code
	// recorded by stage1).
	Pod *pod.Pod
	// Unit is the unit that ran the pod and was stopped, "" when the pod
	// had none and its stage1 was signalled.
	Unit string
	// Killed tells that the pod was killed: asked to (--force), or because
	// it had not stopped when its stop timeout and unitgen.StopGrace had
	// passed.
	Killed bool
}

// killWait is how long a pod whose PID 1 was killed gets for its stage1 to
// tidy up (the network, the cgroups, exit.json) before stage1 itself is
// killed.
const killWait = 10 * time.Second

// StopPod stops the running pod ref (a UUID or a unique prefix of one) and
// waits until it has stopped.
//
// A pod that a service runs (its stage1 the unit's main process: an
// acirun-UUID.service of acirun run, an aci@.service) is stopped through
// systemd, as systemctl stop does: the unit's stop sends SIGTERM to stage1,
// which stops the apps (SIGTERM, SIGKILL after the pod's --stop-timeout),
// runs their post-stop handlers and cleans up, and systemd kills what is left
// after TimeoutStopSec. A pod without a unit of its own (run from a shell)
// gets the same from acirun: SIGTERM to its stage1, and if it has not ended
// after the stop timeout and unitgen.StopGrace, the kill below.
//
// With force the pod is killed at once: SIGKILL to its PID 1, which ends
// every process of the pod's PID namespace at the same moment, and after
// which stage1 still records the exit (137) and takes down the pod's
// network and cgroups; its unit, if any, then ends with that status. (Not
// systemctl kill --signal=KILL, which would kill stage1 too and leave the
// pod's address lease and exit record behind.) Only before PID 1 exists is
// the unit killed whole, or stage1 alone.
//
// Processes are signalled through pidfds taken while the pod's lock shows
// stage1 alive, so that a PID reused after the pod ended is never
// signalled.
func (h *Host) StopPod(ctx context.Context, ref string, force bool) (*StopResult, error) {
	pd, err := pod.Load(h.cfg.DataDir, ref)
	if err != nil {
		return nil, err
	}
	if pd.State != pod.StateRunning {
		return nil, fmt.Errorf("stop pod %s: it is %s, %w", pd.UUID, pd.State, errNotRunning)
	}
	s1, pid, err := openStage1(ctx, pd)
	if err != nil {
		return nil, err
	}
	defer unix.Close(s1)

	res := &StopResult{}
	conn, err := openSystemd(ctx)
	if err != nil {
		h.warnf("stop pod %s: %v; stopping it without systemd", pd.UUID, err)
	}
	if conn != nil {
		defer conn.Close()
	}
	unit, err := findUnit(ctx, conn, pd, pid)
	if err != nil {
		h.warnf("%v; stopping the pod without systemd", err)
		unit = nil
	}
	if unit != nil {
		res.Unit = unit.Name
	}
	grace := stopTimeout(pd) + unitgen.StopGrace

	switch {
	case force:
		res.Killed = true
		if err := killPod(ctx, conn, unit, pd, s1, pid); err != nil {
			return nil, err
		}
	case unit != nil:
		// systemd escalates after TimeoutStopSec (the stop timeout and
		// StopGrace) on its own; the job ends when the unit has.
		if err := stopUnitWait(ctx, conn, unit.Name); err != nil {
			return nil, fmt.Errorf("stop pod %s: %w", pd.UUID, err)
		}
	default:
		if err := unix.PidfdSendSignal(s1, unix.SIGTERM, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("stop pod %s: signal its stage1 (pid %d): %w", pd.UUID, pid, err)
		}
	}
	exited, err := waitExit(ctx, s1, grace)
	if err != nil {
		return nil, fmt.Errorf("stop pod %s: %w", pd.UUID, err)
	}
	if !exited && !force {
		h.warnf("pod %s has not stopped %s after SIGTERM: killing it", pd.UUID, grace)
		res.Killed = true
		if err := killPod(ctx, conn, unit, pd, s1, pid); err != nil {
			return nil, err
		}
	}
	if !exited {
		if exited, err = waitExit(ctx, s1, killWait); err != nil {
			return nil, fmt.Errorf("stop pod %s: %w", pd.UUID, err)
		}
	}
	if !exited {
		// stage1 is stuck tidying up: end it; the pod died with PID 1.
		_ = unix.PidfdSendSignal(s1, unix.SIGKILL, nil, 0)
		if exited, err = waitExit(ctx, s1, killWait); err != nil {
			return nil, fmt.Errorf("stop pod %s: %w", pd.UUID, err)
		}
		if !exited {
			return nil, fmt.Errorf("stop pod %s: its stage1 (pid %d) did not end after SIGKILL", pd.UUID, pid)
		}
	}
	if res.Pod, err = waitUnlocked(ctx, h.cfg.DataDir, pd.UUID); err != nil {
		return nil, fmt.Errorf("stop pod %s: %w", pd.UUID, err)
	}
	return res, nil
}

// warnf writes one warning line to Config.Warnings.
func (h *Host) warnf(format string, args ...any) {
	if h.cfg.Warnings != nil {
		fmt.Fprintf(h.cfg.Warnings, "acirun: warning: "+format+"\n", args...)
	}
}

// IsNotRunning tells that StopPod refused a pod because it is not running.
func IsNotRunning(err error) bool { return errors.Is(err, errNotRunning) }

// killPod kills the pod at once (see StopPod): SIGKILL to its PID 1, or,
// before there is one, to the whole unit or to stage1.
func killPod(ctx context.Context, conn *sdbus.Conn, unit *UnitState, pd *pod.Pod, s1, pid int) error {
	p1, err := openPID1(pd, s1, pid)
	if err != nil {
		return fmt.Errorf("kill pod %s: %w", pd.UUID, err)
	}
	if p1 >= 0 {
		defer unix.Close(p1)
		if err := unix.PidfdSendSignal(p1, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("kill pod %s: signal its PID 1: %w", pd.UUID, err)
		}
		return nil
	}
	if unit != nil {
		if err := conn.KillUnitWithTarget(ctx, unit.Name, sdbus.All, int32(unix.SIGKILL)); err != nil {
			return fmt.Errorf("kill pod %s: kill unit %s: %w", pd.UUID, unit.Name, err)
		}
		return nil
	}
	if err := unix.PidfdSendSignal(s1, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill pod %s: signal its stage1 (pid %d): %w", pd.UUID, pid, err)
	}
	return nil
}

// openStage1 returns a pidfd of the running pod's stage1 and its PID. The
// PID is read from the pod's pid file, and the pod's lock is checked held
// after the pidfd is open: stage1 holds it until it exits, so the pidfd
// names stage1 and not a process that got its PID later. A pod whose stage1
// has taken the lock but not yet written its PID is waited for, briefly.
func openStage1(ctx context.Context, pd *pod.Pod) (fd, pid int, err error) {
	lock := filepath.Join(pd.Dir, podcontract.LockFile)
	deadline := time.Now().Add(5 * time.Second)
	for {
		pid, err = readPID(filepath.Join(pd.Dir, podcontract.PIDFile))
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return -1, 0, fmt.Errorf("pod %s: %w", pd.UUID, err)
		}
		if free, _ := flock.Free(lock); free {
			return -1, 0, fmt.Errorf("pod %s: it is not running any more: %w", pd.UUID, errNotRunning)
		}
		if time.Now().After(deadline) {
			return -1, 0, fmt.Errorf("pod %s: its stage1 holds the pod but wrote no pid file in 5s", pd.UUID)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return -1, 0, fmt.Errorf("pod %s: %w", pd.UUID, err)
		}
	}
	fd, err = unix.PidfdOpen(pid, 0)
	if err != nil && !errors.Is(err, unix.ESRCH) {
		return -1, 0, fmt.Errorf("pod %s: open its stage1 (pid %d): %w", pd.UUID, pid, err)
	}
	if free, ferr := flock.Free(lock); err != nil || ferr != nil || free {
		if fd >= 0 {
			unix.Close(fd)
		}
		return -1, 0, fmt.Errorf("pod %s: it is not running any more: %w", pd.UUID, errNotRunning)
	}
	return fd, pid, nil
}

// openPID1 returns a pidfd of the pod's PID 1, or -1 when it has none (yet
// or any more). A PID in the ppid1 file is taken for PID 1 only if that
// process is a child of stage1 (s1, pid) while stage1 is alive: stage1
// reaps PID 1, so until it has, nothing else has that PID.
func openPID1(pd *pod.Pod, s1, pid int) (int, error) {
	p1, err := readPID(filepath.Join(pd.Dir, podcontract.PPID1File))
	if errors.Is(err, os.ErrNotExist) {
		return -1, nil
	}
	if err != nil {
		return -1, err
	}
	fd, err := unix.PidfdOpen(p1, 0)
	if errors.Is(err, unix.ESRCH) {
		return -1, nil
	}
	if err != nil {
		return -1, fmt.Errorf("open its PID 1 (pid %d): %w", p1, err)
	}
	if parent, err := parentPID(p1); err != nil || parent != pid || exitedNow(s1) {
		unix.Close(fd)
		return -1, nil
	}
	return fd, nil
}

// readPID reads a decimal PID and a line break.
func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s: %q is not a PID", path, b)
	}
	return pid, nil
}

// parentPID reads the parent of process pid from /proc.
func parentPID(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PPid:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no PPid", pid)
}

// exitedNow tells whether the process of pidfd has exited.
func exitedNow(pidfd int) bool {
	n, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, 0)
	return err == nil && n > 0
}

// waitExit waits until the process of pidfd has exited (true), timeout has
// passed (false) or ctx is done (its error).
func waitExit(ctx context.Context, pidfd int, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		wait := min(time.Until(deadline), 100*time.Millisecond)
		if wait < 0 {
			wait = 0
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, int(wait/time.Millisecond))
		switch {
		case err != nil && !errors.Is(err, unix.EINTR):
			return false, fmt.Errorf("wait for the pod's stage1: %w", err)
		case n > 0:
			return true, nil
		case ctx.Err() != nil:
			return false, context.Cause(ctx)
		case !time.Now().Before(deadline):
			return false, nil
		}
	}
}

// waitUnlocked waits until the pod uuid, whose stage1 has exited, reads
// as not running (the kernel drops stage1's lock as its files close), and
// returns it.
func waitUnlocked(ctx context.Context, dataDir, uuid string) (*pod.Pod, error) {
	for {
		pd, err := pod.Load(dataDir, uuid)
		if err != nil || pd.State != pod.StateRunning {
			return pd, err
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// stopTimeout is the pod's --stop-timeout, chosen at prepare time and read
// from its stage1 flags by the contract's parser, or stage1's default.
func stopTimeout(pd *pod.Pod) time.Duration {
	o, err := podcontract.ParseRecordedFlags(pd.Stage1Args)
	if err != nil {
		return podcontract.DefaultStopTimeout
	}
	return o.StopTimeout
}
