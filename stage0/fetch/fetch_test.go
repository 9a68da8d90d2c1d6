package fetch

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acirun/acirun/stage0/fetch/fetchtest"
)

func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// baseOptions trusts the test CA and dials the test servers only.
func baseOptions(n *fetchtest.Net) Options {
	return Options{RootCAs: n.Pool, DialContext: n.DialContext, Proxy: noProxy}
}

// recorder is a handler wrapper that remembers the requests it saw.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	h    http.Handler
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(context.Background()))
	r.mu.Unlock()
	r.h.ServeHTTP(w, req)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

func (r *recorder) last() *http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		return nil
	}
	return r.reqs[len(r.reqs)-1]
}

func record(h http.HandlerFunc) *recorder { return &recorder{h: h} }

func readAll(t *testing.T, r *Response) string {
	t.Helper()
	if r.Body == nil {
		t.Fatalf("response %+v has no body", r)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGet(t *testing.T) {
	n := fetchtest.New(t)
	rec := record(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "image bytes") })
	n.ServeTLS(t, rec, "example.com")
	var warn bytes.Buffer
	f := New(Options{RootCAs: n.Pool, DialContext: n.DialContext, Proxy: noProxy, Warnings: &warn})
	r, err := f.Get(context.Background(), "https://example.com/app.aci", GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, r); got != "image bytes" || r.Outcome != Fetched || r.Size != 11 || r.URL != "https://example.com/app.aci" {
		t.Errorf("Get = %+v, body %q", r, got)
	}
	if ua := rec.last().Header.Get("User-Agent"); ua != "acirun" {
		t.Errorf("User-Agent %q", ua)
	}
	if rec.last().Header.Get("Authorization") != "" {
		t.Error("Authorization sent without credentials")
	}
	if warn.Len() != 0 {
		t.Errorf("warnings without any relaxation: %q", warn.String())
	}

	// Statuses other than 200 are StatusErrors.
	n.ServeTLS(t, http.NotFoundHandler(), "missing.example.com")
	_, err = f.Get(context.Background(), "https://missing.example.com/app.aci", GetOptions{})
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 404 || !strings.Contains(err.Error(), "https://missing.example.com/app.aci: 404 Not Found") {
		t.Errorf("404: %v", err)
	}
	// Refused before any request: not by the transport's own complaint
	// (net/http's "unsupported protocol scheme", a failed dial).
	for _, tc := range []struct{ url, want string }{
		{"ftp://example.com/x", "fetch ftp://example.com/x: not an absolute http(s) URL"},
		{"example.com/x", "fetch example.com/x: not an absolute http(s) URL"},
		{"https:///x", "fetch https:///x: not an absolute http(s) URL"},
		{"://", "missing protocol scheme"},
	} {
		if _, err := f.Get(context.Background(), tc.url, GetOptions{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Get(%q) = %v, want %q", tc.url, err, tc.want)
		}
	}
}

func TestHTTPNeedsInsecure(t *testing.T) {
	n := fetchtest.New(t)
	rec := record(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "plain") })
	n.ServeHTTP(t, rec, "example.com")
	var warn bytes.Buffer
	o := baseOptions(n)
	o.Warnings = &warn
	_, err := New(o).Get(context.Background(), "http://example.com/app.aci", GetOptions{})
	if !errors.Is(err, ErrInsecureHTTP) {
		t.Errorf("http without insecure: %v", err)
	}
	if rec.count() != 0 {
		t.Error("a plain http request was sent")
	}

	o.Insecure = InsecureHTTP
	f := New(o)
	for range 2 {
		r, err := f.Get(context.Background(), "http://example.com/app.aci", GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, r)
	}
	if got := warn.String(); got != "warning: --insecure-options=http: fetching from example.com over plain http\n" {
		t.Errorf("warnings %q, want exactly one", got)
	}
}

func TestRedirectToHTTPRefused(t *testing.T) {
	n := fetchtest.New(t)
	plain := record(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "plain") })
	n.ServeHTTP(t, plain, "example.com")
	n.ServeTLS(t, http.RedirectHandler("http://example.com/app.aci", http.StatusFound), "example.com")
	_, err := New(baseOptions(n)).Get(context.Background(), "https://example.com/app.aci", GetOptions{})
	if !errors.Is(err, ErrInsecureHTTP) || plain.count() != 0 {
		t.Errorf("https->http redirect: %v (%d plain requests)", err, plain.count())
	}
}

