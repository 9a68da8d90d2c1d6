package extract

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/aci/archive"
)

// Bounds on an entry's extended attributes (MaxPathLen and MaxNameLen, the
// bounds on names, are with the name rules in resolve_linux.go).
const (
	// MaxXattrs is the most extended attributes one entry may carry
	// (archive.MaxXattrs, checked by archive.CheckXattrs).
	MaxXattrs = archive.MaxXattrs
	// MaxSkippedDevices is the most device nodes Result.SkippedDevices
	// names.
	MaxSkippedDevices = 1000
)

// Defaults for the zero Options fields.
const (
	DefaultMaxEntries = 1 << 20
	// DefaultMaxBytes bounds the regular-file content of one image: a
	// few large images hold more, and their owners raise it (the store's
	// setting), while a small archive of zeros expanding to tens of GiB
	// is refused by the header that announces it.
	DefaultMaxBytes = 8 << 30
)

// ErrTooLarge is returned (wrapped) when an archive's regular files would
// hold more than Options.MaxBytes bytes.
var ErrTooLarge = errors.New("image content over the size limit")

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
	// SpillDir is where what the extractor remembers per entry goes past
	// its memory bounds (see bounds_linux.go); "" means os.TempDir().
	SpillDir string
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
	// created (at most the first MaxSkippedDevices).
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
//
// It decides each entry (duplicates, types, modes, owners, bounds) and
// composes the parts that do the rest, each with its own file:
// the resolver (resolve_linux.go) turns names into parent directories
// without leaving the root, the writer (writer_linux.go) makes small files
// in batches, the content digests (contenthash.go) and the records
// (records_linux.go) keep what a tree hash needs.
type Extractor struct {
	r    resolver
	w    fileWriter
	digs contentDigests // with HashContent
	recs records        // with Record
	opts Options
	res  Result

	// seen remembers the kind of every name made, to refuse duplicates
	// (strict mode only); dirs the metadata of every directory, applied
	// in Finish.
	seen map[string]byte
	dirs map[string]*meta
	// seenReset says that seen was emptied (seenWindow) and no longer
	// knows every name; spill holds the directories' metadata past
	// dirsWindow.
	seenReset bool
	spill     dirSpill
	win       windows

	// buf is the serial write path's buffer when nothing hashes.
	buf []byte

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
	fd, st, err := openRoot(root)
	if err != nil {
		return nil, err
	}
	x := &Extractor{
		opts:  opts,
		dirs:  make(map[string]*meta),
		uid:   os.Geteuid(),
		gid:   os.Getegid(),
		umask: processUmask(),
		digs:  newContentDigests(opts.HashContent),
		recs:  records{on: opts.Record, max: recordsWindow},
		win:   windows{seen: seenWindow, dirs: dirsWindow},
	}
	x.r = resolver{fd: fd, overwrite: opts.Overwrite, book: x}
	x.w = fileWriter{hash: opts.HashContent, digs: &x.digs, recs: &x.recs}
	// Every directory below the root is made by the extractor itself
	// (unless it layers over an existing tree), so a new file gets the
	// extractor's user and, whether the file system takes the group from
	// the process or (setgid directory, grpid mount) from the parent, the
	// root's group.
	x.ownOwner = !opts.Overwrite && int(st.Gid) == x.gid
	if !opts.Overwrite {
		x.seen = make(map[string]byte)
	}
	return x, nil
}

// Digest returns the content digest of the regular file (or hard link)
// name as written by Add, when Options.HashContent is set. Entries replaced
// later (Overwrite) or added by LinkFrom have none.
func (x *Extractor) Digest(name string) (Digest, bool) {
	x.settle()
	return x.digs.get(name)
}

// settle waits for the writers and the content hasher.
func (x *Extractor) settle() {
	x.w.drain()
	x.digs.settle()
}

// Entries returns every entry of the extracted tree (the root included),
// parents before children and the names in each directory in byte order,
// as a walk of the tree would find them. It is for after Finish; ok is false
// if Options.Record was not set (or not possible: Overwrite), or the tree
// was changed in a way the records do not follow (Prune, LinkFrom,
// Implicit, an Add after Finish), and then only a walk can tell. The slice
// is the extractor's own: read it, do not change it.
func (x *Extractor) Entries() (entries []Entry, ok bool) {
	if !x.recs.on || !x.recs.finished {
		return nil, false
	}
	x.settle()
	return x.recs.entries(&x.digs)
}

