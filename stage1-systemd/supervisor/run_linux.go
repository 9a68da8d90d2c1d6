package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/internal/trace"
	stage1 "github.com/acirun/acirun/stage1-systemd"
	"github.com/acirun/acirun/userns"
)

func runMain(args []string, podExe string, tr *trace.Tracer, crashAt func(stage1.StartStep), premade *podThread) int {
	o, err := parseOptions(args, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "acirun stage1 run: %v\n", err)
		return 2
	}
	o.trace, o.crashAt, o.premade = tr, crashAt, premade
	code, err := runPod(o, args, podExe)
	tr.Step("exit %d", code)
	if err != nil {
		fmt.Fprintf(os.Stderr, "acirun stage1 run: %v\n", err)
		return stage1.ExitCodeFailure
	}
	return code
}

// runPod is `stage1 run`: the host-side supervisor of one pod. Its PID 1
// starts from a sealed view of podExe (Main).
func runPod(o *options, args []string, podExe string) (int, error) {
	podDir, err := filepath.Abs(o.podDir)
	if err != nil {
		return 0, err
	}
	o.podDir = podDir
	// The thread PID 1 starts from makes its new namespaces while the pod
	// is checked (podThread), unless the process that prepared the pod
	// made it while it did (MainInProcess).
	thread := o.premade
	if nsFlags := podNamespaces(o.Net); thread == nil || thread.flags != nsFlags {
		if thread != nil {
			thread.close()
		}
		thread = startPodThread(nsFlags)
	}
	defer thread.close()
	if o.Insecure.Has(podcontract.InsecureCapabilities) {
		fmt.Fprintln(os.Stderr, "acirun: WARNING: --insecure-options=capabilities: apps may get capabilities beyond the default bounding set")
	}
	if o.Insecure.Has(podcontract.InsecurePaths) {
		fmt.Fprintln(os.Stderr, "acirun: WARNING: --insecure-options=paths: /proc and /sys are neither masked nor read-only")
	}
	if o.Insecure.Has(podcontract.InsecureSeccomp) {
		fmt.Fprintln(os.Stderr, "acirun: WARNING: --insecure-options=seccomp: no default seccomp filter")
	}
	lock, err := podcontract.LockPod(podDir, true)
	if err != nil {
		return 0, fmt.Errorf("pod %s: %w", podDir, err)
	}
	if lock == nil {
		return 0, fmt.Errorf("pod %s is locked: it is being prepared or is already running", podDir)
	}
	defer lock.Close()
	if _, err := os.Stat(filepath.Join(podDir, podcontract.PreparedFile)); err != nil {
		return 0, fmt.Errorf("pod %s is not prepared (no %s)", podDir, podcontract.PreparedFile)
	}
	if _, err := os.Stat(filepath.Join(podDir, podcontract.ExitFile)); err == nil {
		return 0, fmt.Errorf("pod %s has already run (%s exists)", podDir, podcontract.ExitFile)
	}
	// Everything that can be checked before anything is started is checked
	// here, so that bad input leaves nothing behind.
	spec, err := stage1.CheckPod(podDir, &o.RunOptions)
	if err != nil {
		return 0, err
	}
	cniCfg, cniReqs, err := cniRequests(o, spec)
	if err != nil {
		return 0, fmt.Errorf("pod %s: %w", podDir, err)
	}
	// What pods killed with SIGKILL left on named networks goes before
	// this one takes its place there (acirun gc does it too).
	if o.Net != podcontract.NetHost {
		ctx, cancel := context.WithTimeout(context.Background(), cniTimeout)
		released, err := cniCfg.ReleaseStale(ctx, podcontract.Running)
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "acirun stage1 run: WARNING: %v\n", err)
		}
		for _, id := range released {
			debugf(o, "detached the named networks of pod %s, whose stage1 is gone", id)
		}
	}
	// --private-users: a range of host IDs no other running pod has, for
	// as long as the pod runs (a stage1 killed leaves it to be taken back,
	// as gc and the next lease do).
	var idRange userns.Range
	if o.PrivateUsers != "" {
		r, err := userns.ParseRange(o.PrivateUsers)
		if err != nil {
			return 0, err
		}
		leases := userns.Leases{Dir: filepath.Join(o.RunDir, podcontract.UserNSLeaseDir)}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if r.IsZero() {
			r, err = leases.Lease(ctx, podDir, podcontract.Running)
		} else {
			err = leases.Take(ctx, r, podDir, podcontract.Running)
		}
		cancel()
		if err != nil {
			return 0, fmt.Errorf("pod %s: --private-users: %w", podDir, err)
		}
		idRange = r
		defer func() {
			if err := leases.Release(r, podDir); err != nil {
				fmt.Fprintf(os.Stderr, "acirun stage1 run: WARNING: %v\n", err)
			}
		}()
		debugf(o, "user namespace: the pod's IDs 0-%d are the host's %d-%d", r.Count-1, r.First, uint64(r.First)+uint64(r.Count)-1)
	}
	if err := podcontract.WritePID(podDir, podcontract.PIDFile, os.Getpid()); err != nil {
		return 0, err
	}
	o.trace.Step("pod locked and checked")
	o.reached(stage1.StepPodLocked)

	// On the default network the pod's link, addresses and rules are made
	// in the background, into the network namespace the pod thread made,
	// while PID 1 is forked, starts (its Go runtime's start is
	// milliseconds) and sets up the pod's mounts, rather than after; PID 1
	// is told the network is ready once they are. A start that fails
	// before that takes them off again.
	var attaching chan attachResult
	if podcontract.OnDefaultNetwork(o.Net) {
		attaching = make(chan attachResult, 1)
		go func() { attaching <- attachNetworkTo(o, spec, podDir, thread) }()
		defer func() {
			if attaching == nil {
				return
			}
			if r := <-attaching; r.err == nil {
				thread.close() // PID 1 never ran: nothing else holds the namespace
				r.pn.detach(o)
			}
		}()
	}

	sealed, err := stage1.SealedExecutable(podExe)
	if err != nil {
		_ = podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: stage1.ExitCodeFailure})
		return 0, err
	}
	defer sealed.Close()
	o.trace.Step("executable sealed")
	o.reached(stage1.StepExeSealed)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP)
	defer signal.Stop(sigs)

	// PID 1 waits on its end of ctl until it may set up the pod, and again
	// until the pod's host side is ready, and tells through it when the
	// apps have started (podcontract's control messages).
	ctl, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		_ = podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: stage1.ExitCodeFailure})
		return 0, fmt.Errorf("pod control socket: %w", err)
	}
	files := []uintptr{0, 1, 2, uintptr(ctl[1])}
	initArgs := []string{podcontract.PodExecutable, "init", "--control-fd=3"}
	if !idRange.IsZero() {
		initArgs = append(initArgs, "--id-range="+idRange.String())
	}
	// Under memory pressure the OOM killer must choose an app before us
	// or PID 1, or the pod's status goes with us: both take a lowered
	// oom_score_adj (PID 1 inherits ours; without CAP_SYS_RESOURCE no
	// lower than the floor we were given), and the apps get the one we
	// had, unless they ask for their own.
	was, now, err := stage1.ProtectFromOOM()
	if err != nil {
		fmt.Fprintf(os.Stderr, "acirun stage1 run: WARNING: %v: the OOM killer may end the pod's supervisor or PID 1 before its apps\n", err)
	}
	if now != was {
		initArgs = append(initArgs, "--apps-oom-score-adj="+strconv.Itoa(was))
	}
	if now > stage1.SupervisorOOMScoreAdj {
		debugf(o, "oom_score_adj %d, not %d: no CAP_SYS_RESOURCE to go lower", now, stage1.SupervisorOOMScoreAdj)
	}
	// The apps read our standard input only with --interactive: the app
	// then has this terminal through a pseudo-terminal of its own
	// (terminal_linux.go), or this standard input if it is no terminal.
	var con *console
	if !o.Interactive || term.IsTerminal(0) {
		null, err := os.Open(os.DevNull)
		if err != nil {
			_ = podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: stage1.ExitCodeFailure})
			return 0, err
		}
		defer null.Close()
		files[0] = null.Fd()
	}
	if o.Interactive && term.IsTerminal(0) {
		if con, err = newConsole(os.Stdin, os.Stdout); err != nil {
			_ = podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: stage1.ExitCodeFailure})
			return 0, err
		}
		files = append(files, uintptr(con.child))
		initArgs = append(initArgs, "--console-fd=4")
	}
	// The apps' output, where ours is the journal's, goes there app by
	// app; an interactive pod's one app keeps our stdio (its terminal).
	var out *podOutput
	if !o.Interactive {
		if out, err = startPodOutput(spec); err != nil {
			fmt.Fprintf(os.Stderr, "acirun stage1 run: WARNING: %v\n", err)
		}
	}
	defer out.close()
	outFiles, outFlags := out.initArgs(len(files))
	files = append(files, outFiles...)
	argv := append(append(initArgs, outFlags...), args...)
	// PID 1 is one event loop, and every P the Go runtime makes beyond
	// the first (it makes one per CPU) costs it memory for as long as the
	// pod lives: 5.7 MB instead of 3.8 MB with 64. The launchers it
	// starts inherit the setting; the apps do not (their environment is
	// the manifest's).
	// The network and IPC namespaces are the thread's (nsFlags); the
	// mount namespace is copied from the host's at the clone.
	var pid int
	err = thread.do(func() (err error) {
		pid, err = stage1.ForkExecFile(sealed, argv, &syscall.ProcAttr{
			Env:   stage1.SetEnv(os.Environ(), []string{"GOMAXPROCS=1"}),
			Files: files,
			Sys:   &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS, Pdeathsig: syscall.SIGKILL},
		})
		return err
	})
	unix.Close(ctl[1])
	out.started()
	if con != nil {
		unix.Close(con.child)
		if err != nil {
			unix.Close(con.sock)
		} else {
			go con.relay()
			defer con.restore()
		}
	}
	if err != nil {
		unix.Close(ctl[0])
		_ = podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: stage1.ExitCodeFailure})
		return 0, fmt.Errorf("start pod init: %w", err)
	}
	o.trace.Step("init started as pid %d", pid)
	if err := podcontract.WritePID(podDir, podcontract.PPID1File, pid); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	o.reached(stage1.StepInitStarted)
	// The pod's registration with systemd-machined (below) connects to the
	// system bus now, while the network and the metadata service start.
	busCtx, busCancel := context.WithCancel(context.Background())
	defer busCancel()
	bus := dialSystemBus(busCtx)
	_ = unix.SetNonblock(ctl[0], true) // for the runtime's poller
	control := os.NewFile(uintptr(ctl[0]), "pod control socket")
	defer control.Close()
	// PID 1 sets up what needs nothing of the host's side of the pod (its
	// mounts, the apps' roots: milliseconds of its CPU) while that is
	// made below, and waits for NetworkReady before anything that does.
	// A PID 1 that already died finds nothing to read. The step is
	// recorded before the write: PID 1 may record "go received" before
	// this thread runs again after it.
	o.trace.Step("go sent")
	_, _ = control.Write([]byte(podcontract.GoMessage))
	o.reached(stage1.StepGoSent)
	var netReady podcontract.NetworkReady
	// What systemctl status says of a running pod.
	status := "Running " + strconv.Itoa(len(spec.Apps)) + " app(s)"
	// abort ends a pod whose PID 1 waits for NetworkReady and has started
	// nothing (it may be setting up its own mounts, which go with it, and
	// has made no cgroup): it goes, and its network namespace with it.
	abort := func(err error) (int, error) {
		_ = unix.Kill(pid, unix.SIGKILL)
		stage1.WaitPid(pid)
		thread.close()
		_ = podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: stage1.ExitCodeFailure})
		return 0, fmt.Errorf("pod %s: %w", spec.UUID, err)
	}
	// The metadata service's content needs no network: it is made while
	// the network is being attached, and only its listener after.
	var meta *metadataService
	if o.MetadataURL == "" {
		if meta, err = podMetadata(o, podDir); err != nil {
			return abort(err)
		}
	}
	var network *podNetwork
	if attaching != nil {
		r := <-attaching
		attaching = nil
		if r.err != nil {
			return abort(r.err)
		}
		pn := r.pn
		defer pn.detach(o)
		for _, w := range r.warnings {
			fmt.Fprintf(os.Stderr, "acirun: %s\n", w)
		}
		debugf(o, "pod on network %s: %s (gateways %s, host interface %s)", pn.att.Network.Name, pn.att.Addrs(), pn.att.Gateways(), pn.att.HostIface)
		for _, m := range pn.ports {
			debugf(o, "port %s", m)
		}
		status += " at " + pn.att.Addrs().String()
		netReady.Addr, netReady.Gateway = pn.att.Addr, pn.att.Gateway
		netReady.Addr6, netReady.Gateway6 = pn.att.Addr6, pn.att.Gateway6
		network = pn
		o.trace.Step("network attached")
		o.reached(stage1.StepNetworkAttached)
	}
	if len(cniReqs) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), cniTimeout)
		cp, nf, err := attachCNI(ctx, cniCfg, cniReqs, spec, podDir, pid)
		cancel()
		if err != nil {
			return abort(err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), cniTimeout)
			defer cancel()
			if err := cp.Detach(ctx); err != nil {
				fmt.Fprintf(os.Stderr, "acirun stage1 run: %v\n", err)
			}
		}()
		for _, a := range nf.Networks {
			debugf(o, "pod on network %s: %s %s (host interfaces %s)", a.Name, a.Interface, strings.Join(a.IPs, " "), strings.Join(a.HostInterfaces, " "))
		}
		status += " at " + nf.IP
	}
	// The registration and the metadata service start side by side: both
	// must be done before PID 1 is told the network is ready (it makes
	// the apps' cgroups below its own and starts them only once machined
	// has put it in its scope, and the apps find the service's URL in
	// their environment), neither needs the other.
	var ifindices []int32
	if network != nil {
		ifindices = []int32{int32(network.att.HostIndex)}
	}
	type registration struct {
		m   machine
		err error
	}
	registered := make(chan registration, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), machinedTimeout)
		defer cancel()
		m, err := registerMachine(ctx, bus, spec.UUID, pid, ifindices, o.Debug)
		registered <- registration{m, err}
	}()
	if meta != nil {
		ms, err := startMetadata(o, meta, network, thread)
		if err != nil {
			<-registered
			return abort(err)
		}
		defer ms.Close()
		debugf(o, "metadata service at %s", ms.URL)
		o.trace.Step("metadata service started")
		o.reached(stage1.StepMetadataStarted)
		netReady.MetadataURL = ms.URL
	}
	reg := <-registered
	busCancel() // the connection goes, whichever way the registration went
	o.trace.Step("machined registration: %v", reg.err)
	o.reached(stage1.StepMachineRegistered)
	switch {
	case reg.err == nil:
		debugf(o, "pod registered with systemd-machined as %s, unit %s", reg.m.name, reg.m.unit)
	case errors.Is(reg.err, errNoMachined):
		debugf(o, "pod not registered: %v", reg.err)
	default:
		fmt.Fprintf(os.Stderr, "acirun stage1 run: WARNING: %v: machinectl will not show the pod\n", reg.err)
	}
	msg, err := netReady.Encode()
	if err != nil {
		return abort(err)
	}
	// PID 1 may start the apps; one that already died finds nothing to
	// read.
	o.trace.Step("network ready sent")
	_, _ = control.Write(msg)
	o.reached(stage1.StepNetworkReadySent)
	// PID 1 runs from the sealed executable; our descriptor of it goes
	// now, not on the way to PID 1's messages: closing the last
	// descriptor of the detached mount unmounts it, which waits for an
	// expedited RCU grace period (0.05 to 0.45 ms here).
	sealed.Close()
	// PID 1 says when the apps have started (ControlReady, sent on ready
	// once, false when it ended before), and when nothing of the pod runs
	// but itself (ControlDown, which closes down).
	ready := make(chan bool, 1)
	down := make(chan struct{})
	go func() {
		b := make([]byte, podcontract.MaxControlMessage)
		n, _ := control.Read(b)
		started := n == 1 && b[0] == podcontract.ControlReady
		ready <- started
		if started {
			n, _ = control.Read(b)
		}
		if n == 1 && b[0] == podcontract.ControlDown {
			close(down)
		}
	}()
	readyC, downC := ready, down
	notifyf := func(state string) {
		if err := notify(state); err != nil {
			fmt.Fprintf(os.Stderr, "acirun stage1 run: %v\n", err)
		}
	}

	// appsStarted is what PID 1's word on the apps' start makes of the
	// pod, whether it comes while PID 1 runs or with its end.
	appsStarted := func(ok bool) {
		o.trace.Step("apps started: %t", ok)
		if network != nil {
			network.sweep()
		}
		if ok {
			// For readers without a unit to ask (acirun status
			// --wait-ready): the same moment as READY=1.
			if err := podcontract.WriteReady(podDir); err != nil {
				fmt.Fprintf(os.Stderr, "acirun stage1 run: %v\n", err)
			}
			notifyf("READY=1\nSTATUS=" + status)
			o.reached(stage1.StepAppsStarted)
		}
	}

	done := make(chan unix.WaitStatus, 1)
	go func() { done <- stage1.WaitPid(pid) }()
	var cgroupsRemoved chan error // once PID 1 has said the pod is down
	var ws unix.WaitStatus
