package extract

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Bounds on names that hold whatever the options say. They are the Linux
// PATH_MAX and NAME_MAX.
const (
	MaxPathLen = 4096
	MaxNameLen = 255
	// MaxXattrs is the most extended attributes one entry may carry.
	MaxXattrs = 128
	// maxXattrValue is the kernel's XATTR_SIZE_MAX.
	maxXattrValue = 64 << 10
)

// Defaults for the zero Options fields.
const (
	DefaultMaxEntries = 1 << 20
	DefaultMaxBytes   = 64 << 30
)

// Options bound and shape an extraction.
type Options struct {
	// MaxEntries is the most entries (of any type) accepted; 0 means
	// DefaultMaxEntries.
	MaxEntries int
	// MaxBytes is the most bytes of regular-file content written in total;
	// 0 means DefaultMaxBytes.
	MaxBytes int64
	// Overwrite lets a later entry replace an earlier one (layering, spec
	// A16) instead of failing as a duplicate.
	Overwrite bool
	// NoOwnership skips restoring owners (for an unprivileged caller) and
	// then drops setuid and setgid bits.
	NoOwnership bool
	// HashContent records a SHA-256 of every regular file's content as it
	// is written (see Digest), so that a tree hash need not read the files
	// back.
	HashContent bool
	// Record keeps every entry's final metadata as the kernel reports it
	// (see Entries), so that a tree hash need not walk the tree after
	// the extraction: in an import that walk was the longest step left
	// once the last byte had arrived. It implies HashContent, and only
	// strict extraction (no Overwrite) records.
	Record bool
}

// Entry is one entry of an extracted tree as Entries reports it: what a tree
// hash takes of it. Stat fields are read back with fstat once the entry's
// metadata is final, not derived from the archive, so that they are what a
// walk of the tree finds (the file system may round times, the group may
// come from a setgid parent).
type Entry struct {
	// Name is relative to the root, "." for the root itself.
	Name string
	// Mode is st_mode: the type and permission bits.
	Mode     uint32
	Uid, Gid uint32
	// Mtime is the modification time (tree hashes leave directories' out:
	// they change with every entry made in them).
	Mtime unix.Timespec
	// Size, Sum: a regular file's length and content SHA-256.
	Size int64
	Sum  [sha256.Size]byte
	// Linkname is a symlink's target.
	Linkname string
	// Xattrs are the extended attributes set (regular files and
	// directories), sorted by name; a new inode has no others that
	// KeepXattr accepts.
	Xattrs [][2]string
}

// Digest is the SHA-256 and length of a regular file's content, and the
// extended attributes it was given: what a tree hash needs of a file besides
// its stat, so that it need not open the file.
type Digest struct {
	Sum  [sha256.Size]byte
	Size int64
	// Xattrs are the extended attributes set on the file, sorted by name;
	// being newly created, it has no others that KeepXattr accepts.
	Xattrs [][2]string
}

// Result says what an extraction did.
type Result struct {
	// Entries counts the entries handed to Add, skipped ones included.
	Entries int
	// Bytes is the regular-file content written.
	Bytes int64
	// SkippedDevices names the character and block devices that were not
	// created (at most the first 1000).
	SkippedDevices []string
	// DroppedXattrs counts extended attributes not restored because of
	// their namespace.
	DroppedXattrs int
}

// Kinds of paths remembered in strict mode to refuse duplicates.
const (
	seenImplicitDir = 'i'
	seenDir         = 'd'
	seenFile        = 'f'
	seenOther       = 'o'
)

// meta is the metadata of a directory, applied in Finish.
type meta struct {
	mode     uint32
	uid, gid int
	atime    time.Time
	mtime    time.Time
	xattrs   [][2]string
	implicit bool
}

// Extractor writes entries below one root directory. It is not safe for
// concurrent use; one archive is one goroutine's work. In strict mode it
// hands small files to goroutines of its own (see writer_linux.go); they
// are made by the time Finish, Prune, Digest or Close returns, and a
// failure to make one is returned by a later call, naming the file.
type Extractor struct {
	rootFD int
	opts   Options
	seen   map[string]byte
	dirs   map[string]*meta
	res    Result

	// The parent directory of the last entry, kept open: entries come
	// in runs per directory.
	cachePath string
	cache     *dirRef
	buf       []byte

	// The writers of small files (see writer_linux.go), started with the
	// first one, and the first error they reported.
	w        *fileWriter
	writeErr error

	// With HashContent: the digests of finished files, and the files whose
	// content hasher is still working on (name → content ID, and the size
	// and xattrs of each ID).
	hasher  *contentHasher
	nextID  int
	digests map[string]Digest
	pending map[string]int
	known   map[int]Digest

	// With Record: whether recording still holds, the entries made so far
	// (directories are recorded by Finish, which then sorts them all), and
	// whether Finish has run.
	recording bool
	recs      []Entry
	finished  bool

	// The owner a new file gets, whether that is known (ownOwner), and
	// the process's umask, to spare a chown and a chmod per file.
	uid, gid int
	ownOwner bool
	umask    uint32
}

