package stage1

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/atomicfile"
	"github.com/acirun/acirun/internal/podcontract"
)

func runMain(args []string) int {
	o, err := parsePodOptions("run", args, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "acirun stage1 run: %v\n", err)
		return 2
	}
	code, err := runPod(o, args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "acirun stage1 run: %v\n", err)
		return exitCodeFailure
	}
	return code
}

// runPod is `stage1 run`: the host-side supervisor of one pod.
func runPod(o *podOptions, args []string) (int, error) {
	podDir, err := filepath.Abs(o.podDir)
	if err != nil {
		return 0, err
	}
	o.podDir = podDir
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
	spec, err := loadPodSpec(podDir)
	if err != nil {
		return 0, err
	}
	if err := checkSysctlNet(spec.sysctls, o.Net); err != nil {
		return 0, fmt.Errorf("pod %s: %w", podDir, err)
	}
	if !o.NoOverlay {
		if err := checkOverlaySupport(filepath.Join(podDir, podcontract.AppsDir)); err != nil {
			return 0, err
		}
	}
	if err := writeFileAtomic(filepath.Join(podDir, podcontract.PIDFile), []byte(strconv.Itoa(os.Getpid())+"\n")); err != nil {
		return 0, err
	}

	exe, err := sealedExecutable()
	if err != nil {
		_ = podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: exitCodeFailure})
		return 0, err
	}
	defer exe.Close()

	// Pdeathsig follows the thread that forked: keep it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP)
	defer signal.Stop(sigs)

	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC)
	if o.Net != "host" {
		flags |= unix.CLONE_NEWNET
	}
	// PID 1 waits on its end of ctl until the pod is registered, and tells
	// through it when the apps have started.
	ctl, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		_ = podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: exitCodeFailure})
		return 0, fmt.Errorf("pod control socket: %w", err)
	}
	argv := append([]string{"acirun", "stage1", "init", "--control-fd=3"}, args...)
	// PID 1 is one event loop, and every P the Go runtime makes beyond
	// the first (it makes one per CPU) costs it memory for as long as the
	// pod lives: 5.7 MB instead of 3.8 MB with 64. The launchers it
	// starts inherit the setting; the apps do not (their environment is
	// the manifest's).
	pid, err := syscall.ForkExec(fdPath(int(exe.Fd())), argv, &syscall.ProcAttr{
		Env:   setEnv(os.Environ(), []string{"GOMAXPROCS=1"}),
		Files: []uintptr{0, 1, 2, uintptr(ctl[1])},
		Sys:   &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL},
	})
	unix.Close(ctl[1])
	if err != nil {
		unix.Close(ctl[0])
		_ = podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: exitCodeFailure})
		return 0, fmt.Errorf("start pod init: %w", err)
	}
	exe.Close()
	if err := writeFileAtomic(filepath.Join(podDir, podcontract.PPID1File), []byte(strconv.Itoa(pid)+"\n")); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	_ = unix.SetNonblock(ctl[0], true) // for the runtime's poller
	control := os.NewFile(uintptr(ctl[0]), "pod control socket")
	defer control.Close()
	var goMsg podcontract.GoMessage
	// What systemctl status says of a running pod.
	status := "Running " + strconv.Itoa(len(spec.apps)) + " app(s)"
	// abort ends a pod whose PID 1 waits for us and has started nothing:
	// it goes, and its network namespace with it.
	abort := func(err error) (int, error) {
		_ = unix.Kill(pid, unix.SIGKILL)
		waitPid(pid)
		_ = podcontract.WriteExit(podDir, &podcontract.Exit{ExitCode: exitCodeFailure})
		return 0, fmt.Errorf("pod %s: %w", spec.uuid, err)
	}
	var network *podNetwork
	if o.Net == "default" {
		ctx, cancel := context.WithTimeout(context.Background(), networkTimeout)
		pn, warnings, err := attachNetwork(ctx, o, spec, podDir, pid)
		cancel()
		if err != nil {
			return abort(err)
		}
		defer func() {
			if err := pn.close(); err != nil {
				fmt.Fprintf(os.Stderr, "acirun stage1 run: %v\n", err)
			}
		}()
		for _, w := range warnings {
			fmt.Fprintf(os.Stderr, "acirun: %s\n", w)
		}
		debugf(o, "pod on network %s: %s (gateway %s, host interface %s)", pn.att.Network.Name, pn.att.Addr, pn.att.Gateway, pn.att.HostIface)
		for _, m := range pn.pub.Published() {
			debugf(o, "port %s", m)
		}
		status += " at " + pn.att.Addr.String()
		goMsg.Addr, goMsg.Gateway = pn.att.Addr, pn.att.Gateway
		network = pn
	}
	if o.MetadataURL == "" {
		ms, err := startMetadata(o, podDir, network, pid)
		if err != nil {
			return abort(err)
		}
		defer ms.Close()
		debugf(o, "metadata service at %s", ms.URL)
		goMsg.MetadataURL = ms.URL
	}
	var ifindices []int32
	if network != nil {
		ifindices = []int32{int32(network.att.HostIndex)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), machinedTimeout)
	m, err := registerMachine(ctx, spec.uuid, pid, ifindices)
	cancel()
	switch {
	case err == nil:
		debugf(o, "pod registered with systemd-machined as %s, unit %s", m.name, m.unit)
	case errors.Is(err, errNoMachined):
		debugf(o, "pod not registered: %v", err)
	default:
		fmt.Fprintf(os.Stderr, "acirun stage1 run: WARNING: %v: machinectl will not show the pod\n", err)
	}
	msg, err := goMsg.Encode()
	if err != nil {
		return abort(err)
	}
	// PID 1 may go on; a PID 1 that already died finds nothing to read.
	_, _ = control.Write(msg)
	ready := make(chan bool, 1)
	go func() {
		b := make([]byte, podcontract.MaxControlMessage)
		n, _ := control.Read(b)
		ready <- n == 1 && b[0] == podcontract.ControlReady
	}()
	readyC := ready
	notifyf := func(state string) {
		if err := notify(state); err != nil {
			fmt.Fprintf(os.Stderr, "acirun stage1 run: %v\n", err)
		}
	}

	done := make(chan unix.WaitStatus, 1)
	go func() { done <- waitPid(pid) }()
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
			if ok {
				// For readers without a unit to ask (acirun status
				// --wait-ready): the same moment as READY=1.
				if err := writeFileAtomic(filepath.Join(podDir, podcontract.ReadyFile), nil); err != nil {
					fmt.Fprintf(os.Stderr, "acirun stage1 run: %v\n", err)
				}
				notifyf("READY=1\nSTATUS=" + status)
			}
		case ws = <-done:
			break wait
		}
	}
	// PID 1 may have said the apps started just before it ended: a unit
	// that waits for READY still gets it, and ends normally after it.
	if readyC != nil && <-readyC {
		notifyf("READY=1")
	}
	code := statusCode(ws)

	var cleanupErr error
	if cm, err := findCgroups(); err == nil {
		cleanupErr = removePodCgroups(cm, filepath.Base(podDir))
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

// debugf prints a --debug line of `stage1 run`.
func debugf(o *podOptions, format string, args ...any) {
	if o.Debug {
		fmt.Fprintf(os.Stderr, "acirun stage1 run: "+format+"\n", args...)
	}
}

// waitPid waits for our child pid to end and returns how it did.
func waitPid(pid int) unix.WaitStatus {
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
			return ws
		}
	}
}

