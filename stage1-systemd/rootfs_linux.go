package stage1

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/userns"
)

// maskedPaths returns the paths hidden from apps (as runc and Docker do):
// files get /dev/null bound over them, directories an empty read-only tmpfs.
func maskedPaths() []string {
	return []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
}

// readOnlyPaths returns the paths made read-only in every app's /proc.
func readOnlyPaths() []string {
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

// devices returns the nodes bound from the host's /dev into every app's
// /dev: mknod may be denied to us (user namespaces, device cgroups), a bind
// mount is not.
func devices() []string {
	return []string{"null", "zero", "full", "random", "urandom", "tty"}
}

// appRoot is an app's root being assembled by PID 1 in the pod's mount
// namespace.
type appRoot struct {
	path string // POD-DIR/apps/NAME/rootfs
	fd   int    // O_PATH descriptor of the mounted root
	// userNS is the pod's user namespace (podOptions.userNS), for the
	// volumes bound ID-mapped; nil without --private-users.
	userNS *os.File
	// ttyGID is the host's ID of the pod's ttyGID, the group of its
	// terminals.
	ttyGID uint32
}

// buildAppRoot mounts app's root at POD-DIR/apps/NAME/rootfs: the overlay (or
// the private copy), /etc/hosts and resolv.conf, /proc, /sys, /dev, the
// volumes, the masked and read-only paths, and finally the read-only root if
// asked for. Everything is mounted in the pod's mount namespace, which dies
// with the pod, so nothing is left on the host however this ends.
func buildAppRoot(o *podOptions, app *appSpec, overlay int, hostname string, logf func(string, ...any)) (err error) {
	appDir := podcontract.AppDir(o.podDir, app.name)
	r := &appRoot{path: filepath.Join(appDir, podcontract.AppRootfsDir), fd: -1, userNS: o.userNS, ttyGID: ttyGID}
	if rg := o.idRange; !rg.IsZero() {
		gid, ok := rg.HostID(ttyGID)
		if !ok {
			return fmt.Errorf("app %s: the tty group %d is outside the pod's %d IDs", app.name, ttyGID, rg.Count)
		}
		r.ttyGID = gid
	}
	if err := r.mountBase(o, appDir, filepath.Join(app.imageDir, "rootfs"), overlay); err != nil {
		return fmt.Errorf("app %s: %w", app.name, err)
	}
	defer func() {
		if r.fd >= 0 {
			unix.Close(r.fd)
		}
	}()
	r.fd, err = unix.Open(r.path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open app root %s: %w", r.path, err)
	}
	if err := r.writeEtcFiles(o, hostname); err != nil {
		return fmt.Errorf("app %s: %w", app.name, err)
	}
	if err := r.mountSystem(); err != nil {
		return fmt.Errorf("app %s: %w", app.name, err)
	}
	if err := r.mountVolumes(app, logf); err != nil {
		return fmt.Errorf("app %s: %w", app.name, err)
	}
	if !o.Insecure.Has(podcontract.InsecurePaths) {
		if err := r.maskPaths(); err != nil {
			return fmt.Errorf("app %s: %w", app.name, err)
		}
	}
	if app.readOnly {
		if err := setMountAttr(r.fd, unix.MOUNT_ATTR_RDONLY, false); err != nil {
			return fmt.Errorf("app %s: read-only root: %w", app.name, err)
		}
	}
	return nil
}

// mountBase mounts the app's root file system itself: the overlay whose
// detached mount overlay is, when stage1 run made it (AppOverlays), or
// else PID 1's own (overlay -1).
func (r *appRoot) mountBase(o *podOptions, appDir, lowerPath string, overlay int) error {
	// The overlay's mount point (with --no-overlay, copyTree makes the
	// root; --private-users refuses --no-overlay).
	if !o.NoOverlay {
		if err := os.Mkdir(r.path, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	if overlay >= 0 {
		return attachAppOverlay(overlay, r.path)
	}
	if o.userNS != nil {
		// --private-users: the image through an ID-mapped copy, its
		// owners the pod's range's (the store unchanged). overlayfs takes
		// the copy unattached, as /proc/self/fd/N, from the initial user
		// namespace on Linux 6.15 and later: nothing is made on disk for
		// it. An older kernel refuses it (EINVAL), and the copy is then
		// attached at apps/NAME/lower first, a directory made for it.
		tree, err := userns.IDMapTree(lowerPath, o.userNS, true)
		if err != nil {
			return err
		}
		defer tree.Close()
		mnt, err := appOverlayOf(appDir, lowerPath, int(tree.Fd()))
		if err == nil {
			defer mnt.Close()
			return attachAppOverlay(int(mnt.Fd()), r.path)
		}
		if !errors.Is(err, unix.EINVAL) {
			return err
		}
		mapped := filepath.Join(appDir, podcontract.AppLowerDir)
		if err := os.Mkdir(mapped, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := unix.MoveMount(int(tree.Fd()), "", unix.AT_FDCWD, mapped, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("attach the ID-mapped copy of %s at %s: %w", lowerPath, mapped, err)
		}
		lowerPath = mapped
	}
	if o.NoOverlay {
		if err := copyTree(lowerPath, r.path); err != nil {
			return fmt.Errorf("copy %s: %w", lowerPath, err)
		}
		if err := unix.Mount(r.path, r.path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s: %w", r.path, err)
		}
		return setMountAttr(-1, unix.MOUNT_ATTR_NODEV, false, r.path)
	}
	mnt, err := appOverlay(appDir, lowerPath)
	if err != nil {
		return err
	}
	defer mnt.Close()
	return attachAppOverlay(int(mnt.Fd()), r.path)
}

// attachAppOverlay attaches the detached overlay mnt (appOverlay's) at the
// app's root mount point.
func attachAppOverlay(mnt int, root string) error {
	if err := unix.MoveMount(mnt, "", unix.AT_FDCWD, root, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attach the overlay at %s: %w", root, err)
	}
	return nil
}

// AppOverlays makes the overlay of each app's root (appOverlay) for
// `stage1 run` to hand PID 1 with the go message (--app-overlay-fd), one
// detached mount per app in apps' order: the overlay's mount (its
// superblock, the checks and the directories overlayfs makes in the work
// directory, half a millisecond to a millisecond here) then runs beside
// PID 1's start, before go, rather than on PID 1's way to the apps. None
// with --no-overlay (the root is a copy) or --private-users (PID 1 makes
// the ID-mapped copy of the image the overlay's lower layer is). A
// detached mount goes when its last descriptor is closed: one never
// attached leaves nothing.
func AppOverlays(podDir string, o *podcontract.RunOptions, apps []string) ([]*os.File, error) {
	if o.NoOverlay || o.PrivateUsers != "" {
		return nil, nil
	}
	var mnts []*os.File
	for _, name := range apps {
		appDir := podcontract.AppDir(podDir, name)
		mnt, err := appOverlay(appDir, filepath.Join(appDir, podcontract.AppImageLink, "rootfs"))
		if err != nil {
			for _, m := range mnts {
				m.Close()
			}
			return nil, fmt.Errorf("app %s: %w", name, err)
		}
		mnts = append(mnts, mnt)
	}
	return mnts, nil
}

// appOverlay makes the overlay of an app's root, lowerPath (the rendered
// image, or its ID-mapped copy) under the app's upper layer in appDir, as
// a detached mount (fsopen, fsmount), and returns its descriptor. The
// upper and work directories are made unless they are there
// (MakeAppDirs), and the upper one takes the owner and mode of the
// image's root, which the overlay's root shows.
func appOverlay(appDir, lowerPath string) (*os.File, error) {
	lower, err := unix.Open(lowerPath, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open rendered image %s: %w", lowerPath, err)
	}
	defer unix.Close(lower)
	return appOverlayOf(appDir, lowerPath, lower)
}

// appOverlayOf is appOverlay of the lower layer open as lower (an O_PATH
// descriptor of lowerPath, or of an unattached ID-mapped copy of it).
func appOverlayOf(appDir, lowerPath string, lower int) (*os.File, error) {
	var st unix.Stat_t
	if err := unix.Fstat(lower, &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", lowerPath, err)
	}
	upper, work := filepath.Join(appDir, podcontract.AppUpperDir), filepath.Join(appDir, podcontract.AppWorkDir)
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
	}
	if err := os.Chown(upper, int(st.Uid), int(st.Gid)); err != nil {
		return nil, err
	}
	if err := os.Chmod(upper, os.FileMode(st.Mode&0o7777)); err != nil {
		return nil, err
	}
	// Every directory through /proc/self/fd: overlayfs splits the lower
	// layers at ':' and reads '\' as an escape, so a pod directory
	// holding either (a --dir the user chose) would otherwise need
	// escaping by the kernel's rules of the day. The symlink to the store
	// is also resolved exactly once.
	dirs := []int{lower}
	for _, d := range []string{upper, work} {
		fd, err := unix.Open(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open overlay directory %s: %w", d, err)
		}
		defer unix.Close(fd)
		dirs = append(dirs, fd)
	}
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fsfd)
	// volatile (Linux 5.10; mount_setattr, which the pod's mounts need,
	// came in 5.12): no sync reaches the upper layer's file system.
	// Without it the overlay's end, when the pod's mount namespace goes
	// with PID 1, syncs the whole file system of the data directory
	// (syncfs: every dirty page of the host's on it, then a flush of the
	// disk) while `stage1 run` waits for PID 1: 3-4 ms of a quiet host's
	// warm start, hundreds of ms while another process writes. What the
	// app writes in its root still reaches the disk by the kernel's
	// writeback, but an fsync there no longer waits for it: the root is
	// the pod's scratch space (data meant to outlive a power cut goes to
	// a volume, a bind mount where fsync is the host's), as it is for
	// podman's --rm and CRI-O's containers. The mark overlayfs leaves in
	// the work directory (work/incompat/volatile) only refuses a second
	// mount of the same layers, which a pod, run once, never makes.
	for _, kv := range [][2]string{{"lowerdir", fdPath(dirs[0])}, {"upperdir", fdPath(dirs[1])}, {"workdir", fdPath(dirs[2])}} {
		if err := unix.FsconfigSetString(fsfd, kv[0], kv[1]); err != nil {
			return nil, fmt.Errorf("overlay %s %s: %w", kv[0], kv[1], err)
		}
	}
	if err := unix.FsconfigSetFlag(fsfd, "volatile"); err != nil {
		return nil, fmt.Errorf("overlay volatile: %w", err)
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, fmt.Errorf("mount overlay (lowerdir %s, upperdir %s, workdir %s): %w", lowerPath, upper, work, err)
	}
	mnt, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return nil, fmt.Errorf("mount overlay (lowerdir %s, upperdir %s, workdir %s): %w", lowerPath, upper, work, err)
	}
	return os.NewFile(uintptr(mnt), "overlay of "+appDir), nil
}

// writeEtcFiles writes /etc/hosts and /etc/resolv.conf into the root (the
// pod's upper layer, never the image) as the options ask.
func (r *appRoot) writeEtcFiles(o *podOptions, hostname string) error {
	var hosts []byte
	switch {
	case o.HostsFromHost:
		b, err := os.ReadFile("/etc/hosts")
		if err != nil {
			return fmt.Errorf("--hosts-entry=host: %w", err)
		}
		hosts = append(b, hostsFile(hostname, o.HostsEntries)...)
	case len(o.HostsEntries) > 0:
		hosts = hostsFile(hostname, o.HostsEntries)
	default:
		// The spec asks not to modify an image's own /etc/hosts.
		fd, err := openInRoot(r.fd, "/etc/hosts", unix.O_PATH|unix.O_NOFOLLOW, resolveContained)
		if err == nil {
			var st unix.Stat_t
			ferr := unix.Fstat(fd, &st)
			unix.Close(fd)
			if ferr == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
				break
			}
		}
		hosts = hostsFile(hostname, nil)
	}
	if hosts != nil {
		if err := writeFileInRoot(r.fd, "/etc/hosts", hosts, 0o644); err != nil {
			return err
		}
	}
	var resolv []byte
	set := resolvSettingsOf(o)
	switch {
	case len(o.DNS) == 0 && (podcontract.OnDefaultNetwork(o.Net) || !podcontract.IsBuiltinNet(o.Net)):
		// On its own network (or named ones), a pod that names no server
		// resolves names as the host does, through servers it can reach,
		// with the search domains and options it asks for.
		host, err := os.ReadFile("/etc/resolv.conf")
		if err == nil {
			upstream, _ := os.ReadFile("/run/systemd/resolve/resolv.conf")
			resolv = podResolvConf(host, upstream)
		}
		if resolv != nil && !set.empty() {
			resolv = overrideResolv(resolv, set)
		} else if resolv == nil && !set.empty() {
			resolv = resolvConf(set)
		}
	case len(o.DNS) == 1 && o.DNS[0] == podcontract.DNSNone, set.empty():
	case len(o.DNS) == 1 && o.DNS[0] == podcontract.DNSHost:
		b, err := os.ReadFile("/etc/resolv.conf")
		if err != nil {
			return fmt.Errorf("--dns=host: %w", err)
		}
		resolv = b
	default:
		resolv = resolvConf(set)
	}
	if resolv != nil {
		return writeFileInRoot(r.fd, "/etc/resolv.conf", resolv, 0o644)
	}
	return nil
}

