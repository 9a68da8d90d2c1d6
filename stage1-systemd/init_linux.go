package stage1

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/internal/trace"
	"github.com/acirun/acirun/userns"
)

// initMain is PID 1 of the pod. It sets the pod up (mounts, hostname,
// loopback, volumes, cgroups), starts the apps, then sheds what setting up
// cost it (the garbage, and the pages of the binary it touched) and
// supervises them with the collector off: PID 1 lives as long as the pod,
// and its resident memory should be its working set, about 3 MB.
func initMain(args []string, tr *trace.Tracer, crashAt func(StartStep)) int {
	// The main thread is this goroutine's for good. PID 1 launches apps
	// from threads it confines and lets the runtime end with their
	// goroutines (launch_linux.go); the runtime ends any thread but the
	// main one, which it would park forever instead, confined as an app,
	// and /proc/1 shows the main thread's credentials.
	runtime.LockOSThread()
	// `stage1 run` forks PID 1 before it knows the pod (so that this
	// runtime starts while the pod is prepared), with nothing on its
	// command line but the control socket: the rest, and the descriptors
	// it names, come with the go message. Nothing of the pod is set up
	// before it, and nothing that needs the host's side of the pod before
	// run says that is ready (setup).
	control := -1
	if len(args) == 1 && args[0] == podcontract.ControlFDFlag {
		control = podcontract.ControlFD
		unix.CloseOnExec(control) // no app may inherit it
		rest, err := awaitGo(control)
		if err != nil {
			fmt.Fprintf(os.Stderr, "acirun stage1 init: %v\n", err)
			return ExitCodeFailure
		}
		args = append(args, rest...)
	}
	o, err := parsePodOptions(args, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "acirun stage1 init: %v\n", err)
		return 2
	}
	if o.controlFd != control {
		fmt.Fprintf(os.Stderr, "acirun stage1 init: --control-fd=%d: want %s alone, the rest in the go message (stage1 run starts init so)\n", o.controlFd, podcontract.ControlFDFlag)
		return 2
	}
	o.trace, o.crashAt = tr, crashAt
	p := &pod{o: o, procs: map[int]*proc{}, control: -1}
	if control >= 0 {
		p.control = control
		tr.Step("go received")
		o.reached(stepInitGoReceived)
	}
	if o.consoleFd >= 0 {
		unix.CloseOnExec(o.consoleFd)
	}
	if err := p.setup(); err != nil {
		fmt.Fprintf(os.Stderr, "acirun stage1 init: %v\n", err)
		return ExitCodeFailure
	}
	tr.Step("pod set up")
	o.reached(stepInitSetUp)
	return p.supervise()
}

// pod is the state of PID 1.
type pod struct {
	o        *podOptions
	apps     []*appRun
	procs    map[int]*proc // our children by PID
	stopping bool
	killed   int // stop escalation: 0 none, 1 apps SIGKILLed, 2 everything
	code     int
	codeSet  bool
	timer    *time.Timer
	control  int      // the control socket to `stage1 run` until the pod is down, or -1
	said     bool     // ControlReady is sent
	notified chan int // index in apps of an app that sent READY=1
	// net is what `stage1 run` said of the pod's network once it was
	// ready (the addresses it gave eth0, the host's gateways), and the
	// metadata URL: the zero NetworkReady without one.
	net podcontract.NetworkReady
	// allCaps are the numbers of every capability the kernel has, which a
	// launcher in a user namespace keeps as ambient across its exec
	// (--private-users only).
	allCaps []uintptr
	// ns is what PID 1 launches an app's process into a user namespace
	// with (--private-users only, launchuserns_linux.go).
	ns *nsLaunch
}

// awaitControl waits for `stage1 run`'s next message on the control
// socket after the go message (podcontract.NetworkReady), and returns it.
func awaitControl(fd int) ([]byte, error) {
	b := make([]byte, podcontract.MaxControlMessage)
	for {
		n, err := unix.Read(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("control socket: %w", err)
		}
		if n < 1 {
			return nil, errors.New("control socket: stage1 run went away before the pod started")
		}
		return b[:n], nil
	}
}

