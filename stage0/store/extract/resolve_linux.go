package extract

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/aci/archive"
)

// This file is the extractor's security boundary: every name an archive
// gives is resolved here, and nothing else in the package turns a name into
// a place in the file system. The rules, which the rest of the package
// relies on and an audit can check in this file alone:
//
//   - A name is made clean by CleanName before it reaches anything else:
//     relative, no "..", no NUL, no component over MaxNameLen and no
//     path over MaxPathLen, "." components and repeated slashes removed.
//   - A clean name is split (splitName) into its parent directory and its
//     last component. The parent is opened from the root's descriptor
//     without following any symlink (openDir); the entry is then made,
//     looked at or removed relative to that descriptor, by its last
//     component alone, with calls that do not follow a symlink there
//     either (O_CREAT|O_EXCL|O_NOFOLLOW, mkdirat, symlinkat, mknodat,
//     linkat without AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW).
//   - A directory opened once is used by descriptor from then on: a
//     parent replaced by a symlink after it was opened redirects nothing,
//     and the next open of that name refuses the symlink.
//   - Directories below a descriptor (for removal and pruning) are opened
//     with openChildDir, which refuses to follow a symlink, one level at a
//     time.

// Bounds on names that hold whatever the options say: the image format's
// (archive.MaxPathLen, archive.MaxNameLen, Linux's PATH_MAX and NAME_MAX).
const (
	MaxPathLen = archive.MaxPathLen
	MaxNameLen = archive.MaxNameLen
)

// CleanName turns an archive entry name into a clean relative path (“.” for
// the root itself), refusing absolute names, “..” components, NUL bytes and
// over-long names or components: archive.CleanEntryName, the rule that image
// validation applies too, so that what validates extracts.
func CleanName(name string) (string, error) { return archive.CleanEntryName(name) }

// splitName splits a clean name other than "." into its parent directory
// ("." for the root) and its last component.
func splitName(name string) (dir, base string) {
	dir, base = path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	return dir, base
}

// dirRef is a directory descriptor shared by the resolver's parent cache
// and the batched files to be made in it. The last holder to let go closes
// it, so that moving on to another directory never closes a descriptor a
// writer still uses (nor lets the kernel hand its number to another file).
type dirRef struct {
	fd   int
	refs atomic.Int32
}

func newDirRef(fd int) *dirRef {
	d := &dirRef{fd: fd}
	d.refs.Store(1)
	return d
}

func (d *dirRef) hold() *dirRef {
	d.refs.Add(1)
	return d
}

func (d *dirRef) release() {
	if d.refs.Add(-1) == 0 {
		unix.Close(d.fd)
	}
}

// treeBook is what the resolver tells the extractor's bookkeeping, and
// asks it, about the names it resolves: it is consulted only off the
// fast path (a component missing or in the way), never per entry.
type treeBook interface {
	// unmade reports whether name is a file that was accepted but is not
	// made yet (batched for the writers); flush makes all such files.
	unmade(name string) bool
	flush() error
	// madeDir says that the resolver made the directory name, as a parent
	// no entry describes.
	madeDir(name string)
	// removed says that the resolver removed name (everything below it
	// too, for a directory).
	removed(name string, isDir bool)
}

// resolver opens the parent directories of entries below one root without
// ever leaving it. Its one piece of state besides the root is the parent
// of the last entry, kept open because entries come in runs per directory.
type resolver struct {
	fd int // the root directory
	// overwrite replaces a non-directory (a symlink included) found where
	// a directory is needed, instead of refusing it (layering, spec A16).
	overwrite bool
	book      treeBook // may be nil: no bookkeeping

	cachePath string
	cache     *dirRef
}

// openRoot opens root, which must be a directory and not a symlink, and
// returns its descriptor and stat.
func openRoot(root string) (int, unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, st, &os.PathError{Op: "open", Path: root, Err: err}
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, st, &os.PathError{Op: "stat", Path: root, Err: err}
	}
	return fd, st, nil
}

// close releases the cached parent and the root.
func (r *resolver) close() error {
	r.dropCache()
	if r.fd < 0 {
		return nil
	}
	err := unix.Close(r.fd)
	r.fd = -1
	return err
}

// dupRoot returns a new descriptor of the root, which the caller owns.
func (r *resolver) dupRoot() (int, error) {
	return unix.FcntlInt(uintptr(r.fd), unix.F_DUPFD_CLOEXEC, 0)
}

// parent returns a borrowed descriptor of the clean name's parent directory
// (created as needed) and name's last component. The descriptor stays valid
// until the next call of parent or dropCache; cached holds on to it longer.
func (r *resolver) parent(name string) (int, string, error) {
	dir, base := splitName(name)
	if r.cache != nil && dir == r.cachePath {
		return r.cache.fd, base, nil
	}
	fd, err := r.openDir(dir, true)
	if err != nil {
		return -1, "", err
	}
	r.dropCache()
	r.cachePath, r.cache = dir, newDirRef(fd)
	return fd, base, nil
}

// cached is the directory parent returned last, for a holder that must keep
// it open after the resolver moves on (hold it).
func (r *resolver) cached() *dirRef { return r.cache }

// dropCache lets go of the cached parent; batched files not made yet keep
// it open until they are.
func (r *resolver) dropCache() {
	if r.cache != nil {
		r.cache.release()
	}
	r.cachePath, r.cache = "", nil
}