func TestTLSVerification(t *testing.T) {
	n := fetchtest.New(t)
	s := n.ServeTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }), "example.com")
	ctx := context.Background()

	// System roots do not know the test CA.
	o := baseOptions(n)
	o.RootCAs = nil
	// The refusal must be the certificate's, not any failure on the way
	// (a dial error would pass a test that only wants an error).
	var unknownCA x509.UnknownAuthorityError
	_, err := New(o).Get(ctx, "https://example.com/x", GetOptions{})
	if !errors.As(err, &unknownCA) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA: %v, want the certificate's unknown authority", err)
	}

	// A CA, but the wrong one.
	o.RootCAs = fetchtest.New(t).Pool
	if _, err := New(o).Get(ctx, "https://example.com/x", GetOptions{}); !errors.As(err, &unknownCA) {
		t.Fatalf("a certificate of another CA: %v, want the certificate's unknown authority", err)
	}

	// --insecure-options=tls lets it through, and says so once per host.
	var warn bytes.Buffer
	o.Insecure, o.Warnings = InsecureTLS, &warn
	f := New(o)
	for range 2 {
		r, err := f.Get(ctx, "https://example.com/x", GetOptions{})
		if err != nil {
			t.Fatalf("insecure tls: %v", err)
		}
		readAll(t, r)
	}
	if got := warn.String(); strings.Count(got, "\n") != 1 ||
		!strings.HasPrefix(got, "warning: --insecure-options=tls: certificate of example.com not verified: x509: ") {
		t.Errorf("warnings %q", got)
	}

	// With the right CA the relaxation is not used and nothing is printed.
	warn.Reset()
	o.RootCAs = n.Pool
	r, err := New(o).Get(ctx, "https://example.com/x", GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, r)
	if warn.Len() != 0 {
		t.Errorf("warning although the certificate verified: %q", warn.String())
	}

	// A certificate for another name is refused without the relaxation.
	n.Register(s.Listener.Addr().String(), "443", "wrong.example.org")
	o.Insecure = 0
	if _, err := New(o).Get(ctx, "https://wrong.example.org/x", GetOptions{}); err == nil || !strings.Contains(err.Error(), "wrong.example.org") {
		t.Errorf("name mismatch: %v", err)
	}
}

func authDir(t *testing.T, files map[string]string) Auth {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		writeAuth(t, dir, name, content)
	}
	a, err := LoadAuth(nil, filepath.Join(dir, "auth.d"))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAuthAndRedirects(t *testing.T) {
	n := fetchtest.New(t)
	auth := authDir(t, map[string]string{
		"basic.json":  `{"rktKind":"auth","rktVersion":"v1","domains":["example.com"],"type":"basic","credentials":{"user":"alice","password":"s3cret"}}`,
		"bearer.json": `{"rktKind":"auth","rktVersion":"v1","domains":["bearer.example.com"],"type":"oauth","credentials":{"token":"tok"}}`,
	})
	main := record(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != "alice" || p != "s3cret" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/image.aci", http.StatusFound)
		case "/other":
			http.Redirect(w, r, "https://other.example.com/image.aci", http.StatusFound)
		case "/bearer":
			http.Redirect(w, r, "https://bearer.example.com/image.aci", http.StatusMovedPermanently)
		default:
			fmt.Fprint(w, "main:"+r.URL.Path)
		}
	})
	other := record(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "other") })
	bearer := record(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "bearer")
	})
	n.ServeTLS(t, main, "example.com")
	n.ServeTLS(t, other, "other.example.com", "sub.start.example.com")
	n.ServeTLS(t, bearer, "bearer.example.com")
	o := baseOptions(n)
	o.Auth = auth
	f := New(o)
	ctx := context.Background()

	get := func(u string) string {
		t.Helper()
		r, err := f.Get(ctx, u, GetOptions{})
		if err != nil {
			t.Fatalf("Get(%s): %v", u, err)
		}
		return readAll(t, r)
	}
	if got := get("https://example.com/same"); got != "main:/image.aci" {
		t.Errorf("same-host redirect: %q", got)
	}
	if got := get("https://example.com/other"); got != "other" {
		t.Errorf("other-host redirect: %q", got)
	}
	if h := other.last().Header.Get("Authorization"); h != "" {
		t.Errorf("credentials of example.com sent to other.example.com: %q", h)
	}
	if got := get("https://example.com/bearer"); got != "bearer" {
		t.Errorf("redirect to a host with its own credentials: %q", got)
	}
	if h := bearer.last().Header.Get("Authorization"); h != "Bearer tok" {
		t.Errorf("bearer host got %q", h)
	}

	// An Authorization header set by a caller of Client() follows a
	// same-host redirect but is dropped for any other host, even a
	// subdomain (net/http alone would keep it for sub.start.example.com).
	for _, tc := range []struct {
		to   string
		keep bool
	}{{"https://start.example.com/image.aci", true}, {"https://sub.start.example.com/image.aci", false}} {
		redir := record(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/start" {
				http.Redirect(w, r, tc.to, http.StatusFound)
				return
			}
			fmt.Fprint(w, "ok")
		})
		n.ServeTLS(t, redir, "start.example.com")
		req, _ := http.NewRequestWithContext(ctx, "GET", "https://start.example.com/start", nil)
		req.Header.Set("Authorization", "Bearer caller")
		resp, err := New(o).Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("redirect to %s: %s", tc.to, resp.Status)
		}
		var got string
		if strings.HasPrefix(tc.to, "https://start.example.com") {
			got = redir.last().Header.Get("Authorization")
		} else {
			got = other.last().Header.Get("Authorization")
		}
		if (got == "Bearer caller") != tc.keep {
			t.Errorf("redirect to %s: Authorization %q", tc.to, got)
		}
	}
}