// awaitGo waits for `stage1 run`'s go message on the control socket
// (podcontract.Go), moves the descriptors that came with it to the
// numbers it gives them, and returns the rest of PID 1's command line.
// The kernel gives received descriptors the lowest free numbers, which
// may be some of the targets: each is moved above all of them first, so
// that no dup3 to a target closes a descriptor not yet in its place.
func awaitGo(fd int) ([]string, error) {
	b := make([]byte, podcontract.MaxGoMessage)
	oob := make([]byte, unix.CmsgSpace(4*podcontract.MaxGoDescriptors))
	var n, oobn, flags int
	var err error
	for {
		n, oobn, flags, _, err = unix.Recvmsg(fd, b, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	var fds []int
	if oobn > 0 {
		cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return nil, fmt.Errorf("control socket: %w", err)
		}
		for _, c := range cmsgs {
			got, err := unix.ParseUnixRights(&c)
			if err != nil {
				return nil, fmt.Errorf("control socket: %w", err)
			}
			fds = append(fds, got...)
		}
	}
	defer func() {
		for _, f := range fds {
			unix.Close(f)
		}
	}()
	if n < 1 {
		return nil, errors.New("control socket: stage1 run went away before the pod started")
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		return nil, errors.New("control socket: go message truncated")
	}
	m, err := podcontract.ParseGo(b[:n])
	if err != nil {
		return nil, err
	}
	if len(fds) != len(m.FDs) {
		return nil, fmt.Errorf("control socket: go message with %d descriptors, names %d", len(fds), len(m.FDs))
	}
	above := podcontract.ControlFD
	for _, t := range m.FDs {
		above = max(above, t)
	}
	for i, f := range fds {
		up, err := unix.FcntlInt(uintptr(f), unix.F_DUPFD_CLOEXEC, above+1)
		if err != nil {
			return nil, fmt.Errorf("control socket: move descriptor %d: %w", f, err)
		}
		unix.Close(f)
		fds[i] = up
	}
	for i, f := range fds {
		// Standard input is the apps' to inherit (PID 1 passes its own);
		// every other descriptor PID 1 passes on explicitly. Stdin's
		// number holds /dev/null from the fork on; any other must be free:
		// a descriptor of ours there (the runtime's poller) would go.
		flag := unix.O_CLOEXEC
		if m.FDs[i] == 0 {
			flag = 0
		} else if _, err := unix.FcntlInt(uintptr(m.FDs[i]), unix.F_GETFD, 0); err == nil {
			return nil, fmt.Errorf("control socket: descriptor %d is taken in PID 1 already", m.FDs[i])
		}
		if err := unix.Dup3(f, m.FDs[i], flag); err != nil {
			return nil, fmt.Errorf("control socket: descriptor %d: %w", m.FDs[i], err)
		}
	}
	return m.Args, nil
}

// awaitNetworkReady waits for `stage1 run` to say that the host's side of
// the pod is ready (podcontract.NetworkReady: its network attached, the
// pod registered, the metadata service listening), and keeps what it says.
// Without a control socket there is nobody to wait for.
func (p *pod) awaitNetworkReady() error {
	if p.control < 0 {
		return nil
	}
	msg, err := awaitControl(p.control)
	if err != nil {
		return err
	}
	m, err := podcontract.ParseNetworkReady(msg)
	if err != nil {
		return err
	}
	p.net = m
	if p.o.MetadataURL == "" {
		p.o.MetadataURL = m.MetadataURL
	}
	p.o.trace.Step("network ready received")
	return nil
}

// listenNotify binds the abstract socket on which app i sends its
// sd_notify messages, and passes each READY=1 on to the event loop.
func (p *pod) listenNotify(i int, name string) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("notify socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: name}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("notify socket %s: %w", name, err)
	}
	if p.notified == nil {
		p.notified = make(chan int, len(p.apps)+8)
	}
	go func() {
		b := make([]byte, 4096)
		for {
			n, _, err := unix.Recvfrom(fd, b, 0)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return
			}
			for _, l := range strings.Split(string(b[:n]), "\n") {
				if l == "READY=1" {
					p.notified <- i
				}
			}
		}
	}()
	return nil
}

// startedAll tells `stage1 run`, once, that every app's main process has
// started, and every app that tells when it is ready has, for it to tell
// systemd the pod is ready.
func (p *pod) startedAll() {
	if p.control < 0 || p.said {
		return
	}
	for _, r := range p.apps {
		if !r.started || (r.notifySocket != "" && !r.ready) {
			return
		}
	}
	p.said = true
	if _, err := unix.Write(p.control, []byte{podcontract.ControlReady}); err != nil {
		p.debugf("control socket: %v", err)
	}
}

// down tells `stage1 run` that nothing of the pod runs but PID 1, which
// exits next, with the pod's exit record e (podcontract.EncodeDown), and
// closes the control socket: run takes the pod off its network and writes
// the record meanwhile, instead of PID 1 before its end and run after it.
// It reports whether run has the record; without a control socket, with a
// record too large for the message or a failed send PID 1 writes it itself.
func (p *pod) down(e *podcontract.Exit) bool {
	if p.control < 0 {
		return false
	}
	msg, carried := podcontract.EncodeDown(e)
	if _, err := unix.Write(p.control, msg); err != nil {
		p.debugf("control socket: %v", err)
		carried = false
	}
	unix.Close(p.control)
	p.control = -1
	return carried
}

