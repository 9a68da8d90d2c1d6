// Package discovery turns an image name such as
// "example.com/app:1.0,os=linux,arch=amd64" (package imagename) into the URLs
// of the image and its detached signature, following appc meta discovery
// (spec/discovery.md): the page at https://NAME?ac-discovery=1 carries
// <meta name="ac-discovery"> templates, and the path is walked up until one
// is found.
//
// The package does no fetching of images itself and keeps no state: the HTTP
// client (with its TLS roots, credentials and insecure policy) is handed in by
// the caller, normally the one built by stage0/fetch.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/acirun/acirun/stage0/imagename"
)

// ErrNotFound is wrapped by the errors of Endpoints and PublicKeys when no
// page on the walk up the name's path had a usable tag (and, for Endpoints,
// simple discovery could not be used either).
var ErrNotFound = errors.New("nothing discovered")

// maxPageSize bounds how much of a discovery page is read: the tags belong in
// <head>, and a hostile server must not make us read forever.
const maxPageSize = 1 << 20

// Endpoint is where an image and its detached signature can be downloaded.
type Endpoint struct {
	// ACI is the image URL (template rendered with {ext}=aci).
	ACI string
	// Sig is the signature URL (the same template with {ext}=aci.asc).
	Sig string
	// Simple is true when the URLs come from the simple-discovery fallback
	// (https://{name}-{version}-{os}-{arch}.{ext}) because meta discovery found
	// nothing; Reason then says what meta discovery saw, for error messages.
	Simple bool
	Reason string
}

// Discoverer performs appc meta discovery. The zero value is not usable: a
// Client is required. A Discoverer holds no state and may be used by several
// goroutines at once.
type Discoverer struct {
	// Client performs every request. Redirects, TLS roots, per-host
	// credentials and proxies are its business; use the one of a
	// stage0/fetch.Fetcher so that the insecure options and auth.d apply.
	Client *http.Client
	// AllowHTTP lets discovery fall back to http://NAME?ac-discovery=1 when
	// the https page cannot be had, and keeps plain-http templates and key
	// URLs (after the https ones). It corresponds to --insecure-options=http;
	// the fetch client prints the warning when plain http is actually used.
	AllowHTTP bool
}

// Endpoints discovers where the image app can be downloaded. app should
// already carry the labels it is to be discovered with (see WithDefaults).
//
// It walks up the name's path (a/b/c, a/b, a), fetching
// https://LEVEL?ac-discovery=1 at each level, and returns the endpoints of the
// first level with an ac-discovery tag whose prefix covers the name on whole
// path segments and whose template renders fully: https endpoints first, in
// document order. A 4xx, any other error, or no usable tag moves one level up.
// If no level gives anything, it falls back to simple discovery,
// https://{name}-{version}-{os}-{arch}.{ext}, which needs the os and arch
// labels.
func (d *Discoverer) Endpoints(ctx context.Context, app imagename.App) ([]Endpoint, error) {
	if err := imagename.ValidateIdentifier(app.Name); err != nil {
		return nil, fmt.Errorf("discover %s: %w", app.Name, err)
	}
	var eps []Endpoint
	werr := d.walk(ctx, app.Name, func(metas []meta) (bool, []string) {
		var skipped []string
		eps, skipped = endpointsFromMeta(metas, app, d.AllowHTTP)
		return len(eps) > 0, skipped
	})
	if werr == nil {
		return eps, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("discover %s: %w", app.Name, err)
	}
	ep, err := simpleEndpoint(app)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %v; simple discovery: %v: %w", app.Name, werr, err, ErrNotFound)
	}
	ep.Reason = werr.Error()
	return []Endpoint{ep}, nil
}

// PublicKeys discovers the URLs of the public keys for the image name name
// through ac-discovery-pubkeys tags, with a walk of its own: the keys may be
// announced at another level than the images.
func (d *Discoverer) PublicKeys(ctx context.Context, name string) ([]string, error) {
	if err := imagename.ValidateIdentifier(name); err != nil {
		return nil, fmt.Errorf("discover keys for %s: %w", name, err)
	}
	var keys []string
	err := d.walk(ctx, name, func(metas []meta) (bool, []string) {
		var skipped []string
		keys, skipped = keysFromMeta(metas, name, d.AllowHTTP)
		return len(keys) > 0, skipped
	})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			err = cerr
		} else {
			err = fmt.Errorf("%v: %w", err, ErrNotFound)
		}
		return nil, fmt.Errorf("discover keys for %s: %w", name, err)
	}
	return keys, nil
}

// simpleEndpoint renders the pre-0.8 simple discovery location.
func simpleEndpoint(app imagename.App) (Endpoint, error) {
	for _, l := range []string{"os", "arch"} {
		if app.Labels[l] == "" {
			return Endpoint{}, fmt.Errorf("needs the %s label", l)
		}
	}
	ep, err := renderEndpoint("https://{name}-{version}-{os}-{arch}.{ext}", app)
	if err != nil {
		return Endpoint{}, err
	}
	ep.Simple = true
	return ep, nil
}

// walk fetches the discovery page of name and of each parent path, deepest
// first, until use reports that a page had what it wanted. The error lists
// what happened at every level.
func (d *Discoverer) walk(ctx context.Context, name string, use func([]meta) (bool, []string)) error {
	if d.Client == nil {
		return errors.New("discovery: no HTTP client")
	}
	var tried []string
	parts := strings.Split(name, "/")
	for n := len(parts); n > 0; n-- {
		level := strings.Join(parts[:n], "/")
		metas, where, err := d.page(ctx, level)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			tried = append(tried, err.Error())
			continue
		}
		ok, skipped := use(metas)
		if ok {
			return nil
		}
		why := "no matching tag"
		if len(skipped) > 0 {
			why = strings.Join(skipped, ", ")
		}
		tried = append(tried, where+": "+why)
	}
	return errors.New(strings.Join(tried, "; "))
}

// page fetches and parses the discovery page of one level: https first, then
// plain http if allowed.
func (d *Discoverer) page(ctx context.Context, level string) ([]meta, string, error) {
	u := "https://" + level + "?ac-discovery=1"
	metas, err := d.get(ctx, u)
	if err == nil || !d.AllowHTTP || ctx.Err() != nil {
		return metas, u, err
	}
	hu := "http://" + level + "?ac-discovery=1"
	metas, herr := d.get(ctx, hu)
	if herr != nil {
		return nil, hu, fmt.Errorf("%v; %v", err, herr)
	}
	return metas, hu, nil
}

func (d *Discoverer) get(ctx context.Context, u string) ([]meta, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	req.Header.Set("Accept", "text/html, application/xhtml+xml;q=0.9, */*;q=0.1")
	resp, err := d.Client.Do(req)
	if err != nil {
		return nil, err // *url.Error already names the URL
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("%s: %s", u, resp.Status)
	}
	body := &errReader{r: io.LimitReader(resp.Body, maxPageSize)}
	metas := parseMeta(body)
	if body.err != nil {
		// A page cut short (a stalled server, a reset) is an error of
		// its own, not a page without tags.
		return nil, fmt.Errorf("%s: read: %w", u, body.err)
	}
	return metas, nil
}

// errReader remembers the first read error other than io.EOF.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}
