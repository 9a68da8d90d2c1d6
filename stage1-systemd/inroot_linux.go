package stage1

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Paths inside an app's root come from an untrusted image: every lookup is
// done with openat2(RESOLVE_IN_ROOT), so that an absolute or ".." symlink
// stays inside the root, and without magic links, so that /proc/PID/root and
// friends cannot lead out. Mounts then target the resolved file descriptor
// through /proc/self/fd/N, never the path again.

const (
	// resolveContained resolves symlinks as if the root were "/".
	resolveContained = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS
	// resolveStrict refuses any symlink on the way (for /proc, /sys, /dev).
	resolveStrict = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_SYMLINKS
)

// openInRoot opens p (absolute or relative to root) inside root.
// The path is not cleaned lexically: ".." is resolved by the kernel, after
// symlinks, and never above root.
func openInRoot(root int, p string, flags int, resolve uint64) (int, error) {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		p = "."
	}
	for {
		fd, err := unix.Openat2(root, p, &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Mode: 0, Resolve: resolve})
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "openat2", Path: "/" + p, Err: err}
		}
		return fd, nil
	}
}

// mkdirAllInRoot makes directory p and its parents inside root (mode 0755,
// owned by the caller, as E3 asks for created targets) and returns an O_PATH
// descriptor of it. A dangling symlink on the way is resolved inside the
// root and its target created there (unless resolve refuses symlinks).
func mkdirAllInRoot(root int, p string, resolve uint64) (int, error) {
	return mkdirAllDepth(root, p, resolve, 0)
}

func mkdirAllDepth(root int, p string, resolve uint64, depth int) (int, error) {
	p = path.Clean("/" + p)
	if depth > 40 {
		return -1, &os.PathError{Op: "mkdir", Path: p, Err: unix.ELOOP}
	}
	fd, err := openInRoot(root, p, unix.O_PATH|unix.O_DIRECTORY, resolve)
	if err == nil || p == "/" || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	parent, err := mkdirAllDepth(root, path.Dir(p), resolve, depth+1)
	if err != nil {
		return -1, err
	}
	defer unix.Close(parent)
	err = unix.Mkdirat(parent, path.Base(p), 0o755)
	if err == unix.EEXIST && resolve&unix.RESOLVE_NO_SYMLINKS == 0 {
		if target, ok := danglingTarget(root, parent, path.Base(p)); ok {
			return mkdirAllDepth(root, target, resolve, depth+1)
		}
	}
	if err != nil && err != unix.EEXIST {
		return -1, &os.PathError{Op: "mkdir", Path: p, Err: err}
	}
	return openInRoot(root, p, unix.O_PATH|unix.O_DIRECTORY, resolve)
}

// danglingTarget reads the symlink name in directory parent and returns
// where it points as a path inside root.
func danglingTarget(root, parent int, name string) (string, bool) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(parent, name, buf)
	if err != nil {
		return "", false
	}
	link := string(buf[:n])
	if path.IsAbs(link) {
		return link, true
	}
	rootPath, err1 := os.Readlink(fdPath(root))
	dirPath, err2 := os.Readlink(fdPath(parent))
	if err1 != nil || err2 != nil {
		return "", false
	}
	rel, ok := strings.CutPrefix(dirPath, rootPath)
	if !ok || rel != "" && rel[0] != '/' && rootPath != "/" {
		return "", false
	}
	return path.Join("/", rel, link), true
}

// ensureFileInRoot makes sure p exists inside root as a non-directory (to
// bind-mount a file over) and returns an O_PATH descriptor of it.
func ensureFileInRoot(root int, p string, resolve uint64) (int, error) {
	p = path.Clean("/" + p)
	fd, err := openInRoot(root, p, unix.O_PATH, resolve)
	if err == nil {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			unix.Close(fd)
			return -1, &os.PathError{Op: "mount file", Path: p, Err: unix.EISDIR}
		}
		return fd, nil
	}
	if !errors.Is(err, unix.ENOENT) {
		return -1, err
	}
	parent, err := mkdirAllInRoot(root, path.Dir(p), resolve)
	if err != nil {
		return -1, err
	}
	defer unix.Close(parent)
	nfd, err := unix.Openat(parent, path.Base(p), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil && err != unix.EEXIST {
		return -1, &os.PathError{Op: "create", Path: p, Err: err}
	}
	if err == nil {
		unix.Close(nfd)
	}
	return openInRoot(root, p, unix.O_PATH, resolve)
}

