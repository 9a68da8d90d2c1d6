package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/godbus/dbus/v5"

	stage1 "github.com/acirun/acirun/stage1-systemd"
)

const (
	machinedName    = "org.freedesktop.machine1"
	machinedPath    = dbus.ObjectPath("/org/freedesktop/machine1")
	machinedManager = machinedName + ".Manager"
	machinedMachine = machinedName + ".Machine"
)

// errNoMachined says the host has no system bus or no systemd-machined: the
// pod runs as before, only machinectl does not know it.
var errNoMachined = errors.New("no systemd-machined on this host")

// errLeaderEnded says the pod's PID 1 ended before its registration with
// systemd-machined was done (it failed while the network was attached):
// the pod is not registered, or no longer, and the start fails for PID 1's
// reason, which the caller reports.
var errLeaderEnded = errors.New("PID 1 has ended")

// machine is a pod's registration with systemd-machined.
type machine struct {
	name    string
	unit    string // the unit the pod's processes are in
	created bool   // the unit is a scope machined made for the pod
}

// scopeProperty is one property of the scope unit CreateMachine makes, as
// D-Bus's a(sv) wants it.
type scopeProperty struct {
	Name  string
	Value dbus.Variant
}

// registerMachine registers the pod with this UUID, whose PID 1 has host PID
// leader, with systemd-machined, over the system bus connection bus makes
// (dialSystemBus: it is made while the pod's network and metadata service
// start, so that only the registration's one call is left on the way to the
// apps' start); the connection is closed when this returns. Where the caller runs as a unit's main
// process (keepUnit), the machine is that unit, and stopping one stops the
// other; anywhere else (a login session, a shell in the box of the tests,
// a host without units) machined puts leader into a new scope unit,
// machine-acirun\x2dUUID.scope, which holds the whole pod from then on: the
// caller must not let PID 1 start anything before this returns. ifindices are
// the host-side network interfaces of the pod, for machinectl to show its
// addresses (none yet). The name of a scope machined made is asked for only
// withUnit (--debug, which prints it): two more round trips. It returns
// errNoMachined, wrapped, when there is no machined to register with.
//
// A leader that is our child and has ended (stage1.Ended) is not
// registered, and one that ended during the call is unregistered: machined
// would keep a machine whose leader is gone (a scope made for a process
// that ended stays, and machinectl shows it). It returns errLeaderEnded
// then.
func registerMachine(ctx context.Context, bus *busDial, uuid string, leader int, ifindices []int32, withUnit bool) (machine, error) {
	m := machine{name: machineName(uuid)}
	if stage1.Ended(leader) {
		return m, fmt.Errorf("register machine %s: %w", m.name, errLeaderEnded)
	}
	id, err := machineID(uuid)
	if err != nil {
		return m, err
	}
	cg, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return m, fmt.Errorf("register machine %s: %w", m.name, err)
	}
	unit, keep := keepUnit(string(cg))
	conn, err := bus.wait(ctx)
	if err != nil {
		return m, fmt.Errorf("register machine %s: %w", m.name, err)
	}
	defer conn.Close()
	obj := conn.Object(machinedName, machinedPath)
	if ifindices == nil {
		ifindices = []int32{}
	}
	var call *dbus.Call
	if keep {
		m.unit = unit
		call = obj.CallWithContext(ctx, machinedManager+".RegisterMachineWithNetwork", 0,
			m.name, id, "acirun", "container", uint32(leader), "", ifindices)
	} else {
		m.created = true
		props := []scopeProperty{
			{"Description", dbus.MakeVariant("acirun pod " + uuid)},
			// stage1 makes the apps' cgroups below PID 1's.
			{"Delegate", dbus.MakeVariant(true)},
			// A pod that failed leaves no failed scope behind.
			{"CollectMode", dbus.MakeVariant("inactive-or-failed")},
		}
		call = obj.CallWithContext(ctx, machinedManager+".CreateMachineWithNetwork", 0,
			m.name, id, "acirun", "container", uint32(leader), "", ifindices, props)
	}
	if err := call.Err; err != nil {
		if stage1.Ended(leader) {
			return m, fmt.Errorf("register machine %s: %w", m.name, errLeaderEnded)
		}
		return m, fmt.Errorf("register machine %s: %w", m.name, busError(err))
	}
	if stage1.Ended(leader) {
		// Only the record of a machine in our own unit (which is
		// the supervisor's); a scope made for the pod goes with it.
		method := "UnregisterMachine"
		if m.created {
			method = "TerminateMachine"
		}
		if err := obj.CallWithContext(ctx, machinedManager+"."+method, 0, m.name).Err; err != nil {
			return m, fmt.Errorf("register machine %s: %w, and %s: %w", m.name, errLeaderEnded, method, busError(err))
		}
		return m, fmt.Errorf("register machine %s: %w", m.name, errLeaderEnded)
	}
	if m.created && withUnit {
		// The scope's name, for the log: machined escapes the machine's.
		var path dbus.ObjectPath
		if err := obj.CallWithContext(ctx, machinedManager+".GetMachine", 0, m.name).Store(&path); err == nil {
			var v dbus.Variant
			err := conn.Object(machinedName, path).CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, machinedMachine, "Unit").Store(&v)
			if err == nil {
				m.unit, _ = v.Value().(string)
			}
		}
	}
	return m, nil
}

