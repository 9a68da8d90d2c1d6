package archive

import (
	"errors"
	"hash"
	"io"
)

// The pipelines of a walk. Inflating gzip is the slowest step of reading an
// ACI, SHA-512 of the uncompressed stream the second slowest, and whatever
// the caller's reader does (a download, a signature digest and a copy to the
// store teed off it) the third; run in one goroutine they add up, run side by
// side they overlap. Two walkPipes connect four goroutines: one reads the
// caller's input ahead of the decompressor, one decompresses, one hashes each
// uncompressed chunk, and the walker serves the chunks to archive/tar. The
// chunks circulate between two channels, so memory stays at
// walkChunks*walkChunkSize per pipe whatever the size of the image.
const (
	walkChunkSize = 256 << 10
	walkChunks    = 8
	// walkFirstChunk is the size of the first chunk, read before deciding
	// whether a goroutine is worth it; small, so that walking a tiny
	// archive costs little.
	walkFirstChunk = 16 << 10
)

type walkChunk struct {
	b   []byte
	n   int   // valid bytes in b
	err error // set on the last chunk: io.EOF at the clean end, else the failure
}

// walkPipe is the consumer end. It is an io.Reader (and a forward-only
// io.Seeker, so that archive/tar skips unread file bodies without copying
// them) over its source. With a hash, every byte received, read or skipped,
// is hashed on the way, in a goroutine of its own between the producer and
// the consumer.
type walkPipe struct {
	full   chan *walkChunk // chunks ready for the consumer
	free   chan *walkChunk // chunks the consumer is done with
	done   chan struct{}   // closed by stop: the goroutines must quit
	exited chan struct{}   // closed when the pipe's goroutines have returned

	cur     *walkChunk
	off     int
	pos     int64 // bytes handed out or skipped, i.e. the reader's position
	recv    int64 // bytes received (and hashed)
	eof     bool  // Read has returned io.EOF
	stopped bool
}

// newWalkPipe starts reading src, hashing into h if it is not nil; h holds
// the hash of the whole stream once the consumer has met its end. The first
// chunk is read (and hashed) synchronously: a stream that fits in it (a tiny
// image, a fuzzer's input) needs no goroutine and no more memory. Otherwise a
// producer goroutine reads the rest ahead of the consumer. The caller must
// call stop when done, which waits for the goroutines to return: src, h and
// whatever src's reads touch are not used after stop returns.
func newWalkPipe(src io.Reader, h hash.Hash) *walkPipe {
	p := &walkPipe{
		full:   make(chan *walkChunk, walkChunks+1),
		free:   make(chan *walkChunk, walkChunks),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	first := &walkChunk{b: make([]byte, walkFirstChunk)}
	first.n, first.err = fillChunk(src, first.b)
	if first.err != nil {
		if h != nil {
			h.Write(first.b[:first.n])
		}
		p.full <- first
		close(p.exited)
		return p
	}
	// The first chunk is not reused: the full ring is walkChunks chunks
	// of walkChunkSize once the first is consumed.
	for range walkChunks {
		p.free <- &walkChunk{b: make([]byte, walkChunkSize)}
	}
	out := p.full
	if h != nil {
		out = make(chan *walkChunk, walkChunks+1)
		hashed := make(chan struct{})
		go p.hash(h, out, hashed)
		go func() {
			p.produce(src, first, out)
			<-hashed
			close(p.exited)
		}()
		return p
	}
	go func() {
		p.produce(src, first, out)
		close(p.exited)
	}()
	return p
}

// produce sends first and then chunks filled from src to out, until the
// stream ends or the pipe is stopped. It closes out when it returns, so that
// a consumer waiting for a chunk that will never come (it is itself the
// producer of a pipe being stopped) gets an error instead.
func (p *walkPipe) produce(src io.Reader, first *walkChunk, out chan<- *walkChunk) {
	defer close(out)
	c := first
	for {
		select {
		case out <- c:
		case <-p.done:
			return
		}
		if c.err != nil {
			return
		}
		select {
		case c = <-p.free:
		case <-p.done:
			return
		}
		c.n, c.err = fillChunk(src, c.b)
	}
}

// hash passes the chunks from in on to the consumer, hashing each one on the
// way. It closes p.full, as produce closes in, and then hashed.
func (p *walkPipe) hash(h hash.Hash, in <-chan *walkChunk, hashed chan<- struct{}) {
	defer close(hashed)
	defer close(p.full)
	for c := range in {
		h.Write(c.b[:c.n])
		select {
		case p.full <- c:
		case <-p.done:
			return
		}
	}
}

// fillChunk reads until b is full or src fails. Unlike io.ReadFull it passes
// the source's own io.ErrUnexpectedEOF (a truncated compressed stream)
// through unchanged and reports a clean end as io.EOF.
func fillChunk(src io.Reader, b []byte) (int, error) {
	n, idle := 0, 0
	for n < len(b) {
		m, err := src.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m > 0 {
			idle = 0
		} else if idle++; idle == 100 {
			return n, io.ErrNoProgress
		}
	}
	return n, nil
}

// next makes p.cur a chunk with unread bytes, or returns the stream's
// terminal error.
func (p *walkPipe) next() error {
	for p.cur == nil || p.off == p.cur.n {
		if p.cur != nil {
			if p.cur.err != nil {
				if p.cur.err == io.EOF {
					p.eof = true
				}
				return p.cur.err
			}
			if len(p.cur.b) == walkChunkSize {
				p.free <- p.cur
			}
			p.cur = nil
		}
		c, ok := <-p.full
		if !ok {
			return errors.New("walk pipe stopped")
		}
		p.recv += int64(c.n)
		p.cur, p.off = c, 0
	}
	return nil
}

func (p *walkPipe) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if err := p.next(); err != nil {
		return 0, err
	}
	n := copy(b, p.cur.b[p.off:p.cur.n])
	p.off += n
	p.pos += int64(n)
	return n, nil
}

