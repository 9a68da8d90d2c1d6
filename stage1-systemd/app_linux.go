package stage1

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/internal/trace"
)

// specPath is the PATH every app starts with (ace.md).
const specPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func appMain(args []string, tr *trace.Tracer, crashAt func(StartStep)) int {
	// Credentials, capabilities and seccomp are per thread: everything
	// below happens on this one, which finally executes the app. No garbage
	// collection between loading a filter and executing, either.
	runtime.LockOSThread()
	debug.SetGCPercent(-1)
	o, err := parseAppOptions(args, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "acirun stage1 app: %v\n", err)
		return 2
	}
	o.trace, o.crashAt = tr, crashAt
	err = execApp(o)
	if o.phase == "enter" {
		fmt.Fprintf(os.Stderr, "acirun enter: app %s: %v\n", o.name, err)
	} else {
		fmt.Fprintf(os.Stderr, "acirun: app %s (%s): %v\n", o.name, o.phase, err)
	}
	return ExitCodeFailure
}

// execApp enters the app's root (or, for `stage1 enter`, the namespaces of
// the app's running process) and executes the app, one of its event
// handlers or the command entered. It returns only on failure.
func execApp(o *appOptions) error {
	app, err := loadApp(o.podDir, o.name)
	if err != nil {
		return err
	}
	l := launchFor(app, o.phase, o.insecure, o.metadataURL, o.notifySocket)
	switch o.phase {
	case "main":
		l.listenFds, l.consoleFd, l.privateUsers = o.listenFds, o.consoleFd, o.privateUsers
	case "enter":
		l.argv = o.command
	}
	if len(l.argv) == 0 {
		return fmt.Errorf("no %s command in the pod manifest", o.phase)
	}
	if o.phase == "enter" {
		if o.privateUsers {
			// Until it drops to the app's credentials, which leaves it
			// undumpable too: the app's root, holding CAP_SYS_PTRACE in
			// this user namespace, is not to trace us while we are
			// still in the host's mount namespace.
			if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
				return fmt.Errorf("prctl(PR_SET_DUMPABLE): %w", err)
			}
		}
		err = joinAppNamespaces(o.pidfd, o.privateUsers)
	} else {
		err = enterRoot(filepath.Join(podcontract.AppDir(o.podDir, app.name), podcontract.AppRootfsDir), o.privateUsers)
	}
	if err != nil {
		return err
	}
	o.trace.Step("root entered")
	if o.crashAt != nil && o.phase == "main" {
		o.crashAt(stepAppRootEntered)
	}
	return execConfined(app, l, o.trace)
}

