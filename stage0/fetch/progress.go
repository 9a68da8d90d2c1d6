package fetch

import (
	"io"
	"sync"
)

// Progress is how a Fetcher reports transfers to whoever shows them: it is
// called when a transfer's size is known, with the label of the request
// (GetOptions.Label), the size of the whole content (-1 if unknown) and the
// bytes already there from an earlier, resumed attempt. The Transfer it
// returns is told of every chunk that arrives and, once, of the end. The
// library draws nothing: the CLI turns this into a bar on a terminal, and
// another front end may log it or ignore it.
type Progress func(label string, total, resumed int64) Transfer

// Transfer receives the progress of one transfer.
type Transfer interface {
	// Add says that n more bytes arrived.
	Add(n int)
	// Done says the transfer ended, complete or not. It is called once.
	Done()
}

// transfer wraps the caller's Transfer so that Done is called once
// however the transfer ends (EOF, Close, an error), and so that a nil
// *transfer (no progress wanted) costs nothing.
type transfer struct {
	t    Transfer
	once sync.Once
}

// newTransfer starts reporting a transfer, or returns nil if none is to be
// reported (no Progress, or a request without a label).
func (f *Fetcher) newTransfer(label string, total, resumed int64) *transfer {
	if label == "" || f.opts.Progress == nil {
		return nil
	}
	t := f.opts.Progress(label, total, resumed)
	if t == nil {
		return nil
	}
	return &transfer{t: t}
}

func (p *transfer) add(n int) {
	if p != nil && n > 0 {
		p.t.Add(n)
	}
}

func (p *transfer) done() {
	if p != nil {
		p.once.Do(p.t.Done)
	}
}

// progressReader reports what is read through it and ends the transfer at
// EOF or Close.
type progressReader struct {
	rc io.ReadCloser
	p  *transfer
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.rc.Read(b)
	r.p.add(n)
	if err == io.EOF {
		r.p.done()
	}
	return n, err
}

func (r *progressReader) Close() error {
	r.p.done()
	return r.rc.Close()
}

// Track reports the transfer of rc, a body that came by another way than
// Get (an OCI layer fetched by the registry client), through the
// Fetcher's Progress under label; total is its size (0 or less: unknown).
// Without a Progress it returns rc itself.
func (f *Fetcher) Track(rc io.ReadCloser, label string, total int64) io.ReadCloser {
	if total <= 0 {
		total = -1
	}
	p := f.newTransfer(label, total, 0)
	if p == nil {
		return rc
	}
	return &progressReader{rc: rc, p: p}
}