// appRun is one app's progress through pre-start, main and post-stop.
type appRun struct {
	name string
	spec *appSpec
	// seccomp is the app's seccomp filter, planned once for every process
	// PID 1 launches of it.
	seccomp *seccompPlan
	// launchRefused is why PID 1 cannot start this app's processes itself
	// for its seccomp filter (launchRefusedBy), or "".
	launchRefused string
	preStart      bool
	postStop      bool
	// cgroups are the cgroup directories every process of the app
	// starts in: the pod's pids cgroup (a pod no unit bounds) and the
	// app's own for its limits.
	cgroups  []string
	mainPid  int
	started  bool // main was started
	running  bool // main is running
	done     bool // main and post-stop are over (or will never run)
	exit     podcontract.AppExit
	exited   bool
	handlers int   // event handlers running
	listen   []int // socket-activated fds for main, closed once it started
	// stdout and stderr are the descriptors PID 1 gives each of the app's
	// processes as 1 and 2: its own, or the app's from stage1 run.
	stdout, stderr int
	// notifySocket is where the app tells when it is ready (sd_notify
	// READY=1), if its image says it does; "" if not.
	notifySocket string
	ready        bool // it has
	// stopSignal is what stops main when the pod stops with SIGTERM (its
	// image's stop signal); 0 for SIGTERM itself.
	stopSignal unix.Signal
}

type proc struct {
	app   *appRun
	phase string
}

func (p *pod) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "acirun: "+format+"\n", args...)
}

func (p *pod) debugf(format string, args ...any) {
	if p.o.Debug {
		p.logf(format, args...)
	}
}

