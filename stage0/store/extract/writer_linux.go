package extract

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

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
// writers first (fileWriter.drain). Directories get their metadata in Finish,
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
		return newFile{}, fmt.Errorf("%w: a file of %d bytes after %d bytes of content is more than the limit of %d bytes of one image", ErrTooLarge, hdr.Size, x.res.Bytes, x.opts.MaxBytes)
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

// fileWriter is the ring of batches and the writers, started with the first
// file batched. It hands what the writers report to the extraction's
// records and content digests. Its fields other than the channels and wg
// are the extracting goroutine's.
type fileWriter struct {
	work chan *batch // filled batches, for the writers; nil until started
	back chan *batch // batches the writers are done with
	wg   sync.WaitGroup
	idle []*batch // empty batches in hand
	cur  *batch   // the batch being filled
	out  int      // batches sent and not back yet
	// err is the first error a writer reported: it names its file.
	err error

	hash bool            // the writers hash content (Options.HashContent)
	digs *contentDigests // where the writers' digests go
	recs *records        // and their records
}

// running reports whether the writers were started and not stopped since.
func (w *fileWriter) running() bool { return w.work != nil }

// start makes the ring and starts the writers; they record the files they
// make if recording is on now.
func (w *fileWriter) start() {
	w.work = make(chan *batch, batches)
	w.back = make(chan *batch, batches)
	w.idle = w.idle[:0]
	for range batches {
		w.idle = append(w.idle, &batch{buf: make([]byte, batchSize)})
	}
	w.wg.Add(writers)
	for range writers {
		go w.run(w.hash, w.recs.on)
	}
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

// add reads f's content from body into a batch, for the writers to make
// in the directory dir (which it holds until then), and returns how many
// bytes it read. f.base is set.
func (w *fileWriter) add(f *newFile, dir *dirRef, body io.Reader) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	if !w.running() {
		w.start()
	}
	size := int(f.size)
	if b := w.cur; b != nil && (b.fill+size > len(b.buf) || len(b.files) == batchFiles ||
		b.dirs == batchDirs && b.files[len(b.files)-1].dir != dir) {
		w.send()
	}
	if w.cur == nil {
		if len(w.idle) == 0 {
			w.absorb(<-w.back)
			w.out--
			if w.err != nil {
				return 0, w.err
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
			return int64(n), fmt.Errorf("write: %w", err)
		}
	}
	if n != size {
		return int64(n), shortContent(int64(n), f.size)
	}
	if len(b.files) == 0 || b.files[len(b.files)-1].dir != dir {
		b.dirs++
	}
	b.files = append(b.files, batchFile{newFile: *f, dir: dir.hold(), off: b.fill})
	b.fill += size
	return int64(n), nil
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
func (w *fileWriter) absorb(b *batch) {
	for _, m := range b.made {
		w.recs.add(m.rec)
		w.digs.put(m.rec.Name, m.dig)
	}
	if b.err != nil && w.err == nil {
		w.err = b.err
	}
	clear(b.files) // no references to directories or names kept
	b.files, b.made, b.fill, b.dirs, b.err = b.files[:0], b.made[:0], 0, 0, nil
	w.idle = append(w.idle, b)
}

// drain waits until every batched file is made (or failed) and returns the
// first error a writer reported, if any.
func (w *fileWriter) drain() error {
	if !w.running() {
		return w.err
	}
	w.send()
	for ; w.out > 0; w.out-- {
		w.absorb(<-w.back)
	}
	return w.err
}

// stop drains and ends the writer goroutines; the error stays.
func (w *fileWriter) stop() {
	if !w.running() {
		return
	}
	w.drain()
	close(w.work)
	w.wg.Wait()
	w.work, w.back, w.idle, w.cur = nil, nil, nil, nil
}
