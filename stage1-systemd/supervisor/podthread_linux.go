package supervisor

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/internal/trace"
	stage1 "github.com/acirun/acirun/stage1-systemd"
)

// A podThread is the OS thread that starts the pod's PID 1. It makes the
// namespaces PID 1 gets new and empty, not copied from the host (the
// network namespace, unless --net=host, and the IPC one), for itself
// (unshare) as soon as runPod begins, and PID 1, forked from it, inherits
// them. A network namespace costs the kernel half a millisecond or more
// (every per-network subsystem sets itself up, the loopback device
// registers): made by the clone that starts PID 1 it was on the way of
// every start, while on this thread it is made beside runPod's checks, on
// the other CPU.
//
// Then it forks PID 1 (earlyInit) from the sealed executable exe, before
// anything of the pod is known: PID 1's exec and its Go runtime's start
// (2 to 3 ms) run on the other CPU while the pod is prepared and checked,
// and PID 1 waits for the go message (podcontract.Go) that tells it which
// pod it is.
//
// The thread is locked to its goroutine and ends with it (close), once
// the pod has ended: no other goroutine may run in the pod's namespaces,
// and PID 1's parent-death signal (Pdeathsig) follows the thread that
// forked it, so the thread must outlive PID 1. Until then it runs what do
// hands it: its ID (tid), and the metadata service's socket on a pod
// without a network of acirun's (metadataListener), which stays in the
// pod's network namespace and serves from any thread.
type podThread struct {
	// flags are the namespaces it makes (podNamespaces).
	flags int
	// exe is the executable PID 1 starts from (podcontract.PodExecutable),
	// or "": none is started.
	exe string
	// trace is told when the executable is sealed and PID 1 started.
	trace *trace.Tracer
	calls chan func()
	stop  chan struct{}
	// ended is closed once the thread has ended, and with it a PID 1
	// that was never told go.
	ended chan struct{}
	once  sync.Once
	// err, set before the thread takes its first call, is why it could
	// not make the namespaces.
	err error
	// init, set with err before the thread takes its first call, is the
	// PID 1 it forked, or why it could not.
	init    *earlyInit
	initErr error
}

// earlyInit is the pod's PID 1 as the pod thread forks it: its pid, the
// supervisor's end of its control socket, the sealed executable it runs
// from, and what ProtectChildFromOOM did to it once it was started.
// Until runPod sends it go (sent), PID 1 is the thread's: whatever ends
// the thread kills and reaps it, so that a start that fails before (the
// pod's lock, its checks, bad input) leaves no process; from then on it
// is runPod's to wait for.
type earlyInit struct {
	pid    int
	ctl    int
	sealed *os.File
	// oomWas and oomNow are ProtectChildFromOOM's, and oomErr why it
	// failed.
	oomWas, oomNow int
	oomErr         error
	// taken: runPod has ctl and sealed, and closes them.
	taken bool
	// sent: runPod has sent the go message, and waits for PID 1.
	sent bool
}

// podNamespaces are the namespaces the pod thread makes for a pod on
// network net (podcontract.RunOptions.Net): the network one unless
// --net=host, and the IPC one. What else PID 1 gets new is its clone's
// (runPod).
func podNamespaces(net string) int {
	if net == podcontract.NetHost {
		return unix.CLONE_NEWIPC
	}
	return unix.CLONE_NEWIPC | unix.CLONE_NEWNET
}

// startPodThread starts the thread and has it unshare flags
// (podNamespaces), then fork PID 1 from exe unless exe is "".
func startPodThread(flags int, exe string, tr *trace.Tracer) *podThread {
	t := &podThread{flags: flags, exe: exe, trace: tr, calls: make(chan func()), stop: make(chan struct{}), ended: make(chan struct{})}
	go t.lockAndServe()
	return t
}

// lockAndServe locks the calling goroutine to its thread and serves
// there, or on another thread if that is the process's main thread: the
// main thread is wedged, not ended, when a goroutine locked to it
// returns, and would keep the pod's namespaces for as long as the process
// lives. Another goroutine then serves, which cannot run on this thread
// while it is locked to this one.
func (t *podThread) lockAndServe() {
	runtime.LockOSThread()
	if unix.Gettid() != unix.Getpid() {
		t.serve()
		return
	}
	locked := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		close(locked)
		t.serve()
	}()
	<-locked
	runtime.UnlockOSThread()
}