// processUmask reads the process's umask without changing it (umask(2) can
// only set it, and the setting is process-wide); it answers 0o777, "every
// bit may be cleared", if it cannot tell.
func processUmask() uint32 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0o777
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Umask:"); ok {
			if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return uint32(m) & 0o777
			}
		}
	}
	return 0o777
}

// New opens root, which must be an existing directory, for extraction.
// Entry names given to Add are relative to root. Close releases it.
func New(root string, opts Options) (*Extractor, error) {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Overwrite {
		opts.Record = false
	}
	if opts.Record {
		opts.HashContent = true
	}
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "stat", Path: root, Err: err}
	}
	x := &Extractor{
		rootFD: fd,
		opts:   opts,
		dirs:   make(map[string]*meta),
		uid:    os.Geteuid(),
		gid:    os.Getegid(),
		umask:  processUmask(),
	}
	// Every directory below the root is made by the extractor itself
	// (unless it layers over an existing tree), so a new file gets the
	// extractor's user and, whether the file system takes the group from
	// the process or (setgid directory, grpid mount) from the parent, the
	// root's group.
	x.ownOwner = !opts.Overwrite && int(st.Gid) == x.gid
	if !opts.Overwrite {
		x.seen = make(map[string]byte)
	}
	x.recording = opts.Record
	if opts.HashContent {
		x.digests = make(map[string]Digest)
		x.pending = make(map[string]int)
		x.known = make(map[int]Digest)
	}
	return x, nil
}

// Digest returns the content digest of the regular file (or hard link)
// name as written by Add, when Options.HashContent is set. Entries replaced
// later (Overwrite) or added by LinkFrom have none.
func (x *Extractor) Digest(name string) (Digest, bool) {
	x.settle()
	d, ok := x.digests[name]
	return d, ok
}

// settle waits for the content hasher and moves its results into digests.
func (x *Extractor) settle() {
	x.drainWriters()
	if x.hasher == nil {
		return
	}
	sums := x.hasher.wait()
	x.hasher = nil
	for name, id := range x.pending {
		if sum, ok := sums[id]; ok {
			d := x.known[id]
			d.Sum = sum
			x.digests[name] = d
		}
	}
	clear(x.pending)
	clear(x.known)
}

// forget drops what is known of name's content.
func (x *Extractor) forget(name string) {
	delete(x.digests, name)
	delete(x.pending, name)
}

// forgetBelow drops what is known of the content of everything below the
// directory dir.
func (x *Extractor) forgetBelow(dir string) {
	for n := range x.digests {
		if strings.HasPrefix(n, dir+"/") {
			delete(x.digests, n)
		}
	}
	for n := range x.pending {
		if strings.HasPrefix(n, dir+"/") {
			delete(x.pending, n)
		}
	}
}

// record adds the entry name, whose metadata is final, as the file system
// reports it (dirfd and base name it; base "" means dirfd itself).
func (x *Extractor) record(name string, dirfd int, base string, e Entry) error {
	if !x.recording {
		return nil
	}
	if err := statEntry(dirfd, base, &e); err != nil {
		return err
	}
	e.Name = name
	x.recs = append(x.recs, e)
	return nil
}