// openChildDir opens the directory base in the directory dirfd, refusing a
// symlink (ELOOP) or anything else that is not a directory (ENOTDIR).
func openChildDir(dirfd int, base string) (int, error) {
	return unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

// openDir opens the directory dir (a clean name, relative to the root)
// without following any symlink. With create, missing components are
// created as implicit directories, and with overwrite a non-directory in
// the way is replaced. The caller owns the returned descriptor.
func (r *resolver) openDir(dir string, create bool) (int, error) {
	if dir == "." {
		return r.dupRoot()
	}
	fd, err := unix.Openat2(r.fd, dir, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if err == nil {
		return fd, nil
	}
	// Slow path: one component at a time, so each failure can be named
	// and, where allowed, repaired.
	cur, err := r.dupRoot()
	if err != nil {
		return -1, err
	}
	parts := strings.Split(dir, "/")
	for i, comp := range parts {
		sofar := strings.Join(parts[:i+1], "/")
		next, err := openChildDir(cur, comp)
		if errors.Is(err, unix.ENOENT) && r.book != nil && r.book.unmade(sofar) {
			// A batched file not made yet: make it first, so that
			// it is in the way as it would be in archive order.
			if err := r.book.flush(); err != nil {
				unix.Close(cur)
				return -1, err
			}
			next, err = openChildDir(cur, comp)
		}
		switch {
		case err == nil:
		case errors.Is(err, unix.ENOENT) && create:
			if next, err = r.makeDir(cur, comp, sofar); err != nil {
				unix.Close(cur)
				return -1, err
			}
		case (errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR)) && create && r.overwrite:
			// Spec A16: a symlink (or file) in a lower layer where an upper
			// layer needs a directory is replaced, never followed.
			if err := r.removeAt(cur, comp, sofar); err != nil {
				unix.Close(cur)
				return -1, err
			}
			if next, err = r.makeDir(cur, comp, sofar); err != nil {
				unix.Close(cur)
				return -1, err
			}
		case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR):
			var st unix.Stat_t
			serr := unix.Fstatat(cur, comp, &st, unix.AT_SYMLINK_NOFOLLOW)
			unix.Close(cur)
			if serr == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				return -1, &parentError{msg: fmt.Sprintf("parent %s is a symlink: refusing to follow it", sofar), errno: unix.ELOOP}
			}
			return -1, &parentError{msg: fmt.Sprintf("parent %s is not a directory", sofar), errno: unix.ENOTDIR}
		}
		unix.Close(cur)
		if err != nil {
			return -1, fmt.Errorf("open parent %s: %w", sofar, err)
		}
		cur = next
	}
	return cur, nil
}

// parentError is a parent directory that is not one (a symlink, ELOOP, or
// anything else, ENOTDIR): its message names the parent, and errors.Is
// still tells the two apart for a caller to whom that means "not there".
type parentError struct {
	msg   string
	errno unix.Errno
}

func (e *parentError) Error() string { return e.msg }
func (e *parentError) Unwrap() error { return e.errno }

// makeDir makes the directory comp (known as sofar) in the directory cur,
// as a parent no entry describes, and opens it.
func (r *resolver) makeDir(cur int, comp, sofar string) (int, error) {
	if err := unix.Mkdirat(cur, comp, 0o755); err != nil {
		return -1, fmt.Errorf("create parent %s: %w", sofar, err)
	}
	if r.book != nil {
		r.book.madeDir(sofar)
	}
	fd, err := openChildDir(cur, comp)
	if err != nil {
		return -1, fmt.Errorf("open parent %s: %w", sofar, err)
	}
	return fd, nil
}

// openFile finds the existing regular file name (clean, not ".") without
// following a symlink anywhere, and returns a descriptor of its parent
// directory, which the caller owns, and its last component: a hard link's
// target.
func (r *resolver) openFile(name string) (int, string, error) {
	dir, base := splitName(name)
	fd, err := r.openDir(dir, false)
	if err != nil {
		return -1, "", err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(fd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		unix.Close(fd)
		return -1, "", err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, "", errors.New("not a regular file")
	}
	return fd, base, nil
}

// removeAt removes whatever is at dirfd/base (known to the caller as name),
// recursively for a directory, never following a symlink. A missing entry
// is not an error.
func (r *resolver) removeAt(dirfd int, base, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("stat %s: %w", name, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := removeAllAt(dirfd, base); err != nil {
			return fmt.Errorf("remove %s: %w", name, err)
		}
		if r.cachePath == name || strings.HasPrefix(r.cachePath, name+"/") {
			r.dropCache()
		}
		if r.book != nil {
			r.book.removed(name, true)
		}
		return nil
	}
	if r.book != nil {
		r.book.removed(name, false)
	}
	if err := unix.Unlinkat(dirfd, base, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// removeAllAt removes the directory dirfd/base and everything below it
// through descriptors only.
func removeAllAt(dirfd int, base string) error {
	fd, err := openChildDir(dirfd, base)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), base)
	for {
		names, err := f.Readdirnames(512)
		for _, n := range names {
			var st unix.Stat_t
			if err := unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				if errors.Is(err, unix.ENOENT) {
					continue
				}
				f.Close()
				return err
			}
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				err = removeAllAt(fd, n)
			} else {
				err = unix.Unlinkat(fd, n, 0)
			}
			if err != nil && !errors.Is(err, unix.ENOENT) {
				f.Close()
				return err
			}
		}
		if err == io.EOF || len(names) == 0 {
			break
		}
		if err != nil {
			f.Close()
			return err
		}
	}
	f.Close()
	if err := unix.Unlinkat(dirfd, base, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return nil
}
