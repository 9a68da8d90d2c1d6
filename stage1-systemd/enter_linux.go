package stage1

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/mountinfo"
	"github.com/acirun/acirun/internal/podcontract"
)

// enterOptions are the flags and arguments of `stage1 enter`.
type enterOptions struct {
	podDir  string
	name    string
	command []string
	debug   bool
}

func parseEnterOptions(args []string, stderr io.Writer) (*enterOptions, error) {
	o := &enterOptions{}
	fs := flag.NewFlagSet("stage1 enter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.debug, "debug", false, "log each step to stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() < 3 {
		return nil, errors.New("stage1 enter: want POD-DIR NAME CMD [ARGS...]")
	}
	o.podDir, o.name, o.command = fs.Arg(0), fs.Arg(1), fs.Args()[2:]
	return o, nil
}

// enterMain is `stage1 enter [--debug] POD-DIR NAME CMD [ARGS...]`: it runs
// CMD in app NAME of the running pod, as one more process of the app, and
// exits with CMD's exit code (128+N when killed by signal N), 254 when it
// could not enter.
//
// It stays on the host, as `stage1 run` does: it finds the app's main
// process, starts `stage1 app --phase=enter` from the sealed executable into
// the app's PID namespace (setns on a pidfd of the app's process, which
// only places our children), and waits for it. That child joins the app's
// cgroups and its other namespaces, and then goes the app launcher's own
// way (execConfined). An app of a --private-users pod has a user
// namespace of its own, which the child is started in (startInUserNS).
// The mount namespace is joined there, on the one
// thread that executes CMD, after unshare(CLONE_FS): setns refuses a mount
// namespace to a thread sharing its root and working directory, as every
// thread of a Go process does, and nothing of the host's file system is
// left to that thread afterwards.
func enterMain(args []string) int {
	// The main thread is this goroutine's for good, as PID 1's is
	// (initMain): the runtime parks the main thread forever, rather than
	// ending it, when a goroutine locked to it for good (startInCgroups)
	// ends, and it would stay in the app's cgroups.
	runtime.LockOSThread()
	o, err := parseEnterOptions(args, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "acirun stage1 enter: %v\n", err)
		return 2
	}
	code, err := enterApp(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "acirun enter: %v\n", err)
		return ExitCodeFailure
	}
	return code
}

// enterApp is enterMain's work.
func enterApp(o *enterOptions) (int, error) {
	podDir, err := filepath.Abs(o.podDir)
	if err != nil {
		return 0, err
	}
	if !podcontract.Running(podDir) {
		return 0, fmt.Errorf("pod %s is not running", podDir)
	}
	if _, err := loadApp(podDir, o.name); err != nil {
		return 0, fmt.Errorf("pod %s: %w", podDir, err)
	}
	rec, err := podcontract.ReadAppProcess(podDir, o.name)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("app %s of pod %s is not running (not started yet, or exited)", o.name, podDir)
	}
	if err != nil {
		return 0, err
	}
	pidfd, hostPid, err := findAppProcess(podDir, o.name, rec)
	if err != nil {
		return 0, err
	}
	defer unix.Close(pidfd)
	// An app of a --private-users pod runs in a user namespace of its own,
	// which the entering process joins before it executes (startInUserNS).
	same, err := sameFile(fmt.Sprintf("/proc/%d/ns/user", hostPid), "/proc/self/ns/user")
	if err != nil {
		return 0, fmt.Errorf("app %s: %w", o.name, err)
	}
	privateUsers := !same
	var nofile *unix.Rlimit
	if privateUsers {
		// Asked here, not in the app's PID namespace, where the child
		// asked would take its parent for dead.
		if nofile, err = childNofile(); err != nil {
			return 0, err
		}
	}
	cgroups, err := processCgroupDirs(hostPid)
	if err != nil {
		return 0, fmt.Errorf("app %s: %w", o.name, err)
	}
	if o.debug {
		fmt.Fprintf(os.Stderr, "acirun stage1 enter: app %s is pid %d (%d in the pod), cgroups %s\n", o.name, hostPid, rec.PID, strings.Join(cgroups, " "))
	}
	// The pod's processes see ours only through a read-only view of the
	// binary (CVE-2019-5736), as they do PID 1's and the app launcher's.
	exe, err := SealedExecutable("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	defer exe.Close()
	argv := []string{podcontract.Stage1Executable, "app", "--phase=enter", "--pidfd=3"}
	if run := rec.Insecure & podcontract.InsecureAllRun; run != 0 {
		argv = append(argv, "--insecure-options="+run.String())
	}
	if privateUsers {
		argv = append(argv, "--private-users")
	}
	if rec.MetadataURL != "" {
		argv = append(argv, "--metadata-url="+rec.MetadataURL)
	}
	if rec.NotifySocket != "" {
		argv = append(argv, "--notify-socket="+rec.NotifySocket)
	}
	argv = append(argv, podDir, o.name)
	argv = append(argv, o.command...)

	// The terminal's SIGINT and SIGQUIT reach the entered command, which is
	// in our process group, and we wait for it; SIGTERM and SIGHUP are
	// passed on. Caught, not ignored: an ignored signal would stay ignored
	// in the command.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGHUP, unix.SIGINT, unix.SIGQUIT)
	defer signal.Stop(sigs)

	// The child starts in the app's cgroups (startInCgroups), forked from
	// a thread of their own: setns(CLONE_NEWPID) changes where that
	// thread's children are born, and the thread ends once it has forked.
	// No Pdeathsig: the child, whose parent is outside its PID namespace,
	// would take getppid's 0 for our death.
	pid, err := startInCgroups(cgroups, func(cgroupFD int) (int, error) {
		if err := unix.Setns(pidfd, unix.CLONE_NEWPID); err != nil {
			return 0, fmt.Errorf("join the PID namespace of app %s: %w", o.name, err)
		}
		if privateUsers {
			return startInUserNS(exe, argv, pidfd, cgroupFD, nofile)
		}
		return ForkExecFile(exe, argv, &syscall.ProcAttr{
			Env:   os.Environ(),
			Files: []uintptr{0, 1, 2, uintptr(pidfd)},
			Sys:   &syscall.SysProcAttr{UseCgroupFD: cgroupFD >= 0, CgroupFD: cgroupFD},
		})
	})
	if err != nil {
		return 0, fmt.Errorf("start the process entering app %s: %w", o.name, err)
	}
	exe.Close()
	done := make(chan unix.WaitStatus, 1)
	go func() { done <- WaitPid(pid) }()
	for {
		select {
		case s := <-sigs:
			if s == unix.SIGTERM || s == unix.SIGHUP {
				_ = unix.Kill(pid, s.(unix.Signal))
			}
		case ws := <-done:
			return StatusCode(ws), nil
		}
	}
}

