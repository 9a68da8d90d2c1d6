package stage1

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/podcontract"
)

// PID 1 starts an app's process (its main process, an event handler)
// itself, from a thread of its own, without an app launcher in between
// (`stage1 app`, a whole Go process start that only set the app up and
// executed it: 10 to 20 ms of page faults on a slow machine). What makes
// this possible is that everything of an app's confinement is per thread
// in Linux, and that a process forked from a thread inherits that
// thread's: the mount namespace and root (unshare(CLONE_NEWNS), which
// copies the thread's fs struct too, then pivot_root), v1 cgroup
// membership (joinCgroupsAsThread), credentials, the capability sets,
// no_new_privs, the seccomp filter (loaded without TSYNC) and the
// Landlock domain. So a goroutine locks itself to a thread, confines that
// thread exactly as the launcher confined itself (confinedExec.confine,
// the one definition of it), forks and executes the app from it with
// syscall.ForkExec, and ends without unlocking: the Go runtime then ends
// the thread, and nothing of the app's confinement is left in PID 1.
//
// Between its fork and its execve the child shares PID 1's memory (Go
// forks with CLONE_VM|CLONE_VFORK) and already has the app's credentials:
// PID 1 is not dumpable (Main), so no process of the pod can reach that
// memory through ptrace or /proc/PID/mem unless it holds CAP_SYS_PTRACE;
// /proc/PID/exe is the read-only executable (CVE-2019-5736); every
// descriptor of PID 1 is close-on-exec, so the app gets only the ones
// passed to it.
//
// What is per process is done around the fork: PID 1 takes the app's
// oom-score-adj for the instant of the fork (pod.start: the child
// inherits it, and the floor CAP_SYS_RESOURCE sets with it) and restores
// its own; RLIMIT_NOFILE is restored in the child by Go
// as it was when PID 1 started, as the launcher's exec did; a terminal
// becomes the controlling terminal of the child's new session by
// SysProcAttr (Setsid, Setctty).
//
// A --private-users pod's app runs in a user namespace of its own, which a
// thread cannot enter (unshare(CLONE_NEWUSER) is refused to a thread of a
// multi-threaded process, and a user namespace made by clone resets the
// capability bounding set): there the thread does the part that does not
// depend on the namespace and the child it forks into a new one confines
// itself with raw system calls before its execve (launchuserns_linux.go).
//
// The app launcher stays for what PID 1 cannot do (launchHereRefused):
// socket activation (LISTEN_PID must be the app's PID, which is known only
// after the fork, when the environment is set), and, but for a
// --private-users pod, cgroups of the v2 hierarchy (a thread cannot join a
// domain cgroup alone; CLONE_INTO_CGROUP needs clone3, which the default
// filter refuses) and a seccomp filter that refuses a call of the launch
// (launchCalls: nothing is added to an app's filter for PID 1's sake).
// `stage1 enter` keeps it too: it is a process of its own anyway.

// launchHereRefused says why PID 1 cannot start phase of app r itself (it
// then starts the app launcher), or "" when it can.
func (p *pod) launchHereRefused(r *appRun, phase string) string {
	switch {
	case phase == "main" && len(r.listen) > 0:
		return "socket activation: LISTEN_PID names the app's process, known only after its fork"
	case p.ns != nil:
		// Its child confines itself and joins the cgroups of either
		// hierarchy (launchuserns_linux.go).
		return ""
	case r.launchRefused != "":
		return r.launchRefused
	}
	for _, cg := range r.cgroups {
		if !threadJoinable(cg) {
			return "cgroup " + cg + " is not of a v1 hierarchy: a thread cannot join it alone"
		}
	}
	return ""
}

// launchRefusedBy is launchHereRefused's verdict on an app's seccomp
// filter plan, which stays the same for each of its processes: "" when
// the filter allows every call of PID 1's launch.
func launchRefusedBy(plan *seccompPlan) string {
	call, err := seccompRefuses(plan.filter, launchCalls())
	switch {
	case err != nil:
		return err.Error()
	case call != "":
		return "its seccomp filter refuses " + call + ", which PID 1's launch calls"
	}
	return ""
}

// launchHere starts phase of app r from a thread of PID 1 (see above) with
// files as its descriptors 0, 1, 2 or, when console is a console socket,
// a new terminal. It returns the child's PID once the app's program has
// been executed, or why it was not.
func (p *pod) launchHere(r *appRun, phase string, files []int, console int) (int, error) {
	l := launchFor(r.spec, phase, p.o.Insecure&podcontract.InsecureAllRun, p.o.MetadataURL, r.notifySocket)
	l.seccomp = r.seccomp
	if len(l.argv) == 0 {
		return 0, fmt.Errorf("no %s command in the pod manifest", phase)
	}
	root := filepath.Join(podcontract.AppDir(p.o.podDir, r.name), podcontract.AppRootfsDir)
	launch := p.launchOnThread
	if p.ns != nil {
		launch = p.launchInUserNS
	}
	// The thread's confinement ends with it.
	return onOwnThread(func() (int, error) { return launch(r, phase, l, root, files, console) })
}

// launchOnThread confines the calling thread, locked to its goroutine for
// good, as a process of app r, and forks and executes l from it.
func (p *pod) launchOnThread(r *appRun, phase string, l *appLaunch, root string, files []int, console int) (int, error) {
	// A mount namespace (and fs struct) of this thread's own, in which
	// the app's root becomes the root.
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return 0, fmt.Errorf("unshare the mount namespace: %w", err)
	}
	// The app's cgroups, all of v1 hierarchies (launchHereRefused).
	if unified, err := joinCgroupsAsThread(r.cgroups); err != nil {
		return 0, err
	} else if len(unified) > 0 {
		return 0, fmt.Errorf("cgroups %s: a thread cannot join them alone", strings.Join(unified, " "))
	}
	if err := enterRoot(root, false); err != nil {
		return 0, err
	}
	p.o.trace.Step("app %s: root entered", r.name)
	if phase == "main" {
		p.o.reached(stepAppRootEntered)
	}
	c, err := resolveConfined(r.spec, l)
	if err != nil {
		return 0, err
	}
	defer c.close()
	sys := &syscall.SysProcAttr{}
	if console >= 0 {
		peer, err := openTerminal(console, c.uid)
		if err != nil {
			return 0, err
		}
		defer unix.Close(peer)
		files = []int{peer, peer, peer}
		sys.Setsid, sys.Setctty, sys.Ctty = true, true, 0
	}
	fds := make([]uintptr, len(files))
	for i, fd := range files {
		fds[i] = uintptr(fd)
	}
	if err := c.confine(); err != nil {
		return 0, err
	}
	p.o.trace.Step("app %s: exec %s", r.name, c.prog)
	pid, err := syscall.ForkExec(c.prog, c.argv, &syscall.ProcAttr{Env: c.env, Files: fds, Sys: sys})
	if err != nil {
		return 0, fmt.Errorf("exec %s: %w", c.prog, err)
	}
	return pid, nil
}
