package store

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/acirun/acirun/stage0/store/extract"
	"golang.org/x/sys/unix"
)

// treeEntry is one file met by walkTree.
type treeEntry struct {
	name  string // relative to the walked root, "." for the root itself
	dirfd int    // the directory holding it (the root's own fd for ".")
	base  string // its name in dirfd ("." for the root)
	fd    int    // for directories: an open descriptor of the directory
	st    unix.Stat_t
}

// walkTree calls fn for root and everything below it, parents before
// children and names in byte order, without following any symlink.
func walkTree(ctx context.Context, root string, fn func(e *treeEntry) error) error {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: root, Err: err}
	}
	e := &treeEntry{name: ".", dirfd: fd, base: ".", fd: fd}
	if err := unix.Fstat(fd, &e.st); err != nil {
		unix.Close(fd)
		return err
	}
	return walkDir(ctx, e, fn)
}

// walkDir reports the directory e and walks its children; it closes e.fd.
func walkDir(ctx context.Context, e *treeEntry, fn func(*treeEntry) error) error {
	f := os.NewFile(uintptr(e.fd), e.name)
	defer f.Close()
	if err := fn(e); err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read directory %s: %w", e.name, err)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := &treeEntry{dirfd: e.fd, base: n, fd: -1, name: n}
		if e.name != "." {
			c.name = e.name + "/" + n
		}
		if err := unix.Fstatat(e.fd, n, &c.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("stat %s: %w", c.name, err)
		}
		if c.st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err := fn(c); err != nil {
				return err
			}
			continue
		}
		c.fd, err = unix.Openat(e.fd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", c.name, err)
		}
		if err := walkDir(ctx, c, fn); err != nil {
			return err
		}
	}
	return nil
}

func ts(t unix.Timespec) time.Time { return time.Unix(t.Sec, t.Nsec) }

// header describes e as a tar header (without xattrs).
func (e *treeEntry) header() (*tar.Header, error) {
	h := &tar.Header{
		Name:       e.name,
		Mode:       int64(e.st.Mode & 0o7777),
		Uid:        int(e.st.Uid),
		Gid:        int(e.st.Gid),
		ModTime:    ts(e.st.Mtim),
		AccessTime: ts(e.st.Atim),
	}
	switch e.st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		h.Typeflag = tar.TypeDir
	case unix.S_IFREG:
		h.Typeflag = tar.TypeReg
		h.Size = e.st.Size
	case unix.S_IFLNK:
		h.Typeflag = tar.TypeSymlink
		buf := make([]byte, extract.MaxPathLen+1)
		n, err := unix.Readlinkat(e.dirfd, e.base, buf)
		if err != nil {
			return nil, fmt.Errorf("readlink %s: %w", e.name, err)
		}
		h.Linkname = string(buf[:n])
	case unix.S_IFIFO:
		h.Typeflag = tar.TypeFifo
	default:
		return nil, nil // devices and sockets are never part of a tree
	}
	return h, nil
}

func xattrRecords(fd int) (map[string]string, error) {
	xs, err := extract.ReadXattrs(fd)
	if err != nil || len(xs) == 0 {
		return nil, err
	}
	m := make(map[string]string, len(xs))
	for _, kv := range xs {
		m["SCHILY.xattr."+kv[0]] = kv[1]
	}
	return m, nil
}

// copyTree adds everything below src (itself included, as ".") to x. With
// link, regular files become hard links to src's files (trees in the
// store share content); otherwise they are copied. If explicit is not nil,
// directories not in it are only parents: they are created if missing but
// do not change the metadata of a directory a lower layer put there.
func copyTree(ctx context.Context, src string, x *extract.Extractor, link bool, explicit map[string]bool) error {
	return walkTree(ctx, src, func(e *treeEntry) error {
		h, err := e.header()
		if err != nil || h == nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if explicit != nil && !explicit[e.name] {
				return x.Implicit(ctx, e.name)
			}
			if h.PAXRecords, err = xattrRecords(e.fd); err != nil {
				return fmt.Errorf("%s: %w", e.name, err)
			}
			return x.Add(ctx, h, nil)
		case tar.TypeReg:
			if link {
				return x.LinkFrom(ctx, e.name, e.dirfd, e.base)
			}
			fd, err := unix.Openat(e.dirfd, e.base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("open %s: %w", e.name, err)
			}
			f := os.NewFile(uintptr(fd), e.name)
			defer f.Close()
			if h.PAXRecords, err = xattrRecords(fd); err != nil {
				return fmt.Errorf("%s: %w", e.name, err)
			}
			return x.Add(ctx, h, f)
		}
		return x.Add(ctx, h, nil)
	})
}

