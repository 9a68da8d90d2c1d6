package extract

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Small files are made off the extracting goroutine. Where an image holds
// thousands of small files (source trees, headers, scripts), making them is
// the slowest step of an import: a create, a write, a close and setting the
// times cost the one extracting goroutine tens of microseconds of system
// calls each, while decompression waits for room in its pipe and the other
// CPUs idle. So the extracting goroutine only decides each small file (its
// checks, parent directory and metadata, exactly as for any other file) and
// copies its content into a batch; a writer goroutine then makes the batch's
// files, hashes their content and records them. Many files go to one batch,
// so the hand-off costs a channel send per batch, not per file, and memory
// stays at batches*batchSize. Two writers: with one, the writer became the
// step the others waited for in a run of small files, and a CPU idled; a
// second takes the next batch meanwhile (creates in one directory still
// take its lock in turn, but writing, closing and setting times do not).
//
// Ordering: batches are made in any order. A batched file's parent
// directory exists before the file is batched (the extracting goroutine
// makes parents itself), and nothing the extracting goroutine does later
// depends on a batched file existing except a hard link to it, an entry
// beneath its name (openDir), pruning and Finish, which all wait for the
// writers first (drainWriters). Directories get their metadata in Finish,
// after that wait, as before. Duplicates are refused by name before
// anything is batched (strict mode only: with Overwrite every file is made
// in order by the extracting goroutine).
const (
	// batchSize is the content one batch holds; maxBatched the largest
	// file batched. Larger files are written by the extracting goroutine
	// itself: for them the system calls are a small part of the work.
	batchSize  = 256 << 10
	maxBatched = 64 << 10
	// batchFiles bounds the files of one batch, so that a run of empty
	// files still goes out in pieces; batchDirs the directories it holds
	// open, so that an archive of one file per directory cannot make the
	// ring hold more than batches*batchDirs descriptors (the serial
	// extraction holds one).
	batchFiles = 256
	batchDirs  = 32
	// batches is the size of the ring; writers how many goroutines make
	// them.
	batches = 6
	writers = 2
)

// dirRef is a directory descriptor shared by the extracting goroutine's
// parent cache and the batched files to be made in it. The last holder to
// let go closes it, so that moving on to another directory never closes a
// descriptor a writer still uses (nor lets the kernel hand its number to
// another file).
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

// newFile is a regular file to make, as decided from its header before
// anything is written: the same for a file the extracting goroutine makes
// and for a batched one.
type newFile struct {
	name string // clean, relative to the root
	raw  string // the header's name, for errors
	base string // the last component, in the parent directory
	size int64
	// mode is the mode at creation; perm the final one, set with chmod
	// (after chown, which would clear setuid and setgid) if chmod is set.
	mode, perm   uint32
	chown, chmod bool
	uid, gid     int
	xattrs       [][2]string
	times        [2]unix.Timespec
}

// planFile checks a regular file's header and decides how to make it.
func (x *Extractor) planFile(name string, hdr *tar.Header) (newFile, error) {
	if hdr.Size < 0 {
		return newFile{}, fmt.Errorf("negative size %d", hdr.Size)
	}
	if hdr.Size > x.opts.MaxBytes-x.res.Bytes {
		return newFile{}, fmt.Errorf("size %d exceeds the limit of %d bytes of content", hdr.Size, x.opts.MaxBytes)
	}
	if err := checkIDs(hdr); err != nil {
		return newFile{}, err
	}
	xs, err := x.xattrs(hdr)
	if err != nil {
		return newFile{}, err
	}
	// A new file belongs to the extractor's own user and group (see New).
	// When that is the owner wanted, it is made with its final mode at
	// once; otherwise it starts private, and chown comes before chmod so
	// that the kernel does not clear setuid and setgid afterwards.
	f := newFile{
		name:   name,
		raw:    hdr.Name,
		size:   hdr.Size,
		perm:   x.perm(hdr),
		chown:  x.needsChown(hdr.Uid, hdr.Gid),
		uid:    hdr.Uid,
		gid:    hdr.Gid,
		xattrs: xs,
	}
	f.mode = 0o600
	if !f.chown {
		f.mode = f.perm
	}
	f.chmod = f.chown || f.mode&x.umask != 0
	ts := times(hdr)
	f.times = [2]unix.Timespec{ts[0], ts[1]}
	return f, nil
}

