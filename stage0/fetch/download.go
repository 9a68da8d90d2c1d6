package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/acirun/acirun/internal/atomicfile"
	"github.com/acirun/acirun/internal/flock"
)

// partialInfo is kept beside a partial download (PATH.info) so that a later
// Download can ask for the rest with Range and If-Range.
type partialInfo struct {
	URL          string `json:"url"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
}

// validator is the If-Range value: a strong ETag, else the Last-Modified
// date; "" if the content cannot be safely resumed.
func (p partialInfo) validator() string {
	if p.ETag != "" && !strings.HasPrefix(p.ETag, "W/") {
		return p.ETag
	}
	return p.LastModified
}

func infoPath(partial string) string { return partial + ".info" }

// RemovePartial removes a partial download and its info file. Call it when
// the content delivered by Download turned out to be bad (hash or signature
// mismatch), so that the next attempt does not resume from it.
func RemovePartial(partialPath string) error {
	err1 := os.Remove(partialPath)
	err2 := os.Remove(infoPath(partialPath))
	for _, err := range []error{err1, err2} {
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// ErrChanged is wrapped when the content changed on the server in the middle
// of a download (a resumed request came back whole, 200, instead of 206). w
// has then received a prefix of the old content; the partial file has been
// reset, so calling Download again with a fresh writer starts over.
var ErrChanged = errors.New("content changed on the server during the download")

// resumeAttempts bounds how often one Download call resumes after the
// connection broke.
const resumeAttempts = 3

// Download fetches rawURL and writes the whole content to w, in order, once,
// while it arrives. partialPath (in a directory of the caller's, e.g. the
// store's staging directory) keeps what has been received, with its ETag or
// Last-Modified in partialPath+".info", so that an interrupted download can be
// resumed:
//
//   - If partialPath already holds bytes of the same URL, they are asked for
//     with Range and If-Range. On 206 (Content-Range checked to start exactly
//     there) the stored bytes are first replayed into w, then the rest is
//     streamed. On 200 (content changed, or ranges unsupported) the partial
//     file is reset and everything is streamed from zero.
//   - If the connection breaks in the middle, Download asks for the rest
//     itself, up to 3 times, as long as data keeps coming.
//
// On success the partial file's info is removed and the file itself too,
// or moved to opts.KeepAs; the Response (Body nil) carries the caching data.
// On error the partial file stays for the next call, which must be given a
// fresh w (the old one has received a prefix). A 304 or a still-fresh
// opts.Cache writes nothing to w.
//
// Downloads of the same partialPath are serialized with a flock on it, across
// processes too: a second one waits for the first and then starts afresh.
func (f *Fetcher) Download(ctx context.Context, rawURL, partialPath string, w io.Writer, opts GetOptions) (*Response, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if opts.Cache != nil && opts.Cache.Fresh(time.Now()) {
		return &Response{Outcome: StillFresh, URL: u.String(), Size: -1, Cache: *opts.Cache}, nil
	}
	// The lock on the partial file keeps two Downloads of it, in this
	// process or another, from writing it at the same time.
	file, err := flock.Lock(ctx, partialPath, true)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u.Redacted(), err)
	}
	defer flock.Unlock(file) // releases the lock, after the removal below
	d := &download{f: f, u: u.String(), file: file, path: partialPath, w: w, opts: opts}
	if err := d.loadPartial(); err != nil {
		return nil, fmt.Errorf("fetch %s: partial download %s: %w", u.Redacted(), partialPath, err)
	}
	resp, err := d.run(ctx)
	var stall *StallError
	if errors.As(err, &stall) {
		return nil, err // names the URL
	}
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u.Redacted(), err)
	}
	if resp.Outcome == Fetched {
		if err := d.finish(); err != nil {
			return nil, fmt.Errorf("fetch %s: %w", u.Redacted(), err)
		}
	}
	return resp, nil
}

// finish, with the whole content in the partial file and its lock still
// held, moves the file to opts.KeepAs, if set, and removes the rest.
func (d *download) finish() error {
	if d.opts.KeepAs != "" {
		if err := os.Rename(d.path, d.opts.KeepAs); err != nil {
			return fmt.Errorf("keep the download: %w", err)
		}
	}
	return RemovePartial(d.path)
}

// download is the state of one Download call.
type download struct {
	f    *Fetcher
	u    string
	file *os.File
	path string
	w    io.Writer
	opts GetOptions

	info    partialInfo
	have    int64 // bytes in the partial file
	written int64 // bytes given to w
	prog    *transfer
}

// loadPartial looks at what a previous call left and keeps it only if it can
// be resumed.
func (d *download) loadPartial() error {
	fi, err := d.file.Stat()
	if err != nil {
		return err
	}
	d.have = fi.Size()
	if d.have == 0 {
		return nil
	}
	raw, err := os.ReadFile(infoPath(d.path))
	if err == nil {
		err = json.Unmarshal(raw, &d.info)
	}
	if err != nil || d.info.URL != d.u || d.info.validator() == "" {
		return d.reset()
	}
	return nil
}

// reset empties the partial file and forgets its validator.
func (d *download) reset() error {
	d.have = 0
	d.info = partialInfo{URL: d.u}
	if err := d.file.Truncate(0); err != nil {
		return err
	}
	if _, err := d.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := os.Remove(infoPath(d.path)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (d *download) saveInfo() error {
	raw, err := json.Marshal(d.info)
	if err != nil {
		return err
	}
	return os.WriteFile(infoPath(d.path), raw, 0o600)
}

func (d *download) run(ctx context.Context) (*Response, error) {
	defer func() { d.prog.done() }() // d.prog is set below; done is nil-safe
	resumes, retried416 := 0, false
	for {
		u, _ := parseURL(d.u)
		req, resp, err := d.f.send(ctx, u, d.opts, func(h http.Header) {
			if d.have > 0 {
				h.Set("Range", fmt.Sprintf("bytes=%d-", d.have))
				h.Set("If-Range", d.info.validator())
			}
		})
		if err != nil {
			return nil, err
		}
		now := time.Now()
		total := int64(-1)
		switch {
		case resp.StatusCode == http.StatusNotModified && req.Header.Get("If-None-Match") != "":
			resp.Body.Close()
			return &Response{Outcome: NotModified, URL: resp.Request.URL.String(), Size: -1,
				Cache: revalidated(resp.Header, *d.opts.Cache, now)}, nil

		case resp.StatusCode == http.StatusPartialContent && d.have > 0:
			start, end, size, err := parseContentRange(resp.Header.Get("Content-Range"))
			if err == nil && start != d.have {
				err = fmt.Errorf("starts at %d, asked for %d", start, d.have)
			}
			if err == nil && resp.ContentLength >= 0 && resp.ContentLength != end-start+1 {
				err = fmt.Errorf("covers %d bytes but Content-Length is %d", end-start+1, resp.ContentLength)
			}
			if et := resp.Header.Get("ETag"); err == nil && et != "" && d.info.ETag != "" && et != d.info.ETag {
				err = fmt.Errorf("ETag %s of the rest differs from %s of the start", et, d.info.ETag)
			}
			if err != nil {
				resp.Body.Close()
				d.reset()
				return nil, fmt.Errorf("bad 206 response, Content-Range %q: %v", resp.Header.Get("Content-Range"), err)
			}
			total = size
			if total < 0 {
				total = end + 1
			}
			if d.prog == nil {
				d.prog = d.f.newTransfer(d.opts.Label, total, d.have)
			}
			if d.written < d.have {
				if err := d.replay(); err != nil {
					resp.Body.Close()
					return nil, err
				}
			}

		case resp.StatusCode == http.StatusOK:
			if d.have > 0 || d.written > 0 {
				if err := d.reset(); err != nil {
					resp.Body.Close()
					return nil, err
				}
			}
			if d.written > 0 {
				resp.Body.Close()
				return nil, ErrChanged
			}
			d.info = partialInfo{URL: d.u, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
			if err := d.saveInfo(); err != nil {
				resp.Body.Close()
				return nil, err
			}
			total = resp.ContentLength
			if d.prog == nil {
				d.prog = d.f.newTransfer(d.opts.Label, total, 0)
			}

		case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && d.have > 0 && !retried416 && d.written == 0:
			// The partial file is no prefix of the content (longer than
			// it, say): start over.
			resp.Body.Close()
			retried416 = true
			if err := d.reset(); err != nil {
				return nil, err
			}
			continue

		default:
			return nil, d.f.statusError(resp)
		}

		n, rerr, werr := d.copyBody(ctx, resp.Body)
		resp.Body.Close()
		if werr != nil {
			return nil, werr
		}
		if rerr == nil {
			if total >= 0 && d.have != total {
				return nil, fmt.Errorf("got %d bytes, expected %d", d.have, total)
			}
			return &Response{Outcome: Fetched, URL: resp.Request.URL.String(), Size: d.have,
				Cache: cacheInfo(resp.Header, now)}, nil
		}
		if ctx.Err() != nil || n == 0 || resumes >= resumeAttempts || d.info.validator() == "" {
			if stall := (*StallError)(nil); errors.As(rerr, &stall) {
				return nil, &StallError{URL: stall.URL, After: d.have, Timeout: stall.Timeout}
			}
			return nil, fmt.Errorf("after %d bytes: %w", d.have, rerr)
		}
		resumes++
	}
}

// replay writes the bytes already in the partial file to w.
func (d *download) replay() error {
	if _, err := d.file.Seek(d.written, io.SeekStart); err != nil {
		return err
	}
	n, err := io.Copy(d.w, io.LimitReader(d.file, d.have-d.written))
	d.written += n
	if err == nil && d.written != d.have {
		err = fmt.Errorf("partial file %s is shorter than %d bytes", d.path, d.have)
	}
	if _, serr := d.file.Seek(d.have, io.SeekStart); err == nil {
		err = serr
	}
	return err
}

// bodyBuffer is how much of a body copyBody gathers before it passes it on.
// A TLS connection hands over one record, 16 KiB, a read: passed on at once,
// a 160 MB image made ten thousand writes to the partial file and as many
// hand-offs to the importing goroutine (w is a pipe), which cost the
// download more CPU time than receiving and decrypting; gathered, six
// hundred of each.
const bodyBuffer = 256 << 10

// copyBody appends the body to the partial file and to w, bodyBuffer bytes
// at a time. It returns the bytes moved, the read error (io.EOF is nil) and
// the write error separately: only a broken read is worth resuming. What
// was read before a read broke is still passed on. It stops, as a read
// error, at the first chunk after ctx is done: what the transport had
// already buffered would otherwise still be copied, however much that is.
func (d *download) copyBody(ctx context.Context, body io.Reader) (n int64, rerr, werr error) {
	buf := make([]byte, bodyBuffer)
	for {
		if err := ctx.Err(); err != nil {
			return n, err, nil
		}
		m, err := fill(body, buf)
		if m > 0 {
			if _, e := d.file.Write(buf[:m]); e != nil {
				return n, nil, fmt.Errorf("write %s: %w", d.path, e)
			}
			if d.opts.KeepAs != "" {
				atomicfile.StartWriteback(d.file, d.have, int64(m))
			}
			d.have += int64(m)
			if _, e := d.w.Write(buf[:m]); e != nil {
				return n, nil, e
			}
			d.written += int64(m)
			n += int64(m)
			d.prog.add(m)
		}
		if err == io.EOF {
			return n, nil, nil
		}
		if err != nil {
			return n, err, nil
		}
	}
}

// fill reads r into buf until buf is full or a read fails, and returns the
// bytes read and that failure (io.EOF at the end of r).
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// parseContentRange parses "bytes START-END/SIZE" (SIZE may be "*", given as
// -1).
func parseContentRange(v string) (start, end, size int64, err error) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, 0, 0, errors.New("not a byte range")
	}
	rng, sz, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, 0, errors.New("no size")
	}
	s, e, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, errors.New("no range")
	}
	if start, err = strconv.ParseInt(s, 10, 64); err != nil || start < 0 {
		return 0, 0, 0, errors.New("bad start")
	}
	if end, err = strconv.ParseInt(e, 10, 64); err != nil || end < start {
		return 0, 0, 0, errors.New("bad end")
	}
	size = -1
	if sz != "*" {
		if size, err = strconv.ParseInt(sz, 10, 64); err != nil || size <= end {
			return 0, 0, 0, errors.New("bad size")
		}
	}
	return start, end, size, nil
}