// setup builds every app's root and the pod around them: first what needs
// nothing of the host's side of the pod (the mounts, hostname, loopback,
// empty volumes and the apps' roots: most of PID 1's work before the apps
// start), which runs while `stage1 run` attaches the network; then, once
// run says that side is ready (awaitNetworkReady), what does: the sysctls
// (which may name eth0, there only once the network is attached), the
// socket-activated ports, and the cgroups (made below PID 1's own, which
// machined's registration may change).
func (p *pod) setup() error {
	o := p.o
	// Our mounts must never propagate to the host: from here on the host's
	// mount events reach us, ours do not reach it.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make / a slave mount: %w", err)
	}
	spec, err := loadPodSpec(o.podDir)
	if err != nil {
		return err
	}
	if !o.idRange.IsZero() {
		// The maps of a child's user namespace are written to
		// /proc/PID/uid_map by the child's PID here: a /proc of the pod's
		// PID namespace, not the host's, must be ours (in our mount
		// namespace alone).
		if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("--private-users: mount the pod's /proc for PID 1: %w", err)
		}
		// Kept for the pod's life: the apps' images are ID-mapped through
		// it (mountBase). The child that made it exits at once; it is
		// reaped once the rest of the set-up has given it the time to,
		// before any app could see it in the pod's /proc.
		var holder int
		if o.userNS, holder, err = userns.NewUserNS(o.idRange); err != nil {
			return err
		}
		defer WaitPid(holder)
		last, err := readProcUint("/proc/sys/kernel/cap_last_cap")
		if err != nil {
			return fmt.Errorf("--private-users: %w", err)
		}
		for c := uintptr(0); c <= uintptr(last); c++ {
			p.allCaps = append(p.allCaps, c)
		}
		if p.ns, err = newNSLaunch(o.idRange); err != nil {
			return fmt.Errorf("--private-users: %w", err)
		}
	}
	if err := apartFailure(o.Insecure); err != nil {
		// Said once for the pod; each launcher then goes on without it.
		p.logf("WARNING: the apps are not kept from each other's roots through /proc/PID/root: %v", err)
	}
	stdio, err := appStdio(o.appStdioFd, len(spec.apps))
	if err != nil {
		return err
	}
	hostname := o.Hostname
	if hostname == "" {
		u := spec.uuid
		if len(u) > 8 {
			u = u[:8]
		}
		hostname = "acirun-" + u
	}
	if err := unix.Sethostname([]byte(hostname)); err != nil {
		return fmt.Errorf("set hostname %q: %w", hostname, err)
	}
	if o.Net != "host" {
		if err := LoopbackUp(); err != nil {
			return fmt.Errorf("bring up loopback: %w", err)
		}
	}
	if err := makeEmptyVolumes(spec, o.idRange); err != nil {
		return err
	}
	for i, a := range spec.apps {
		plan, err := planSeccomp(a.isolators.seccomp, o.Insecure.Has(podcontract.InsecureSeccomp))
		if err != nil {
			return fmt.Errorf("app %s: %w", a.name, err)
		}
		r := &appRun{name: a.name, spec: a, seccomp: plan, launchRefused: launchRefusedBy(plan), preStart: a.preStart != nil, postStop: a.postStop != nil, exit: podcontract.AppExit{Name: a.name},
			stdout: stdio[2*i], stderr: stdio[2*i+1]}
		p.apps = append(p.apps, r)
		traits, err := readImageTraits(filepath.Join(a.imageDir, "manifest"))
		if err != nil {
			return fmt.Errorf("app %s: %w", a.name, err)
		}
		r.stopSignal = traits.stopSignal
		if traits.notify {
			r.notifySocket = notifySocketName(spec.uuid, a.name)
			if err := p.listenNotify(len(p.apps)-1, r.notifySocket); err != nil {
				return fmt.Errorf("app %s: %w", a.name, err)
			}
		}
		p.reportIsolators(a, plan)
		overlay := -1
		if o.appOverlayFd >= 0 {
			overlay = o.appOverlayFd + i
		}
		err = buildAppRoot(o, a, overlay, hostname, p.logf)
		if overlay >= 0 {
			// Attached, or never to be: the detached mount goes with
			// its last descriptor.
			unix.Close(overlay)
		}
		if err != nil {
			return err
		}
		p.debugf("app %s: root ready", a.name)
		o.trace.Step("app %s: root ready", a.name)
	}
	o.reached(stepInitRootsBuilt)

	if err := p.awaitNetworkReady(); err != nil {
		return err
	}
	if podcontract.OnDefaultNetwork(o.Net) {
		// stage1 run has configured eth0 (from the thread PID 1 was
		// forked from, in the pod's network namespace) before it said the
		// network is ready.
		if !p.net.Addr.IsValid() && !p.net.Addr6.IsValid() {
			return errors.New("pod network: stage1 run gave no address")
		}
		msg, _ := p.net.Encode()
		p.debugf("network: eth0 as stage1 run configured it: %s", msg)
	}
	// The pod's sysctls, in its namespaces, before any app can run.
	if err := checkSysctlNet(spec.sysctls, o.Net); err != nil {
		return err
	}
	if err := writeSysctls(spec.sysctls); err != nil {
		return err
	}
	p.reportSysctls(spec.sysctls)
	// Socket-activated ports, after the sysctls (which may bear on them)
	// and before any app starts: a port we cannot open refuses the pod.
	if err := checkListenProtocols(spec.apps); err != nil {
		return err
	}
	for _, r := range p.apps {
		fds, err := openListeners(r.spec, p.logf)
		if err != nil {
			return err
		}
		r.listen = fds
	}
	// The cgroups and the mount table (long on a busy host) are read only
	// for a pod with resource limits or a bound on its tasks: on the way
	// to every app's start.
	var cm cgroupMounts
	var cgErr error
	if o.TasksMax > 0 || slices.ContainsFunc(spec.apps, func(a *appSpec) bool { return a.isolators.hasCgroupLimits() }) {
		if cm, cgErr = findCgroups(); cgErr == nil {
			// Whoever removes the pod finds them, should stage1 die first.
			if err := podcontract.RecordCgroups(o.podDir, cm.podDirs(spec.uuid)); err != nil {
				return err
			}
		}
	}
	var tasksDir string // the pod's pids cgroup, which every app's process joins
	if o.TasksMax > 0 {
		// No unit bounds the pod (--tasks-max, from stage0): every
		// process PID 1 starts for an app is bounded here.
		d, err := "", cgErr
		if err == nil {
			d, err = limitPodTasks(cm, spec.uuid, o.TasksMax)
		}
		if err != nil {
			p.logf("WARNING: the pod's processes and threads are not bounded to %d (--tasks-max): %v", o.TasksMax, err)
		} else {
			tasksDir = d
			p.debugf("the pod's processes and threads: at most %d (%s)", o.TasksMax, d)
		}
	}
	for _, r := range p.apps {
		a := r.spec
		if tasksDir != "" {
			r.cgroups = append(r.cgroups, tasksDir)
		}
		if a.isolators.hasCgroupLimits() {
			if cgErr != nil {
				p.logf("app %s: resource limits: not enforced (%v)", a.name, cgErr)
			} else {
				dirs, reports := setupAppCgroups(cm, spec.uuid, a.name, &a.isolators)
				r.cgroups = append(r.cgroups, dirs...)
				for _, l := range reports {
					p.logf("app %s: isolator %s", a.name, l)
				}
			}
		}
	}
	return nil
}