// findAppProcess returns a pidfd and the host PID of app name's main
// process, which PID 1 recorded as rec: the child of the pod's PID 1 whose
// PID in the pod's namespace is rec.PID. It refuses a process that is still
// our app launcher (whose mount namespace is not yet the app's root), and
// checks again through the pidfd, once held, that it names that process.
func findAppProcess(podDir, name string, rec *podcontract.AppProcess) (int, int, error) {
	b, err := os.ReadFile(filepath.Join(podDir, podcontract.PPID1File))
	if err != nil {
		return -1, 0, fmt.Errorf("pod %s: the pod's PID 1: %w", podDir, err)
	}
	ppid1, err := podcontract.ParsePID(b)
	if err != nil {
		return -1, 0, fmt.Errorf("pod %s: %s: %w", podDir, podcontract.PPID1File, err)
	}
	host, err := childWithNSPid(ppid1, rec.PID)
	if err != nil {
		return -1, 0, fmt.Errorf("app %s: %w", name, err)
	}
	pidfd, err := unix.PidfdOpen(host, 0)
	if err != nil {
		return -1, 0, fmt.Errorf("app %s: pidfd_open %d: %w", name, host, err)
	}
	check := func() error {
		// The PID may have been reused before pidfd_open: what the
		// pidfd holds must be the process found, still PID 1's child.
		if again, err := childWithNSPid(ppid1, rec.PID); err != nil || again != host {
			return fmt.Errorf("its process %d went away", host)
		}
		same, err := sameFile(fmt.Sprintf("/proc/%d/exe", host), fmt.Sprintf("/proc/%d/exe", ppid1))
		if err != nil {
			return err
		}
		if same {
			return errors.New("it is still starting; try again")
		}
		if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); err != nil {
			return fmt.Errorf("its process %d went away: %w", host, err)
		}
		if !podcontract.Running(podDir) {
			return fmt.Errorf("pod %s is not running", podDir)
		}
		// PID 1 removes the record before it starts anything after the
		// app's exit (a post-stop handler that may get its PID back).
		if now, err := podcontract.ReadAppProcess(podDir, name); err != nil || now.PID != rec.PID {
			return errors.New("it has exited")
		}
		return nil
	}
	if err := check(); err != nil {
		unix.Close(pidfd)
		return -1, 0, fmt.Errorf("app %s: %w", name, err)
	}
	return pidfd, host, nil
}