// create makes f, empty, in the directory pfd, and returns its descriptor.
func (f *newFile) create(pfd int) (int, error) {
	fd, err := unix.Openat(pfd, f.base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, f.mode)
	if err != nil {
		if errors.Is(err, unix.EEXIST) {
			return -1, errors.New("duplicate entry")
		}
		return -1, fmt.Errorf("create: %w", err)
	}
	return fd, nil
}

// complete gives f, made as fd in the directory pfd and with its content
// written, its owner, mode, extended attributes and times, and closes fd
// whatever happens. It returns the extended attributes set.
func (f *newFile) complete(fd, pfd int) ([][2]string, error) {
	xs, err := f.setMeta(fd)
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	if err := unix.UtimesNanoAt(pfd, f.base, f.times[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, fmt.Errorf("set times: %w", err)
	}
	return xs, nil
}

func (f *newFile) setMeta(fd int) ([][2]string, error) {
	if f.chown {
		if err := unix.Fchown(fd, f.uid, f.gid); err != nil {
			return nil, fmt.Errorf("chown: %w", err)
		}
	}
	if f.chmod {
		if err := unix.Fchmod(fd, f.perm); err != nil {
			return nil, fmt.Errorf("chmod: %w", err)
		}
	}
	// After chown: the kernel clears security.capability on chown.
	return setXattrs(fd, f.name, f.xattrs)
}

type batchFile struct {
	newFile
	dir *dirRef // held until the file is made
	off int     // where its content starts in the batch's buffer
}

// madeFile is what a writer reports of a file it made: its record (with
// Record) and its digest (with HashContent).
type madeFile struct {
	rec Entry
	dig Digest
}

type batch struct {
	buf   []byte
	fill  int
	files []batchFile
	dirs  int // directories held (a change of directory from file to file counts)
	// Filled in by a writer: the files made, in order, and the error
	// that stopped it, if any (the files after it are not made).
	made []madeFile
	err  error
}

// fileWriter is the ring of batches and the writers. Its fields other than
// the channels and wg are the extracting goroutine's.
type fileWriter struct {
	work chan *batch // filled batches, for the writers
	back chan *batch // batches the writers are done with
	wg   sync.WaitGroup
	idle []*batch // empty batches in hand
	cur  *batch   // the batch being filled
	out  int      // batches sent and not back yet
}

func newFileWriter(hashContent, record bool) *fileWriter {
	w := &fileWriter{
		work: make(chan *batch, batches),
		back: make(chan *batch, batches),
	}
	for range batches {
		w.idle = append(w.idle, &batch{buf: make([]byte, batchSize)})
	}
	w.wg.Add(writers)
	for range writers {
		go w.run(hashContent, record)
	}
	return w
}

func (w *fileWriter) run(hashContent, record bool) {
	defer w.wg.Done()
	var h hash.Hash
	if hashContent {
		h = sha256.New()
	}
	for b := range w.work {
		for i := range b.files {
			f := &b.files[i]
			if b.err == nil {
				m, err := makeBatched(b.buf[f.off:f.off+int(f.size)], f, h, record)
				if err != nil {
					b.err = fmt.Errorf("extract %q: %w", f.raw, err)
				} else {
					b.made = append(b.made, m)
				}
			}
			f.dir.release()
			f.dir = nil
		}
		w.back <- b
	}
}

// makeBatched makes one batched file with the given content.
func makeBatched(content []byte, f *batchFile, h hash.Hash, record bool) (madeFile, error) {
	fd, err := f.create(f.dir.fd)
	if err != nil {
		return madeFile{}, err
	}
	if len(content) > 0 {
		if _, err := fdWriter(fd).Write(content); err != nil {
			unix.Close(fd)
			return madeFile{}, fmt.Errorf("write: %w", err)
		}
	}
	m := madeFile{dig: Digest{Size: f.size}}
	if h != nil {
		h.Reset()
		h.Write(content)
		h.Sum(m.dig.Sum[:0])
	}
	if m.dig.Xattrs, err = f.complete(fd, f.dir.fd); err != nil {
		return madeFile{}, err
	}
	if record {
		if err := statEntry(f.dir.fd, f.base, &m.rec); err != nil {
			return madeFile{}, err
		}
	}
	m.rec.Name = f.name
	return m, nil
}

// batchFile reads f's content from body into a batch, for the writers to
// make. f.base is set, and the cached parent (x.cache) is its directory.
func (x *Extractor) batchFile(f *newFile, body io.Reader) error {
	if x.writeErr != nil {
		return x.writeErr
	}
	if x.w == nil {
		x.w = newFileWriter(x.opts.HashContent, x.recording)
	}
	w := x.w
	size := int(f.size)
	if b := w.cur; b != nil && (b.fill+size > len(b.buf) || len(b.files) == batchFiles ||
		b.dirs == batchDirs && b.files[len(b.files)-1].dir != x.cache) {
		w.send()
	}
	if w.cur == nil {
		if len(w.idle) == 0 {
			x.absorb(<-w.back)
			w.out--
			if x.writeErr != nil {
				return x.writeErr
			}
		}
		w.cur = w.idle[len(w.idle)-1]
		w.idle = w.idle[:len(w.idle)-1]
	}
	b := w.cur
	// As copyContent reads: a body that ends early is short content, a
	// body that fails (a truncated stream) fails the write.
	buf, n := b.buf[b.fill:b.fill+size], 0
	for n < size {
		m, err := body.Read(buf[n:])
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			x.res.Bytes += int64(n)
			return fmt.Errorf("write: %w", err)
		}
	}
	x.res.Bytes += int64(n)
	if n != size {
		return shortContent(int64(n), f.size)
	}
	x.mark(f.name, seenFile)
	x.forget(f.name)
	if len(b.files) == 0 || b.files[len(b.files)-1].dir != x.cache {
		b.dirs++
	}
	b.files = append(b.files, batchFile{newFile: *f, dir: x.cache.hold(), off: b.fill})
	b.fill += size
	return nil
}