// appStdio returns the stdout and stderr of each of n apps, two a piece:
// the n*2 descriptors from first on that stage1 run passed (made
// close-on-exec: only the app they belong to gets them), or PID 1's own 1
// and 2 when first is -1.
func appStdio(first, n int) ([]int, error) {
	fds := make([]int, 2*n)
	for i := range fds {
		fds[i] = 1 + i%2
		if first < 0 {
			continue
		}
		fds[i] = first + i
		if _, err := unix.FcntlInt(uintptr(fds[i]), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
			return nil, fmt.Errorf("app output descriptor %d (--app-stdio-fd=%d, %d apps): %w", fds[i], first, n, err)
		}
	}
	return fds, nil
}

// supervise runs the apps to the end and returns the pod's exit code.
func (p *pod) supervise() int {
	o := p.o

	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGCHLD, unix.SIGTERM, unix.SIGINT)
	p.timer = time.NewTimer(time.Hour)
	p.timer.Stop()
	for _, r := range p.apps {
		if p.stopping {
			r.done = true
			continue
		}
		if r.preStart {
			p.start(r, "pre-start")
		} else {
			p.start(r, "main")
		}
	}
	// What starting the apps needed is not needed again while they run:
	// its garbage, and the pages of the binary it touched. They are shed
	// once the pod has run for a moment, not on the way to the apps' exec,
	// which it would delay by milliseconds; a pod that ends sooner never
	// pays for it.
	shed := time.NewTimer(shedDelay)
	defer shed.Stop()
	for !p.allDone() {
		p.closeDoneOutputs()
		select {
		case s := <-sigs:
			if s == unix.SIGCHLD {
				p.reap()
			} else {
				p.debugf("received %v: stopping the pod", s)
				p.stop(s.(unix.Signal))
			}
		case <-shed.C:
			shedStartup()
		case <-p.timer.C:
			p.escalate()
		case i := <-p.notified:
			if r := p.apps[i]; !r.ready {
				r.ready = true
				p.debugf("app %s: ready", r.name)
				p.startedAll()
			}
		}
	}
	// Stray processes (daemons the apps left behind) go with the pod.
	_ = unix.Kill(-1, unix.SIGKILL)
	gone := false
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.ECHILD {
			gone = true
			break
		}
		if err != nil && err != unix.EINTR {
			break
		}
	}
	code := 0
	if p.codeSet {
		code = p.code
	}
	exit := &podcontract.Exit{ExitCode: code, Apps: make([]podcontract.AppExit, 0, len(p.apps))}
	for _, r := range p.apps {
		exit.Apps = append(exit.Apps, r.exit)
	}
	// Down only once nothing of the pod runs; its record goes with it.
	if !gone || !p.down(exit) {
		if err := podcontract.WriteExit(o.podDir, exit); err != nil {
			p.logf("%v", err)
		}
	}
	return code
}

// shedDelay is how long after starting the apps PID 1 sheds what starting
// them cost it (shedStartup).
const shedDelay = 250 * time.Millisecond

// shedStartup frees the garbage of PID 1's start and the pages of the
// binary it touched, and turns the collector off: the supervisor allocates
// next to nothing per event, and collecting garbage would only page the
// collector back in. The limit still bounds the heap should that ever
// change.
func shedStartup() {
	runtime.GC()
	debug.FreeOSMemory()
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(32 << 20)
	dropStartupPages()
}