// loadApp returns app name of the pod in podDir, as its reified pod
// manifest describes it.
func loadApp(podDir, name string) (*appSpec, error) {
	spec, err := loadPodSpec(podDir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, a := range spec.apps {
		if a.name == name {
			return a, nil
		}
		names = append(names, a.name)
	}
	return nil, fmt.Errorf("no app %q in the pod manifest (its apps: %s)", name, strings.Join(names, ", "))
}

// appLaunch is what differs between the processes of one app: the app's
// main process, its event handlers, and what `stage1 enter` runs in it.
// Everything else of their confinement is the app's (appSpec).
type appLaunch struct {
	argv        []string
	user, group string
	supp        []uint32
	// insecure, metadataURL and notifySocket are PID 1's launch options
	// for the app (recorded as podcontract.AppProcess for enter).
	insecure     podcontract.Insecure
	metadataURL  string
	notifySocket string
	// listen names the socket-activated fds 3… passed to the main
	// process, listenFds how many there are.
	listen    []string
	listenFds int
	// consoleFd is the socket the main process of an interactive pod
	// sends its terminal over (takeTerminal), or -1.
	consoleFd int
	// privateUsers says that the process is started in the app's user
	// namespace of a --private-users pod (the launcher's --private-users).
	privateUsers bool
	// ids, when the process is resolved outside the user namespace it
	// will run in (PID 1's launch of a --private-users app), is how that
	// namespace sees the owner of a file, for a user or group given as a
	// path; nil when the resolving thread sees IDs as the app will.
	ids *nsIDs
	// seccomp is the app's filter when PID 1 launches the process, which
	// planned it once for the app (appRun.seccomp); nil in the launcher,
	// whose resolve plans it.
	seccomp *seccompPlan
}

// launchFor is what the process of app in phase ("main", "pre-start",
// "post-stop" or "enter") is launched as, from PID 1's launch options:
// event handlers run as root, the main process as the app's user with its
// socket-activated ports named (their descriptors and the terminal are the
// launcher's to add), and what is entered as the app's user too (its
// command is the caller's to set).
func launchFor(app *appSpec, phase string, insecure podcontract.Insecure, metadataURL, notifySocket string) *appLaunch {
	l := &appLaunch{
		argv: app.exec, user: app.user, group: app.group, supp: app.suppGIDs,
		insecure: insecure, metadataURL: metadataURL, notifySocket: notifySocket, consoleFd: -1,
	}
	switch phase {
	case "pre-start":
		l.argv, l.user, l.group, l.supp = app.preStart, "0", "0", nil
	case "post-stop":
		l.argv, l.user, l.group, l.supp = app.postStop, "0", "0", nil
	case "main":
		l.listen = listenNames(app)
	}
	return l
}

// confinedExec is one process of an app resolved in the app's root (the
// calling thread's): what it executes, with which environment, as whom,
// in which working directory, and the capabilities, filter and Landlock
// domain it gets. resolveConfined makes it; confine applies it to the
// calling thread. Both ways an app's process starts end in confine: the
// app launcher and `stage1 enter` (execConfined, which then executes the
// program itself) and PID 1's own launch (launch_linux.go, which forks the
// program from the confined thread), so that an entered process is
// confined exactly as the app is (rkt's enter was not: CVE-2019-10144,
// -10145).
type confinedExec struct {
	prog      string
	argv, env []string
	uid, gid  uint32
	supp      []uint32
	// rootFd and wdFd are the app's root and working directory (O_PATH),
	// until close.
	rootFd, wdFd int
	caps         capSet
	nnp          bool
	plan         *seccompPlan
	// apart: confine puts the thread in a Landlock domain of its own
	// (keepApart), unless PID 1 was told why not.
	apart bool
}

// resolveConfined resolves l, a process of app, in the calling thread's
// root, changing nothing of the thread: user and groups from the app's
// root, its working directory, environment and program, its capability
// bounding set and seccomp filter.
func resolveConfined(app *appSpec, l *appLaunch) (*confinedExec, error) {
	rootFd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	c := &confinedExec{argv: l.argv, supp: l.supp, rootFd: rootFd, wdFd: -1,
		nnp: app.isolators.noNewPrivs, apart: !l.insecure.Has(podcontract.InsecureSeccomp)}
	if err := c.resolve(app, l); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *confinedExec) resolve(app *appSpec, l *appLaunch) error {
	var err error
	if c.uid, err = resolveID(c.rootFd, l.user, "/etc/passwd", "user", l.ids); err != nil {
		return err
	}
	if c.gid, err = resolveID(c.rootFd, l.group, "/etc/group", "group", l.ids); err != nil {
		return err
	}
	// We still hold every capability, CAP_SYS_PTRACE included: a working
	// directory such as /proc/1/root would be the host's root. Resolve it
	// inside the root, without magic links, and enter it by descriptor.
	wd := app.workDir
	if c.wdFd, err = openInRoot(c.rootFd, wd, unix.O_PATH|unix.O_DIRECTORY, resolveContained); err != nil {
		return fmt.Errorf("working directory %s does not exist in the app's root (image and volumes): %w", wd, err)
	}
	c.env = appEnv(app, l.metadataURL, l.notifySocket)
	if c.prog, err = lookPath(l.argv[0], c.env); err != nil {
		return err
	}
	iso := &app.isolators
	caps := decideCaps(iso.capsRetain, iso.capsRemove, capsGrantFor(app, l.insecure) != grantNone)
	if iso.capsBound != nil {
		caps.set &= *iso.capsBound
	}
	c.caps = caps.set
	if l.seccomp != nil {
		c.plan = l.seccomp
		return nil
	}
	c.plan, err = planSeccomp(iso.seccomp, l.insecure.Has(podcontract.InsecureSeccomp))
	return err
}

// close closes the descriptors c holds.
func (c *confinedExec) close() {
	unix.Close(c.rootFd)
	if c.wdFd >= 0 {
		unix.Close(c.wdFd)
	}
}

// confine makes the calling thread one of the app's: in its working
// directory, in a Landlock domain of its own, then with its capability
// bounding set, no_new_privs, seccomp filter and credentials
// (dropPrivileges). Every one of them is per thread, and a process the
// thread forks or becomes by exec keeps them. After it the thread can
// only exec or fork the program.
func (c *confinedExec) confine() error {
	if err := unix.Fchdir(c.wdFd); err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	// Out of the other apps' reach, and they out of ours (apart_linux.go),
	// unless PID 1 said why not.
	if c.apart {
		if err := keepApart(c.rootFd); err != nil && !landlockAbsent(err) {
			return err
		}
	}
	return dropPrivileges(c.uid, c.gid, c.supp, c.caps, c.nnp, c.plan)
}

// execConfined makes the calling process, already in the app's root, one
// of the app's processes and executes l.argv: resolved and confined as
// every process of the app is (confinedExec), with the app's
// oom-score-adj, the terminal or the socket-activated fds l brings, and
// nothing else of ours. The app launcher and `stage1 enter` end here. It
// returns only on failure.
func execConfined(app *appSpec, l *appLaunch, tr *trace.Tracer) error {
	c, err := resolveConfined(app, l)
	if err != nil {
		return err
	}
	defer c.close()
	if adj := app.isolators.oomScoreAdj; adj != nil {
		if err := os.WriteFile(oomScoreAdjFile, []byte(strconv.Itoa(*adj)), 0); err != nil {
			return fmt.Errorf("oom-score-adj %d: %w", *adj, err)
		}
	}
	if l.consoleFd >= 0 {
		err := takeTerminal(l.consoleFd, c.uid, l.privateUsers)
		unix.Close(l.consoleFd)
		if err != nil {
			return err
		}
	}
	// Nothing of ours reaches the app but its socket-activated fds.
	listenEnv, err := takeListenFds(l.listen, l.listenFds)
	if err != nil {
		return err
	}
	c.env = SetEnv(c.env, listenEnv)
	if err := c.confine(); err != nil {
		return err
	}
	tr.Step("exec %s", c.prog)
	err = unix.Exec(c.prog, c.argv, c.env)
	return fmt.Errorf("exec %s: %w", c.prog, err)
}

// enterRoot makes root the process's root directory with pivot_root in the
// private mount namespace the process was started in, and detaches the old
// root, so the app sees neither the host's nor the other apps' files. In a
// user namespace of its own (privateUsers) the mounts PID 1 made are
// locked, and pivot_root takes none of them: root is bound onto itself
// first, a mount of this namespace's own, its submounts still locked under
// it (the app cannot unmount /proc's masks or make a read-only root
// writable).
func enterRoot(root string, privateUsers bool) error {
	if privateUsers {
		if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind the app's root %s onto itself: %w", root, err)
		}
	}
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("enter root %s: %w", root, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", root, err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	return unix.Chdir("/")
}

// resolveID resolves an app's user or group per A12: a name in the image's
// /etc/passwd or /etc/group, else a number, else an absolute path in the
// root whose owner is taken (as ids sees it, when not nil). The files are
// read inside the root, without following magic links.
func resolveID(root int, val, file, what string, ids *nsIDs) (uint32, error) {
	fd, err := openInRoot(root, file, unix.O_RDONLY, resolveContained)
	if err == nil {
		f := os.NewFile(uintptr(fd), file)
		id, ok, err := lookupID(f, val)
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("%s %q: read %s: %w", what, val, file, err)
		}
		if ok {
			return id, nil
		}
	}
	if id, ok := parseNumericID(val); ok {
		return id, nil
	}
	if strings.HasPrefix(val, "/") {
		fd, err := openInRoot(root, val, unix.O_PATH, resolveContained)
		if err != nil {
			return 0, fmt.Errorf("%s %q: %w", what, val, err)
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return 0, fmt.Errorf("%s %q: %w", what, val, err)
		}
		if what == "user" {
			return ids.user(st.Uid), nil
		}
		return ids.group(st.Gid), nil
	}
	return 0, fmt.Errorf("%s %q: not in the image's %s, not a number, not an absolute path", what, val, file)
}

