// Package fetch is the HTTP transport of the image pipeline: it downloads
// images, signatures, keys and discovery pages over HTTPS with the operator's
// policy applied in one place: certificate verification (or its relaxation
// with --insecure-options=tls), https only (unless --insecure-options=http),
// redirects followed but credentials never carried to another host, per-host
// credentials from auth.d, proxies from the environment, conditional requests
// for --pull-policy=update and resumable downloads. It reports the progress
// of transfers through Options.Progress and draws nothing itself.
//
// Bodies are streamed: the caller tees them into signature verification,
// decompression and hashing while they arrive, so nothing is read twice.
package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Fetcher. The zero value is a strict fetcher: system
// CA roots, https only, no credentials, proxies from the environment, no
// warnings and no progress output.
type Options struct {
	// RootCAs verifies server certificates; nil means the system roots.
	// Tests put their own CA here.
	RootCAs *x509.CertPool
	// Insecure is the set of relaxations from --insecure-options. Only
	// InsecureTLS and InsecureHTTP act here; the others are carried for the
	// caller.
	Insecure Insecure
	// Auth holds the per-host credentials (see LoadAuth). They are sent only
	// over https, and only to the host they are configured for.
	Auth Auth
	// Warnings receives one line for every relaxation actually used (a
	// certificate that did not verify, a plain http request). Normally
	// os.Stderr; nil discards them.
	Warnings io.Writer
	// Progress is told of every labelled transfer (GetOptions.Label); nil
	// reports none. The CLI draws a bar with it on a terminal.
	Progress Progress
	// Proxy chooses the proxy for a request; nil means
	// http.ProxyFromEnvironment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY).
	Proxy func(*http.Request) (*url.URL, error)
	// DialContext opens connections; nil means a net.Dialer. Tests use it
	// to reach loopback servers under real host names.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxRedirects bounds the redirects followed per request; 0 means 10.
	MaxRedirects int
	// UserAgent is sent with every request; "" means "acirun".
	UserAgent string
	// StallTimeout ends a transfer that receives less than MinProgress
	// bytes in this long, or no response headers (Download then resumes
	// it); 0 means DefaultStallTimeout, negative means never.
	StallTimeout time.Duration
}

// DefaultStallTimeout is Options.StallTimeout when none is given: long
// enough for a slow mirror, short enough that a hostile or dead one does not
// hold a fetch (or a unit's start) for good.
const DefaultStallTimeout = time.Minute

// Fetcher performs HTTP requests under one policy. It is safe for concurrent
// use; its only state is the set of warnings already printed and the
// connection pool.
type Fetcher struct {
	opts   Options
	client *http.Client

	mu     sync.Mutex
	warned map[string]bool
}

// New returns a Fetcher with the given options.
func New(opts Options) *Fetcher {
	if opts.MaxRedirects <= 0 {
		opts.MaxRedirects = 10
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "acirun"
	}
	if opts.Proxy == nil {
		opts.Proxy = http.ProxyFromEnvironment
	}
	if opts.StallTimeout == 0 {
		opts.StallTimeout = DefaultStallTimeout
	}
	f := &Fetcher{opts: opts, warned: map[string]bool{}}
	dial := opts.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	tlsConf := &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12}
	if opts.Insecure.Has(InsecureTLS) {
		// Verify anyway, so that the warning is printed only when the
		// relaxation is really what lets the connection through.
		tlsConf.InsecureSkipVerify = true
		tlsConf.VerifyConnection = f.verifyOrWarn
	}
	base := &http.Transport{
		Proxy:                 opts.Proxy,
		DialContext:           dial,
		TLSClientConfig:       tlsConf,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: DefaultStallTimeout,
		ExpectContinueTimeout: time.Second,
	}
	if opts.StallTimeout > 0 {
		// A server that accepts the request and answers nothing is a
		// stall too.
		base.ResponseHeaderTimeout = opts.StallTimeout
	}
	f.client = &http.Client{
		Transport:     &policyTransport{f: f, base: base},
		CheckRedirect: f.checkRedirect,
	}
	return f
}

// Client returns the http.Client that applies the Fetcher's policy to every
// request, redirect hop included. Discovery and key fetching use it so that
// the same rules hold everywhere.
func (f *Fetcher) Client() *http.Client { return f.client }

// Insecure returns the relaxations the Fetcher was created with.
func (f *Fetcher) Insecure() Insecure { return f.opts.Insecure }