func TestUnauthorized(t *testing.T) {
	n := fetchtest.New(t)
	deny := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="images"`)
		http.Error(w, "no", http.StatusUnauthorized)
	})
	n.ServeTLS(t, deny, "example.com", "open.example.com")
	auth := authDir(t, map[string]string{
		"a.json": `{"rktKind":"auth","rktVersion":"v1","domains":["example.com"],"type":"basic","credentials":{"user":"u","password":"wrong"}}`,
	})
	o := baseOptions(n)
	o.Auth = auth
	f := New(o)
	var se *StatusError
	_, err := f.Get(context.Background(), "https://example.com/x.aci", GetOptions{})
	if !errors.As(err, &se) || se.StatusCode != 401 || !strings.Contains(se.Hint, "basic credentials for example.com from ") ||
		!strings.Contains(se.Hint, "a.json were refused") {
		t.Errorf("401 with credentials: %v", err)
	}
	_, err = f.Get(context.Background(), "https://open.example.com/x.aci", GetOptions{})
	if !errors.As(err, &se) || se.StatusCode != 401 || se.Hint != "no credentials for open.example.com are configured in auth.d" {
		t.Errorf("401 without credentials: %v", err)
	}
}

func TestCredentialsNotSentOverHTTP(t *testing.T) {
	n := fetchtest.New(t)
	rec := record(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "x") })
	n.ServeHTTP(t, rec, "example.com")
	o := baseOptions(n)
	o.Insecure = InsecureHTTP
	o.Auth = authDir(t, map[string]string{
		"a.json": `{"rktKind":"auth","rktVersion":"v1","domains":["example.com"],"type":"oauth","credentials":{"token":"t"}}`,
	})
	r, err := New(o).Get(context.Background(), "http://example.com/x", GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, r)
	if h := rec.last().Header.Get("Authorization"); h != "" {
		t.Errorf("credentials sent over plain http: %q", h)
	}
}

func TestTooManyRedirects(t *testing.T) {
	n := fetchtest.New(t)
	n.ServeTLS(t, http.RedirectHandler("/loop", http.StatusFound), "example.com")
	_, err := New(baseOptions(n)).Get(context.Background(), "https://example.com/loop", GetOptions{})
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Errorf("redirect loop: %v", err)
	}
}

func TestETagAndCacheControl(t *testing.T) {
	n := fetchtest.New(t)
	etag := `"v1"`
	rec := record(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", etag)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "content of "+etag)
	})
	n.ServeTLS(t, rec, "example.com")
	f := New(baseOptions(n))
	ctx := context.Background()
	const u = "https://example.com/app.aci"

	r, err := f.Get(ctx, u, GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, r); r.Cache.ETag != etag || r.Cache.MaxAge.Hours() != 1 || r.Cache.FetchedAt.IsZero() {
		t.Fatalf("cache info %+v", r.Cache)
	}
	stored := r.Cache

	// Within max-age: no request at all.
	before := rec.count()
	r, err = f.Get(ctx, u, GetOptions{Cache: &stored})
	if err != nil || r.Outcome != StillFresh || r.Body != nil || rec.count() != before {
		t.Fatalf("fresh copy: %+v, %v, %d requests", r, err, rec.count()-before)
	}

	// Expired: If-None-Match, 304.
	expired := stored
	expired.FetchedAt = expired.FetchedAt.Add(-2 * expired.MaxAge)
	r, err = f.Get(ctx, u, GetOptions{Cache: &expired})
	if err != nil || r.Outcome != NotModified || r.Body != nil {
		t.Fatalf("revalidation: %+v, %v", r, err)
	}
	if got := rec.last().Header.Get("If-None-Match"); got != etag {
		t.Errorf("If-None-Match %q", got)
	}
	if r.Cache.ETag != etag || !r.Cache.Fresh(r.Cache.FetchedAt) {
		t.Errorf("cache info after 304: %+v", r.Cache)
	}

	// Changed on the server: the new content comes with the new ETag.
	etag = `"v2"`
	r, err = f.Get(ctx, u, GetOptions{Cache: &expired})
	if err != nil || r.Outcome != Fetched {
		t.Fatalf("changed: %+v, %v", r, err)
	}
	if got := readAll(t, r); got != `content of "v2"` || r.Cache.ETag != `"v2"` {
		t.Errorf("changed: body %q, cache %+v", got, r.Cache)
	}

	// Download honours the same rules.
	partial := t.TempDir() + "/p"
	var out bytes.Buffer
	r, err = f.Download(ctx, u, partial, &out, GetOptions{Cache: &CacheInfo{ETag: `"v2"`}})
	if err != nil || r.Outcome != NotModified || out.Len() != 0 {
		t.Errorf("Download revalidation: %+v, %v, wrote %q", r, err, out.String())
	}
	r, err = f.Download(ctx, u, partial, &out, GetOptions{Cache: &stored})
	if err != nil || r.Outcome != StillFresh || out.Len() != 0 {
		t.Errorf("Download of a fresh copy: %+v, %v", r, err)
	}
}

func TestProxyFromEnvironment(t *testing.T) {
	if os.Getenv("ACIRUN_FETCH_PROXY_CHILD") != "1" {
		// net/http reads the proxy variables once per process, so the
		// check runs in a child with a clean slate.
		cmd := exec.Command(os.Args[0], "-test.run=^TestProxyFromEnvironment$", "-test.v")
		cmd.Env = append(os.Environ(), "ACIRUN_FETCH_PROXY_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestProxyFromEnvironment") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	var seen []string
	proxy := fetchtest.New(t).ServeHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.String())
		fmt.Fprint(w, "via proxy")
	}))
	os.Setenv("HTTP_PROXY", proxy.URL)
	os.Unsetenv("NO_PROXY")
	os.Unsetenv("no_proxy")
	f := New(Options{Insecure: InsecureHTTP}) // default Proxy and dialer
	r, err := f.Get(context.Background(), "http://example.com/app.aci", GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, r); got != "via proxy" || len(seen) != 1 || seen[0] != "http://example.com/app.aci" {
		t.Errorf("got %q, proxy saw %v", got, seen)
	}
}

// cutBody is a body that sends nothing until its request is cancelled,
// and then ends as end says: a transport may end a cancelled transfer with
// io.EOF, as if the body were complete.
type cutBody struct {
	ctx context.Context
	end error
}

func (b cutBody) Read([]byte) (int, error) { <-b.ctx.Done(); return 0, b.end }
func (b cutBody) Close() error             { return nil }

// TestStallReaderCutBody: once the stall timer has cancelled the transfer,
// the body's end is the stall whatever the transport says, io.EOF
// included: a page cut short must not pass for a whole one.
func TestStallReaderCutBody(t *testing.T) {
	for _, end := range []error{io.EOF, context.Canceled, io.ErrUnexpectedEOF} {
		ctx, cancel := context.WithCancelCause(context.Background())
		r := &stallReader{rc: cutBody{ctx: ctx, end: end}, timeout: 20 * time.Millisecond, cancel: cancel, url: "https://example.com/page"}
		_, err := r.Read(make([]byte, 16))
		if !errors.Is(err, ErrStalled) || !strings.Contains(err.Error(), "https://example.com/page") {
			t.Errorf("a body cut by the stall timer ending with %v: Read error %v, want a StallError naming the URL", end, err)
		}
	}
}
