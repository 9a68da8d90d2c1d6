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
	"strconv"
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

// readlink returns the target of the symlink e.
func (e *treeEntry) readlink() (string, error) {
	buf := make([]byte, extract.MaxPathLen+1)
	n, err := unix.Readlinkat(e.dirfd, e.base, buf)
	if err != nil {
		return "", fmt.Errorf("readlink %s: %w", e.name, err)
	}
	return string(buf[:n]), nil
}

func ts(t unix.Timespec) time.Time { return time.Unix(t.Unix()) }

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
		var err error
		if h.Linkname, err = e.readlink(); err != nil {
			return nil, err
		}
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

// recordedTreeHash is TreeHash of a tree just imported, taken without a
// walk of its rootfs: rootfs is the extractor's account of it
// (extract.Extractor.Entries). Only the tree's top level is read, and it
// must hold exactly the manifest and rootfs; ok is false otherwise, and
// then only a walk can tell.
func recordedTreeHash(ctx context.Context, tree string, rootfs []extract.Entry) (h string, ok bool, err error) {
	fd, err := unix.Open(tree, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", false, &os.PathError{Op: "open", Path: tree, Err: err}
	}
	f := os.NewFile(uintptr(fd), tree)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return "", false, fmt.Errorf("hash tree %s: %w", tree, err)
	}
	sort.Strings(names)
	if len(names) != 2 || names[0] != "manifest" || names[1] != "rootfs" {
		return "", false, nil
	}
	sum := sha256.New()
	w := bufio.NewWriter(sum)
	// The walk's order: the tree, its manifest, then rootfs (extract's
	// "."), then what is below.
	top := treeEntry{name: ".", dirfd: fd, base: ".", fd: fd}
	man := treeEntry{name: "manifest", dirfd: fd, base: "manifest", fd: -1}
	if err := unix.Fstat(fd, &top.st); err != nil {
		return "", false, fmt.Errorf("hash tree %s: %w", tree, err)
	}
	if err := unix.Fstatat(fd, man.base, &man.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return "", false, fmt.Errorf("hash tree %s: stat manifest: %w", tree, err)
	}
	buf := make([]byte, 64<<10)
	for _, e := range []*treeEntry{&top, &man} {
		if err := hashEntry(w, sha256.New(), buf, e, nil); err != nil {
			return "", false, fmt.Errorf("hash tree %s: %w", tree, err)
		}
	}
	for i := range rootfs {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return "", false, err
			}
		}
		e := rootfs[i]
		if e.Name == "." {
			e.Name = "rootfs"
		} else {
			e.Name = "rootfs/" + e.Name
		}
		if err := writeRecord(w, &e); err != nil {
			return "", false, err
		}
	}
	if err := w.Flush(); err != nil {
		return "", false, err
	}
	return "sha256-" + hex.EncodeToString(sum.Sum(nil)), true, nil
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

// hashEntry writes the record of the walked entry e. Regular files are read
// unless known has their digest.
func hashEntry(w *bufio.Writer, fh hash.Hash, buf []byte, e *treeEntry, known func(string) (extract.Digest, bool)) error {
	r := extract.Entry{Name: e.name, Mode: e.st.Mode, Uid: e.st.Uid, Gid: e.st.Gid, Mtime: e.st.Mtim}
	xfd := -1
	switch e.st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		xfd = e.fd
	case unix.S_IFLNK:
		var err error
		if r.Linkname, err = e.readlink(); err != nil {
			return err
		}
	case unix.S_IFIFO:
	case unix.S_IFREG:
		r.Size = e.st.Size
		var d extract.Digest
		ok := false
		if known != nil {
			d, ok = known(e.name)
			ok = ok && d.Size == r.Size
		}
		if ok {
			// Content and xattrs as written: no need to open the file.
			r.Sum, r.Xattrs = d.Sum, d.Xattrs
			break
		}
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
		r.Size = n
		fh.Sum(r.Sum[:0])
		xfd = fd
	default:
		return nil // devices and sockets are never part of a tree
	}
	if xfd >= 0 {
		var err error
		if r.Xattrs, err = extract.ReadXattrs(xfd); err != nil {
			return fmt.Errorf("xattrs of %s: %w", e.name, err)
		}
	}
	return writeRecord(w, &r)
}

// writeRecord writes the line TreeHash hashes for one entry: name, type,
// permissions, owner, and by type the mtime and symlink target (symlinks,
// FIFOs), the size, mtime and content digest (regular files) and the
// extended attributes (regular files and directories).
//
// The line is built with appends, not fmt: an import hashes one per file,
// after its last byte has arrived.
func writeRecord(w *bufio.Writer, e *extract.Entry) error {
	var typ byte
	switch e.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		typ = tar.TypeDir
	case unix.S_IFREG:
		typ = tar.TypeReg
	case unix.S_IFLNK:
		typ = tar.TypeSymlink
	case unix.S_IFIFO:
		typ = tar.TypeFifo
	default:
		return nil
	}
	var a [256]byte
	b := append(a[:0], e.Name...)
	b = append(b, 0, typ, ' ')
	b = strconv.AppendUint(b, uint64(e.Mode&0o7777), 8)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(e.Uid), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(e.Gid), 10)
	switch typ {
	case tar.TypeSymlink:
		b = append(b, ' ')
		b = strconv.AppendInt(b, e.Mtime.Nano(), 10)
		b = append(b, " -> "...)
		b = append(b, e.Linkname...)
	case tar.TypeFifo:
		b = append(b, ' ')
		b = strconv.AppendInt(b, e.Mtime.Nano(), 10)
	case tar.TypeReg:
		b = append(b, ' ')
		b = strconv.AppendInt(b, e.Size, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, e.Mtime.Nano(), 10)
		b = append(b, ' ')
		b = hex.AppendEncode(b, e.Sum[:])
		b = appendXattrRecords(b, e.Xattrs)
	case tar.TypeDir:
		b = appendXattrRecords(b, e.Xattrs)
	}
	b = append(b, '\n')
	_, err := w.Write(b)
	return err
}

// appendXattrRecords appends the extended attributes xs (sorted by name) to
// an entry's record.
func appendXattrRecords(b []byte, xs [][2]string) []byte {
	for _, kv := range xs {
		b = append(b, ' ')
		b = append(b, kv[0]...)
		b = append(b, '=')
		b = hex.AppendEncode(b, []byte(kv[1]))
	}
	return b
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

// ownDirsLog is the file an import writes the image's explicit directories
// to as they come, in readOwnDirs's format, so that a million of them cost
// no memory unless the manifest asks for them (issue 21).
type ownDirsLog struct {
	f *os.File
	w *bufio.Writer
}

func newOwnDirsLog(path string) (*ownDirsLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	return &ownDirsLog{f: f, w: bufio.NewWriterSize(f, 16<<10)}, nil
}

func (o *ownDirsLog) add(name string) error {
	if _, err := o.w.WriteString(name); err != nil {
		return fmt.Errorf("record directory %s: %w", name, err)
	}
	return o.w.WriteByte(0)
}

// read returns the directories logged.
func (o *ownDirsLog) read() (map[string]bool, error) {
	if err := o.w.Flush(); err != nil {
		return nil, err
	}
	return readOwnDirs(o.f.Name())
}

// moveTo puts the log at path, for a later render.
func (o *ownDirsLog) moveTo(path string) error {
	if err := o.w.Flush(); err != nil {
		return err
	}
	return os.Rename(o.f.Name(), path)
}

func (o *ownDirsLog) close() { o.f.Close() }

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
