package fetchcontract

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"

	"github.com/acirun/acirun/stage0/fetch"
)

// Client runs acirun-fetch for requests, and shows what the helper reports
// meanwhile through its callbacks.
type Client struct {
	// Path is the helper's executable; "" means Find's.
	Path string
	// Stderr is the helper's standard error: its warnings and debug
	// lines. Nil discards them.
	Stderr io.Writer
	// Progress is told of every download (FetchRequest.Progress is set
	// when it is not nil).
	Progress fetch.Progress
	// Discovered is told the key URLs discovery found for a TrustRequest.
	Discovered func(urls []string)
	// Review is asked about each key of a TrustRequest with Review set.
	Review func(k *KeyInfo, source string) (bool, error)
	// Trace, if not "", is the environment entry that makes the helper
	// trace its steps from acirun's origin (trace.Tracer.ForChild).
	Trace string
}

// stopGrace is how long the helper has to end after ctx is done (it is
// sent SIGTERM, and cleans up as a cancelled fetch does) before it is
// killed.
const stopGrace = 10 * time.Second

// Do runs the helper for req and returns its Result. An error of the
// helper's is an *Error, returned with the Result (which may say what was
// done before it); the helper's failure to answer names the helper and what
// to do. When ctx is done the helper is stopped.
func (c *Client) Do(ctx context.Context, req *Request) (*Result, error) {
	path := c.Path
	if path == "" {
		var err error
		if path, err = Find(); err != nil {
			return nil, err
		}
	}
	r := *req
	r.Version = Version
	if r.Fetch != nil && c.Progress != nil {
		f := *r.Fetch
		f.Progress = true
		r.Fetch = &f
	}
	if r.Trust != nil && c.Review != nil {
		t := *r.Trust
		t.Review = true
		r.Trust = &t
	}
	cmd := exec.CommandContext(ctx, path)
	cmd.Stderr = c.Stderr
	if c.Trace != "" {
		cmd.Env = append(os.Environ(), c.Trace)
	}
	// SIGTERM lets a cancelled fetch clean up as within one process.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	// An acirun that dies takes the helper with it, as when the work
	// was its own: killed with it (a download killed so resumes next
	// time, and the store's half-done work is what a killed acirun
	// leaves). The kernel sends it when the thread that started the
	// helper ends, so that thread is kept until the helper has ended.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", path, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", path, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run the fetch helper %s: %w (make install puts acirun and %s in PREFIX/bin)", path, err, Executable)
	}
	res, readErr := c.exchange(&r, stdin, stdout)
	stdin.Close()
	if readErr != nil {
		// Drain, so that the helper is not stuck writing.
		io.Copy(io.Discard, stdout)
	}
	waitErr := cmd.Wait()
	switch {
	case res != nil && res.Err != nil:
		return res, res.Err
	case res != nil:
		return res, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	}
	why := errors.Join(readErr, waitErr)
	if why == nil {
		why = errors.New("no result")
	}
	return nil, fmt.Errorf("the fetch helper %s ended without an answer (%v): install acirun and %s from one build (make install)", path, why, Executable)
}

// exchange writes req and answers the helper's messages until its Result.
// Only a review's answers follow the request: without one, the helper's
// input ends with it.
func (c *Client) exchange(req *Request, stdin io.WriteCloser, stdout io.Reader) (*Result, error) {
	enc := json.NewEncoder(stdin)
	if err := enc.Encode(req); err != nil {
		return nil, fmt.Errorf("send the request: %w", err)
	}
	if req.Trust == nil || !req.Trust.Review {
		stdin.Close()
	}
	transfers := map[int]fetch.Transfer{}
	defer func() {
		for _, t := range transfers {
			t.Done()
		}
	}()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), maxMessage)
	for sc.Scan() {
		var m Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("read its answer: %w", err)
		}
		switch {
		case m.Result != nil:
			return m.Result, nil
		case m.Progress != nil:
			c.progress(transfers, m.Progress)
		case m.Discovered != nil:
			if c.Discovered != nil {
				c.Discovered(m.Discovered)
			}
		case m.Review != nil:
			a := Answer{}
			if c.Review == nil {
				a.Err = "no review asked for"
			} else if ok, err := c.Review(&m.Review.Key, m.Review.Source); err != nil {
				a.Err = err.Error()
			} else {
				a.Trust = ok
			}
			if err := enc.Encode(a); err != nil {
				return nil, fmt.Errorf("answer its review: %w", err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read its answer: %w", err)
	}
	return nil, nil
}

// maxMessage bounds one message of the helper's: a trust list of many
// keys is the largest.
const maxMessage = 16 << 20

// progress passes one Progress message on to c.Progress.
func (c *Client) progress(transfers map[int]fetch.Transfer, p *Progress) {
	if c.Progress == nil {
		return
	}
	t, ok := transfers[p.ID]
	if !ok {
		if p.Label == "" {
			return // a transfer c.Progress did not want
		}
		t = c.Progress(p.Label, p.Total, p.Resumed)
		if t == nil {
			return
		}
		transfers[p.ID] = t
	}
	if p.Add > 0 {
		t.Add(int(p.Add))
	}
	if p.Done {
		t.Done()
		delete(transfers, p.ID)
	}
}
