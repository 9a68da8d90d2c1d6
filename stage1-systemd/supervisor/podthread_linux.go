package supervisor

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/podcontract"
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
// The thread is locked to its goroutine and ends with it (close), once
// the pod has ended: no other goroutine may run in the pod's namespaces,
// and PID 1's parent-death signal (Pdeathsig) follows the thread that
// forked it, so the thread must outlive PID 1. Until then it runs what do
// hands it: the fork of PID 1, its ID (tid), and the metadata service's
// socket on a pod without a network of acirun's (metadataListener), which
// stays in the pod's network namespace and serves from any thread.
type podThread struct {
	// flags are the namespaces it makes (podNamespaces).
	flags int
	calls chan func()
	stop  chan struct{}
	once  sync.Once
	// err, set before the thread takes its first call, is why it could
	// not make the namespaces.
	err error
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
// (podNamespaces).
func startPodThread(flags int) *podThread {
	t := &podThread{flags: flags, calls: make(chan func()), stop: make(chan struct{})}
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
// goroutine and never unlocked (the thread goes with the goroutine), and
// brings up the new network namespace's loopback, which PID 1 would do on
// its way to the apps; then it runs the calls handed to it until the
// thread is closed.
func (t *podThread) serve() {
	if err := unix.Unshare(t.flags); err != nil {
		t.err = fmt.Errorf("make the pod's namespaces: %w", err)
	} else if t.flags&unix.CLONE_NEWNET != 0 {
		// PID 1 finds it up (stage1.LoopbackUp).
		if err := stage1.LoopbackUp(); err != nil {
			t.err = fmt.Errorf("bring up the pod's loopback: %w", err)
		}
	}
	for {
		select {
		case fn := <-t.calls:
			fn()
		case <-t.stop:
			return
		}
	}
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
// hold. It is called once PID 1 has ended, or was never started: as soon
// as PID 1 has ended, so that the kernel removes the pod's link with its
// network namespace (podNetwork.detach waits for that), and again when
// runPod returns; the second call does nothing.
func (t *podThread) close() { t.once.Do(func() { close(t.stop) }) }

// A PodThread is the pod's thread (podThread) made ahead of its
// supervisor, by the process that will run it in place (acirun run
// without a unit of its own: MainInProcess), as soon as the command line
// tells the pod's network: the kernel makes the pod's network and IPC
// namespaces (0.7 to 1 ms) on the other CPU while that process resolves
// the images and writes the pod, instead of after. It holds nothing but
// the thread and those namespaces; whoever made it hands it to
// MainInProcess, which takes it over, or closes it.
type PodThread struct{ t *podThread }

// StartPodThread starts the thread of a pod on network net (--net: "",
// "default", "host", "none", or named networks), which makes the
// namespaces that the pod's supervisor would make for it.
func StartPodThread(net string) *PodThread {
	return &PodThread{startPodThread(podNamespaces(net))}
}

// Close ends the thread and its namespaces: the maker of a PodThread
// that it does not hand to MainInProcess (its command failed, or ran the
// pod in a unit) closes it. A nil PodThread is nothing to close.
func (p *PodThread) Close() {
	if p != nil {
		p.t.close()
	}
}