// statusCode is the shell's convention: the exit code, or 128+N for signal N.
func statusCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// writeFileAtomic writes p for readers that must see either nothing or
// everything (the pod's pid files and exit status); they need not survive a
// power cut, so nothing is synced.
func writeFileAtomic(p string, data []byte) error {
	return atomicfile.WriteFile(p, data, atomicfile.Options{NoSync: true})
}

// sealedExecutable returns a descriptor of our own executable that no
// process can write through, for the pod to run from: an app that reaches
// /proc/PID/exe of one of ours must never be able to overwrite the host's
// acirun binary (CVE-2019-5736).
//
// The cheap way (as runc 1.2 does) is a private read-only bind mount of the
// binary, detached from every mount namespace (open_tree): exec'd through it,
// /proc/PID/exe names a read-only mount, and reopening it for writing fails
// with EROFS. Where the kernel lacks open_tree or mount_setattr (before 5.12)
// the binary is copied into a sealed memfd instead, which costs a copy of
// the binary per pod.
func sealedExecutable() (*os.File, error) {
	if f, err := readOnlyBind("/proc/self/exe"); err == nil {
		return f, nil
	}
	return memfdExecutable()
}

// readOnlyBind returns an O_PATH descriptor of file p in a private, detached,
// read-only bind mount.
func readOnlyBind(p string) (*os.File, error) {
	tree, err := unix.OpenTree(unix.AT_FDCWD, p, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("open_tree %s: %w", p, err)
	}
	err = unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &unix.MountAttr{
		Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV})
	if err != nil {
		unix.Close(tree)
		return nil, fmt.Errorf("read-only bind of %s: %w", p, err)
	}
	return os.NewFile(uintptr(tree), p+" (read-only bind)"), nil
}

