package host

import (
	"context"
	"errors"
	"fmt"
	"strings"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/acirun/acirun/stage0/pod"
)

// UnitState is what systemd says of a pod's unit.
type UnitState struct {
	// Name is the unit's name (acirun-UUID.service, aci@NAME.service, …).
	Name string
	// LoadState, ActiveState and SubState are systemd's (systemctl show).
	LoadState, ActiveState, SubState string
	// Result is the service's result: "success", or why it failed
	// ("exit-code", "signal", "timeout", …).
	Result string
	// MainPID is the service's main process, 0 when it has none.
	MainPID int
	// Main tells that the pod's stage1 is the unit's main process: the
	// unit runs the pod, and stopping one stops the other.
	Main bool
}

// Active tells that the unit has started and not yet begun to stop: for a
// pod's Type=notify unit, that every app has started.
func (u *UnitState) Active() bool { return u.ActiveState == "active" }

// Ended tells that the unit is not running any more.
func (u *UnitState) Ended() bool {
	return u.ActiveState == "inactive" || u.ActiveState == "failed"
}

// openSystemd connects to the host's systemd (connectSystemd). It returns
// nil and no error on a host whose init is not systemd: there, no pod has
// a unit.
func openSystemd(ctx context.Context) (*sdbus.Conn, error) {
	if !SystemdBooted() {
		return nil, nil
	}
	return connectSystemd(ctx)
}

// findUnit finds the systemd unit of the pod pd, or returns nil when it has
// none. A running pod's unit is the one its stage1 process is in (systemd's
// GetUnitByPID), when stage1 is that unit's main process: a service made
// for the pod (acirun-UUID.service, aci@.service, systemd-run). A pod run
// from a shell has no unit of its own; the scope machined makes for its PID
// 1 is not the pod's supervisor and is not reported. A pod that is not
// running may still have a unit that systemd keeps loaded (a failed
// transient unit, until reset-failed): the one its directory records
// (podUnit).
// pid is stage1's PID, checked alive by the caller (it holds the pod's
// lock), or 0 for a pod that is not running.
func findUnit(ctx context.Context, conn *sdbus.Conn, pd *pod.Pod, pid int) (*UnitState, error) {
	if conn == nil {
		return nil, nil
	}
	if pid > 0 {
		name, err := conn.GetUnitNameByPID(ctx, uint32(pid))
		var derr dbus.Error
		if errors.As(err, &derr) && derr.Name == "org.freedesktop.systemd1.NoUnitForPID" {
			return nil, nil // a process of no unit at all (in a slice or the root cgroup)
		}
		if err != nil {
			return nil, fmt.Errorf("pod %s: find the unit of its stage1 (pid %d): %w", pd.UUID, pid, err)
		}
		if !strings.HasSuffix(name, ".service") {
			return nil, nil
		}
		u, err := unitState(ctx, conn, name)
		if err != nil {
			return nil, fmt.Errorf("pod %s: %w", pd.UUID, err)
		}
		if u.MainPID != pid {
			return nil, nil
		}
		u.Main = true
		return u, nil
	}
	name := podUnit(pd)
	if name == "" {
		return nil, nil
	}
	u, err := unitState(ctx, conn, name)
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", pd.UUID, err)
	}
	if u.LoadState != "loaded" {
		return nil, nil
	}
	return u, nil
}

// unitState reads the state of the service name.
func unitState(ctx context.Context, conn *sdbus.Conn, name string) (*UnitState, error) {
	props, err := conn.GetUnitPropertiesContext(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("read the state of unit %s: %w", name, err)
	}
	u := &UnitState{Name: name}
	u.LoadState, _ = props["LoadState"].(string)
	u.ActiveState, _ = props["ActiveState"].(string)
	u.SubState, _ = props["SubState"].(string)
	if u.LoadState != "loaded" {
		return u, nil
	}
	svc, err := conn.GetUnitTypePropertiesContext(ctx, name, "Service")
	if err != nil {
		return nil, fmt.Errorf("read the state of unit %s: %w", name, err)
	}
	u.Result, _ = svc["Result"].(string)
	if p, ok := svc["MainPID"].(uint32); ok {
		u.MainPID = int(p)
	}
	return u, nil
}

// stopUnitWait stops the unit name as systemctl stop does and waits for
// the job to end.
func stopUnitWait(ctx context.Context, conn *sdbus.Conn, name string) error {
	ch := make(chan string, 1)
	if _, err := conn.StopUnitContext(ctx, name, "replace", ch); err != nil {
		return fmt.Errorf("stop unit %s: %w", name, err)
	}
	select {
	case r := <-ch:
		if r != "done" {
			return fmt.Errorf("stop unit %s: the job ended %q", name, r)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop unit %s: %w", name, context.Cause(ctx))
	}
}

// errNotRunning is wrapped by StopPod's error for a pod that is not running.
var errNotRunning = errors.New("not running")
