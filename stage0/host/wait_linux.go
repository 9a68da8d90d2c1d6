package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/stage0/pod"
)

// waitPoll is how often a wait looks at the pod directory again. The
// states it waits for are files that appear and a lock that goes (see
// docs/pod-layout.md): a few reads every 50ms cost nothing and need no
// inotify watch on a directory that may be removed meanwhile.
const waitPoll = 50 * time.Millisecond

// PodUnit returns the systemd unit of the pod pd (see findUnit), or nil
// when it has none or the host has no systemd.
func (h *Host) PodUnit(ctx context.Context, pd *pod.Pod) (*UnitState, error) {
	conn, err := openSystemd(ctx)
	if err != nil || conn == nil {
		return nil, err
	}
	defer conn.Close()
	pid := 0
	if pd.State == pod.StateRunning {
		pid = pd.PID
	}
	return findUnit(ctx, conn, pd, pid)
}

// WaitExited waits until the pod ref has exited (its exit record is
// written and its stage1 gone) and returns it. A pod that is prepared is
// waited for through its run. It fails when ctx ends first, saying what
// the pod is doing, and for a pod that can never exit (abandoned).
func (h *Host) WaitExited(ctx context.Context, ref string) (*pod.Pod, error) {
	pd, err := pod.Load(h.cfg.DataDir, ref)
	if err != nil {
		return nil, err
	}
	for {
		switch pd.State {
		case pod.StateExited:
			return pd, nil
		case pod.StateAbandoned:
			return nil, fmt.Errorf("pod %s was abandoned while being prepared: it will never run", pd.UUID)
		}
		if err := sleep(ctx, waitPoll); err != nil {
			return nil, fmt.Errorf("wait for pod %s to exit: %w (it is %s)", pd.UUID, err, pd.State)
		}
		if pd, err = reload(h.cfg.DataDir, pd); err != nil {
			return nil, err
		}
	}
}

// WaitReady waits until the pod ref runs and is ready, and returns it
// with its unit (nil without one). A pod that a unit runs is ready when
// the unit is active: a pod's unit is Type=notify, and stage1 tells systemd
// READY=1 once every app's main process has started (and every app that
// supports systemd's notification has said READY=1 itself). A pod without
// a unit is ready at the same moment, which stage1 records in the pod
// directory (podcontract.ReadyFile). It fails when the pod exits first or ctx
// ends.
func (h *Host) WaitReady(ctx context.Context, ref string) (*pod.Pod, *UnitState, error) {
	pd, err := pod.Load(h.cfg.DataDir, ref)
	if err != nil {
		return nil, nil, err
	}
	conn, err := openSystemd(ctx)
	if err != nil {
		return nil, nil, err
	}
	if conn != nil {
		defer conn.Close()
	}
	for {
		switch pd.State {
		case pod.StateExited:
			return nil, nil, fmt.Errorf("pod %s exited before it was ready%s", pd.UUID, exitSuffix(pd))
		case pod.StateAbandoned:
			return nil, nil, fmt.Errorf("pod %s was abandoned while being prepared: it will never run", pd.UUID)
		case pod.StateRunning:
			if pd.PID == 0 {
				break // stage1 has not written its pid yet
			}
			unit, err := findUnit(ctx, conn, pd, pd.PID)
			if err != nil {
				return nil, nil, err
			}
			if unit != nil && unit.Active() {
				return pd, unit, nil
			}
			if unit == nil {
				if _, err := os.Stat(filepath.Join(pd.Dir, podcontract.ReadyFile)); err == nil {
					return pd, nil, nil
				}
			}
		}
		if err := sleep(ctx, waitPoll); err != nil {
			return nil, nil, fmt.Errorf("wait for pod %s to be ready: %w (it is %s)", pd.UUID, err, pd.State)
		}
		if pd, err = reload(h.cfg.DataDir, pd); err != nil {
			return nil, nil, err
		}
	}
}

// reload reads pd again; a pod removed meanwhile is an error naming it.
func reload(dataDir string, pd *pod.Pod) (*pod.Pod, error) {
	np, err := pod.Load(dataDir, pd.UUID)
	if errors.Is(err, pod.ErrNotFound) {
		return nil, fmt.Errorf("pod %s was removed while waiting for it", pd.UUID)
	}
	return np, err
}

// exitSuffix says how an exited pod ended, for an error message.
func exitSuffix(pd *pod.Pod) string {
	if pd.ExitCode == nil {
		return " (exit code unknown)"
	}
	return fmt.Sprintf(" (exit code %d)", *pd.ExitCode)
}
