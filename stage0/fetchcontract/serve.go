package fetchcontract

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/acirun/acirun/stage0/fetch"
)

// Conn is the helper's end of one exchange: what it tells acirun while it
// works, and the questions it asks.
type Conn struct {
	in  *json.Decoder
	mu  sync.Mutex // one message at a time on out
	out *json.Encoder
	ids int // the last Progress ID given
	// reviewGone is set once a review stopped waiting for its answer
	// (its context done): that answer may still come, and must not be
	// read as another key's, so no review is asked after it.
	reviewGone error
}

// ReadRequest starts the helper's end of an exchange: it reads the
// Request from in, and refuses one of another Version.
func ReadRequest(in io.Reader, out io.Writer) (*Conn, *Request, error) {
	c := &Conn{in: json.NewDecoder(bufio.NewReader(in)), out: json.NewEncoder(out)}
	var req Request
	if err := c.in.Decode(&req); err != nil {
		return c, nil, fmt.Errorf("%s: read the request: %w (it is run by acirun, not by hand)", Executable, err)
	}
	if req.Version != Version {
		return c, nil, fmt.Errorf("%s speaks version %d of acirun's fetch contract and was asked in version %d: install acirun and %s from one build (make install)",
			Executable, Version, req.Version, Executable)
	}
	return c, &req, nil
}

func (c *Conn) send(m Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Encode(m)
}

// Finish sends the Result, with err as its Err.
func (c *Conn) Finish(res *Result, err error) error {
	if res == nil {
		res = &Result{}
	}
	res.Err = ErrorOf(err)
	return c.send(Message{Result: res})
}

// Discovered tells acirun the key URLs discovery found.
func (c *Conn) Discovered(urls []string) {
	if urls == nil {
		urls = []string{}
	}
	c.send(Message{Discovered: urls})
}

// Review asks acirun whether k, from source, may be trusted, and waits
// for its answer until ctx is done: acirun stops the helper with SIGTERM
// when its own context ends, maybe while its user is being asked.
func (c *Conn) Review(ctx context.Context, k KeyInfo, source string) (bool, error) {
	if c.reviewGone != nil {
		return false, fmt.Errorf("the review of key %s: not asked after %w", k.Fingerprint, c.reviewGone)
	}
	if err := c.send(Message{Review: &Review{Key: k, Source: source}}); err != nil {
		return false, fmt.Errorf("ask for the review of key %s: %w", k.Fingerprint, err)
	}
	type answer struct {
		a   Answer
		err error
	}
	got := make(chan answer, 1)
	go func() {
		// Left reading when ctx ends first, until acirun answers or
		// closes the helper's input (its exit).
		var a Answer
		err := c.in.Decode(&a)
		got <- answer{a, err}
	}()
	select {
	case r := <-got:
		if r.err != nil {
			return false, fmt.Errorf("the review of key %s: %w", k.Fingerprint, r.err)
		}
		if r.a.Err != "" {
			return false, errors.New(r.a.Err)
		}
		return r.a.Trust, nil
	case <-ctx.Done():
		c.reviewGone = fmt.Errorf("the review of key %s: %w", k.Fingerprint, context.Cause(ctx))
		return false, c.reviewGone
	}
}

// Progress is the fetch.Progress that tells acirun of every download.
func (c *Conn) Progress() fetch.Progress {
	return func(label string, total, resumed int64) fetch.Transfer {
		c.mu.Lock()
		c.ids++
		id := c.ids
		c.mu.Unlock()
		c.send(Message{Progress: &Progress{ID: id, Label: label, Total: total, Resumed: resumed}})
		return &transfer{c: c, id: id}
	}
}

// transfer is one download's fetch.Transfer in the helper.
type transfer struct {
	c  *Conn
	id int
}

func (t *transfer) Add(n int) { t.c.send(Message{Progress: &Progress{ID: t.id, Add: int64(n)}}) }
func (t *transfer) Done()     { t.c.send(Message{Progress: &Progress{ID: t.id, Done: true}}) }
