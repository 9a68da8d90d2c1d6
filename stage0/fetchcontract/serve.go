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

// Review asks acirun whether k, from source, may be trusted.
func (c *Conn) Review(ctx context.Context, k KeyInfo, source string) (bool, error) {
	if err := c.send(Message{Review: &Review{Key: k, Source: source}}); err != nil {
		return false, fmt.Errorf("ask for the review of key %s: %w", k.Fingerprint, err)
	}
	var a Answer
	if err := c.in.Decode(&a); err != nil {
		return false, fmt.Errorf("the review of key %s: %w", k.Fingerprint, err)
	}
	if a.Err != "" {
		return false, errors.New(a.Err)
	}
	return a.Trust, nil
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