// serve makes the namespaces on the calling thread, locked to its
// goroutine and never unlocked (the thread goes with the goroutine), forks
// PID 1 into them, and then brings up the new network namespace's
// loopback, which PID 1 would do on its way to the apps: while PID 1's
// runtime starts, not before its fork. Then it runs the calls handed to it
// until the thread is closed: the first of them (takeInit, before go is
// sent) comes after the loopback is up, which PID 1 finds so.
func (t *podThread) serve() {
	defer close(t.ended)
	if err := unix.Unshare(t.flags); err != nil {
		t.err = fmt.Errorf("make the pod's namespaces: %w", err)
	}
	if t.err == nil && t.exe != "" {
		t.init, t.initErr = forkInit(t.exe, t.trace)
	}
	if t.err == nil && t.flags&unix.CLONE_NEWNET != 0 {
		// PID 1 finds it up (stage1.LoopbackUp); should this fail, the
		// thread's calls fail with it and its end kills PID 1 (endInit).
		if err := stage1.LoopbackUp(); err != nil {
			t.err = fmt.Errorf("bring up the pod's loopback: %w", err)
		}
		t.trace.Step("loopback up")
	}
	for {
		select {
		case fn := <-t.calls:
			fn()
		case <-t.stop:
			t.endInit()
			return
		}
	}
}

// forkInit seals exe and forks PID 1 from it on the calling thread, in
// its namespaces, with nothing on its command line but its control
// socket: the rest comes with the go message (podcontract.Go), stdin
// among it (PID 1's is closed until then). The mount, PID and UTS
// namespaces are new with the clone, the mount one a copy of the host's.
func forkInit(exe string, tr *trace.Tracer) (*earlyInit, error) {
	// The fork may come before MainInProcess hardens the process that
	// prepares the pod: no descriptor its caller leaked to it (one not
	// close-on-exec) may reach PID 1, nor anything of ours be inspected
	// through /proc, from now on rather than from then on.
	if err := stage1.HardenProcess(); err != nil {
		return nil, err
	}
	sealed, err := stage1.SealedExecutable(exe)
	if err != nil {
		return nil, err
	}
	tr.Step("executable sealed")
	ctl, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		sealed.Close()
		return nil, fmt.Errorf("pod control socket: %w", err)
	}
	// PID 1's standard input until the go message brings the apps' (which
	// takes its number): held, the number cannot become a descriptor of
	// PID 1's own meanwhile.
	null, err := os.Open(os.DevNull)
	if err != nil {
		unix.Close(ctl[0])
		unix.Close(ctl[1])
		sealed.Close()
		return nil, err
	}
	defer null.Close()
	in := &earlyInit{ctl: ctl[0], sealed: sealed}
	// PID 1 is one event loop, and every P the Go runtime makes beyond
	// the first (it makes one per CPU) costs it memory for as long as the
	// pod lives: 5.7 MB instead of 3.8 MB with 64. The launchers it
	// starts inherit the setting; the apps do not (their environment is
	// the manifest's).
	in.pid, err = stage1.ForkExecFile(sealed, []string{podcontract.PodExecutable, "init", podcontract.ControlFDFlag}, &syscall.ProcAttr{
		Env:   stage1.SetEnv(os.Environ(), []string{"GOMAXPROCS=1"}),
		Files: []uintptr{null.Fd(), 1, 2, uintptr(ctl[1])},
		Sys:   &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS, Pdeathsig: syscall.SIGKILL},
	})
	unix.Close(ctl[1])
	if err != nil {
		unix.Close(ctl[0])
		sealed.Close()
		return nil, fmt.Errorf("start pod init: %w", err)
	}
	// Under memory pressure the OOM killer must choose an app before the
	// supervisor or PID 1, or the pod's status goes with them: both take
	// a lowered oom_score_adj (without CAP_SYS_RESOURCE no lower than the
	// floor we were given), and the apps get the one we had, unless they
	// ask for their own (runPod tells PID 1). PID 1's is lowered once it
	// is started, not ours for its fork: the process may still be
	// preparing the pod (fetching an image), which must stay as killable
	// as before; runPod lowers ours once the pod is locked.
	in.oomWas, in.oomNow, in.oomErr = stage1.ProtectChildFromOOM(in.pid)
	tr.Step("init started as pid %d", in.pid)
	return in, nil
}

