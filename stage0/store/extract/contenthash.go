package extract

import (
	"crypto/sha256"
	"strings"
)

// Content hashing off the extracting goroutine. Extraction is the busiest
// step of an import, and SHA-256 of every file's content was a fifth of its
// work; a goroutine of its own takes it, reading the same buffers the content
// was written from. File contents are packed into a small ring of buffers
// (many small files to one buffer), so the hand-off costs a channel send per
// buffer, not per file, and memory stays at hashBuffers*hashBufferSize.
const (
	hashBufferSize = 256 << 10
	hashBuffers    = 8
)

// hashSeg says that the next n bytes of a job's buffer belong to file id,
// and, with end, that the file's content is complete after them.
type hashSeg struct {
	id  int
	n   int
	end bool
}

type hashJob struct {
	buf  []byte
	segs []hashSeg
}

// contentHasher hashes file contents in its own goroutine. Its methods other
// than the goroutine's are for the one extracting goroutine.
type contentHasher struct {
	jobs chan hashJob
	free chan []byte
	done chan struct{}
	sums map[int][sha256.Size]byte // the goroutine's until done is closed

	cur  []byte // the buffer being filled
	fill int
	segs []hashSeg
}

func newContentHasher() *contentHasher {
	c := &contentHasher{
		jobs: make(chan hashJob, hashBuffers),
		free: make(chan []byte, hashBuffers),
		done: make(chan struct{}),
		sums: make(map[int][sha256.Size]byte),
		cur:  make([]byte, hashBufferSize),
	}
	for range hashBuffers - 1 {
		c.free <- make([]byte, hashBufferSize)
	}
	go c.run()
	return c
}

func (c *contentHasher) run() {
	defer close(c.done)
	h := sha256.New()
	cur := -1
	for j := range c.jobs {
		off := 0
		for _, s := range j.segs {
			if s.id != cur {
				h.Reset()
				cur = s.id
			}
			h.Write(j.buf[off : off+s.n])
			off += s.n
			if s.end {
				var sum [sha256.Size]byte
				h.Sum(sum[:0])
				c.sums[s.id] = sum
				cur = -1
			}
		}
		c.free <- j.buf
	}
}

// buffer returns free room for content to be read into; add then says how
// much of it was used, and for which file.
func (c *contentHasher) buffer() []byte {
	if c.fill == len(c.cur) {
		c.send()
		c.cur = <-c.free
	}
	return c.cur[c.fill:]
}

func (c *contentHasher) add(id, n int) {
	c.segs = append(c.segs, hashSeg{id: id, n: n})
	c.fill += n
}

// end marks file id's content as complete.
func (c *contentHasher) end(id int) {
	c.segs = append(c.segs, hashSeg{id: id, end: true})
}

func (c *contentHasher) send() {
	if len(c.segs) > 0 {
		c.jobs <- hashJob{buf: c.cur, segs: c.segs}
		c.cur, c.segs = nil, nil
	}
	c.fill = 0
}

// wait hands over what is pending, stops the goroutine once it has hashed
// everything, and returns the sums of the files whose content was complete.
func (c *contentHasher) wait() map[int][sha256.Size]byte {
	c.send()
	close(c.jobs)
	<-c.done
	return c.sums
}

// contentDigests keeps, with Options.HashContent, the content digest of
// every regular file made: the writers hand in whole digests of the files
// they made; the content the extracting goroutine writes itself is hashed
// by a contentHasher, and each such file is known by an ID until the hasher
// is done (settle).
type contentDigests struct {
	on      bool
	hasher  *contentHasher // started with the first file written serially
	nextID  int
	done    map[string]Digest
	pending map[string]int // name → content ID in the hasher
	known   map[int]Digest // content ID → size and xattrs
	max     int            // digestsWindow
	dropped bool           // past max: none are kept
}

func newContentDigests(on bool) contentDigests {
	c := contentDigests{on: on, max: digestsWindow}
	if on {
		c.done = make(map[string]Digest)
		c.pending = make(map[string]int)
		c.known = make(map[int]Digest)
	}
	return c
}

// begin returns the content ID of a file the extracting goroutine is about
// to write, starting the hasher if there is none.
func (c *contentDigests) begin() int {
	if c.on && c.hasher == nil {
		c.hasher = newContentHasher()
	}
	id := c.nextID
	c.nextID++
	return id
}

// ended marks the content of file id as complete.
func (c *contentDigests) ended(id int) {
	if c.hasher != nil {
		c.hasher.end(id)
	}
}

// wrote says that file id, whose content ended, was made as name with the
// given size and extended attributes.
func (c *contentDigests) wrote(name string, id int, size int64, xs [][2]string) {
	if c.hasher != nil && !c.full() {
		c.pending[name] = id
		c.known[id] = Digest{Size: size, Xattrs: xs}
	}
}

// put records the digest of a file a writer made and hashed.
func (c *contentDigests) put(name string, d Digest) {
	if c.done != nil && !c.full() {
		c.done[name] = d
	}
}

// link gives name, a new hard link to target, target's digest.
func (c *contentDigests) link(name, target string) {
	c.forget(name)
	if c.full() {
		return
	}
	if id, ok := c.pending[target]; ok {
		c.pending[name] = id
	} else if d, ok := c.done[target]; ok {
		c.done[name] = d
	}
}

// full says whether the digests reached digestsWindow (see
// bounds_linux.go). Then they are all dropped, and no more are kept: a tree
// hash reads the content of the files (as it must for most of them
// anyway), and the memory is free for the rest of the extraction.
func (c *contentDigests) full() bool {
	if c.dropped {
		return true
	}
	if len(c.done)+len(c.pending) < c.max {
		return false
	}
	c.dropped = true
	c.done, c.pending, c.known = map[string]Digest{}, map[string]int{}, map[int]Digest{}
	return true
}

// settle waits for the hasher and moves its results into done.
func (c *contentDigests) settle() {
	if c.hasher == nil {
		return
	}
	sums := c.hasher.wait()
	c.hasher = nil
	if c.dropped {
		return
	}
	for name, id := range c.pending {
		if sum, ok := sums[id]; ok {
			d := c.known[id]
			d.Sum = sum
			c.done[name] = d
		}
	}
	clear(c.pending)
	clear(c.known)
}

// get returns name's digest; settle first.
func (c *contentDigests) get(name string) (Digest, bool) {
	d, ok := c.done[name]
	return d, ok
}

// forget drops what is known of name's content.
func (c *contentDigests) forget(name string) {
	delete(c.done, name)
	delete(c.pending, name)
}

// forgetBelow drops what is known of the content of everything below the
// directory dir.
func (c *contentDigests) forgetBelow(dir string) {
	for n := range c.done {
		if strings.HasPrefix(n, dir+"/") {
			delete(c.done, n)
		}
	}
	for n := range c.pending {
		if strings.HasPrefix(n, dir+"/") {
			delete(c.pending, n)
		}
	}
}
