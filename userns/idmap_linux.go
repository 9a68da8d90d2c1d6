package userns

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/forkhook"
	"github.com/acirun/acirun/internal/regfile"
)

// NewUserNS returns a user namespace mapping the IDs 0 to r.Count-1 to
// r's host IDs (users and groups), as an open /proc/PID/ns/user, for
// IDMapTree, and the PID of the child that made it, which the caller
// reaps (wait4) when it likes: the child runs nothing but exit_group, and
// a namespace is all it leaves.
//
// The child is forked into the namespace (clone(CLONE_NEWUSER), not
// executed: an exec of an executable stopped by ptrace cost a start 1 to 2
// ms), and the maps are written, and the namespace opened, through its
// /proc/PID whether it is still running, exiting or already a zombie: a
// task's user namespace is its credentials', which stay with it until it
// is reaped. So nothing waits for the child to be scheduled at all.
func NewUserNS(r Range) (ns *os.File, holder int, err error) {
	if err := r.Check(); err != nil {
		return nil, 0, fmt.Errorf("user namespace %s: %w", r, err)
	}
	m := []byte(fmt.Sprintf("0 %d %d\n", r.First, r.Count))
	syscall.ForkLock.Lock()
	forkhook.Before()
	pid, _, e := syscall.RawSyscall6(unix.SYS_CLONE, uintptr(unix.CLONE_NEWUSER|unix.SIGCHLD), 0, 0, 0, 0, 0)
	if e == 0 && pid == 0 {
		// The child: signals still blocked, nothing but this call.
		for {
			syscall.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
		}
	}
	forkhook.After()
	syscall.ForkLock.Unlock()
	if e != 0 {
		return nil, 0, fmt.Errorf("user namespace %s: fork into it: %w", r, e)
	}
	dir := "/proc/" + strconv.Itoa(int(pid)) + "/"
	defer func() {
		if err != nil {
			var ws unix.WaitStatus
			for {
				if _, err := unix.Wait4(int(pid), &ws, 0, nil); err != unix.EINTR {
					break
				}
			}
		}
	}()
	// setgroups stays allowed: nothing runs in the namespace, which is a
	// map for ID-mapped mounts.
	for _, f := range []string{"uid_map", "gid_map"} {
		if err := regfile.WriteFile(dir+f, m, 0); err != nil {
			return nil, 0, fmt.Errorf("user namespace %s: write %s: %w", r, strings.TrimSpace(string(m)), err)
		}
	}
	if ns, err = regfile.OpenFile(dir+"ns/user", os.O_RDONLY, 0); err != nil {
		return nil, 0, fmt.Errorf("user namespace %s: %w", r, err)
	}
	return ns, int(pid), nil
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
