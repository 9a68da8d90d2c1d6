package userns

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// NewUserNS returns a user namespace mapping the IDs 0 to r.Count-1 to
// r's host IDs (users and groups), as an open /proc/PID/ns/user, for
// IDMapTree or setns. The namespace is made by a child that never runs a
// line of its own: it stops, traced, before its exec, the maps are written
// by Go's fork, and it is killed once its namespace is open.
func NewUserNS(r Range) (*os.File, error) {
	if err := r.Check(); err != nil {
		return nil, fmt.Errorf("user namespace %s: %w", r, err)
	}
	// The tracer is the thread that forked: stay on it until the child is
	// reaped.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m := []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(r.First), Size: int(r.Count)}}
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"acirun-userns"}, &syscall.ProcAttr{
		Sys: &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER,
			UidMappings: m, GidMappings: m,
			Ptrace:    true, // stopped at its exec, before it runs anything
			Pdeathsig: syscall.SIGKILL,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("user namespace %s: start its holder: %w", r, err)
	}
	defer func() {
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		for {
			if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
				break
			}
		}
	}()
	var ws unix.WaitStatus
	for {
		_, err = unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil || !ws.Stopped() {
		return nil, fmt.Errorf("user namespace %s: its holder did not stop at its exec (%v, status %#x)", r, err, ws)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", pid))
	if err != nil {
		return nil, fmt.Errorf("user namespace %s: %w", r, err)
	}
	return f, nil
}

// IDMapTree returns a detached copy of the mount tree at path (path and the
// mounts below it) in which files show through ns's map: a file the host
// sees owned by host ID First+N is owned by N inside a user namespace with
// the same map, and a file owned by ID N, as the store keeps an image, is
// seen as the pod's N. Nothing on disk changes. With readOnly the copy is
// read-only too. The result is an O_PATH descriptor of the copy's root, to
// be attached with move_mount or used as an overlay layer through
// /proc/self/fd; it is unmounted when the last descriptor of it is closed
// unless it has been attached.
//
// A file system that cannot be ID-mapped (the kernel says EINVAL: one
// without FS_ALLOW_IDMAP, such as NFS, FUSE or an overlay's own mount)
// is an error naming it and what to do: the store is never chowned instead.
func IDMapTree(path string, ns *os.File, readOnly bool) (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return nil, fmt.Errorf("ID-mapped copy of %s: open_tree: %w", path, err)
	}
	tree := os.NewFile(uintptr(fd), path)
	var attr uint64
	if readOnly {
		attr = unix.MOUNT_ATTR_RDONLY
	}
	if err := SetIDMap(fd, ns, attr, true); err != nil {
		tree.Close()
		if errors.Is(err, ErrCannotIDMap) {
			return nil, fmt.Errorf("ID-mapped copy of %s: %w; keep the store on one that can (ext4, xfs, btrfs, tmpfs), or run the pod without --private-users", path, err)
		}
		return nil, fmt.Errorf("ID-mapped copy of %s: %w", path, err)
	}
	return tree, nil
}

// ErrCannotIDMap is what SetIDMap's error wraps when the kernel refuses to
// ID-map a file system.
var ErrCannotIDMap = errors.New("cannot be ID-mapped")

// SetIDMap makes tree, a detached mount (open_tree with OPEN_TREE_CLONE),
// and with recursive the mounts below it, show files through ns's map,
// with the other MOUNT_ATTR_* attr set too. A file system without
// FS_ALLOW_IDMAP (NFS, FUSE, ramfs, an overlay's own mount, proc) is an
// error wrapping ErrCannotIDMap and naming the file system: nothing is
// ever chowned instead.
func SetIDMap(tree int, ns *os.File, attr uint64, recursive bool) error {
	flags := uint(unix.AT_EMPTY_PATH)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	a := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP | attr, Userns_fd: uint64(ns.Fd())}
	if err := unix.MountSetattr(tree, "", flags, &a); err != nil {
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EOPNOTSUPP) {
			return fmt.Errorf("the kernel refuses to ID-map it (%w): its file system (%s) %w", err, fsName(fmt.Sprintf("/proc/self/fd/%d", tree)), ErrCannotIDMap)
		}
		return fmt.Errorf("mount_setattr(MOUNT_ATTR_IDMAP): %w", err)
	}
	return nil
}

// fsName names the file system path is on, for an error.
func fsName(path string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return "unknown"
	}
	names := map[int64]string{
		unix.EXT4_SUPER_MAGIC: "ext4", unix.XFS_SUPER_MAGIC: "xfs", unix.BTRFS_SUPER_MAGIC: "btrfs",
		unix.TMPFS_MAGIC: "tmpfs", unix.OVERLAYFS_SUPER_MAGIC: "overlayfs", unix.NFS_SUPER_MAGIC: "nfs",
		unix.FUSE_SUPER_MAGIC: "fuse", unix.PROC_SUPER_MAGIC: "proc", unix.SYSFS_MAGIC: "sysfs", unix.RAMFS_MAGIC: "ramfs",
	}
	if n, ok := names[int64(st.Type)]; ok {
		return n
	}
	return fmt.Sprintf("magic %#x", st.Type)
}