wait:
	for {
		select {
		case s := <-sigs:
			if s == unix.SIGHUP {
				s = unix.SIGTERM
			}
			notifyf("STOPPING=1\nSTATUS=Stopping the pod (" + unix.SignalName(s.(unix.Signal)) + ")")
			_ = unix.Kill(pid, s.(unix.Signal))
		case ok := <-readyC:
			readyC = nil
			appsStarted(ok)
		case <-downC:
			downC = nil
			o.trace.Step("pod down")
			// Nothing of the pod runs but PID 1, which is in none of its
			// cgroups: they go while the kernel ends PID 1 (its mounts,
			// its PID namespace), not after.
			removed := make(chan error, 1)
			go func() { removed <- podcontract.RemoveCgroups(podDir) }()
			cgroupsRemoved = removed
			if network != nil {
				network.removeRules()
			}
		case ws = <-done:
			break wait
		}
	}
	// PID 1 may have said the apps started just before it ended (both
	// were ready at once, and select took its end): a unit that waits for
	// READY still gets it, and ends normally after it.
	if readyC != nil {
		appsStarted(<-readyC)
	}
	code := stage1.StatusCode(ws)
	o.trace.Step("init exited")
	thread.close()
	if con != nil {
		con.restore()
	}
	// Every process of the pod is gone: what the apps wrote is in the
	// journal before the pod is reported as exited.
	out.finish(outputGrace)

	// What could not go then (a cgroup kept busy by a process acirun
	// enter started in the pod, which PID 1 does not reap) is tried again
	// now that PID 1's end has waited for every process of the pod.
	var cleanupErr error
	if cgroupsRemoved == nil || <-cgroupsRemoved != nil {
		cleanupErr = podcontract.RemoveCgroups(podDir)
	}
	if _, err := os.Stat(filepath.Join(podDir, podcontract.ExitFile)); err != nil {
		// init died before it could tell: record what we know.
		if ws.Signaled() {
			fmt.Fprintf(os.Stderr, "acirun stage1 run: pod init killed by %v\n", ws.Signal())
		}
		if err := podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: code}); err != nil {
			return code, err
		}
	}
	if cleanupErr != nil {
		fmt.Fprintf(os.Stderr, "acirun stage1 run: %v\n", cleanupErr)
	}
	return code, nil
}

// machinedTimeout bounds the registration of a pod with systemd-machined: a
// pod whose machined does not answer starts unregistered, with a warning.
const machinedTimeout = 10 * time.Second