// warnOnce prints a warning the first time key is seen.
func (f *Fetcher) warnOnce(key string, x Insecure, format string, args ...any) {
	f.mu.Lock()
	seen := f.warned[key]
	f.warned[key] = true
	f.mu.Unlock()
	if !seen {
		Warn(f.opts.Warnings, x, format, args...)
	}
}

// verifyOrWarn is the certificate check with --insecure-options=tls: the
// normal verification runs, and its failure becomes a warning.
func (f *Fetcher) verifyOrWarn(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		f.warnOnce("tls-none "+cs.ServerName, InsecureTLS, "%s sent no certificate", cs.ServerName)
		return nil
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots:         f.opts.RootCAs,
		DNSName:       cs.ServerName,
		Intermediates: inter,
	})
	if err != nil {
		f.warnOnce("tls "+cs.ServerName, InsecureTLS, "certificate of %s not verified: %v", cs.ServerName, err)
	}
	return nil
}

// checkRedirect follows up to MaxRedirects redirects. The scheme check and
// the credentials of the new host are applied by the transport on each hop;
// here an Authorization header a caller set is dropped as soon as the host
// (name or port) changes, which is stricter than net/http (it keeps the
// header for subdomains).
func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > f.opts.MaxRedirects {
		return fmt.Errorf("stopped after %d redirects", f.opts.MaxRedirects)
	}
	prev := via[len(via)-1]
	if !strings.EqualFold(req.URL.Host, prev.URL.Host) || req.URL.Scheme != prev.URL.Scheme {
		req.Header.Del("Authorization")
	}
	return nil
}

// ErrInsecureHTTP is wrapped by the error for a plain http URL (or a
// redirect to one) without --insecure-options=http.
var ErrInsecureHTTP = errors.New("plain http is not allowed without --insecure-options=http")

// policyTransport applies the scheme policy and the per-host credentials to
// every request, including each redirect hop.
type policyTransport struct {
	f    *Fetcher
	base http.RoundTripper
}

func (t *policyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f := t.f
	switch req.URL.Scheme {
	case "https":
	case "http":
		if !f.opts.Insecure.Has(InsecureHTTP) {
			closeBody(req)
			return nil, fmt.Errorf("%s: %w", req.URL.Redacted(), ErrInsecureHTTP)
		}
		f.warnOnce("http "+req.URL.Host, InsecureHTTP, "fetching from %s over plain http", req.URL.Host)
	default:
		closeBody(req)
		return nil, fmt.Errorf("%s: unsupported scheme %q (want https)", req.URL.Redacted(), req.URL.Scheme)
	}
	if req.Header.Get("User-Agent") == "" || req.Header.Get("Authorization") == "" {
		req = req.Clone(req.Context())
		if req.Header.Get("User-Agent") == "" {
			req.Header.Set("User-Agent", f.opts.UserAgent)
		}
		// Credentials go only over TLS, and only to their own host.
		if c, ok := f.opts.Auth.For(req.URL); ok && req.URL.Scheme == "https" && req.Header.Get("Authorization") == "" {
			req.Header.Set("Authorization", c.header())
		}
	}
	timeout := f.opts.StallTimeout
	if timeout <= 0 {
		return t.base.RoundTrip(req)
	}
	// The body is read under a context of its own, so that a transfer
	// making no progress can be ended from the stallReader's timer.
	ctx, cancel := context.WithCancelCause(req.Context())
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel(nil)
		return nil, err
	}
	resp.Body = &stallReader{rc: resp.Body, timeout: timeout, cancel: cancel, url: req.URL.Redacted()}
	return resp, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// StatusError is returned for an HTTP status the fetch cannot use.
type StatusError struct {
	URL        string // the URL that answered (after redirects)
	StatusCode int
	Status     string // e.g. "404 Not Found"
	// Hint explains a 401 or 403: whether credentials were sent and from
	// which auth.d file.
	Hint string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("GET %s: %s", e.URL, e.Status)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

func (f *Fetcher) statusError(resp *http.Response) error {
	e := &StatusError{URL: resp.Request.URL.Redacted(), StatusCode: resp.StatusCode, Status: resp.Status}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		if c, ok := f.opts.Auth.For(resp.Request.URL); ok && resp.Request.URL.Scheme == "https" {
			e.Hint = fmt.Sprintf("the %s credentials for %s from %s were refused", c.Type, resp.Request.URL.Host, c.Source)
		} else {
			e.Hint = fmt.Sprintf("no credentials for %s are configured in auth.d", resp.Request.URL.Host)
		}
	}
	// Drain a little so the connection can be reused, then let it go.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return e
}