// writeFileInRoot replaces p inside root with a regular file holding data.
// A symlink at p is replaced, not followed. Where nothing is at p yet (an
// app's root before any process of it runs: nobody can read p meanwhile)
// the file is written in place, else it is written aside and renamed over
// what is there: an overlayfs rename is the dearest of these calls.
func writeFileInRoot(root int, p string, data []byte, mode uint32) error {
	p = path.Clean("/" + p)
	parent, err := mkdirAllInRoot(root, path.Dir(p), resolveContained)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	// O_PATH descriptors cannot be used with unlinkat/openat for writing
	// on all kernels' semantics here, so reopen the parent directory.
	dir, err := unix.Openat(parent, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path.Dir(p), Err: err}
	}
	defer unix.Close(dir)
	base := path.Base(p)
	err = writeNewFile(dir, base, p, data, mode)
	if err != unix.EEXIST {
		return err
	}
	tmp := "." + base + ".acirun-tmp"
	_ = unix.Unlinkat(dir, tmp, 0)
	if err := writeNewFile(dir, tmp, p, data, mode); err != nil {
		return err
	}
	if err := unix.Renameat(dir, tmp, dir, base); err != nil {
		_ = unix.Unlinkat(dir, tmp, 0)
		return &os.PathError{Op: "write", Path: p, Err: err}
	}
	return nil
}

// writeNewFile creates name in dir, which must not exist (unix.EEXIST,
// as it is, when it does), with data and mode (whatever the umask), for
// writeFileInRoot's p; a file it could not complete is removed.
func writeNewFile(dir int, name, p string, data []byte, mode uint32) error {
	fd, err := unix.Openat(dir, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	if err == unix.EEXIST {
		return err
	}
	if err != nil {
		return &os.PathError{Op: "create", Path: p, Err: err}
	}
	werr := unix.Fchmod(fd, mode)
	for b := data; werr == nil && len(b) > 0; {
		// An interrupted write returns -1 and wrote nothing: it is
		// made again, not taken for a short one.
		n, err := unix.Write(fd, b)
		switch {
		case err == unix.EINTR:
		case err != nil:
			werr = err
		case n == 0:
			werr = io.ErrShortWrite
		default:
			b = b[n:]
		}
	}
	if cerr := unix.Close(fd); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = unix.Unlinkat(dir, name, 0)
		return &os.PathError{Op: "write", Path: p, Err: werr}
	}
	return nil
}

// fdPath is the /proc/self/fd path of fd, usable as a mount source or target.
func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// mountFd mounts onto the object fd refers to.
func mountFd(source string, fd int, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(source, fdPath(fd), fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s (%s) flags %#x: %w", source, fstype, flags, err)
	}
	return nil
}

// bindFd binds the file or tree src refers to onto the object dst refers to,
// with attr (MOUNT_ATTR_*) set on the new mount and, when recursive, on the
// mounts below it.
func bindFd(src, dst int, recursive bool, attr uint64) error {
	return bindTree(src, dst, recursive, func(tree int) error {
		if attr == 0 {
			return nil
		}
		return setMountAttr(tree, attr, recursive)
	})
}

// bindTree binds what src refers to (and, when recursive, the mounts below
// it) onto what dst refers to, after set has set the detached copy's
// attributes. The new mount is built detached (open_tree) and attached in
// one step (move_mount), so no path is looked up again.
func bindTree(src, dst int, recursive bool, set func(tree int) error) error {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(src, "", flags)
	if err != nil {
		return fmt.Errorf("open_tree %s: %w", fdTarget(src), err)
	}
	defer unix.Close(tree)
	if err := set(tree); err != nil {
		return err
	}
	if err := unix.MoveMount(tree, "", dst, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount onto %s: %w", fdTarget(dst), err)
	}
	return nil
}

// fdTarget names what fd refers to, for error messages.
func fdTarget(fd int) string {
	t, err := os.Readlink(fdPath(fd))
	if err != nil {
		return fdPath(fd)
	}
	return t
}
