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
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/acirun/acirun/internal/flock"
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
	// The thread PID 1 starts from makes its new namespaces and forks
	// PID 1 while the pod is checked (podThread), unless the process that
	// prepared the pod made it while it did (MainInProcess).
	thread := o.premade
	if nsFlags := podNamespaces(o.Net); thread == nil || thread.flags != nsFlags || thread.exe != podExe {
		if thread != nil {
			thread.close()
		}
		thread = startPodThread(nsFlags, podExe, o.trace)
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
	defer flock.Unlock(lock)
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
	// The apps' directories and overlays, which PID 1 attaches, are made
	// here (MakeAppDirs, AppOverlays), beside PID 1's start and the rest
	// of what comes before go, rather than by PID 1 after it. takeRoots
	// waits for them, once; a start that fails before go waits for them
	// too, and drops the overlays (detached mounts, gone with their
	// descriptors).
	type appRoots struct {
		overlays []*os.File
		err      error
	}
	made := make(chan appRoots, 1)
	go func() {
		var r appRoots
		if r.err = stage1.MakeAppDirs(podDir, &o.RunOptions, spec.Apps); r.err == nil {
			r.overlays, r.err = stage1.AppOverlays(podDir, &o.RunOptions, spec.Apps)
		}
		made <- r
	}()
	var overlays []*os.File
	takeRoots := func() error {
		if made == nil {
			return nil
		}
		r := <-made
		made, overlays = nil, r.overlays
		return r.err
	}
	closeOverlays := func() {
		for _, f := range overlays {
			f.Close()
		}
		overlays = nil
	}
	defer func() {
		_ = takeRoots()
		closeOverlays()
	}()
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

	// PID 1 was forked from the sealed executable by the pod's thread
	// while the pod was checked, or before (podThread); it waits for the
	// go message, and dies with the thread until it is sent.
	pid1, err := thread.takeInit()
	if err != nil {
		_ = podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: stage1.ExitCodeFailure})
		return 0, err
	}
	sealed, pid := pid1.sealed, pid1.pid
	defer sealed.Close()
	var control *os.File // once the go message is sent
	defer func() {
		if control != nil {
			control.Close()
		} else {
			unix.Close(pid1.ctl)
		}
	}()
	o.reached(stage1.StepExeSealed)
	// The supervisor takes the oom_score_adj PID 1 was given once forked
	// (forkInit) for the rest of the pod's life.
	if _, now, err := stage1.ProtectFromOOM(); err != nil || pid1.oomErr != nil {
		fmt.Fprintf(os.Stderr, "acirun stage1 run: WARNING: %v: the OOM killer may end the pod's supervisor or PID 1 before its apps\n", errors.Join(pid1.oomErr, err))
	} else if now > stage1.SupervisorOOMScoreAdj {
		debugf(o, "oom_score_adj %d, not %d: no CAP_SYS_RESOURCE to go lower", now, stage1.SupervisorOOMScoreAdj)
	}
	if err := podcontract.WritePID(podDir, podcontract.PPID1File, pid); err != nil {
		_ = podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: stage1.ExitCodeFailure})
		return 0, err
	}
	if err := takeRoots(); err != nil {
		_ = podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: stage1.ExitCodeFailure})
		return 0, fmt.Errorf("pod %s: %w", podDir, err)
	}
	o.reached(stage1.StepInitStarted)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP)
	defer signal.Stop(sigs)

	// The rest of PID 1's command line, and the descriptors it names,
	// which it gets with the go message (podcontract.Go).
	goMsg := podcontract.Go{FDs: []int{0}}
	if !idRange.IsZero() {
		goMsg.Args = append(goMsg.Args, "--id-range="+idRange.String())
	}
	if pid1.oomNow != pid1.oomWas {
		goMsg.Args = append(goMsg.Args, "--apps-oom-score-adj="+strconv.Itoa(pid1.oomWas))
	}
	// The apps read our standard input only with --interactive: the app
	// then has this terminal through a pseudo-terminal of its own
	// (terminal_linux.go), or this standard input if it is no terminal.
	var con *console
	files := []int{0}
	if !o.Interactive || term.IsTerminal(0) {
		null, err := os.Open(os.DevNull)
		if err != nil {
			_ = podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: stage1.ExitCodeFailure})
			return 0, err
		}
		defer null.Close()
		files[0] = int(null.Fd())
	}
	if o.Interactive && term.IsTerminal(0) {
		if con, err = newConsole(os.Stdin, os.Stdout); err != nil {
			_ = podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: stage1.ExitCodeFailure})
			return 0, err
		}
		files = append(files, con.child)
		goMsg.FDs = append(goMsg.FDs, podcontract.FirstGoTarget)
		goMsg.Args = append(goMsg.Args, "--console-fd="+strconv.Itoa(podcontract.FirstGoTarget))
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
	// PID 1's descriptors from FirstGoTarget on: the console's, then the
	// apps' output.
	first := podcontract.FirstGoTarget + len(files) - 1
	outFiles, outFlags := out.initArgs(first)
	for i, f := range outFiles {
		files = append(files, int(f))
		goMsg.FDs = append(goMsg.FDs, first+i)
	}
	// Then the apps' overlays, which PID 1 attaches as their roots.
	if len(overlays) > 0 {
		first := podcontract.FirstGoTarget + len(files) - 1
		for i, f := range overlays {
			files = append(files, int(f.Fd()))
			goMsg.FDs = append(goMsg.FDs, first+i)
		}
		goMsg.Args = append(goMsg.Args, "--app-overlay-fd="+strconv.Itoa(first))
	}
	goMsg.Args = append(append(goMsg.Args, outFlags...), args...)
	msg, err := goMsg.Encode()
	if err != nil {
		if con != nil {
			unix.Close(con.child)
			unix.Close(con.sock)
		}
		_ = podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: stage1.ExitCodeFailure})
		return 0, fmt.Errorf("pod %s: %w", spec.UUID, err)
	}
	// PID 1 sets up what needs nothing of the host's side of the pod (its
	// mounts, the apps' roots: milliseconds of its CPU) while that is
	// made below, and waits for NetworkReady before anything that does.
	// The step is recorded before the write: PID 1 may record "go received" before
	// this thread runs again after it. From the write on, PID 1 is ours
	// to wait for, not the thread's to kill; a write that fails leaves it
	// the thread's.
	o.trace.Step("go sent")
	if err := unix.Sendmsg(pid1.ctl, msg, unix.UnixRights(files...), nil, 0); err != nil {
		// PID 1 has none of it (a SOCK_SEQPACKET message goes whole or
		// not at all): dead already, or it would wait for ever. It is
		// still the thread's, which kills and reaps it when it ends
		// (endInit).
		if con != nil {
			unix.Close(con.child)
			unix.Close(con.sock)
		}
		_ = podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: stage1.ExitCodeFailure})
		return 0, fmt.Errorf("pod %s: send PID 1 the go message: %w", spec.UUID, err)
	}
	pid1.sent = true
	// PID 1 has its own copies of the overlays: ours go now, so that
	// none outlives PID 1's mount namespace.
	closeOverlays()
	_ = unix.SetNonblock(pid1.ctl, true) // for the runtime's poller
	control = os.NewFile(uintptr(pid1.ctl), "pod control socket")
	out.started()
	if con != nil {
		unix.Close(con.child)
		go con.relay()
		defer con.restore()
	}
	o.reached(stage1.StepGoSent)
	// The pod's registration with systemd-machined (below) connects to the
	// system bus now, while the network and the metadata service start.
	busCtx, busCancel := context.WithCancel(context.Background())
	defer busCancel()
	bus := dialSystemBus(busCtx)
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
	case errors.Is(reg.err, errNoMachined), errors.Is(reg.err, errLeaderEnded):
		debugf(o, "pod not registered: %v", reg.err)
	default:
		fmt.Fprintf(os.Stderr, "acirun stage1 run: WARNING: %v: machinectl will not show the pod\n", reg.err)
	}
	readyMsg, err := netReady.Encode()
	if err != nil {
		return abort(err)
	}
	// PID 1 may start the apps; one that already died finds nothing to
	// read.
	o.trace.Step("network ready sent")
	_, _ = control.Write(readyMsg)
	o.reached(stage1.StepNetworkReadySent)
	// PID 1 runs from the sealed executable; our descriptor of it goes
	// now, not on the way to PID 1's messages: closing the last
	// descriptor of the detached mount unmounts it, which waits for an
	// expedited RCU grace period (0.05 to 0.45 ms here).
	sealed.Close()
	// PID 1 says when the apps have started (ControlReady, sent on ready
	// once, false when it ended before), and when nothing of the pod runs
	// but itself (a Down message with the pod's exit record, which
	// closes down).
	ready := make(chan bool, 1)
	type downMessage struct {
		said bool              // false: the socket closed without it
		exit *podcontract.Exit // nil: PID 1 writes it
		err  error
	}
	// The reader sends on ready, then on down, once each, whatever PID 1
	// said: after PID 1's end the loop below takes what it left unread.
	down := make(chan downMessage, 1)
	go func() {
		b := make([]byte, podcontract.MaxDownMessage)
		n, _ := control.Read(b)
		started := n == 1 && b[0] == podcontract.ControlReady
		ready <- started
		if started {
			n, _ = control.Read(b)
		}
		var d downMessage
		if n > 0 && b[0] == podcontract.ControlDown {
			d.said = true
			d.exit, d.err = podcontract.ParseDown(b[:n])
		}
		down <- d
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
			network.sweep(o, true)
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

	exitWritten := false // the record PID 1 sent with down
	// writeExit writes the exit record PID 1 sent with its down message.
	writeExit := func(d downMessage) {
		switch {
		case d.err != nil:
			fmt.Fprintf(os.Stderr, "acirun stage1 run: WARNING: %v\n", d.err)
		case d.exit != nil:
			if err := podcontract.WriteExit(podDir, d.exit); err != nil {
				fmt.Fprintf(os.Stderr, "acirun stage1 run: %v\n", err)
			} else {
				exitWritten = true
				o.trace.Step("exit record written")
			}
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
		case d := <-downC:
			downC = nil
			if !d.said {
				continue // PID 1 is ending without a word: done tells
			}
			o.trace.Step("pod down")
			// Nothing of the pod runs but PID 1, which is in none of its
			// cgroups: they go while the kernel ends PID 1 (its mounts,
			// its PID namespace), not after, and so does the pod's exit
			// record, which PID 1 sent rather than wrote.
			removed := make(chan error, 1)
			go func() { removed <- podcontract.RemoveCgroups(podDir) }()
			cgroupsRemoved = removed
			if network != nil {
				network.removeRules()
			}
			writeExit(d)
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
	// So may its down message and the pod's exit record have come with
	// its end: they are in the socket, which PID 1's end has closed, and
	// the reader has them or reads them next. Taken for PID 1's end, they
	// left the record of an exit code without the apps' (exit.json with
	// no apps: stage1 TestPodExitCodes, 2 runs of 40 at load 2).
	if downC != nil {
		if d := <-downC; d.said {
			o.trace.Step("pod down")
			writeExit(d)
		}
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
	if !exitWritten {
		if _, err := os.Stat(filepath.Join(podDir, podcontract.ExitFile)); err != nil {
			// init died before it could tell (or write its record
			// itself): record what we know.
			if ws.Signaled() {
				fmt.Fprintf(os.Stderr, "acirun stage1 run: pod init killed by %v\n", ws.Signal())
			}
			if err := podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: code}); err != nil {
				return code, err
			}
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