// reportIsolators prints one line per isolator of app: enforced, modified
// or ignored (E9); seccomp is the app's planned filter.
func (p *pod) reportIsolators(a *appSpec, seccomp *seccompPlan) {
	iso := &a.isolators
	var names []string
	if iso.capsRetain != nil {
		names = append(names, string(aci.IsolatorCapabilitiesRetainSet))
	}
	if iso.capsRemove != nil {
		names = append(names, string(aci.IsolatorCapabilitiesRemoveSet))
	}
	if iso.capsBound != nil {
		names = append(names, "the pod's capabilities isolators")
	}
	if names != nil {
		asked := decideCaps(iso.capsRetain, iso.capsRemove, true).set
		grant := capsGrantFor(a, p.o.Insecure)
		d := decideCaps(iso.capsRetain, iso.capsRemove, grant != grantNone)
		if iso.capsBound != nil {
			d.set &= *iso.capsBound
		}
		verdict, detail := "enforced", ""
		switch {
		case d.denied:
			detail += fmt.Sprintf("; %s refused (the image asks for them: allow with --insecure-options=capabilities, or name them with --caps-retain)", d.extra)
		case d.extra != 0 && grant == grantOperator:
			detail += fmt.Sprintf("; %s beyond the default, as the operator's --caps-retain names them", d.extra)
		case d.extra != 0:
			p.logf("app %s: WARNING: capabilities beyond the default granted by --insecure-options=capabilities: %s", a.name, d.extra)
		}
		if iso.capsBound != nil && asked&^*iso.capsBound != 0 {
			detail += fmt.Sprintf("; %s outside the pod's bound", asked&^*iso.capsBound)
		}
		if d.set != asked {
			verdict = "modified"
		}
		p.logf("app %s: isolator %s: %s: bounding set %s%s", a.name, strings.Join(names, " + "), verdict, d.set, detail)
	}
	if iso.seccomp != nil {
		name, verdict := aci.IsolatorSeccompRemoveSet, "enforced"
		if iso.seccomp.retain {
			name = aci.IsolatorSeccompRetainSet
		}
		if seccomp.modified {
			verdict = "modified"
		}
		p.logf("app %s: isolator %s: %s: %s", a.name, name, verdict, seccomp.report)
	} else {
		p.debugf("app %s: seccomp: %s", a.name, seccomp.report)
	}
	if iso.noNewPrivs {
		p.logf("app %s: isolator %s: enforced", a.name, aci.IsolatorNoNewPrivileges)
	}
	if iso.oomScoreAdj != nil {
		p.logf("app %s: isolator %s: enforced (%d)", a.name, aci.IsolatorOOMScoreAdj, *iso.oomScoreAdj)
	}
	for _, n := range iso.ignored {
		p.logf("app %s: isolator %s: ignored (not supported by this stage1)", a.name, n)
	}
}

// reportSysctls prints one line per source of os/unix/sysctl settings (the
// pod, or an app): all of them are enforced, pod-wide, or the pod would not
// have got this far.
func (p *pod) reportSysctls(sysctls []sysctlSetting) {
	for i := 0; i < len(sysctls); {
		from := sysctls[i].from
		var set []string
		for ; i < len(sysctls) && sysctls[i].from == from; i++ {
			set = append(set, sysctls[i].String())
		}
		scope := ""
		if from != "pod" {
			scope = " for the whole pod"
		}
		p.logf("%s: isolator %s: enforced%s: %s", from, aci.IsolatorSysctl, scope, strings.Join(set, " "))
	}
}

// start starts one phase of an app as a child of PID 1: from a thread of
// PID 1 (launchHere) where it can, else through the app launcher.
func (p *pod) start(r *appRun, phase string) {
	files := []int{0, r.stdout, r.stderr}
	// The terminal of an interactive pod goes to its one app's main
	// process, once.
	console := -1
	if phase == "main" && p.o.consoleFd >= 0 {
		console, p.o.consoleFd = p.o.consoleFd, -1
	}
	var pid int
	var err error
	// The app's oom-score-adj, for the instant of the fork of its
	// process or launcher (setOOMScoreAdj): PID 1's own is the
	// supervisor's lowered one (ProtectChildFromOOM).
	restore := func() {}
	if adj := p.appOOMScoreAdj(r); adj != nil {
		restore, err = setOOMScoreAdj(*adj)
	}
	switch why := p.launchHereRefused(r, phase); {
	case err != nil:
	case why != "":
		p.debugf("app %s: %s through the app launcher: %s", r.name, phase, why)
		pid, err = p.startLauncher(r, phase, files, console)
		restore()
	default:
		pid, err = p.launchHere(r, phase, files, console)
		restore()
	}
	if phase == "main" {
		// The app has its copies (or will never run): the ports live as
		// long as it holds them.
		closeFds(r.listen)
		r.listen = nil
		if console >= 0 {
			unix.Close(console)
		}
	}
	if err != nil {
		p.logf("app %s (%s): %v", r.name, phase, err)
		p.finished(r, phase, ExitCodeFailure, "")
		return
	}
	p.debugf("app %s: %s started as pid %d", r.name, phase, pid)
	p.o.trace.Step("app %s: %s started as pid %d", r.name, phase, pid)
	p.procs[pid] = &proc{app: r, phase: phase}
	switch phase {
	case "main":
		r.started, r.running, r.mainPid = true, true, pid
		// What `stage1 enter` needs to find the app and launch as we did.
		rec := &podcontract.AppProcess{PID: pid, Insecure: p.o.Insecure & podcontract.InsecureAllRun,
			MetadataURL: p.o.MetadataURL, NotifySocket: r.notifySocket}
		if err := podcontract.WriteAppProcess(p.o.podDir, r.name, rec); err != nil {
			p.logf("app %s: %v (acirun enter will not find it)", r.name, err)
		}
		p.startedAll()
	default:
		r.handlers++
	}
}