// memfdExecutable copies our executable into a sealed memfd.
func memfdExecutable() (*os.File, error) {
	fd, err := unix.MemfdCreate("acirun-stage1", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if err == unix.EINVAL { // kernels before 6.3 know no MFD_EXEC
		fd, err = unix.MemfdCreate("acirun-stage1", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "memfd:acirun-stage1")
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		mem.Close()
		return nil, fmt.Errorf("open own executable: %w", err)
	}
	defer self.Close()
	st, err := self.Stat()
	if err != nil {
		mem.Close()
		return nil, err
	}
	for off, size := int64(0), st.Size(); off < size; {
		n, err := unix.Sendfile(fd, int(self.Fd()), nil, int(size-off))
		if err != nil || n == 0 {
			mem.Close()
			return nil, fmt.Errorf("copy own executable: %v", err)
		}
		off += int64(n)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		mem.Close()
		return nil, fmt.Errorf("seal own executable copy: %w", err)
	}
	return mem, nil
}

// overlayfsMagic is OVERLAYFS_SUPER_MAGIC.
const overlayfsMagic = 0x794c7630

// checkOverlaySupport checks, before anything is mounted, that dir can hold
// overlay upper and work directories: it must not be on overlayfs itself,
// and must report file types in directory entries and store trusted xattrs.
func checkOverlaySupport(dir string) error {
	hint := "; run the pod with --no-overlay (a private copy of each image per pod) or move the data directory"
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		return fmt.Errorf("overlay check: %w", err)
	}
	if sfs.Type == overlayfsMagic {
		return fmt.Errorf("%s is on overlayfs, which cannot hold an overlay upper layer%s", dir, hint)
	}
	// Probe with what is there (no files created): a trusted xattr set and
	// removed on dir itself, and the type of an entry of its parent.
	const attr = "trusted.overlay.acirun-probe"
	if err := unix.Setxattr(dir, attr, []byte("y"), 0); err != nil {
		return fmt.Errorf("%s cannot store trusted.* extended attributes (%v), which overlayfs needs%s", dir, err, hint)
	}
	_ = unix.Removexattr(dir, attr)
	ok, err := direntHasType(filepath.Dir(dir), filepath.Base(dir))
	if err != nil {
		return fmt.Errorf("overlay check: %w", err)
	}
	if !ok {
		return fmt.Errorf("%s does not report file types in directory entries (d_type), which overlayfs needs%s", dir, hint)
	}
	return nil
}

// direntHasType reads dir with getdents64 and reports whether the entry name
// carries a file type (not DT_UNKNOWN).
func direntHasType(dir, name string) (bool, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			return false, err
		}
		if n == 0 {
			return false, fmt.Errorf("%s not listed in %s", name, dir)
		}
		for b := buf[:n]; len(b) >= 19; {
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < 19 || reclen > len(b) {
				return false, errors.New("malformed directory entry")
			}
			typ := b[18]
			nm := b[19:reclen]
			if i := indexByte(nm, 0); i >= 0 {
				nm = nm[:i]
			}
			if string(nm) == name {
				return typ != unix.DT_UNKNOWN, nil
			}
			b = b[reclen:]
		}
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