// Outcome says what a Get or Download did.
type Outcome int

const (
	// Fetched means the content was (or is being) transferred.
	Fetched Outcome = iota
	// NotModified means the server answered 304 to If-None-Match: the
	// stored copy is current. Response.Cache has the refreshed caching data.
	NotModified
	// StillFresh means the stored copy is within its max-age and no request
	// was made at all.
	StillFresh
)

func (o Outcome) String() string {
	switch o {
	case Fetched:
		return "fetched"
	case NotModified:
		return "not modified"
	case StillFresh:
		return "still fresh"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// GetOptions adjust one request.
type GetOptions struct {
	// Label names what is fetched in the progress bar ("image",
	// "signature", "key"); "" means no progress bar for this request.
	Label string
	// Cache describes the stored copy for --pull-policy=update. If it is
	// still fresh no request is made (StillFresh); otherwise its ETag is
	// sent in If-None-Match and a 304 gives NotModified. nil: unconditional.
	Cache *CacheInfo
	// KeepAs, for Download only, is where the complete file goes instead
	// of being removed: a path on the partial file's file system, which
	// Download renames the file to while it still holds the file's lock,
	// so that no other Download of the same partial path can touch it
	// again. A caller that keeps the content anyway (the store, as an
	// image's stored copy) then need not write it a second time. The
	// file's writeback is started as it is written, for the caller's sync.
	KeepAs string
}

// Response is the result of Get or Download.
type Response struct {
	Outcome Outcome
	// Body streams the content for Outcome == Fetched from Get, and must be
	// closed. It is nil otherwise and always nil from Download. Reading it
	// to EOF without error means the whole content arrived (a short body is
	// an error, io.ErrUnexpectedEOF).
	Body io.ReadCloser
	// URL is where the content came from, after redirects.
	URL string
	// Size is the length of the whole content, or -1 if unknown.
	Size int64
	// Cache is the caching data to store with the copy. For StillFresh it
	// is the caller's own.
	Cache CacheInfo
}

// WarmSystemRoots starts reading the system's root certificates in the
// background, for a command that is about to make https requests and has
// set-up of its own to do first: Go reads and parses them (some 150 files
// on a Debian host, about 10 ms, 40 % of the CPU time of fetching a tiny
// image) when the first server certificate is verified, and the request
// waits for it there. A request that comes before the reading is done
// waits for the rest of it, as it would have anyway.
func WarmSystemRoots() {
	go x509.SystemCertPool()
}

// IsURL reports whether s is meant as a URL for a Fetcher: it starts with
// http:// or https://, in any case, since schemes are case-insensitive
// (RFC 3986, 3.1). Callers use it to tell a URL from a file name or an image
// name; whether the rest of the URL is valid is for Get to say.
func IsURL(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	return ok && (strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "http"))
}

// parseURL checks that rawURL is an absolute http(s) URL.
func parseURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("fetch %s: not an absolute http(s) URL", u.Redacted())
	}
	return u, nil
}

// ErrStalled is what a *StallError is (errors.Is): the read error of a body
// that made no progress for Options.StallTimeout. Download resumes after it.
var ErrStalled = errors.New("transfer stalled")

// StallError ends a body that made no progress for Timeout. It names the URL
// itself, as some readers of the Fetcher's bodies (discovery, the registry
// client) add nothing to a read error; who wraps it need not name the URL
// again.
type StallError struct {
	URL     string        // redacted
	After   int64         // bytes of the content received before, or -1 if unknown
	Timeout time.Duration // the stall timeout
}

func (e *StallError) Error() string {
	after := ""
	if e.After >= 0 {
		after = fmt.Sprintf(" after %d bytes", e.After)
	}
	return fmt.Sprintf("GET %s: transfer stalled%s: less than %d bytes received in %v (the server sends too slowly or not at all; give a longer --stall-timeout, or set stallTimeout in LOCAL-CONFIG/store.d)", e.URL, after, MinProgress, e.Timeout)
}

// Is makes a *StallError ErrStalled.
func (e *StallError) Is(target error) bool { return target == ErrStalled }