// busDial is a connection to the system bus in the making (dialSystemBus).
type busDial struct {
	done chan struct{} // closed when conn or err is set
	conn *dbus.Conn
	err  error
}

// dialSystemBus starts connecting to the system bus (systemBus) in the
// background: the connection, its authentication and Hello are three round
// trips with the bus, which can go on beside other work. The connection is
// closed when ctx is done, if its user has not closed it before.
func dialSystemBus(ctx context.Context) *busDial {
	d := &busDial{done: make(chan struct{})}
	go func() {
		defer close(d.done)
		d.conn, d.err = systemBus(ctx)
	}()
	return d
}

// wait returns the connection d makes once it is made, or ctx's error.
func (d *busDial) wait(ctx context.Context) (*dbus.Conn, error) {
	select {
	case <-d.done:
		return d.conn, d.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// systemBus connects to the system bus and authenticates as our uid,
// without a user name lookup (acirun is static).
func systemBus(ctx context.Context) (*dbus.Conn, error) {
	if os.Getenv("DBUS_SYSTEM_BUS_ADDRESS") == "" {
		// godbus says only "system bus not found" when neither of the
		// usual sockets is there: that is a host without a bus.
		found := false
		for _, p := range []string{"/run/dbus/system_bus_socket", "/var/run/dbus/system_bus_socket"} {
			if _, err := os.Stat(p); err == nil {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("%w (no system bus socket)", errNoMachined)
		}
	}
	conn, err := dbus.SystemBusPrivate(dbus.WithContext(ctx))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w (system bus: %v)", errNoMachined, err)
		}
		return nil, fmt.Errorf("connect to the system bus: %w", err)
	}
	if err := conn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("authenticate to the system bus: %w", err)
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("system bus hello: %w", err)
	}
	return conn, nil
}

// busError turns the bus's "nobody owns that name" into errNoMachined.
func busError(err error) error {
	var e dbus.Error
	if errors.As(err, &e) {
		switch e.Name {
		case "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner":
			return fmt.Errorf("%w (%s)", errNoMachined, e.Name)
		}
	}
	return err
}

// notify sends state to the service manager when the pod is a unit's main
// process (NOTIFY_SOCKET is set), so that a Type=notify unit becomes active
// when its apps have started, and shows what the pod is doing. Outside a
// unit it does nothing.
func notify(state string) error {
	if _, err := daemon.SdNotify(false, state); err != nil {
		return fmt.Errorf("notify the service manager (%q): %w", state, err)
	}
	return nil
}
