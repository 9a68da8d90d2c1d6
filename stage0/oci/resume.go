package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxBlobResumes is how many times one blob download that lost its
// connection is taken up again from where it stopped.
const MaxBlobResumes = 5

// blobResume makes a blob download survive a dropped connection: when the
// body of a GET of /v2/NAME/blobs/DIGEST (or of the storage URL the
// registry redirected it to) fails before its end, the request is made
// again with Range: bytes=N- from the N bytes already given, and the body
// goes on from the answer, up to MaxBlobResumes times. Whoever reads it
// sees one stream, and verifies its digest over the whole of it, as
// without a resume: a server that sends other bytes from N on is caught
// there.
type blobResume struct {
	inner http.RoundTripper
}

func (b blobResume) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.inner.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || resp.StatusCode != http.StatusOK || req.Header.Get("Range") != "" || !isBlobRequest(req) {
		return resp, err
	}
	resp.Body = &resumingBody{rt: b.inner, req: req, body: resp.Body, size: resp.ContentLength}
	return resp, nil
}

// isBlobRequest says whether req fetches a blob: its path is
// /v2/NAME/blobs/DIGEST, or it follows a redirect from one.
func isBlobRequest(req *http.Request) bool {
	for r := req; r != nil; {
		if isBlobPath(r.URL.Path) {
			return true
		}
		if r.Response == nil {
			return false
		}
		r = r.Response.Request
	}
	return false
}

func isBlobPath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return false
	}
	i := strings.LastIndex(rest, "/blobs/")
	if i <= 0 {
		return false
	}
	d := rest[i+len("/blobs/"):]
	return d != "" && !strings.Contains(d, "/")
}

// resumingBody is a blob's body that takes the download up again after
// it failed before its end.
type resumingBody struct {
	rt      http.RoundTripper
	req     *http.Request
	body    io.ReadCloser
	size    int64 // the whole blob's, -1 if not known
	off     int64 // bytes given so far
	resumes int
}

func (b *resumingBody) Read(p []byte) (int, error) {
	for {
		n, err := b.body.Read(p)
		b.off += int64(n)
		if err == nil || errors.Is(err, io.EOF) {
			return n, err
		}
		if rerr := b.resume(err); rerr != nil {
			return n, rerr
		}
		if n > 0 {
			return n, nil
		}
	}
}

// resume replaces the failed body with the rest of the blob from b.off,
// or says why it cannot.
func (b *resumingBody) resume(cause error) error {
	ctx := b.req.Context()
	where := b.req.URL.Redacted()
	if ctx.Err() != nil || (b.size >= 0 && b.off >= b.size) {
		return cause
	}
	if b.resumes >= MaxBlobResumes {
		return fmt.Errorf("blob %s: download failed at byte %d after %d resumes: %w", where, b.off, b.resumes, cause)
	}
	b.resumes++
	b.body.Close()
	b.body = io.NopCloser(strings.NewReader("")) // until a new one is had
	select {
	case <-ctx.Done():
		return fmt.Errorf("blob %s: %w", where, context.Cause(ctx))
	case <-time.After(time.Duration(b.resumes) * 100 * time.Millisecond):
	}
	req := b.req.Clone(ctx)
	req.Header.Set("Range", "bytes="+strconv.FormatInt(b.off, 10)+"-")
	resp, err := b.rt.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("blob %s: resuming at byte %d after %v: %w", where, b.off, cause, err)
	}
	if resp.StatusCode != http.StatusPartialContent || !strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes "+strconv.FormatInt(b.off, 10)+"-") {
		resp.Body.Close()
		return fmt.Errorf("blob %s: resuming at byte %d after %v: the server answered %s (Content-Range %q), not the rest of the blob", where, b.off, cause, resp.Status, resp.Header.Get("Content-Range"))
	}
	b.body = resp.Body
	return nil
}

func (b *resumingBody) Close() error { return b.body.Close() }