// endInit kills and reaps a PID 1 that was never told go, and closes what
// runPod did not take of it.
func (t *podThread) endInit() {
	in := t.init
	if in == nil || in.sent {
		return
	}
	_ = unix.Kill(in.pid, unix.SIGKILL)
	stage1.WaitPid(in.pid)
	if !in.taken {
		unix.Close(in.ctl)
		in.sealed.Close()
	}
}

// takeInit hands runPod the PID 1 the thread forked (its control socket
// and sealed executable are runPod's to close from then on; PID 1 stays
// the thread's until in.sent), or why there is none.
func (t *podThread) takeInit() (*earlyInit, error) {
	var in *earlyInit
	err := t.do(func() error {
		if t.initErr != nil {
			return t.initErr
		}
		if t.init == nil {
			return errors.New("the pod's thread started no PID 1")
		}
		t.init.taken = true
		in = t.init
		return nil
	})
	return in, err
}

// do runs fn on the thread, in the pod's namespaces, and returns its
// error, or the thread's own if it could not make them (fn does not run).
// Once the thread is closed fn does not run either and do says so: a call
// that came too late must not wait forever for a thread that has gone.
func (t *podThread) do(fn func() error) error {
	var err error
	done := make(chan struct{})
	select {
	case t.calls <- func() {
		defer close(done)
		if t.err != nil {
			err = t.err
			return
		}
		err = fn()
	}:
	case <-t.stop:
		return errors.New("the pod's thread has ended with the pod")
	}
	<-done
	return err
}

// tid is the thread's ID, once it has made the namespaces: the pod's
// network namespace is named by it (IFLA_NET_NS_PID takes a thread's ID as
// well as a process's) while PID 1 is being started.
func (t *podThread) tid() (int, error) {
	var tid int
	err := t.do(func() error {
		tid = unix.Gettid()
		return nil
	})
	return tid, err
}

// close ends the thread, and with it the namespaces that PID 1 does not
// hold, and a PID 1 that was never told go (endInit), before it returns.
// It is called once PID 1 has ended, or was never told go: as soon as
// PID 1 has ended, so that the kernel removes the pod's link with its
// network namespace (podNetwork.detach waits for that), and again when
// runPod returns; the second call does nothing.
func (t *podThread) close() {
	t.once.Do(func() { close(t.stop) })
	<-t.ended
}

// A PodThread is the pod's thread (podThread) made ahead of its
// supervisor, by the process that will run it in place (acirun run
// without a unit of its own: MainInProcess), as soon as the command line
// tells the pod's network: the kernel makes the pod's network and IPC
// namespaces (0.7 to 1 ms), and PID 1 is forked and starts (2 to 3 ms),
// on the other CPU while that process resolves the images and writes the
// pod, instead of after. It holds nothing but the thread, those
// namespaces and a PID 1 that waits to be told which pod it is; whoever
// made it hands it to MainInProcess, which takes it over, or closes it.
type PodThread struct{ t *podThread }

// StartPodThread starts the thread of a pod on network net (--net: "",
// "default", "host", "none", or named networks), which makes the
// namespaces that the pod's supervisor would make for it, and forks PID 1
// from podExe (podcontract.PodExecutableBeside; "" for none). tr is told
// when PID 1 is started.
func StartPodThread(net, podExe string, tr *trace.Tracer) *PodThread {
	return &PodThread{startPodThread(podNamespaces(net), podExe, tr)}
}

// Close ends the thread, its namespaces and its PID 1: the maker of a
// PodThread that it does not hand to MainInProcess (its command failed,
// or ran the pod in a unit) closes it. A nil PodThread is nothing to
// close.
func (p *PodThread) Close() {
	if p != nil {
		p.t.close()
	}
}