// mountSystem mounts /proc, /sys and /dev. Their mount points must not be
// symlinks: a hostile image's /proc -> / is refused, never followed.
func (r *appRoot) mountSystem() error {
	const nsd = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	for _, m := range []systemMount{
		{"/proc", "proc", nsd, ""},
		{"/sys", "sysfs", nsd | unix.MS_RDONLY, ""},
		{"/dev", "tmpfs", nsd, "mode=755,size=65536k"},
	} {
		fd, err := mkdirAllInRoot(r.fd, m.target, resolveStrict)
		if err != nil {
			return fmt.Errorf("mount point %s (symlinks are refused here): %w", m.target, err)
		}
		err = m.mount(fd)
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	// /dev is now the tmpfs just mounted, which nothing but us has seen
	// and nothing of the image is in: what goes in it is made by name in
	// it, without a lookup from the app's root for each (three system
	// calls a file instead of eight).
	dev, err := openInRoot(r.fd, "/dev", unix.O_RDONLY|unix.O_DIRECTORY, resolveStrict)
	if err != nil {
		return err
	}
	defer unix.Close(dev)
	for _, m := range []systemMount{
		{"pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=" + strconv.FormatUint(uint64(r.ttyGID), 10)},
		{"shm", "tmpfs", nsd, "mode=1777,size=65536k"},
	} {
		if err := unix.Mkdirat(dev, m.target, 0o755); err != nil {
			return fmt.Errorf("mount point /dev/%s: %w", m.target, err)
		}
		fd, err := unix.Openat(dev, m.target, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("mount point /dev/%s: %w", m.target, err)
		}
		err = m.mount(fd)
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	for _, d := range devices() {
		if err := bindDevice(dev, "/dev/"+d, d); err != nil {
			return err
		}
	}
	console := "/dev/null"
	if t := terminalNode(1); t >= 0 {
		defer unix.Close(t)
		console = fdPath(t)
	}
	if err := bindDevice(dev, console, "console"); err != nil {
		return err
	}
	for name, target := range map[string]string{
		"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "core": "/proc/kcore",
	} {
		if err := unix.Symlinkat(target, dev, name); err != nil {
			return fmt.Errorf("symlink /dev/%s: %w", name, err)
		}
	}
	return nil
}

// systemMount is a file system mountSystem mounts at target.
type systemMount struct {
	target, fstype string
	flags          uintptr
	data           string
}

// mount mounts m onto what fd refers to.
func (m systemMount) mount(fd int) error {
	if err := mountFd(m.fstype, fd, m.fstype, m.flags, m.data); err != nil {
		return fmt.Errorf("%s: %w", m.target, err)
	}
	return nil
}

// bindDevice binds the host's device node host onto a new file name in
// dev, the app's /dev (mountSystem's), which mounts no device node of its
// own (nodev: an app with CAP_MKNOD may not make one there), while a bind
// mount brings its own node.
func bindDevice(dev int, host, name string) error {
	fd, err := unix.Openat(dev, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("device /dev/%s: %w", name, err)
	}
	defer unix.Close(fd)
	if err := mountFd(host, fd, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("device /dev/%s: %w", name, err)
	}
	return nil
}

// maskPaths hides and write-protects the dangerous parts of /proc and /sys.
func (r *appRoot) maskPaths() error {
	for _, p := range maskedPaths() {
		fd, err := openInRoot(r.fd, p, unix.O_PATH|unix.O_NOFOLLOW, resolveStrict)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
		var st unix.Stat_t
		if err = unix.Fstat(fd, &st); err == nil {
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				err = mountFd("tmpfs", fd, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0k,nr_inodes=1")
			} else {
				err = mountFd("/dev/null", fd, "", unix.MS_BIND, "")
			}
		}
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	for _, p := range readOnlyPaths() {
		if err := r.bindReadOnly(p); err != nil {
			return err
		}
	}
	return nil
}

// bindReadOnly makes p inside the root a read-only bind mount of itself.
func (r *appRoot) bindReadOnly(p string) error {
	fd, err := openInRoot(r.fd, p, unix.O_PATH|unix.O_NOFOLLOW, resolveStrict)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read-only %s: %w", p, err)
	}
	defer unix.Close(fd)
	if err := bindFd(fd, fd, true, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC); err != nil {
		return fmt.Errorf("read-only %s: %w", p, err)
	}
	return nil
}

// setMountAttr sets attributes on the mount fd (or the path, when fd < 0)
// refers to, and on the mounts below it when recursive.
func setMountAttr(fd int, attr uint64, recursive bool, p ...string) error {
	flags := unix.AT_EMPTY_PATH
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	name := ""
	if fd < 0 {
		fd, name, flags = unix.AT_FDCWD, p[0], flags&^unix.AT_EMPTY_PATH
	}
	if err := unix.MountSetattr(fd, name, uint(flags), &unix.MountAttr{Attr_set: attr}); err != nil {
		return fmt.Errorf("mount_setattr %#x: %w", attr, err)
	}
	return nil
}

// mountVolumes binds the app's volumes into its root, shallowest first so
// that nested targets land on their parent volume. Each target is resolved
// inside the root first (the image's symlinks, and those of volumes
// mounted before it, followed as the app would, never out of the root),
// and the rules of podcontract.CheckVolumeTarget apply to where it leads: a symlink
// in the image cannot take a volume onto /proc/sys, /dev or the root.
func (r *appRoot) mountVolumes(app *appSpec, logf func(string, ...any)) error {
	mounts := append([]mountSpec(nil), app.mounts...)
	sort.SliceStable(mounts, func(i, j int) bool {
		return strings.Count(path.Clean(mounts[i].target), "/") < strings.Count(path.Clean(mounts[j].target), "/")
	})
	seen := map[string]bool{}
	for _, m := range mounts {
		asked := path.Clean("/" + m.target)
		t, err := r.resolveInRoot(asked)
		if err != nil {
			return fmt.Errorf("volume %s: target %s: %w", m.volume.name, asked, err)
		}
		if err := podcontract.CheckVolumeTarget(m.volume.name, asked, t); err != nil {
			return err
		}
		if seen[t] {
			return fmt.Errorf("volume %s: target %s is used by another mount", m.volume.name, t)
		}
		seen[t] = true
		if err := r.mountVolume(m, t, logf); err != nil {
			return fmt.Errorf("volume %s at %s: %w", m.volume.name, t, err)
		}
	}
	return nil
}

// resolveInRoot returns the absolute path inside the root that p leads to,
// its symlinks followed as inside the root (securejoin: ".." and absolute
// targets stop at the root); components that do not exist yet are kept as
// they are.
func (r *appRoot) resolveInRoot(p string) (string, error) {
	full, err := securejoin.SecureJoin(r.path, p)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(r.path, full)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("resolves to %s, outside the root", full)
	}
	return path.Clean("/" + rel), nil
}

func (r *appRoot) mountVolume(m mountSpec, target string, logf func(string, ...any)) error {
	src := m.volume.source
	src, err := volumeSource(m.volume, src)
	if err != nil {
		return err
	}
	sfd, err := unix.Open(src, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("source %s: %w", src, err)
	}
	defer unix.Close(sfd)
	var st unix.Stat_t
	if err := unix.Fstat(sfd, &st); err != nil {
		return err
	}
	var tfd int
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		tfd, err = mkdirAllInRoot(r.fd, target, resolveContained)
		if errors.Is(err, unix.ENOTDIR) {
			// E3: a file where a directory volume goes is replaced, with a warning.
			logf("volume %s: replacing file %s with a directory", m.volume.name, target)
			if perr := r.removeInRoot(target); perr != nil {
				return perr
			}
			tfd, err = mkdirAllInRoot(r.fd, target, resolveContained)
		}
	} else {
		tfd, err = ensureFileInRoot(r.fd, target, resolveContained)
	}
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer unix.Close(tfd)
	recursive := m.volume.kind != "host" || m.volume.recursive
	attr := uint64(unix.MOUNT_ATTR_NODEV)
	if m.readOnly || m.volume.readOnly {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	if m.volume.idmap {
		return r.bindIDMapped(sfd, tfd, recursive, attr)
	}
	return bindFd(sfd, tfd, recursive, attr)
}

// bindIDMapped is bindFd through the pod's user namespace's map (a host
// volume with idmap=true): a file the host sees owned by ID N is the pod's
// N, and what the pod's N writes is the host's N. A file system the kernel
// cannot ID-map is refused, never chowned.
func (r *appRoot) bindIDMapped(src, dst int, recursive bool, attr uint64) error {
	if r.userNS == nil {
		return errors.New("idmap=true needs --private-users (without a user namespace the pod's IDs already are the host's)")
	}
	return bindTree(src, dst, recursive, func(tree int) error {
		err := userns.SetIDMap(tree, r.userNS, attr, recursive)
		if errors.Is(err, userns.ErrCannotIDMap) {
			return fmt.Errorf("idmap=true: source %s: %w; drop idmap=true (the pod's root then writes as the range's first ID), or use a file system that can (ext4, xfs, btrfs, tmpfs)", fdTarget(src), err)
		}
		if err != nil {
			return fmt.Errorf("idmap=true: source %s: %w", fdTarget(src), err)
		}
		return nil
	})
}

// removeInRoot removes the non-directory at p inside the root.
func (r *appRoot) removeInRoot(p string) error {
	dir, err := openInRoot(r.fd, path.Dir(p), unix.O_RDONLY|unix.O_DIRECTORY, resolveContained)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	return unix.Unlinkat(dir, path.Base(p), 0)
}

// volumeSource checks a volume's host side and returns the path to bind.
func volumeSource(v *volumeSpec, src string) (string, error) {
	if v.kind != "host" {
		return src, nil
	}
	if !filepath.IsAbs(src) {
		return "", fmt.Errorf("host source %q is not absolute", src)
	}
	if _, err := os.Lstat(src); err != nil {
		return "", fmt.Errorf("host source: %w", err)
	}
	// E3: refuse a symlinked source or a symlinked parent directory.
	if real, err := filepath.EvalSymlinks(src); err != nil {
		return "", fmt.Errorf("host source: %w", err)
	} else if real != filepath.Clean(src) {
		return "", fmt.Errorf("host source %s goes through a symlink (to %s); name the real path", src, real)
	}
	return src, nil
}

// terminalNode opens (O_PATH) the device node of the terminal fd is open
// on, as this mount namespace reaches it, for /dev/console; -1 when fd is
// no terminal or its node cannot be reached here. The node is found by the
// path the kernel gives for fd, which only names it if its devpts instance
// is mounted there in this namespace too: a terminal of another instance
// (a pty of a container's devpts, or of the host's handed into a
// container) has a path like /dev/pts/3 that here names some other
// terminal, or none. So the node found must be the very one fd is open on
// (same device, inode and device number): binding another would give the
// pod a stranger's terminal as its console. Without it the pod's console
// is /dev/null, as when there is no terminal; the apps still write to the
// terminal through the descriptors they inherit.
func terminalNode(fd int) int {
	if !term.IsTerminal(fd) {
		return -1
	}
	path, err := os.Readlink(fdPath(fd))
	if err != nil || !filepath.IsAbs(path) {
		return -1
	}
	node, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	var want, got unix.Stat_t
	if unix.Fstat(fd, &want) != nil || unix.Fstat(node, &got) != nil ||
		got.Mode&unix.S_IFMT != unix.S_IFCHR || got.Dev != want.Dev || got.Ino != want.Ino || got.Rdev != want.Rdev {
		unix.Close(node)
		return -1
	}
	return node
}

// MakeAppDirs makes, for each app of the pod in podDir, the directories
// PID 1 mounts its overlay with (upper, work, and the rootfs mount point),
// and in the upper layer the mount points of its root that the image
// lacks (/etc, /proc, /sys, /dev: none of it is in a bare image), as
// PID 1 would make them through the overlay: each such directory is an
// inode created on the data directory's file system, tens of
// microseconds each here and far more while that file system reclaims
// recently deleted ones, and the supervisor makes them before it sends
// PID 1 go, beside PID 1's start, rather than PID 1 after it. A name the
// image has (even as a symlink, which PID 1 then refuses) is left to
// PID 1. With --no-overlay the app's root is a copy and none of this is
// made.
func MakeAppDirs(podDir string, o *podcontract.RunOptions, apps []string) error {
	if o.NoOverlay {
		return nil
	}
	for _, name := range apps {
		appDir := podcontract.AppDir(podDir, name)
		upper := filepath.Join(appDir, podcontract.AppUpperDir)
		for _, d := range []string{upper, filepath.Join(appDir, podcontract.AppWorkDir), filepath.Join(appDir, podcontract.AppRootfsDir)} {
			if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("app %s: %w", name, err)
			}
		}
		image := filepath.Join(appDir, podcontract.AppImageLink, "rootfs")
		for _, d := range []string{"etc", "proc", "sys", "dev"} {
			if _, err := os.Lstat(filepath.Join(image, d)); !errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err := os.Mkdir(filepath.Join(upper, d), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("app %s: %w", name, err)
			}
		}
	}
	return nil
}