// Seek supports only moving forward from the current position, which is all
// archive/tar asks for when it skips a body. Skipped bytes are still hashed.
// Like a file seek past the end it does not report a short stream: the next
// Read does.
func (p *walkPipe) Seek(offset int64, whence int) (int64, error) {
	if whence != io.SeekCurrent || offset < 0 {
		return p.pos, errors.New("walk pipe: only forward relative seeks")
	}
	for offset > 0 {
		if err := p.next(); err != nil {
			break
		}
		n := min(int64(p.cur.n-p.off), offset)
		p.off += int(n)
		p.pos += n
		offset -= n
	}
	return p.pos, nil
}

// drain consumes the rest of the stream, so that the hash covers every byte,
// and reports the offset of the first non-zero byte found (-1 if none) and
// the stream's terminal error other than io.EOF.
func (p *walkPipe) drain(limit int64) (nonZero int64, err error) {
	nonZero = -1
	start := p.pos
	for {
		if err := p.next(); err != nil {
			if err == io.EOF {
				return nonZero, nil
			}
			return nonZero, err
		}
		for i, c := range p.cur.b[p.off:p.cur.n] {
			if c != 0 {
				// Data after the end: the archive is invalid, no need
				// to read on.
				return p.pos + int64(i), nil
			}
		}
		p.pos += int64(p.cur.n - p.off)
		p.off = p.cur.n
		if p.pos-start > limit {
			return -1, errTrailerTooLong
		}
	}
}

// err returns the stream's terminal error other than io.EOF once the
// consumer has reached it, and nil before.
func (p *walkPipe) err() error {
	if p.cur != nil && p.off == p.cur.n && p.cur.err != io.EOF {
		return p.cur.err
	}
	return nil
}

// stop tells the producer to quit and waits until it has. Calling it again
// does nothing.
func (p *walkPipe) stop() {
	if p.stopped {
		return
	}
	p.stopped = true
	close(p.done)
	<-p.exited
}