// statEntry fills in e's metadata from the entry base in the directory dirfd
// (dirfd itself if base is empty), as the kernel reports it.
func statEntry(dirfd int, base string, e *Entry) error {
	var st unix.Stat_t
	var err error
	if base == "" {
		err = unix.Fstat(dirfd, &st)
	} else {
		err = unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	e.Mode, e.Uid, e.Gid, e.Mtime = st.Mode, st.Uid, st.Gid, st.Mtim
	if st.Mode&unix.S_IFMT == unix.S_IFREG {
		e.Size = st.Size
	}
	return nil
}

// stopRecording ends Record for this extraction: the tree is changed in a
// way the records do not follow.
func (x *Extractor) stopRecording() {
	x.recording, x.recs = false, nil
}

// Entries returns every entry of the extracted tree (the root included),
// parents before children and the names in each directory in byte order,
// as a walk of the tree would find them. It is for after Finish; ok is false
// if Options.Record was not set (or not possible: Overwrite), or the tree
// was changed in a way the records do not follow (Prune, LinkFrom,
// Implicit, an Add after Finish), and then only a walk can tell. The slice
// is the extractor's own: read it, do not change it.
func (x *Extractor) Entries() (entries []Entry, ok bool) {
	if !x.recording || !x.finished {
		return nil, false
	}
	x.settle()
	for i := range x.recs {
		e := &x.recs[i]
		if e.Mode&unix.S_IFMT == unix.S_IFREG {
			d, ok := x.digests[e.Name]
			if !ok || d.Size != e.Size {
				return nil, false
			}
			e.Sum, e.Xattrs = d.Sum, d.Xattrs
		}
	}
	return x.recs, true
}

// Close releases the root directory. It does not remove anything.
func (x *Extractor) Close() error {
	x.stopWriters()
	x.settle()
	x.dropCache()
	if x.rootFD < 0 {
		return nil
	}
	err := unix.Close(x.rootFD)
	x.rootFD = -1
	return err
}

// Result returns the counters so far.
func (x *Extractor) Result() Result { return x.res }

// CleanName turns an archive entry name into a clean relative path (“.” for
// the root itself), refusing absolute names, “..” components, NUL bytes and
// over-long names or components.
func CleanName(name string) (string, error) {
	switch {
	case name == "":
		return "", errors.New("empty name")
	case strings.IndexByte(name, 0) >= 0:
		return "", errors.New("name contains a NUL byte")
	case len(name) > MaxPathLen:
		return "", fmt.Errorf("name is %d bytes long, more than %d", len(name), MaxPathLen)
	case name[0] == '/':
		return "", errors.New("absolute name")
	}
	parts := strings.Split(name, "/")
	out := parts[:0]
	for _, p := range parts {
		switch {
		case p == "" || p == ".":
			continue
		case p == "..":
			return "", errors.New(`name has a ".." component`)
		case len(p) > MaxNameLen:
			return "", fmt.Errorf("name component is %d bytes long, more than %d", len(p), MaxNameLen)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return ".", nil
	}
	return strings.Join(out, "/"), nil
}

// Add writes one entry. body is read for regular files only (exactly
// hdr.Size bytes). Any error leaves the root in an unspecified state: the
// caller is expected to throw the whole directory away.
func (x *Extractor) Add(ctx context.Context, hdr *tar.Header, body io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // archive-wide PAX defaults, not a file
	}
	if x.writeErr != nil {
		return x.writeErr
	}
	if x.finished {
		x.stopRecording() // Finish has recorded the directories already
	}
	x.res.Entries++
	if x.res.Entries > x.opts.MaxEntries {
		return fmt.Errorf("extract %q: more than %d entries", hdr.Name, x.opts.MaxEntries)
	}
	name, err := CleanName(hdr.Name)
	if err != nil {
		return fmt.Errorf("extract %q: %w", hdr.Name, err)
	}
	if err := x.add(name, hdr, body); err != nil {
		if x.writeErr != nil && errors.Is(err, x.writeErr) {
			return x.writeErr // it names its own entry, an earlier one
		}
		return fmt.Errorf("extract %q: %w", hdr.Name, err)
	}
	return nil
}

func (x *Extractor) add(name string, hdr *tar.Header, body io.Reader) error {
	if name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return errors.New("the root must be a directory")
		}
		if x.seen != nil {
			if x.seen["."] == seenDir {
				return errors.New("duplicate entry")
			}
			x.seen["."] = seenDir
		}
		return x.recordDir(".", hdr)
	}
	if x.seen != nil {
		if k, ok := x.seen[name]; ok && !(k == seenImplicitDir && hdr.Typeflag == tar.TypeDir) {
			if k == seenImplicitDir {
				return errors.New("a parent directory of earlier entries must stay a directory")
			}
			return errors.New("duplicate entry")
		}
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse:
		return x.file(name, hdr, body)
	case tar.TypeDir:
		return x.dir(name, hdr)
	case tar.TypeSymlink:
		return x.symlink(name, hdr)
	case tar.TypeLink:
		return x.hardlink(name, hdr)
	case tar.TypeChar, tar.TypeBlock:
		if len(x.res.SkippedDevices) < 1000 {
			x.res.SkippedDevices = append(x.res.SkippedDevices, name)
		}
		return nil
	case tar.TypeFifo:
		return x.fifo(name, hdr)
	}
	return fmt.Errorf("unsupported entry type %q", hdr.Typeflag)
}

func (x *Extractor) mark(name string, k byte) {
	if x.seen != nil {
		x.seen[name] = k
	}
}

// parent returns a borrowed descriptor of name's parent directory (created
// as needed) and name's last component.
func (x *Extractor) parent(name string) (int, string, error) {
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	if x.cache != nil && dir == x.cachePath {
		return x.cache.fd, base, nil
	}
	fd, err := x.openDir(dir, true)
	if err != nil {
		return -1, "", err
	}
	x.dropCache()
	x.cachePath, x.cache = dir, newDirRef(fd)
	return fd, base, nil
}

// dropCache lets go of the cached parent; batched files not made yet keep
// it open until they are.
func (x *Extractor) dropCache() {
	if x.cache != nil {
		x.cache.release()
	}
	x.cachePath, x.cache = "", nil
}