// appOOMScoreAdj is the oom_score_adj of app r's processes: its
// os/linux/oom-score-adj (its own or the pod's), else the one the
// supervisor had before it lowered its own (podOptions.appsOOMScoreAdj);
// nil when neither is given, and they inherit PID 1's.
func (p *pod) appOOMScoreAdj(r *appRun) *int {
	if adj := r.spec.isolators.oomScoreAdj; adj != nil {
		return adj
	}
	return p.o.appsOOMScoreAdj
}

// startLauncher starts phase of app r through the app launcher (`stage1
// app`), a process of its own that starts in the app's cgroups, confines
// itself as PID 1's launch would confine its thread, and executes the app;
// files are its
// descriptors 0, 1 and 2, console the console socket of an interactive
// pod or -1. It returns the launcher's PID.
func (p *pod) startLauncher(r *appRun, phase string, files []int, console int) (int, error) {
	argv := []string{podcontract.Stage1Executable, "app", "--phase=" + phase}
	if run := p.o.Insecure & podcontract.InsecureAllRun; run != 0 {
		argv = append(argv, "--insecure-options="+run.String())
	}
	if p.o.MetadataURL != "" {
		argv = append(argv, "--metadata-url="+p.o.MetadataURL)
	}
	if r.notifySocket != "" {
		argv = append(argv, "--notify-socket="+r.notifySocket)
	}
	if p.o.Debug {
		argv = append(argv, "--debug")
	}
	fds := make([]uintptr, 0, len(files)+len(r.listen)+1)
	for _, fd := range files {
		fds = append(fds, uintptr(fd))
	}
	if phase == "main" && len(r.listen) > 0 {
		argv = append(argv, "--listen-fds="+strconv.Itoa(len(r.listen)))
		for _, fd := range r.listen {
			fds = append(fds, uintptr(fd))
		}
	}
	if console >= 0 {
		argv = append(argv, "--console-fd="+strconv.Itoa(len(fds)))
		fds = append(fds, uintptr(console))
	}
	sys := &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS}
	if rg := p.o.idRange; !rg.IsZero() {
		// --private-users: each launch in a user namespace of its own with
		// the pod's map, keeping every capability across its exec (its
		// user, host root, is none of the namespace's) until it drops to
		// the app's.
		argv = append(argv, "--private-users")
		m := []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(rg.First), Size: int(rg.Count)}}
		sys.Cloneflags |= unix.CLONE_NEWUSER
		sys.UidMappings, sys.GidMappings, sys.GidMappingsEnableSetgroups = m, m, true
		sys.AmbientCaps = p.allCaps
	}
	argv = append(argv, p.o.podDir, r.name)
	// It starts in the app's cgroups.
	return startInCgroups(r.cgroups, func(cgroupFD int) (int, error) {
		if cgroupFD >= 0 {
			sys.UseCgroupFD, sys.CgroupFD = true, cgroupFD
		}
		return syscall.ForkExec("/proc/self/exe", argv, &syscall.ProcAttr{
			Env:   os.Environ(),
			Files: fds,
			Sys:   sys,
		})
	})
}

// reap collects every exited child; orphans re-parented to us are reaped too.
func (p *pod) reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		pr, ok := p.procs[pid]
		if !ok {
			continue // an orphan: nothing more to do than reaping it
		}
		delete(p.procs, pid)
		sig := ""
		if ws.Signaled() {
			sig = unix.SignalName(ws.Signal())
		}
		if pr.phase != "main" {
			pr.app.handlers--
		}
		p.finished(pr.app, pr.phase, StatusCode(ws), sig)
	}
}

// finished moves an app on after one of its phases ended.
func (p *pod) finished(r *appRun, phase string, code int, sig string) {
	name := r.name
	switch phase {
	case "pre-start":
		if code != 0 {
			p.logf("app %s: pre-start handler failed with exit code %d; the app is not started", name, code)
			r.exit.ExitCode, r.exit.Signal, r.exited = code, sig, true
			p.setCode(code)
			r.done = true
			p.stop(unix.SIGTERM)
			return
		}
		if p.stopping {
			r.done = true
			return
		}
		p.start(r, "main")
	case "main":
		r.running = false
		if err := podcontract.RemoveAppProcess(p.o.podDir, name); err != nil {
			p.logf("app %s: %v", name, err)
		}
		r.exit.ExitCode, r.exit.Signal, r.exited = code, sig, true
		p.debugf("app %s: exited with %d %s", name, code, sig)
		p.o.trace.Step("app %s: exited with %d %s", name, code, sig)
		if code != 0 {
			p.setCode(code)
			if !p.stopping {
				for _, o := range p.apps {
					if o != r && !o.done {
						p.logf("app %s: exited with code %d: stopping the pod", name, code)
						break
					}
				}
				p.stop(unix.SIGTERM)
			}
		}
		if r.postStop && p.killed < 2 {
			p.start(r, "post-stop")
			return
		}
		r.done = true
	case "post-stop":
		if code != 0 {
			p.logf("app %s: post-stop handler failed with exit code %d", name, code)
		}
		r.done = r.handlers == 0
	}
}

