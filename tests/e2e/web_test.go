package e2e

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acirun/acirun/stage0/fetch/fetchtest"
)

// testCA is a throw-away CA whose certificate the acirun process trusts
// through SSL_CERT_FILE, as an operator's would through the system roots.
type testCA struct {
	net  *fetchtest.Net
	file string // the CA certificate, PEM
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	n := fetchtest.New(t)
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, n.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return &testCA{net: n, file: file}
}

// useCA makes h's acirun trust ca (and nothing from the environment that
// could send a request elsewhere: no proxies).
func (h *host) useCA(ca *testCA) {
	h.t.Helper()
	file := ca.file
	if h.box != nil {
		// The box has a /tmp of its own: the file must be in h.dir.
		file = filepath.Join(h.dir, "ca.pem")
		if err := os.WriteFile(file, ca.net.CAPEM(), 0o644); err != nil {
			h.t.Fatal(err)
		}
	}
	h.env = append(h.env, "SSL_CERT_FILE="+file, "SSL_CERT_DIR=", "HTTPS_PROXY=", "HTTP_PROXY=", "https_proxy=", "http_proxy=")
}

// listen opens a TCP listener on a loopback address ("127.0.0.1:0").
func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// webFile is one resource of a web server.
type webFile struct {
	data    []byte
	etag    string
	header  map[string]string // more response headers (Cache-Control, …)
	handler http.HandlerFunc  // serves the path instead of data, if set
}

// webReq is one request a web server received.
type webReq struct {
	path   string // with ?query
	header http.Header
	status int
	sent   int64 // body bytes written
}

// web is an HTTPS (or plain HTTP) server on loopback that serves resources
// from memory, with ETags, conditional requests and ranges (http.ServeContent),
// and records every request, so that a test can count what acirun asked.
type web struct {
	t    *testing.T
	srv  *httptest.Server
	base string // scheme://host:port

	mu      sync.Mutex
	files   map[string]*webFile // by path, or path?query for discovery pages
	reqs    []webReq
	trickle int // when > 0, bodies of 200 answers go out at this many bytes per 10ms
	sentAll int64
}

// serve starts a web server on ln; with a CA it speaks TLS with a
// certificate for hosts, else plain HTTP. base is the URL prefix tests use.
func (ca *testCA) serve(t *testing.T, ln net.Listener, hosts ...string) *web {
	t.Helper()
	w := &web{t: t, files: map[string]*webFile{}}
	s := httptest.NewUnstartedServer(w)
	s.Listener.Close()
	s.Listener = ln
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	scheme := "http"
	if ca != nil {
		s.TLS = &tls.Config{Certificates: []tls.Certificate{ca.net.Certificate(t, hosts...)}}
		s.StartTLS()
		scheme = "https"
	} else {
		s.Start()
	}
	t.Cleanup(func() {
		s.CloseClientConnections()
		s.Close()
	})
	w.srv = s
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	host := ln.Addr().(*net.TCPAddr).IP.String()
	if len(hosts) > 0 && net.ParseIP(hosts[0]) == nil {
		host = hosts[0]
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		w.base = scheme + "://" + host
	} else {
		w.base = scheme + "://" + net.JoinHostPort(host, port)
	}
	return w
}

// url returns the URL of path on w.
func (w *web) url(path string) string { return w.base + path }

// put serves data at path with a strong ETag derived from it.
func (w *web) put(path string, data []byte, header ...string) {
	sum := sha256.Sum256(data)
	f := &webFile{data: data, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, header: map[string]string{}}
	for i := 0; i+1 < len(header); i += 2 {
		f.header[header[i]] = header[i+1]
	}
	w.mu.Lock()
	w.files[path] = f
	w.mu.Unlock()
}

// putFile serves the file at path, and file.asc at path.asc if it exists.
func (w *web) putFile(path, file string, header ...string) {
	w.t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		w.t.Fatal(err)
	}
	w.put(path, data, header...)
	if sig, err := os.ReadFile(file + ".asc"); err == nil {
		w.put(path+".asc", sig)
	}
}

// handle serves path with h.
func (w *web) handle(path string, h http.HandlerFunc) {
	w.mu.Lock()
	w.files[path] = &webFile{handler: h}
	w.mu.Unlock()
}

// setTrickle makes bodies go out slowly (bytes per 10ms; 0: full speed).
func (w *web) setTrickle(n int) {
	w.mu.Lock()
	w.trickle = n
	w.mu.Unlock()
}

// requests returns the requests received so far and forgets them.
func (w *web) requests() []webReq {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.reqs
	w.reqs = nil
	return r
}

// bodyBytes is how many body bytes w has written in all.
func (w *web) bodyBytes() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sentAll
}

func (w *web) String() string { return w.base }

// countingWriter records the status and the body bytes of one answer, and
// trickles the body when asked to.
type countingWriter struct {
	http.ResponseWriter
	w       *web
	status  int
	sent    int64
	trickle int
	done    <-chan struct{}
}

func (c *countingWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	total := 0
	for len(b) > 0 {
		n := len(b)
		if c.trickle > 0 && c.status == http.StatusOK {
			n = min(n, c.trickle)
		}
		m, err := c.ResponseWriter.Write(b[:n])
		total += m
		c.sent += int64(m)
		c.w.mu.Lock()
		c.w.sentAll += int64(m)
		c.w.mu.Unlock()
		if err != nil {
			return total, err
		}
		b = b[n:]
		if c.trickle > 0 && c.status == http.StatusOK {
			if f, ok := c.ResponseWriter.(http.Flusher); ok {
				f.Flush()
			}
			select {
			case <-c.done:
				return total, io.ErrClosedPipe
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return total, nil
}

func (w *web) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	key := r.URL.Path
	if r.URL.RawQuery != "" {
		key += "?" + r.URL.RawQuery
	}
	w.mu.Lock()
	f := w.files[key]
	cw := &countingWriter{ResponseWriter: rw, w: w, trickle: w.trickle, done: r.Context().Done()}
	w.mu.Unlock()
	switch {
	case f == nil:
		http.NotFound(cw, r)
	case f.handler != nil:
		f.handler(cw, r)
	default:
		for k, v := range f.header {
			cw.Header().Set(k, v)
		}
		cw.Header().Set("ETag", f.etag)
		http.ServeContent(cw, r, "", time.Time{}, bytes.NewReader(f.data))
	}
	if cw.status == 0 {
		cw.status = http.StatusOK
	}
	w.mu.Lock()
	w.reqs = append(w.reqs, webReq{path: key, header: r.Header.Clone(), status: cw.status, sent: cw.sent})
	w.mu.Unlock()
}

// summary lists requests as "STATUS PATH" lines, for messages.
func summary(reqs []webReq) string {
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "%d %s (%d bytes)\n", r.status, r.path, r.sent)
	}
	return b.String()
}

// only returns the requests for path.
func only(reqs []webReq, path string) []webReq {
	var out []webReq
	for _, r := range reqs {
		if r.path == path {
			out = append(out, r)
		}
	}
	return out
}