// openDir opens the directory dir (relative to the root) without following
// any symlink. With create, missing components are created as implicit
// directories, and in Overwrite mode a non-directory in the way is replaced.
// The caller owns the returned descriptor.
func (x *Extractor) openDir(dir string, create bool) (int, error) {
	if dir == "." {
		return unix.FcntlInt(uintptr(x.rootFD), unix.F_DUPFD_CLOEXEC, 0)
	}
	fd, err := unix.Openat2(x.rootFD, dir, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if err == nil {
		return fd, nil
	}
	// Slow path: one component at a time, so each failure can be named
	// and, where allowed, repaired.
	cur, err := unix.FcntlInt(uintptr(x.rootFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	parts := strings.Split(dir, "/")
	for i, comp := range parts {
		sofar := strings.Join(parts[:i+1], "/")
		next, err := unix.Openat(cur, comp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) && x.w != nil && x.seen[sofar] == seenFile {
			// A batched file not made yet: make it first, so that
			// it is in the way as it would be in archive order.
			if err := x.drainWriters(); err != nil {
				unix.Close(cur)
				return -1, err
			}
			next, err = unix.Openat(cur, comp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
		switch {
		case err == nil:
		case errors.Is(err, unix.ENOENT) && create:
			if err := unix.Mkdirat(cur, comp, 0o755); err != nil {
				unix.Close(cur)
				return -1, fmt.Errorf("create parent %s: %w", sofar, err)
			}
			x.mark(sofar, seenImplicitDir)
			x.dirs[sofar] = &meta{mode: 0o755, implicit: true}
			next, err = unix.Openat(cur, comp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		case (errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR)) && create && x.opts.Overwrite:
			// Spec A16: a symlink (or file) in a lower layer where an upper
			// layer needs a directory is replaced, never followed.
			if err := x.removeAt(cur, comp, sofar); err != nil {
				unix.Close(cur)
				return -1, err
			}
			if err := unix.Mkdirat(cur, comp, 0o755); err != nil {
				unix.Close(cur)
				return -1, fmt.Errorf("create parent %s: %w", sofar, err)
			}
			x.dirs[sofar] = &meta{mode: 0o755, implicit: true}
			next, err = unix.Openat(cur, comp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR):
			var st unix.Stat_t
			serr := unix.Fstatat(cur, comp, &st, unix.AT_SYMLINK_NOFOLLOW)
			unix.Close(cur)
			if serr == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				return -1, fmt.Errorf("parent %s is a symlink: refusing to follow it", sofar)
			}
			return -1, fmt.Errorf("parent %s is not a directory", sofar)
		}
		unix.Close(cur)
		if err != nil {
			return -1, fmt.Errorf("open parent %s: %w", sofar, err)
		}
		cur = next
	}
	return cur, nil
}

// removeAt removes whatever is at dirfd/base (known to the caller as name),
// recursively for a directory, never following a symlink. A missing entry
// is not an error.
func (x *Extractor) removeAt(dirfd int, base, name string) error {
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
		if x.cachePath == name || strings.HasPrefix(x.cachePath, name+"/") {
			x.dropCache()
		}
		for d := range x.dirs {
			if d == name || strings.HasPrefix(d, name+"/") {
				delete(x.dirs, d)
			}
		}
		x.forgetBelow(name)
		return nil
	}
	x.forget(name)
	if err := unix.Unlinkat(dirfd, base, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// removeAllAt removes the directory dirfd/base and everything below it
// through descriptors only.
func removeAllAt(dirfd int, base string) error {
	fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
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

// prepare finds the parent of a non-directory entry and, in Overwrite mode,
// clears the way.
func (x *Extractor) prepare(name string) (int, string, error) {
	pfd, base, err := x.parent(name)
	if err != nil {
		return -1, "", err
	}
	if x.opts.Overwrite {
		if err := x.removeAt(pfd, base, name); err != nil {
			return -1, "", err
		}
	}
	return pfd, base, nil
}

func (x *Extractor) perm(hdr *tar.Header) uint32 {
	p := uint32(hdr.Mode) & 0o7777
	if x.opts.NoOwnership {
		p &^= unix.S_ISUID | unix.S_ISGID
	}
	return p
}

func checkIDs(hdr *tar.Header) error {
	if hdr.Uid < 0 || hdr.Uid > 1<<32-2 || hdr.Gid < 0 || hdr.Gid > 1<<32-2 {
		return fmt.Errorf("owner %d:%d out of range", hdr.Uid, hdr.Gid)
	}
	return nil
}

// xattrs returns the extended attributes of hdr that are restored, counting
// the dropped ones.
func (x *Extractor) xattrs(hdr *tar.Header) ([][2]string, error) {
	var out [][2]string
	n := 0
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		n++
		if n > MaxXattrs {
			return nil, fmt.Errorf("more than %d extended attributes", MaxXattrs)
		}
		if len(v) > maxXattrValue || len(name) > 255 || name == "" {
			return nil, fmt.Errorf("extended attribute %.64q too large", name)
		}
		if !KeepXattr(name) {
			x.res.DroppedXattrs++
			continue
		}
		out = append(out, [2]string{name, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out, nil
}

// KeepXattr says whether an extended attribute of an image is restored: only
// user.* and security.capability are (see the package documentation).
func KeepXattr(name string) bool {
	return strings.HasPrefix(name, "user.") && len(name) > len("user.") || name == "security.capability"
}

// setXattrs sets the extended attributes xs on fd and returns those that
// were set, squeezed to the front of xs: user.* attributes on a file system
// without them are left out.
func setXattrs(fd int, name string, xs [][2]string) ([][2]string, error) {
	n := 0
	for _, kv := range xs {
		err := unix.Fsetxattr(fd, kv[0], []byte(kv[1]), 0)
		switch {
		case err == nil:
			xs[n] = kv
			n++
		case kv[0] != "security.capability" && (errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP)):
			// The file system has no user xattrs; nothing to keep them in.
		default:
			return nil, fmt.Errorf("set extended attribute %s on %s: %w", kv[0], name, err)
		}
	}
	return xs[:n], nil
}

func times(hdr *tar.Header) []unix.Timespec {
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	return []unix.Timespec{timespec(at), timespec(hdr.ModTime)}
}

// timespec converts without UnixNano's overflow for dates far from now; the
// kernel clamps to what the file system can store.
func timespec(t time.Time) unix.Timespec {
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// fdWriter writes to a bare descriptor: a file made by the extractor is
// never wrapped in an os.File, whose construction costs an fcntl and an
// allocation with a finalizer, for each of thousands of files.
type fdWriter int

func (w fdWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Write(int(w), p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.ErrShortWrite
		}
		n += m
	}
	return n, nil
}

// needsChown says whether an entry the extractor made must be given the
// owner uid:gid: not without ownership, nor when it has that owner already,
// being the extractor's own (see New).
func (x *Extractor) needsChown(uid, gid int) bool {
	return !x.opts.NoOwnership && !(x.ownOwner && uid == x.uid && gid == x.gid)
}

// shortContent is the error for a file whose body ended after n of its size
// bytes, whichever goroutine makes it.
func shortContent(n, size int64) error {
	return fmt.Errorf("content ends after %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
}

func (x *Extractor) file(name string, hdr *tar.Header, body io.Reader) error {
	f, err := x.planFile(name, hdr)
	if err != nil {
		return err
	}
	pfd, base, err := x.prepare(name)
	if err != nil {
		return err
	}
	f.base = base
	// In strict mode, small files go to the writers (see
	// writer_linux.go); with Overwrite, order is everything.
	if x.seen != nil && f.size <= maxBatched {
		return x.batchFile(&f, body)
	}
	fd, err := f.create(pfd)
	if err != nil {
		return err
	}
	x.mark(name, seenFile)
	x.forget(name)
	if x.opts.HashContent && x.hasher == nil {
		x.hasher = newContentHasher()
	}
	id := x.nextID
	x.nextID++
	if f.size > 0 {
		n, err := x.copyContent(fd, id, body, f.size)
		x.res.Bytes += n
		if err != nil {
			unix.Close(fd)
			return fmt.Errorf("write: %w", err)
		}
		if n != f.size {
			unix.Close(fd)
			return shortContent(n, f.size)
		}
	}
	if x.hasher != nil {
		x.hasher.end(id)
	}
	xs, err := f.complete(fd, pfd)
	if err != nil {
		return err
	}
	if x.hasher != nil {
		x.pending[name] = id
		x.known[id] = Digest{Size: f.size, Xattrs: xs}
	}
	return x.record(name, pfd, base, Entry{})
}

// copyContent writes size bytes of body to fd, through the content hasher's
// buffers (which hash it on the way) when there is one.
func (x *Extractor) copyContent(fd, id int, body io.Reader, size int64) (int64, error) {
	var done int64
	for done < size {
		var b []byte
		if x.hasher != nil {
			b = x.hasher.buffer()
		} else {
			if x.buf == nil {
				x.buf = make([]byte, 256<<10)
			}
			b = x.buf
		}
		if int64(len(b)) > size-done {
			b = b[:size-done]
		}
		n, err := body.Read(b)
		if n > 0 {
			if _, werr := fdWriter(fd).Write(b[:n]); werr != nil {
				return done, werr
			}
			if x.hasher != nil {
				x.hasher.add(id, n)
			}
			done += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

func (x *Extractor) recordDir(name string, hdr *tar.Header) error {
	if err := checkIDs(hdr); err != nil {
		return err
	}
	xs, err := x.xattrs(hdr)
	if err != nil {
		return err
	}
	x.dirs[name] = &meta{
		mode:   x.perm(hdr),
		uid:    hdr.Uid,
		gid:    hdr.Gid,
		atime:  hdr.AccessTime,
		mtime:  hdr.ModTime,
		xattrs: xs,
	}
	return nil
}

func (x *Extractor) dir(name string, hdr *tar.Header) error {
	pfd, base, err := x.parent(name)
	if err != nil {
		return err
	}
	if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
		if !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("mkdir: %w", err)
		}
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("stat: %w", err)
		}
		switch {
		case st.Mode&unix.S_IFMT == unix.S_IFDIR && (x.seen == nil || x.seen[name] == seenImplicitDir):
			// Merge with the directory already there.
		case x.opts.Overwrite:
			if err := x.removeAt(pfd, base, name); err != nil {
				return err
			}
			if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
				return fmt.Errorf("mkdir: %w", err)
			}
		default:
			return errors.New("duplicate entry")
		}
	}
	x.mark(name, seenDir)
	return x.recordDir(name, hdr)
}

// Implicit makes sure the directory name exists, like a parent that no
// entry describes: a missing one is created with mode 0755, an existing
// directory is left as it is (its metadata included), and in Overwrite mode
// a non-directory in the way is replaced. Layering uses it for directories
// an upper image only has as parents of its entries.
func (x *Extractor) Implicit(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	clean, err := CleanName(name)
	if err != nil {
		return fmt.Errorf("directory %q: %w", name, err)
	}
	if clean == "." {
		return nil
	}
	x.stopRecording()
	fd, err := x.openDir(clean, true)
	if err != nil {
		return fmt.Errorf("directory %q: %w", name, err)
	}
	return unix.Close(fd)
}

func (x *Extractor) symlink(name string, hdr *tar.Header) error {
	target := hdr.Linkname
	switch {
	case target == "":
		return errors.New("symlink with an empty target")
	case len(target) > MaxPathLen:
		return fmt.Errorf("symlink target is %d bytes long, more than %d", len(target), MaxPathLen)
	case strings.IndexByte(target, 0) >= 0:
		return errors.New("symlink target contains a NUL byte")
	}
	if err := checkIDs(hdr); err != nil {
		return err
	}
	pfd, base, err := x.prepare(name)
	if err != nil {
		return err
	}
	if err := unix.Symlinkat(target, pfd, base); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return errors.New("duplicate entry")
		}
		return fmt.Errorf("symlink: %w", err)
	}
	x.mark(name, seenOther)
	if !x.opts.NoOwnership {
		if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("lchown: %w", err)
		}
	}
	if err := unix.UtimesNanoAt(pfd, base, times(hdr), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return x.record(name, pfd, base, Entry{Linkname: target})
}

func (x *Extractor) hardlink(name string, hdr *tar.Header) error {
	target, err := CleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
	}
	if target == name || target == "." {
		return fmt.Errorf("hard link to %q: not a file", hdr.Linkname)
	}
	if x.seen != nil && x.seen[target] != seenFile {
		return fmt.Errorf("hard link to %q: not an earlier regular file of this archive", hdr.Linkname)
	}
	// The target may be a batched file not made yet.
	if err := x.drainWriters(); err != nil {
		return err
	}
	tdir, tbase := path.Split(target)
	tdir = strings.TrimSuffix(tdir, "/")
	if tdir == "" {
		tdir = "."
	}
	tfd, err := x.openDir(tdir, false)
	if err != nil {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
	}
	defer unix.Close(tfd)
	var st unix.Stat_t
	if err := unix.Fstatat(tfd, tbase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("hard link to %q: not a regular file", hdr.Linkname)
	}
	pfd, base, err := x.prepare(name)
	if err != nil {
		return err
	}
	// flags 0: linkat never follows a symlink at the target; the check
	// above already made sure it is a regular file.
	if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return errors.New("duplicate entry")
		}
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
	}
	x.mark(name, seenFile)
	x.forget(name)
	if id, ok := x.pending[target]; ok {
		x.pending[name] = id
	} else if d, ok := x.digests[target]; ok {
		x.digests[name] = d
	}
	// The target's inode, whose metadata is final.
	return x.record(name, pfd, base, Entry{})
}

func (x *Extractor) fifo(name string, hdr *tar.Header) error {
	if err := checkIDs(hdr); err != nil {
		return err
	}
	pfd, base, err := x.prepare(name)
	if err != nil {
		return err
	}
	if err := unix.Mknodat(pfd, base, unix.S_IFIFO|0o600, 0); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return errors.New("duplicate entry")
		}
		return fmt.Errorf("mkfifo: %w", err)
	}
	x.mark(name, seenOther)
	// Open without blocking (O_PATH) to get a descriptor of exactly the
	// node we made.
	fd, err := unix.Openat(pfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open fifo: %w", err)
	}
	defer unix.Close(fd)
	if !x.opts.NoOwnership {
		if err := unix.Fchownat(fd, "", hdr.Uid, hdr.Gid, unix.AT_EMPTY_PATH); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if err := unix.Fchmodat(pfd, base, x.perm(hdr), 0); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if err := unix.UtimesNanoAt(pfd, base, times(hdr), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return x.record(name, fd, "", Entry{})
}

// LinkFrom adds the regular file name as a new hard link to the file
// srcBase in the directory srcDir (outside the root, on the same file
// system), falling back to a copy across file systems or when the
// source has too many links already. The source's
// metadata is kept as it is. It is how rendering layers already-extracted
// trees without copying their content.
func (x *Extractor) LinkFrom(ctx context.Context, name string, srcDir int, srcBase string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	x.res.Entries++
	if x.res.Entries > x.opts.MaxEntries {
		return fmt.Errorf("extract %q: more than %d entries", name, x.opts.MaxEntries)
	}
	clean, err := CleanName(name)
	if err != nil || clean == "." {
		return fmt.Errorf("link %q: bad name", name)
	}
	if x.seen != nil && x.seen[clean] != 0 {
		return fmt.Errorf("link %q: duplicate entry", name)
	}
	x.stopRecording()
	pfd, base, err := x.prepare(clean)
	if err != nil {
		return fmt.Errorf("link %q: %w", name, err)
	}
	x.forget(clean)
	err = unix.Linkat(srcDir, srcBase, pfd, base, 0)
	if errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EMLINK) {
		// Another file system, or the inode has as many links as the
		// file system allows: copy instead.
		err = copyFile(srcDir, srcBase, pfd, base, x.opts.NoOwnership)
	}
	if err != nil {
		return fmt.Errorf("link %q: %w", name, err)
	}
	x.mark(clean, seenFile)
	return nil
}

// copyFile copies a regular file with its owner, mode, xattrs and times.
func copyFile(srcDir int, srcBase string, dstDir int, dstBase string, noOwner bool) error {
	sfd, err := unix.Openat(srcDir, srcBase, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	src := os.NewFile(uintptr(sfd), srcBase)
	defer src.Close()
	var st unix.Stat_t
	if err := unix.Fstat(sfd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return errors.New("not a regular file")
	}
	dfd, err := unix.Openat(dstDir, dstBase, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	dst := os.NewFile(uintptr(dfd), dstBase)
	defer dst.Close()
	if _, err := io.Copy(dst, src); err != nil {
		return err
	}
	mode := st.Mode & 0o7777
	if noOwner {
		mode &^= unix.S_ISUID | unix.S_ISGID
	} else if err := unix.Fchown(dfd, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if err := unix.Fchmod(dfd, mode); err != nil {
		return err
	}
	xs, err := ReadXattrs(sfd)
	if err != nil {
		return err
	}
	if _, err := setXattrs(dfd, dstBase, xs); err != nil {
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	return unix.UtimesNanoAt(dstDir, dstBase, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
}

// ReadXattrs returns the extended attributes of an open file that KeepXattr
// accepts, sorted by name.
func ReadXattrs(fd int) ([][2]string, error) {
	sz, err := unix.Flistxattr(fd, nil)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
			return nil, nil
		}
		return nil, err
	}
	if sz == 0 {
		return nil, nil
	}
	buf := make([]byte, sz)
	sz, err = unix.Flistxattr(fd, buf)
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, n := range strings.Split(string(buf[:sz]), "\x00") {
		if n == "" || !KeepXattr(n) {
			continue
		}
		vsz, err := unix.Fgetxattr(fd, n, nil)
		if err != nil {
			return nil, err
		}
		v := make([]byte, vsz)
		vsz, err = unix.Fgetxattr(fd, n, v)
		if err != nil {
			return nil, err
		}
		out = append(out, [2]string{n, string(v[:vsz])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out, nil
}

// Prune removes every non-directory for which keep returns false, then every
// directory for which keep returns false and that has nothing left in it.
// It is how a pathWhitelist is applied (spec A14, A16); call it before
// Finish so directory times are restored after the removals.
func (x *Extractor) Prune(ctx context.Context, keep func(name string, isDir bool) bool) error {
	if err := x.drainWriters(); err != nil {
		return err
	}
	x.stopRecording()
	x.dropCache()
	fd, err := unix.FcntlInt(uintptr(x.rootFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return err
	}
	_, err = x.prune(ctx, fd, "", keep)
	return err
}

// prune works on the open directory fd (consumed) named dir ("" for the
// root) and reports whether anything is left in it.
func (x *Extractor) prune(ctx context.Context, fd int, dir string, keep func(string, bool) bool) (bool, error) {
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return false, fmt.Errorf("prune %s: %w", dir, err)
	}
	left := false
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		name := n
		if dir != "" {
			name = dir + "/" + n
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return false, fmt.Errorf("prune %s: %w", name, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if keep(name, false) {
				left = true
				continue
			}
			if err := unix.Unlinkat(fd, n, 0); err != nil {
				return false, fmt.Errorf("prune %s: %w", name, err)
			}
			continue
		}
		cfd, err := unix.Openat(fd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return false, fmt.Errorf("prune %s: %w", name, err)
		}
		sub, err := x.prune(ctx, cfd, name, keep)
		if err != nil {
			return false, err
		}
		if sub || keep(name, true) {
			left = true
			continue
		}
		if err := unix.Unlinkat(fd, n, unix.AT_REMOVEDIR); err != nil {
			return false, fmt.Errorf("prune %s: %w", name, err)
		}
		delete(x.dirs, name)
	}
	return left, nil
}

// Finish restores the owners, modes, extended attributes and times of the
// directories, deepest first, now that nothing more is created in them.
func (x *Extractor) Finish(ctx context.Context) (Result, error) {
	// Every file first: directories get their metadata after their
	// children are made.
	if err := x.drainWriters(); err != nil {
		return x.res, err
	}
	x.dropCache()
	if x.hasher != nil {
		// No file content comes before Finish returns: the hasher gets
		// what it has not seen yet, and hashes it while the directories
		// are done.
		x.hasher.send()
	}
	if x.finished {
		x.stopRecording() // the directories are recorded already
	}
	names := make([]string, 0, len(x.dirs))
	for n := range x.dirs {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		di, dj := strings.Count(names[i], "/"), strings.Count(names[j], "/")
		if names[i] == "." || names[j] == "." {
			return names[j] == "." && names[i] != "."
		}
		if di != dj {
			return di > dj
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return x.res, err
		}
		m := x.dirs[n]
		fd, err := x.openDir(n, false)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return x.res, fmt.Errorf("finish directory %s: %w", n, err)
		}
		xs, err := x.applyDir(fd, n, m)
		if err == nil {
			err = x.record(n, fd, "", Entry{Xattrs: xs})
		}
		unix.Close(fd)
		if err != nil {
			return x.res, fmt.Errorf("finish directory %s: %w", n, err)
		}
	}
	if _, ok := x.dirs["."]; !ok {
		if err := x.record(".", x.rootFD, "", Entry{}); err != nil {
			return x.res, fmt.Errorf("finish directory .: %w", err)
		}
	}
	x.finished = true
	// Sorted here, once: the records are all there is to sort.
	x.recs = sortWalkOrder(x.recs)
	return x.res, nil
}

// sortWalkOrder returns es sorted by name (relative, "." the root) as a
// walk finds them that visits a directory before its children and the names
// in each directory in byte order: "." < "a" < "a/b" < "a.b" < "b", which
// plain string order is not ("a.b" < "a/b", '.' being below '/'). It
// compares keys in which each '/' is a NUL, which no name holds and which
// sorts below every other byte, so that plain string comparison (memcmp)
// gives that order: comparing the names' components a byte at a time took a
// fifth of the time an import spends after its last byte.
func sortWalkOrder(es []Entry) []Entry {
	type keyed struct {
		key string
		i   int
	}
	ks := make([]keyed, len(es))
	for i := range es {
		k := ""
		if n := es[i].Name; n != "." {
			k = strings.ReplaceAll(n, "/", "\x00")
		}
		ks[i] = keyed{k, i}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	sorted := make([]Entry, len(es))
	for j, k := range ks {
		sorted[j] = es[k.i]
	}
	return sorted
}

// applyDir gives the directory fd (name) its metadata m and returns the
// extended attributes it set, which are all it has that KeepXattr accepts.
func (x *Extractor) applyDir(fd int, name string, m *meta) ([][2]string, error) {
	if !m.implicit && x.needsChown(m.uid, m.gid) {
		if err := unix.Fchown(fd, m.uid, m.gid); err != nil {
			return nil, fmt.Errorf("chown: %w", err)
		}
	}
	if err := unix.Fchmod(fd, m.mode); err != nil {
		return nil, fmt.Errorf("chmod: %w", err)
	}
	xs, err := setXattrs(fd, name, m.xattrs)
	if err != nil {
		return nil, err
	}
	if m.implicit {
		return xs, nil
	}
	at := m.atime
	if at.IsZero() {
		at = m.mtime
	}
	ts := []unix.Timespec{timespec(at), timespec(m.mtime)}
	if err := unix.UtimesNanoAt(fd, ".", ts, 0); err != nil {
		return nil, fmt.Errorf("set times: %w", err)
	}
	return xs, nil
}