// Close releases the root directory. It does not remove anything.
func (x *Extractor) Close() error {
	x.closeSpill()
	x.w.stop()
	x.settle()
	return x.r.close()
}

// The Extractor is the resolver's bookkeeping (treeBook).

func (x *Extractor) unmade(name string) bool {
	if !x.w.running() {
		return false
	}
	k := x.seen[name]
	return k == seenFile || (k == 0 && x.seenReset)
}

func (x *Extractor) flush() error { return x.w.drain() }

func (x *Extractor) madeDir(name string) {
	x.mark(name, seenImplicitDir)
	// An error here (the spill file) comes back from Finish, which
	// reads the spill.
	if err := x.setDir(name, &meta{mode: 0o755, implicit: true}); err != nil && x.w.err == nil {
		x.w.err = err
	}
}

func (x *Extractor) removed(name string, isDir bool) {
	if !isDir {
		x.digs.forget(name)
		return
	}
	for d := range x.dirs {
		if d == name || strings.HasPrefix(d, name+"/") {
			delete(x.dirs, d)
		}
	}
	x.digs.forgetBelow(name)
}

// Result returns the counters so far.
func (x *Extractor) Result() Result { return x.res }

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
	if x.w.err != nil {
		return x.w.err
	}
	if x.recs.finished {
		x.recs.stop() // Finish has recorded the directories already
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
		if x.w.err != nil && errors.Is(err, x.w.err) {
			return x.w.err // it names its own entry, an earlier one
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
		if len(x.res.SkippedDevices) < MaxSkippedDevices {
			x.res.SkippedDevices = append(x.res.SkippedDevices, name)
		}
		return nil
	case tar.TypeFifo:
		return x.fifo(name, hdr)
	}
	return fmt.Errorf("unsupported entry type %q", hdr.Typeflag)
}

func (x *Extractor) mark(name string, k byte) {
	if x.seen == nil {
		return
	}
	if _, ok := x.seen[name]; !ok && len(x.seen) >= x.win.seen {
		clear(x.seen)
		x.seenReset = true
	}
	x.seen[name] = k
}