// appEnv is the app's environment (E5): PATH, AC_APP_NAME, AC_METADATA_URL
// (when a metadata service serves the pod) and container first, then the
// app's own variables, which may override them.
func appEnv(app *appSpec, metadataURL, notifySocket string) []string {
	env := [][2]string{{"PATH", specPath}, {"AC_APP_NAME", app.name}}
	if metadataURL != "" {
		env = append(env, [2]string{"AC_METADATA_URL", metadataURL})
	}
	if notifySocket != "" {
		env = append(env, [2]string{"NOTIFY_SOCKET", notifySocket})
	}
	env = append(env, [2]string{"container", "acirun"})
	for _, kv := range app.env {
		replaced := false
		for i := range env {
			if env[i][0] == kv[0] {
				env[i][1], replaced = kv[1], true
			}
		}
		if !replaced {
			env = append(env, kv)
		}
	}
	out := make([]string, len(env))
	for i, kv := range env {
		out[i] = kv[0] + "=" + kv[1]
	}
	return out
}

// lookPath finds a bare command name in the app's PATH (A12).
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	p := specPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			p = v
		}
	}
	for _, dir := range filepath.SplitList(p) {
		if dir == "" {
			dir = "."
		}
		c := path.Join(dir, name)
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return c, nil
		}
	}
	return "", fmt.Errorf("%s: %w in PATH %s", name, errors.New("executable not found"), p)
}

// dropPrivileges takes the calling thread from root with every capability
// to the app's credentials: bounding set, groups, no_new_privs, seccomp,
// user, then permitted/effective sets (inheritable and ambient emptied).
// The filter is loaded while we still have CAP_SYS_ADMIN, so it does not
// need no_new_privs unless the app asked for it.
func dropPrivileges(uid, gid uint32, supp []uint32, caps capSet, nnp bool, plan *seccompPlan) error {
	if err := dropBounding(caps); err != nil {
		return err
	}
	groups := make([]uint32, len(supp))
	copy(groups, supp)
	groups = append(groups, 0) // never empty: &groups[0] below
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(supp)), uintptr(unsafe.Pointer(&groups[0])), 0); e != 0 {
		return fmt.Errorf("setgroups %v: %w", supp, e)
	}
	runtime.KeepAlive(groups)
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); e != 0 {
		return fmt.Errorf("setresgid %d: %w", gid, e)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_KEEPCAPS): %w", err)
	}
	if nnp {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
		}
	}
	if err := loadSeccomp(plan.filter); err != nil {
		return err
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
		return fmt.Errorf("setresuid %d: %w", uid, e)
	}
	return setCaps(caps)
}