// childWithNSPid returns the host PID of the child of ppid whose PID in its
// own (innermost) PID namespace is nsPid.
func childWithNSPid(ppid, nsPid int) (int, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", ppid))
	if err != nil {
		return 0, fmt.Errorf("the pod's PID 1 (%d): %w", ppid, err)
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", ppid, t.Name()))
		if err != nil {
			continue // the thread ended
		}
		for _, f := range strings.Fields(string(b)) {
			child, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", child))
			if err != nil {
				continue
			}
			if p, ok := statusField(st, "PPid"); !ok || p != strconv.Itoa(ppid) {
				continue
			}
			ns, ok := statusField(st, "NSpid")
			if nf := strings.Fields(ns); ok && len(nf) > 1 && nf[len(nf)-1] == strconv.Itoa(nsPid) {
				return child, nil
			}
		}
	}
	return 0, fmt.Errorf("no process %d in the pod (it exited?)", nsPid)
}

// statusField returns the value of field name of /proc/PID/status text.
func statusField(status []byte, name string) (string, bool) {
	for _, l := range bytes.Split(status, []byte("\n")) {
		if k, v, ok := bytes.Cut(l, []byte(":")); ok && string(k) == name {
			return strings.TrimSpace(string(v)), true
		}
	}
	return "", false
}

// sameFile reports whether paths a and b (magic links followed) are one
// file.
func sameFile(a, b string) (bool, error) {
	var sa, sb unix.Stat_t
	if err := unix.Stat(a, &sa); err != nil {
		return false, fmt.Errorf("stat %s: %w", a, err)
	}
	if err := unix.Stat(b, &sb); err != nil {
		return false, fmt.Errorf("stat %s: %w", b, err)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino, nil
}

// joinAppNamespaces moves the calling thread into the mount, network, UTS,
// IPC and cgroup namespaces of the process pidfd refers to (its PID
// namespace the caller was born in). Its root and working directory become
// the root of the app's mount namespace: the app's root, into which the
// app launcher pivoted.
//
// A process of a --private-users pod's app (privateUsers) is started in the
// app's user namespace and the namespaces the host's user namespace owns
// (startInUserNS), holding capabilities in the app's user namespace only:
// it joins the mount namespace, which that one owns.
func joinAppNamespaces(pidfd int, privateUsers bool) error {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare(CLONE_FS): %w", err)
	}
	nss := unix.CLONE_NEWNS | unix.CLONE_NEWNET | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWCGROUP
	if privateUsers {
		nss = unix.CLONE_NEWNS
	}
	if err := unix.Setns(pidfd, nss); err != nil {
		return fmt.Errorf("join the app's namespaces: %w", err)
	}
	unix.Close(pidfd)
	return nil
}

// processCgroupDirs returns the directory of each cgroup process pid is in,
// one per hierarchy of /proc/PID/cgroup (cgroup v1 hierarchies and the
// unified one), as this process's mounts of the cgroup file systems show
// them. A hierarchy mounted nowhere here is an error: what enters an app
// must not escape any of its cgroups (rkt's enter did: CVE-2019-10147).
func processCgroupDirs(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, err
	}
	ms, err := mountinfo.Self()
	if err != nil {
		return nil, err
	}
	return cgroupDirs(string(b), ms)
}

// cgroupDirs is processCgroupDirs over the text of /proc/PID/cgroup and a
// mount table.
func cgroupDirs(procCgroup string, ms []mountinfo.Mount) ([]string, error) {
	var dirs []string
	for _, line := range strings.Split(procCgroup, "\n") {
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") || strings.Contains("/"+parts[2]+"/", "/../") {
			return nil, fmt.Errorf("cgroup line %q: not ID:CONTROLLERS:/PATH", line)
		}
		controllers, p := parts[1], parts[2]
		found := false
		for _, m := range ms {
			if !cgroupMountOf(m, controllers) {
				continue
			}
			rel := p
			if m.Root != "/" {
				var ok bool
				if rel, ok = strings.CutPrefix(p, m.Root); !ok || (rel != "" && rel[0] != '/') {
					continue // a mount of another part of the hierarchy
				}
			}
			dirs = append(dirs, filepath.Join(m.Mountpoint, rel))
			found = true
			break
		}
		if !found {
			h := controllers
			if h == "" {
				h = "the unified hierarchy (cgroup v2)"
			}
			return nil, fmt.Errorf("cgroup %s of %s is mounted nowhere here", p, h)
		}
	}
	return dirs, nil
}

// cgroupMountOf reports whether m mounts the hierarchy with the
// controllers of a /proc/PID/cgroup line ("" for the unified one; a named
// hierarchy as "name=systemd").
func cgroupMountOf(m mountinfo.Mount, controllers string) bool {
	if controllers == "" {
		return m.FSType == "cgroup2"
	}
	if m.FSType != "cgroup" {
		return false
	}
	opts := map[string]bool{}
	for _, o := range strings.Split(m.SuperOptions, ",") {
		opts[o] = true
	}
	for _, c := range strings.Split(controllers, ",") {
		if !opts[c] {
			return false
		}
	}
	return true
}