// MinProgress is the fewest bytes a body must deliver in each
// Options.StallTimeout spent waiting for it: a server trickling a byte a
// second (or sending headers and then nothing) is ended as stalled, as
// curl's --speed-limit and --speed-time would, instead of holding a fetch
// for as many seconds as the body has bytes. A body's last bytes before
// its end count whatever their number.
const MinProgress = 1024

// send performs a GET of u. header may add request headers. The response
// body, like that of every request of the Fetcher's client, stops with
// ErrStalled if the network gives less than MinProgress bytes in the stall
// timeout; time the caller spends between reads does not count.
func (f *Fetcher) send(ctx context.Context, u *url.URL, opts GetOptions, header func(http.Header)) (*http.Request, *http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch %s: %w", u.Redacted(), err)
	}
	if opts.Cache != nil && opts.Cache.ETag != "" {
		req.Header.Set("If-None-Match", opts.Cache.ETag)
	}
	if header != nil {
		header(req.Header)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	return req, resp, nil
}

// stallReader ends the request when less than MinProgress bytes arrived
// during timeout of time spent inside Read: a window that starts again
// each time MinProgress bytes have come.
type stallReader struct {
	rc      io.ReadCloser
	timeout time.Duration
	cancel  context.CancelCauseFunc
	url     string // redacted, for the error
	stalled atomic.Bool

	waited time.Duration // time spent in Read since the window started
	got    int           // bytes received since the window started
}

func (r *stallReader) Read(b []byte) (int, error) {
	left := r.timeout - r.waited
	if left <= 0 {
		left = time.Nanosecond
	}
	t := time.AfterFunc(left, func() {
		r.stalled.Store(true)
		r.cancel(ErrStalled)
	})
	start := time.Now()
	n, err := r.rc.Read(b)
	t.Stop()
	r.waited += time.Since(start)
	r.got += n
	if r.got >= MinProgress {
		r.waited, r.got = 0, 0
	}
	// Once the timer fired, whatever the read returns is the stall: an
	// error is the cancellation it caused (no more to say than the
	// stall); io.EOF may be that too (the cancelled transfer can end as
	// if the body were complete, a page cut short taken for the whole);
	// and a read without error means the timer fired as the last bytes
	// came: the request is cancelled, so the next Read fails; say why now.
	// A body whose real end came just as the timer fired is called
	// stalled too: that is rare and says to retry, where taking a cut
	// body for a whole one would not be seen.
	if r.stalled.Load() {
		err = &StallError{URL: r.url, After: -1, Timeout: r.timeout}
	}
	return n, err
}

func (r *stallReader) Close() error {
	err := r.rc.Close()
	r.cancel(nil)
	return err
}

// Get requests rawURL and returns the body to be streamed by the caller. A
// status other than 200 (or 304 for a conditional request) is a
// *StatusError; a plain http URL without InsecureHTTP wraps ErrInsecureHTTP.
func (f *Fetcher) Get(ctx context.Context, rawURL string, opts GetOptions) (*Response, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if opts.Cache != nil && opts.Cache.Fresh(time.Now()) {
		return &Response{Outcome: StillFresh, URL: u.String(), Size: -1, Cache: *opts.Cache}, nil
	}
	req, resp, err := f.send(ctx, u, opts, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	now := time.Now()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotModified && req.Header.Get("If-None-Match") != "":
		resp.Body.Close()
		return &Response{Outcome: NotModified, URL: resp.Request.URL.String(), Size: -1, Cache: revalidated(resp.Header, *opts.Cache, now)}, nil
	default:
		return nil, f.statusError(resp)
	}
	r := &Response{
		Outcome: Fetched,
		URL:     resp.Request.URL.String(),
		Size:    resp.ContentLength,
		Cache:   cacheInfo(resp.Header, now),
		Body:    resp.Body,
	}
	if p := f.newTransfer(opts.Label, r.Size, 0); p != nil {
		r.Body = &progressReader{rc: resp.Body, p: p}
	}
	return r, nil
}

// revalidated is the caching data after a 304: the new headers, with the old
// ETag if the 304 repeated none.
func revalidated(h http.Header, old CacheInfo, now time.Time) CacheInfo {
	c := cacheInfo(h, now)
	if c.ETag == "" {
		c.ETag = old.ETag
	}
	return c
}
