//go:build linux

package box

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// The re-executed test binary finds its job in these: the box's init step
// gets its config in an environment variable (systemd never sees it: the init
// step hands systemd an environment of its own); the exec step gets its
// config as the first argument, because Command's caller owns the environment.
const (
	initEnv    = "ACIRUN_BOX_INIT"
	execMarker = "-acirun-box-exec="
)

// File descriptors the box's init step inherits from New.
const (
	syncFd  = 3 // New writes one byte once the process is in the box's cgroups
	errorFd = 4 // the init step writes why it failed; closed on exec
)

// Paths inside the box.
const (
	targetName = "acirun-box.target"
	boxPATH    = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// initConfig is what New tells the box's init step.
type initConfig struct {
	Name        string      // hostname and machine name
	MachineID   string      // 32 hex digits
	State       string      // host directory for the overlay's tmpfs
	Systemd     string      // path of systemd, e.g. /lib/systemd/systemd
	Hierarchies []hierarchy // cgroup hierarchies to mount fresh
	Binds       []string    // host directories bound read-write at the same path
	Tmpfs       []string    // box directories that get a fresh tmpfs
	Files       []file      // files written into the upper layer before boot
	Masks       []string    // units masked in the box
	Console     string      // host pty bound at /dev/console
}

// file is a file written into the box before it boots.
type file struct {
	Path string
	Data string
	Mode os.FileMode
	Link bool // Data is a symlink target
}

// maskedUnits are the host's units that would reach outside the box
// (kernel modules, sysctls, binfmt_misc, the clock, pstore, udev, audit) or
// only slow the boot down. Masking them in the box's /etc keeps the box from
// touching the host whatever their conditions say.
var maskedUnits = []string{
	"systemd-modules-load.service", "kmod-static-nodes.service",
	"systemd-sysctl.service", "systemd-binfmt.service",
	"proc-sys-fs-binfmt_misc.automount", "proc-sys-fs-binfmt_misc.mount",
	"systemd-timesyncd.service", "systemd-pstore.service",
	"sys-kernel-config.mount", "sys-kernel-debug.mount", "sys-kernel-tracing.mount",
	"sys-fs-fuse-connections.mount", "dev-hugepages.mount",
	"systemd-udevd.service", "systemd-udevd-control.socket", "systemd-udevd-kernel.socket",
	"systemd-udev-trigger.service", "systemd-udev-settle.service", "systemd-hwdb-update.service",
	"systemd-firstboot.service", "systemd-repart.service",
	"systemd-pcrphase.service", "systemd-pcrphase-sysinit.service",
	"systemd-machine-id-commit.service", "systemd-random-seed.service",
	"ldconfig.service", "systemd-journal-flush.service", "systemd-journald-audit.socket",
	"systemd-ask-password-console.path", "systemd-ask-password-wall.path",
	"e2scrub_reap.service", "systemd-update-utmp.service",
	"systemd-sysusers.service", "systemd-remount-fs.service",
}

// hostTimers lists the timers the host's timers.target wants (apt-daily
// and the like): the box masks them all, so that none fires during a test.
func hostTimers() []string {
	var ts []string
	for _, d := range []string{"/etc/systemd/system/timers.target.wants", "/lib/systemd/system/timers.target.wants",
		"/usr/lib/systemd/system/timers.target.wants"} {
		es, _ := os.ReadDir(d)
		for _, e := range es {
			if strings.HasSuffix(e.Name(), ".timer") && !slices.Contains(ts, e.Name()) {
				ts = append(ts, e.Name())
			}
		}
	}
	return ts
}

// hostGenerators lists the host's systemd generators. The box masks them
// all: they would turn the host's fstab, crypttab, SysV scripts and
// kernel command line into units, and running them (some are shell
// scripts) is a good part of a box's boot time.
func hostGenerators() []string {
	var gs []string
	for _, d := range []string{"/etc/systemd/system-generators", "/lib/systemd/system-generators",
		"/usr/lib/systemd/system-generators", "/usr/local/lib/systemd/system-generators"} {
		es, _ := os.ReadDir(d)
		for _, e := range es {
			if !slices.Contains(gs, e.Name()) {
				gs = append(gs, e.Name())
			}
		}
	}
	return gs
}

// devNodes are bound from the host's /dev into the box's fresh one.
var devNodes = []string{"null", "zero", "full", "random", "urandom", "tty", "net/tun"}

// droppedCaps are removed from the bounding set of the box's systemd: with
// them a unit in the box could load kernel modules, set the clock, or read
// the host's kernel log and audit stream. Commands run with Exec keep all
// capabilities.
var droppedCaps = []uintptr{unix.CAP_SYS_MODULE, unix.CAP_SYS_TIME, unix.CAP_WAKE_ALARM,
	unix.CAP_SYSLOG, unix.CAP_AUDIT_CONTROL, unix.CAP_AUDIT_READ, unix.CAP_MAC_ADMIN,
	unix.CAP_MAC_OVERRIDE, unix.CAP_BLOCK_SUSPEND}

// runInit is the box's init step: the first process of the box's pid,
// mount, network, UTS and IPC namespaces. It never returns: it execs systemd
// or reports why it could not on errorFd and exits.
func runInit(config string) {
	// Everything below happens on this thread: the cgroup namespace is
	// unshared for it alone, and systemd is exec'd from it.
	runtime.LockOSThread()
	errf := os.NewFile(errorFd, "error pipe")
	var cfg initConfig
	err := json.Unmarshal([]byte(config), &cfg)
	if err == nil {
		err = setupBox(&cfg)
	}
	if err == nil {
		env := []string{"container=acirun-box", "container_uuid=" + cfg.MachineID, boxPATH,
			"LANG=C.UTF-8", "SYSTEMD_COLORS=0"}
		argv := []string{cfg.Systemd, "--unit=" + targetName, "--show-status=false"}
		err = unix.Exec(cfg.Systemd, argv, env)
		err = fmt.Errorf("exec %s: %w", cfg.Systemd, err)
	}
	fmt.Fprintf(errf, "box init: %v", err)
	os.Exit(1)
}

// setupBox waits until New has moved it into the box's cgroups, then builds
// the box's root and enters it.
func setupBox(cfg *initConfig) error {
	unix.CloseOnExec(errorFd)
	var b [1]byte
	if n, err := unix.Read(syncFd, b[:]); n != 1 {
		return fmt.Errorf("wait for the cgroups: %d bytes, %v", n, err)
	}
	unix.Close(syncFd)
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return fmt.Errorf("unshare cgroup namespace: %w", err)
	}
	// Nothing mounted from here on may reach the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}

	// The root: an overlay of the host's root with a fresh tmpfs on top.
	if err := mount("tmpfs", cfg.State, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return err
	}
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.Mkdir(filepath.Join(cfg.State, d), 0o755); err != nil {
			return err
		}
	}
	root := filepath.Join(cfg.State, "root")
	opts := fmt.Sprintf("lowerdir=/,upperdir=%s/upper,workdir=%s/work", cfg.State, cfg.State)
	if err := mount("overlay", root, "overlay", 0, opts); err != nil {
		return err
	}
	at := func(p string) string { return filepath.Join(root, p) }

	for _, f := range cfg.Files {
		if err := writeBoxFile(root, f); err != nil {
			return err
		}
	}
	for _, u := range append(cfg.Masks, hostTimers()...) {
		if err := writeBoxFile(root, file{Path: "/etc/systemd/system/" + u, Data: "/dev/null", Link: true}); err != nil {
			return err
		}
	}
	for _, g := range hostGenerators() {
		if err := writeBoxFile(root, file{Path: "/etc/systemd/system-generators/" + g, Data: "/dev/null", Link: true}); err != nil {
			return err
		}
	}

	// /proc, with the kernel's global knobs read-only but the box's own
	// network sysctls writable.
	const nosuidNodevNoexec = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := mount("proc", at("/proc"), "proc", nosuidNodevNoexec, ""); err != nil {
		return err
	}
	// /proc/sys/net is bound before /proc/sys is made read-only: a bind
	// mount copies the flags of the mount it is taken from.
	for _, p := range []string{"/proc/sys", "/proc/sys/net", "/proc/sysrq-trigger"} {
		if _, err := os.Stat(at(p)); os.IsNotExist(err) {
			continue // a kernel without magic SysRq
		}
		if err := mount(at(p), at(p), "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	for _, p := range []string{"/proc/sys", "/proc/sysrq-trigger"} {
		if _, err := os.Stat(at(p)); os.IsNotExist(err) {
			continue
		}
		if err := mount(at(p), at(p), "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|nosuidNodevNoexec, ""); err != nil {
			return err
		}
	}
	// /sys, read-only (so udev and friends stay off), with fresh cgroup
	// filesystems rooted at the box's cgroups.
	if err := mount("sysfs", at("/sys"), "sysfs", nosuidNodevNoexec|unix.MS_RDONLY, ""); err != nil {
		return err
	}
	if err := mountCgroups(root, cfg.Hierarchies); err != nil {
		return err
	}
	if err := setupDev(root, cfg.Console); err != nil {
		return err
	}
	if err := mount("tmpfs", at("/run"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return err
	}
	if err := mount("tmpfs", at("/tmp"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return err
	}
	for _, d := range cfg.Tmpfs {
		if err := os.MkdirAll(at(d), 0o755); err != nil {
			return err
		}
		if err := mount("tmpfs", at(d), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
			return err
		}
	}
	for _, d := range cfg.Binds {
		if err := os.MkdirAll(at(d), 0o755); err != nil {
			return err
		}
		if err := mount(d, at(d), "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}

	// Enter the root; the old one is detached, so the box sees nothing of
	// the host's mounts but what was bound in above.
	if err := unix.Chdir(root); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", root, err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(cfg.Name)); err != nil {
		return fmt.Errorf("sethostname: %w", err)
	}
	for _, c := range droppedCaps {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("drop capability %d: %w", c, err)
		}
	}
	return nil
}

// mountCgroups mounts the box's cgroup in every hierarchy where the host
// mounts that hierarchy. Mounted after the cgroup namespace was unshared,
// each shows the box's cgroup as its root. A tmpfs of the box's own carries
// them when the host's hierarchies sit in a tmpfs (v1 or hybrid), and the
// host's symlinks (cpu -> cpu,cpuacct) are made again.
func mountCgroups(root string, hs []hierarchy) error {
	const base = "/sys/fs/cgroup"
	if !(len(hs) == 1 && hs[0].Mountpoint == base) {
		if err := mount("tmpfs", filepath.Join(root, base), "tmpfs",
			unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755"); err != nil {
			return err
		}
		// The host's /sys/fs/cgroup is only read here, never changed.
		entries, _ := os.ReadDir(base)
		for _, e := range entries {
			if e.Type()&os.ModeSymlink != 0 {
				t, err := os.Readlink(filepath.Join(base, e.Name()))
				if err == nil {
					err = os.Symlink(t, filepath.Join(root, base, e.Name()))
				}
				if err != nil {
					return fmt.Errorf("cgroup symlink %s: %w", e.Name(), err)
				}
			}
		}
	}
	for _, h := range hs {
		mnt := filepath.Join(root, h.Mountpoint)
		if err := os.MkdirAll(mnt, 0o755); err != nil {
			return err
		}
		if err := mount("cgroup", mnt, h.Type, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, h.Options); err != nil {
			return err
		}
	}
	return nil
}

// setupDev gives the box a /dev of its own: a tmpfs with a few nodes bound
// from the host, its own devpts, shm and mqueue. Binding the host's /dev
// would let the box's systemd-tmpfiles and journald (the /dev/log symlink)
// write into the host's devtmpfs.
func setupDev(root, console string) error {
	dev := filepath.Join(root, "dev")
	if err := mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID, "mode=0755"); err != nil {
		return err
	}
	for _, n := range devNodes {
		if _, err := os.Stat("/dev/" + n); err != nil {
			continue // e.g. no /dev/net/tun on this kernel
		}
		p := filepath.Join(dev, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, nil, 0o666); err != nil {
			return err
		}
		if err := mount("/dev/"+n, p, "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	// systemd writes its log to /dev/console until journald runs, and only
	// to a terminal: New copies what it reads from this pty's master to
	// the boot log.
	if err := os.WriteFile(filepath.Join(dev, "console"), nil, 0o600); err != nil {
		return err
	}
	if err := mount(console, filepath.Join(dev, "console"), "", unix.MS_BIND, ""); err != nil {
		return err
	}
	for _, d := range []string{"pts", "shm", "mqueue"} {
		if err := os.Mkdir(filepath.Join(dev, d), 0o755); err != nil {
			return err
		}
	}
	if err := mount("devpts", filepath.Join(dev, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC,
		"newinstance,ptmxmode=0666,mode=620,gid=5"); err != nil {
		return err
	}
	if err := mount("tmpfs", filepath.Join(dev, "shm"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return err
	}
	if err := mount("mqueue", filepath.Join(dev, "mqueue"), "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	for name, target := range map[string]string{"ptmx": "pts/ptmx", "fd": "/proc/self/fd",
		"stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	return nil
}

// writeBoxFile writes f below root, replacing what the lower layer has there.
func writeBoxFile(root string, f file) error {
	p := filepath.Join(root, f.Path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return err
	}
	if f.Link {
		return os.Symlink(f.Data, p)
	}
	mode := f.Mode
	if mode == 0 {
		mode = 0o644
	}
	return os.WriteFile(p, []byte(f.Data), mode)
}

// mount is unix.Mount with an error that names what failed.
func mount(source, target, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		what := fstype
		if flags&unix.MS_BIND != 0 {
			what = "bind " + source
		}
		return fmt.Errorf("mount %s on %s (%s): %w", what, target, strings.TrimSpace(data), err)
	}
	return nil
}

// runExec is the exec step behind Command: it joins the box's cgroups (so
// that systemd in the box can move it, e.g. into a scope) and execs nsenter,
// which forks the command into the box's pid namespace.
func runExec(config string, argv []string) {
	var cfg execConfig
	err := json.Unmarshal([]byte(config), &cfg)
	if err == nil {
		for _, f := range cfg.Procs {
			if err = os.WriteFile(f, []byte(fmt.Sprint(os.Getpid())), 0); err != nil {
				break
			}
		}
	}
	if err == nil {
		args := append([]string{"nsenter", "--target", fmt.Sprint(cfg.Pid),
			"--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup", "--root", "--wd", "--"}, argv...)
		err = unix.Exec(cfg.Nsenter, args, os.Environ())
	}
	fmt.Fprintf(os.Stderr, "box exec %s: %v\n", strings.Join(argv, " "), err)
	os.Exit(126)
}

// execConfig is what Command tells the exec step.
type execConfig struct {
	Pid     int      // host pid of the box's systemd
	Nsenter string   // path of nsenter
	Procs   []string // cgroup.procs files of the box's cgroups
}
