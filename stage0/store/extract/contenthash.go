package extract

import (
	"crypto/sha256"
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