// prepare finds the parent of a non-directory entry and, in Overwrite mode,
// clears the way.
func (x *Extractor) prepare(name string) (int, string, error) {
	pfd, base, err := x.r.parent(name)
	if err != nil {
		return -1, "", err
	}
	if x.opts.Overwrite {
		if err := x.r.removeAt(pfd, base, name); err != nil {
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
	if !archive.OwnerInRange(hdr) {
		return fmt.Errorf("owner %d:%d out of range", hdr.Uid, hdr.Gid)
	}
	return nil
}

// xattrs returns the extended attributes of hdr that are restored, counting
// the dropped ones.
func (x *Extractor) xattrs(hdr *tar.Header) ([][2]string, error) {
	if err := archive.CheckXattrs(hdr.PAXRecords); err != nil {
		return nil, err
	}
	var out [][2]string
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, archive.PAXXattr)
		if !ok {
			continue
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
// kernel clamps to what the file system can store. Where time_t has 32
// bits, a date past its range is clamped the same way here.
func timespec(t time.Time) unix.Timespec {
	ts, err := unix.TimeToTimespec(t)
	if err != nil { // out of a 32-bit time_t's range
		edge := time.Unix(math.MaxInt32, 0)
		if t.Unix() < 0 {
			edge = time.Unix(math.MinInt32, 0)
		}
		ts, _ = unix.TimeToTimespec(edge)
	}
	return ts
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
		n, err := x.w.add(&f, x.r.cached(), body)
		x.res.Bytes += n
		if err != nil {
			return err
		}
		x.mark(name, seenFile)
		x.digs.forget(name)
		return nil
	}
	fd, err := f.create(pfd)
	if err != nil {
		return err
	}
	x.mark(name, seenFile)
	x.digs.forget(name)
	id := x.digs.begin()
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
		// Blocks of zeros were skipped: the length comes from here.
		if err := unix.Ftruncate(fd, f.size); err != nil {
			unix.Close(fd)
			return fmt.Errorf("set length: %w", err)
		}
	}
	x.digs.ended(id)
	xs, err := f.complete(fd, pfd)
	if err != nil {
		return err
	}
	x.digs.wrote(name, id, f.size, xs)
	return x.recs.record(name, pfd, base, Entry{})
}

// holeBlock is the unit in which content of zeros is left as a hole: a
// file system block, and the page size.
const holeBlock = 4096

// copyContent writes size bytes of body to fd, through the content hasher's
// buffers (which hash it on the way) when there is one. Every whole block
// of zeros (at a multiple of holeBlock) is skipped rather than written, so
// that a sparse file of the archive, which archive/tar hands over with its
// holes filled in, and any other run of zeros become holes again instead
// of taking the disk space of their length: a tiny archive cannot fill the
// store with zeros. The caller sets the file's length afterwards.
func (x *Extractor) copyContent(fd, id int, body io.Reader, size int64) (int64, error) {
	var done int64
	for done < size {
		var b []byte
		if x.digs.hasher != nil {
			b = x.digs.hasher.buffer()
		} else {
			if x.buf == nil {
				x.buf = make([]byte, 256<<10)
			}
			b = x.buf
		}
		if int64(len(b)) > size-done {
			b = b[:size-done]
		}
		// b is filled before it is written: a read gives what is left
		// of the archive's current chunk, and a write per read made
		// twice the writes, each with the file system's cost per call.
		n, err := 0, error(nil)
		for n < len(b) && err == nil {
			var m int
			m, err = body.Read(b[n:])
			n += m
		}
		if n > 0 {
			if werr := writeSparse(fd, b[:n], done); werr != nil {
				return done, werr
			}
			if x.digs.hasher != nil {
				x.digs.hasher.add(id, n)
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

// writeSparse writes p at offset off of fd, leaving out every whole
// holeBlock-aligned block of zeros in it.
func writeSparse(fd int, p []byte, off int64) error {
	for len(p) > 0 {
		// The data up to the next block boundary, or the block there.
		n := holeBlock - int(off%holeBlock)
		if n > len(p) {
			n = len(p)
		}
		if n == holeBlock && allZero(p[:n]) {
			p, off = p[n:], off+int64(n)
			continue
		}
		// Write up to the next whole block of zeros.
		for n < len(p) && (len(p)-n < holeBlock || !allZero(p[n:n+holeBlock])) {
			n += min(holeBlock, len(p)-n)
		}
		if err := pwriteFull(fd, p[:n], off); err != nil {
			return err
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// allZero says whether b holds nothing but zero bytes (bytes.Count of one
// byte is vectorised). Most blocks of content are not zeros and say so in
// their first bytes, which saves counting the rest of them.
func allZero(b []byte) bool {
	if len(b) >= 8 && binary.NativeEndian.Uint64(b) != 0 {
		return false
	}
	return bytes.Count(b, []byte{0}) == len(b)
}

// pwriteFull writes all of p at offset off of fd.
func pwriteFull(fd int, p []byte, off int64) error {
	for len(p) > 0 {
		m, err := unix.Pwrite(fd, p, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if m == 0 {
			return io.ErrShortWrite
		}
		p, off = p[m:], off+int64(m)
	}
	return nil
}

func (x *Extractor) recordDir(name string, hdr *tar.Header) error {
	if err := checkIDs(hdr); err != nil {
		return err
	}
	xs, err := x.xattrs(hdr)
	if err != nil {
		return err
	}
	return x.setDir(name, &meta{
		mode:   x.perm(hdr),
		uid:    hdr.Uid,
		gid:    hdr.Gid,
		atime:  hdr.AccessTime,
		mtime:  hdr.ModTime,
		xattrs: xs,
	})
}

func (x *Extractor) dir(name string, hdr *tar.Header) error {
	pfd, base, err := x.r.parent(name)
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
		case st.Mode&unix.S_IFMT == unix.S_IFDIR && (x.seen == nil || x.seen[name] == seenImplicitDir || (x.seenReset && x.seen[name] == 0)):
			// Merge with the directory already there.
		case x.opts.Overwrite:
			if err := x.r.removeAt(pfd, base, name); err != nil {
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
	x.recs.stop()
	fd, err := x.r.openDir(clean, true)
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
	return x.recs.record(name, pfd, base, Entry{Linkname: target})
}

func (x *Extractor) hardlink(name string, hdr *tar.Header) error {
	target, err := CleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
	}
	if target == name || target == "." {
		return fmt.Errorf("hard link to %q: not a file", hdr.Linkname)
	}
	k := byte(0)
	if x.seen != nil {
		k = x.seen[target]
	}
	if x.seen != nil && k != seenFile && !(k == 0 && x.seenReset) {
		return fmt.Errorf("hard link to %q: not an earlier regular file of this archive", hdr.Linkname)
	}
	// The target may be a batched file not made yet.
	if err := x.w.drain(); err != nil {
		return err
	}
	tfd, tbase, err := x.r.openFile(target)
	if err != nil {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
	}
	defer unix.Close(tfd)
	if k == 0 && x.seenReset {
		// Past the window the file system tells: in strict mode the
		// root held nothing the archive did not make.
		var st unix.Stat_t
		if err := unix.Fstatat(tfd, tbase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			return fmt.Errorf("hard link to %q: not an earlier regular file of this archive", hdr.Linkname)
		}
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
	x.digs.link(name, target)
	// The target's inode, whose metadata is final.
	return x.recs.record(name, pfd, base, Entry{})
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
	return x.recs.record(name, fd, "", Entry{})
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
	x.recs.stop()
	pfd, base, err := x.prepare(clean)
	if err != nil {
		return fmt.Errorf("link %q: %w", name, err)
	}
	x.digs.forget(clean)
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
	if err := x.w.drain(); err != nil {
		return err
	}
	x.recs.stop()
	x.r.dropCache()
	fd, err := x.r.dupRoot()
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
		cfd, err := openChildDir(fd, n)
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
	if err := x.w.drain(); err != nil {
		return x.res, err
	}
	x.r.dropCache()
	if x.digs.hasher != nil {
		// No file content comes before Finish returns: the hasher gets
		// what it has not seen yet, and hashes it while the directories
		// are done.
		x.digs.hasher.send()
	}
	if x.recs.finished {
		x.recs.stop() // the directories are recorded already
	}
	// The spilled directories first, in the order they came; those an
	// unprivileged extractor must keep open until the end get their mode
	// last, deepest first, as the window's do.
	restricted := make(map[string]uint32)
	if err := x.finishSpilled(restricted); err != nil {
		return x.res, err
	}
	x.closeSpill()
	if err := x.w.err; err != nil {
		return x.res, err
	}
	for _, n := range sortDeepestFirst(slices.Collect(maps.Keys(restricted))) {
		if _, later := x.dirs[n]; later {
			continue
		}
		if err := x.finishDir(n, &meta{mode: restricted[n], implicit: true}, nil); err != nil {
			return x.res, err
		}
	}
	if err := x.finishDirs(ctx, sortDeepestFirst(slices.Collect(maps.Keys(x.dirs)))); err != nil {
		return x.res, err
	}
	if _, ok := x.dirs["."]; !ok {
		if err := x.recs.record(".", x.r.fd, "", Entry{}); err != nil {
			return x.res, fmt.Errorf("finish directory .: %w", err)
		}
	}
	// Sorted here, once: the records are all there is to sort.
	x.recs.finish()
	return x.res, nil
}

// sortDeepestFirst sorts directory names so that every directory comes
// before its parent ("." last).
func sortDeepestFirst(names []string) []string {
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
	return names
}

// finishDirs gives the window's directories, names sorted deepest first,
// their metadata and records them. The directories of one depth are done
// side by side, on as many goroutines as there are CPUs to run them, one
// depth after the other, so that a parent still comes after its children
// (an unprivileged extractor may take its own search permission off a
// parent): the pass is five system calls a directory, and for the 1,667
// of bench/import.sh's image it was a third of the import's tail after the
// last entry, on one CPU while the others idled.
func (x *Extractor) finishDirs(ctx context.Context, names []string) error {
	workers := runtime.GOMAXPROCS(0)
	for len(names) > 0 {
		n := 1
		for n < len(names) && dirDepth(names[n]) == dirDepth(names[0]) {
			n++
		}
		level := names[:n]
		names = names[n:]
		var ents []Entry // the level's records, if recording
		if x.recs.on {
			ents = make([]Entry, len(level))
		}
		errs := make([]error, len(level))
		do := func(i int) {
			if errs[i] = ctx.Err(); errs[i] != nil {
				return
			}
			var rec *Entry
			if ents != nil {
				rec = &ents[i]
			}
			errs[i] = x.finishDir(level[i], x.dirs[level[i]], rec)
		}
		if k := min(workers, len(level)/minDirsEach); k > 1 {
			var next atomic.Int64
			var wg sync.WaitGroup
			for range k {
				wg.Go(func() {
					for i := int(next.Add(1) - 1); i < len(level); i = int(next.Add(1) - 1) {
						do(i)
					}
				})
			}
			wg.Wait()
		} else {
			for i := range level {
				do(i)
			}
		}
		for i := range level {
			if errs[i] != nil {
				return errs[i]
			}
			if ents != nil && ents[i].Name != "" {
				x.recs.add(ents[i])
			}
		}
	}
	return nil
}

// minDirsEach is the fewest directories worth a goroutine of their own in
// finishDirs.
const minDirsEach = 16

// dirDepth orders the directories of Finish by depth: the root after every
// top-level directory.
func dirDepth(name string) int {
	if name == "." {
		return -1
	}
	return strings.Count(name, "/")
}

// finishDir gives the directory n its metadata m and, if rec is not nil,
// fills in rec as the directory's record. A directory that is gone (pruned,
// removed) is skipped, rec left empty, and so is one that is no longer a
// directory when spilled metadata is applied (a later entry replaced it
// while layering). Directories of one depth are finished side by side (see
// finishDirs): it changes nothing but the directory n.
func (x *Extractor) finishDir(n string, m *meta, rec *Entry) error {
	fd, err := x.r.openDir(n, false)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || (x.opts.Overwrite && rec == nil && (errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP))) {
			return nil
		}
		return fmt.Errorf("finish directory %s: %w", n, err)
	}
	xs, err := x.applyDir(fd, n, m)
	if err == nil && rec != nil {
		if err = statEntry(fd, "", rec); err == nil {
			rec.Name, rec.Xattrs = n, xs
		}
	}
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("finish directory %s: %w", n, err)
	}
	return nil
}

// applyDir gives the directory fd (name) its metadata m and returns the
// extended attributes it set, which are all it has that KeepXattr accepts.
// The mode comes last: an unprivileged extractor needs the directory's
// write permission to set its user.* attributes and its search permission
// to set its times through ".", which a mode such as 0500 or 0600 takes
// away (neither the attributes nor the times change with the mode, nor
// the mode of a directory with its owner).
func (x *Extractor) applyDir(fd int, name string, m *meta) ([][2]string, error) {
	if !m.implicit && x.needsChown(m.uid, m.gid) {
		if err := unix.Fchown(fd, m.uid, m.gid); err != nil {
			return nil, fmt.Errorf("chown: %w", err)
		}
	}
	xs, err := setXattrs(fd, name, m.xattrs)
	if err != nil {
		return nil, err
	}
	if !m.implicit {
		at := m.atime
		if at.IsZero() {
			at = m.mtime
		}
		ts := []unix.Timespec{timespec(at), timespec(m.mtime)}
		if err := unix.UtimesNanoAt(fd, ".", ts, 0); err != nil {
			return nil, fmt.Errorf("set times: %w", err)
		}
	}
	if err := unix.Fchmod(fd, m.mode); err != nil {
		return nil, fmt.Errorf("chmod: %w", err)
	}
	return xs, nil
}

// Remove deletes the clean name below the root and, for a directory,
// everything below it, never following a symlink. A name that does not
// exist, or whose parent is missing or not a directory, is gone already:
// no error. It is how layering applies an OCI whiteout, which removes
// what lower layers put at a name; the rest of the tree is untouched.
func (x *Extractor) Remove(ctx context.Context, name string) error {
	return x.removeIn(ctx, name, false)
}

// RemoveBelow empties the directory dir (a clean name, "." for the root)
// and keeps the directory itself: an OCI opaque directory hides what lower
// layers put below it. A dir that does not exist or is not a directory has
// nothing below it.
func (x *Extractor) RemoveBelow(ctx context.Context, dir string) error {
	return x.removeIn(ctx, dir, true)
}

func (x *Extractor) removeIn(ctx context.Context, name string, below bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	clean, err := CleanName(name)
	if err != nil {
		return fmt.Errorf("remove %q: %w", name, err)
	}
	if clean == "." && !below {
		return errors.New("remove: the root cannot be removed")
	}
	if err := x.w.drain(); err != nil {
		return err
	}
	x.recs.stop()
	x.r.dropCache()
	parent, base := splitName(clean)
	if below {
		parent, base = clean, ""
	}
	fd, err := x.r.openDir(parent, false)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", clean, err)
	}
	defer unix.Close(fd)
	if !below {
		return x.r.removeAt(fd, base, clean)
	}
	dfd, err := unix.Dup(fd)
	if err != nil {
		return fmt.Errorf("remove below %s: %w", clean, err)
	}
	f := os.NewFile(uintptr(dfd), clean)
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("remove below %s: %w", clean, err)
	}
	for _, n := range names {
		child := n
		if clean != "." {
			child = clean + "/" + n
		}
		if err := x.r.removeAt(fd, n, child); err != nil {
			return err
		}
	}
	return nil
}