// send hands the batch being filled to the writers.
func (w *fileWriter) send() {
	if w.cur == nil {
		return
	}
	if len(w.cur.files) == 0 {
		w.idle = append(w.idle, w.cur)
	} else {
		w.work <- w.cur
		w.out++
	}
	w.cur = nil
}

// absorb takes in what a writer reports of a batch that came back and
// makes the batch empty and idle again.
func (x *Extractor) absorb(b *batch) {
	for _, m := range b.made {
		if x.recording {
			x.recs = append(x.recs, m.rec)
		}
		if x.digests != nil {
			x.digests[m.rec.Name] = m.dig
		}
	}
	if b.err != nil && x.writeErr == nil {
		x.writeErr = b.err
	}
	clear(b.files) // no references to directories or names kept
	b.files, b.made, b.fill, b.dirs, b.err = b.files[:0], b.made[:0], 0, 0, nil
	x.w.idle = append(x.w.idle, b)
}

// drainWriters waits until every batched file is made (or failed) and
// returns the first error a writer reported, if any.
func (x *Extractor) drainWriters() error {
	w := x.w
	if w == nil {
		return x.writeErr
	}
	w.send()
	for ; w.out > 0; w.out-- {
		x.absorb(<-w.back)
	}
	return x.writeErr
}

// stopWriters drains and ends the writer goroutines.
func (x *Extractor) stopWriters() {
	if x.w == nil {
		return
	}
	x.drainWriters()
	close(x.w.work)
	x.w.wg.Wait()
	x.w = nil
}