// TreeHash hashes a tree (a rendered image directory, or any directory):
// every entry's name, type, mode, owner, kept extended attributes, symlink
// target, and for regular files size, mtime and a SHA-256 of the content.
// Directory times are left out (they change with every entry made in them).
// The result is "sha256-" and 64 hex digits.
func TreeHash(ctx context.Context, dir string) (string, error) {
	return treeHash(ctx, dir, nil)
}

// treeHash is TreeHash taking the content digests of regular files from
// known (names relative to dir) when it has them with the right size,
// instead of reading the files: import records them as it writes.
func treeHash(ctx context.Context, dir string, known func(name string) (extract.Digest, bool)) (string, error) {
	h := sha256.New()
	if err := writeTreeRecords(ctx, dir, h, known); err != nil {
		return "", err
	}
	return "sha256-" + hex.EncodeToString(h.Sum(nil)), nil
}

// writeTreeRecords writes the text TreeHash hashes: one line per entry.
func writeTreeRecords(ctx context.Context, dir string, out io.Writer, known func(string) (extract.Digest, bool)) error {
	w := bufio.NewWriter(out)
	buf := make([]byte, 1<<20)
	fh := sha256.New()
	err := walkTree(ctx, dir, func(e *treeEntry) error {
		return hashEntry(w, fh, buf, e, known)
	})
	if err != nil {
		return fmt.Errorf("hash tree %s: %w", dir, err)
	}
	return w.Flush()
}

func hashEntry(w io.Writer, fh hash.Hash, buf []byte, e *treeEntry, known func(string) (extract.Digest, bool)) error {
	hdr, err := e.header()
	if err != nil || hdr == nil {
		return err
	}
	fmt.Fprintf(w, "%s\x00%c %o %d %d", e.name, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid)
	var xfd = -1
	switch hdr.Typeflag {
	case tar.TypeDir:
		xfd = e.fd
	case tar.TypeSymlink:
		fmt.Fprintf(w, " %d -> %s", hdr.ModTime.UnixNano(), hdr.Linkname)
	case tar.TypeFifo:
		fmt.Fprintf(w, " %d", hdr.ModTime.UnixNano())
	case tar.TypeReg:
		var d extract.Digest
		ok := false
		if known != nil {
			d, ok = known(e.name)
			ok = ok && d.Size == hdr.Size
		}
		// Known: content and xattrs as written, no need to open the file.
		if !ok {
			fd, err := unix.Openat(e.dirfd, e.base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("open %s: %w", e.name, err)
			}
			f := os.NewFile(uintptr(fd), e.name)
			defer f.Close()
			fh.Reset()
			n, err := io.CopyBuffer(fh, struct{ io.Reader }{f}, buf)
			if err != nil {
				return fmt.Errorf("read %s: %w", e.name, err)
			}
			d.Size = n
			fh.Sum(d.Sum[:0])
			xfd = fd
		}
		fmt.Fprintf(w, " %d %d %x", d.Size, hdr.ModTime.UnixNano(), d.Sum)
		if ok {
			writeXattrRecords(w, d.Xattrs)
		}
	}
	if xfd >= 0 {
		xs, err := extract.ReadXattrs(xfd)
		if err != nil {
			return fmt.Errorf("xattrs of %s: %w", e.name, err)
		}
		writeXattrRecords(w, xs)
	}
	_, err = io.WriteString(w, "\n")
	return err
}

// writeXattrRecords appends the extended attributes xs (sorted by name) to
// an entry's record.
func writeXattrRecords(w io.Writer, xs [][2]string) {
	for _, kv := range xs {
		fmt.Fprintf(w, " %s=%x", kv[0], kv[1])
	}
}

const ownDirsFile = "owndirs"

// writeOwnDirs records the image's explicit directories in its layer, for
// the whitelist at render time.
func writeOwnDirs(path string, own map[string]bool) error {
	names := make([]string, 0, len(own))
	for n := range own {
		names = append(names, n)
	}
	sort.Strings(names)
	return os.WriteFile(path, []byte(strings.Join(names, "\x00")), 0o600)
}

func readOwnDirs(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	own := make(map[string]bool)
	for _, n := range strings.Split(string(b), "\x00") {
		if n != "" {
			own[n] = true
		}
	}
	return own, nil
}

var errNotEmpty = errors.New("directory is not empty")

// prepareTarget makes dir (which may exist but must be empty) for
// ExtractTo and RenderTo.
func prepareTarget(dir string) error {
	if err := os.Mkdir(dir, 0o755); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrExist) {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("%s: %w", dir, errNotEmpty)
	}
	return nil
}