func (p *pod) setCode(code int) {
	if !p.codeSet {
		p.code, p.codeSet = code, true
	}
}

// stop sends sig (SIGTERM, or the SIGINT we received) to every running app
// and arms the stop timeout. An app whose image names its own stop signal
// gets that instead of SIGTERM, as Docker and podman send it; a SIGINT
// (^C at a terminal) reaches every app as it is.
func (p *pod) stop(sig unix.Signal) {
	if p.stopping {
		return
	}
	p.stopping = true
	for pid, pr := range p.procs {
		if pr.phase == "pre-start" { // the app it prepares will not start
			_ = unix.Kill(pid, sig)
		}
	}
	for _, r := range p.apps {
		if r.running {
			s := sig
			if sig == unix.SIGTERM && r.stopSignal != 0 {
				s = r.stopSignal
				p.debugf("app %s: stopping with %s", r.name, unix.SignalName(s))
			}
			_ = unix.Kill(r.mainPid, s)
		} else if !r.started && r.handlers == 0 {
			r.done = true
		}
	}
	p.timer.Reset(p.o.StopTimeout)
}

// escalate runs when the stop timeout expires: first the apps still running
// get SIGKILL (their post-stop handlers still run, with one more timeout),
// then everything left in the pod does.
func (p *pod) escalate() {
	p.killed++
	if p.killed == 1 {
		for _, r := range p.apps {
			if r.running {
				p.logf("app %s: still running after %s: SIGKILL", r.name, p.o.StopTimeout)
				_ = unix.Kill(r.mainPid, unix.SIGKILL)
			}
		}
		p.timer.Reset(p.o.StopTimeout)
		return
	}
	p.logf("pod: handlers still running after the stop timeout: SIGKILL")
	_ = unix.Kill(-1, unix.SIGKILL)
	for _, r := range p.apps {
		if !r.running {
			r.done = true
		}
	}
}

// closeDoneOutputs closes our copies of the output descriptors of the
// apps that are done (main and post-stop over): an app's output then ends
// when its last process does, and stage1 run sends its last line, one
// without a newline too, without waiting for the whole pod.
func (p *pod) closeDoneOutputs() {
	for _, r := range p.apps {
		if !r.done {
			continue
		}
		for _, fd := range []*int{&r.stdout, &r.stderr} {
			if *fd > 2 {
				unix.Close(*fd)
				*fd = -1
			}
		}
	}
}

func (p *pod) allDone() bool {
	for _, r := range p.apps {
		if !r.done {
			return false
		}
	}
	return true
}

// makeEmptyVolumes creates POD-DIR/volumes/NAME for each empty volume, with
// its mode and owner, once per pod; all apps share it. With --private-users
// (ids not zero) the owner is the pod's user and group, the range's IDs.
func makeEmptyVolumes(spec *podSpec, ids userns.Range) error {
	vols := map[*volumeSpec]bool{}
	for _, v := range spec.volumes {
		vols[v] = true
	}
	for _, a := range spec.apps {
		for _, m := range a.mounts {
			vols[m.volume] = true
		}
	}
	for v := range vols {
		if v.kind != "empty" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(v.source), 0o755); err != nil {
			return fmt.Errorf("volume %s: %w", v.name, err)
		}
		if err := os.Mkdir(v.source, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("volume %s: %w", v.name, err)
		}
		uid, gid := v.uid, v.gid
		if !ids.IsZero() {
			u, uok := ids.HostID(uint32(v.uid))
			g, gok := ids.HostID(uint32(v.gid))
			if !uok || !gok {
				return fmt.Errorf("volume %s: owner %d:%d is outside the pod's %d IDs (--private-users)", v.name, v.uid, v.gid, ids.Count)
			}
			uid, gid = int(u), int(g)
		}
		if err := os.Lchown(v.source, uid, gid); err != nil {
			return fmt.Errorf("volume %s: %w", v.name, err)
		}
		if err := unix.Chmod(v.source, uint32(v.mode)); err != nil {
			return fmt.Errorf("volume %s: %w", v.name, err)
		}
	}
	return nil
}
