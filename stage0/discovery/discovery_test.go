package discovery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/fetch/fetchtest"
	"github.com/acirun/acirun/stage0/imagename"
)

// pages serves testdata files (or literal HTML) at paths of example.com and
// records the requests it saw.
type pages struct {
	t     *testing.T
	files map[string]string // path -> testdata file name, or "<" + literal HTML
	mu    sync.Mutex
	seen  []string
}

func (p *pages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.seen = append(p.seen, r.URL.Path)
	p.mu.Unlock()
	if r.URL.Query().Get("ac-discovery") != "1" {
		http.Error(w, "no ac-discovery=1", http.StatusBadRequest)
		return
	}
	page, ok := p.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if strings.HasPrefix(page, "<") {
		fmt.Fprint(w, page)
		return
	}
	b, err := os.ReadFile(filepath.Join("testdata", page))
	if err != nil {
		p.t.Error(err)
	}
	w.Write(b)
}

func endpoint(aci string) Endpoint { return Endpoint{ACI: aci, Sig: aci + ".asc"} }

const storage = "https://storage.example.com/example.com/"

var full = map[string]string{"version": "1.0.0", "os": "linux", "arch": "amd64"}

func TestEndpointsAndKeys(t *testing.T) {
	const keyURL = "https://example.com/pubkeys.gpg"
	for _, tc := range []struct {
		what   string
		files  map[string]string
		app    imagename.App
		eps    []Endpoint // nil: meta discovery must fail
		keys   []string   // nil: key discovery must fail
		simple string     // the simple-discovery URL expected when eps is nil
	}{
		{"meta01 at the name", map[string]string{"/myapp": "meta01.html"},
			imagename.App{Name: "example.com/myapp", Labels: full},
			[]Endpoint{endpoint(storage + "myapp-1.0.0-linux-amd64.aci")}, []string{keyURL}, ""},
		{"walk up to the host", map[string]string{"/": "meta01.html"},
			imagename.App{Name: "example.com/myapp/foobar", Labels: full},
			[]Endpoint{endpoint(storage + "myapp/foobar-1.0.0-linux-amd64.aci")}, []string{keyURL}, ""},
		{"nothing on the walk: simple discovery", map[string]string{"/path/out/of/myapp": "meta01.html"},
			imagename.App{Name: "example.com/myapp/foobar/bazzer", Labels: full}, nil, nil,
			"https://example.com/myapp/foobar/bazzer-1.0.0-linux-amd64.aci"},
		{"images at /, keys at /myapp", map[string]string{"/": "meta02.html", "/myapp": "meta03.html"},
			imagename.App{Name: "example.com/myapp", Labels: full},
			[]Endpoint{endpoint(storage + "myapp-1.0.0-linux-amd64.aci")}, []string{keyURL}, ""},
		{"keys at /, images at /myapp", map[string]string{"/": "meta03.html", "/myapp": "meta02.html"},
			imagename.App{Name: "example.com/myapp", Labels: full},
			[]Endpoint{endpoint(storage + "myapp-1.0.0-linux-amd64.aci")}, []string{keyURL}, ""},
		{"images only", map[string]string{"/": "meta02.html"},
			imagename.App{Name: "example.com/myapp", Labels: full},
			[]Endpoint{endpoint(storage + "myapp-1.0.0-linux-amd64.aci")}, nil, ""},
		{"keys only", map[string]string{"/": "meta03.html"},
			imagename.App{Name: "example.com/myapp", Labels: full}, nil, []string{keyURL},
			"https://example.com/myapp-1.0.0-linux-amd64.aci"},
		{"deeper level wins", map[string]string{"/": "meta04.html", "/myapp": "meta02.html"},
			imagename.App{Name: "example.com/myapp", Labels: full},
			[]Endpoint{endpoint(storage + "myapp-1.0.0-linux-amd64.aci")}, []string{keyURL}, ""},
		{"missing labels: only the template that renders", map[string]string{"/myapp": "meta05.html"},
			imagename.App{Name: "example.com/myapp", Labels: map[string]string{"version": "1.0.0"}},
			[]Endpoint{endpoint(storage + "myapp-1.0.0.aci")}, []string{keyURL}, ""},
		{"no version: latest", map[string]string{"/myapp": "meta05.html"},
			imagename.App{Name: "example.com/myapp", Labels: map[string]string{}},
			[]Endpoint{endpoint(storage + "myapp-latest.aci")}, []string{keyURL}, ""},
		{"no version with os/arch: latest in both", map[string]string{"/myapp": "meta05.html"},
			imagename.App{Name: "example.com/myapp", Labels: map[string]string{"os": "linux", "arch": "amd64"}},
			[]Endpoint{endpoint(storage + "myapp-latest-linux-amd64.aci"), endpoint(storage + "myapp-latest.aci")},
			[]string{keyURL}, ""},
		{"a label called name is not {name}", map[string]string{"/myapp": "meta05.html"},
			imagename.App{Name: "example.com/myapp", Labels: map[string]string{"name": "labelcalledname", "version": "1.0.0"}},
			[]Endpoint{endpoint(storage + "myapp-1.0.0.aci")}, []string{keyURL}, ""},
		{"several endpoints, hdfs dropped", map[string]string{"/myapp": "meta06.html"},
			imagename.App{Name: "example.com/myapp", Labels: full},
			[]Endpoint{endpoint(storage + "myapp-1.0.0-linux-amd64.aci"), endpoint(storage + "myapp-1.0.0.aci")},
			[]string{keyURL}, ""},
		{"https before http", map[string]string{"/": `<meta name="ac-discovery" content="example.com http://plain.example.com/{name}.{ext}">
			<meta name="ac-discovery" content="example.com https://tls.example.com/{name}.{ext}">`},
			imagename.App{Name: "example.com/myapp", Labels: full},
			[]Endpoint{endpoint("https://tls.example.com/example.com/myapp.aci")}, nil, ""},
		{"sibling prefix is refused", map[string]string{"/": `<meta name="ac-discovery" content="example.com/hello https://s.example.com/{name}.{ext}">
			<meta name="ac-discovery-pubkeys" content="example.com/hello https://example.com/hello.gpg">`},
			imagename.App{Name: "example.com/helloworld", Labels: full}, nil, nil,
			"https://example.com/helloworld-1.0.0-linux-amd64.aci"},
		{"child of the prefix matches", map[string]string{"/": `<meta name="ac-discovery" content="example.com/hello https://s.example.com/{name}.{ext}">
			<meta name="ac-discovery-pubkeys" content="example.com/hello https://example.com/hello.gpg">`},
			imagename.App{Name: "example.com/hello/x", Labels: full},
			[]Endpoint{endpoint("https://s.example.com/example.com/hello/x.aci")}, []string{"https://example.com/hello.gpg"}, ""},
		{"no os label: no simple discovery", map[string]string{},
			imagename.App{Name: "example.com/myapp", Labels: map[string]string{"arch": "amd64"}}, nil, nil, ""},
	} {
		t.Run(tc.what, func(t *testing.T) {
			n := fetchtest.New(t)
			p := &pages{t: t, files: tc.files}
			n.ServeTLS(t, p, "example.com")
			d := &Discoverer{Client: n.Client()}
			ctx := context.Background()

			eps, err := d.Endpoints(ctx, tc.app)
			switch {
			case tc.eps != nil:
				if err != nil {
					t.Fatalf("Endpoints: %v", err)
				}
				if !reflect.DeepEqual(eps, tc.eps) {
					t.Errorf("Endpoints = %+v\nwant %+v", eps, tc.eps)
				}
			case tc.simple != "":
				if err != nil {
					t.Fatalf("Endpoints: %v", err)
				}
				if len(eps) != 1 || !eps[0].Simple || eps[0].ACI != tc.simple || eps[0].Sig != tc.simple+".asc" || eps[0].Reason == "" {
					t.Errorf("Endpoints = %+v, want only the simple endpoint %s", eps, tc.simple)
				}
			default:
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("Endpoints = %+v, %v; want ErrNotFound", eps, err)
				}
			}

			keys, err := d.PublicKeys(ctx, tc.app.Name)
			if tc.keys == nil {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("PublicKeys = %v, %v; want ErrNotFound", keys, err)
				}
			} else if err != nil || !reflect.DeepEqual(keys, tc.keys) {
				t.Errorf("PublicKeys = %v, %v; want %v", keys, err, tc.keys)
			}
		})
	}
}

func TestWalkOrderAndErrors(t *testing.T) {
	n := fetchtest.New(t)
	p := &pages{t: t, files: map[string]string{"/a": "meta03.html"}}
	n.ServeTLS(t, p, "example.com")
	d := &Discoverer{Client: n.Client()}
	_, err := d.Endpoints(context.Background(), imagename.App{Name: "example.com/a/b/c", Labels: map[string]string{"version": "1"}})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	want := []string{"/a/b/c", "/a/b", "/a", "/"}
	if !reflect.DeepEqual(p.seen, want) {
		t.Errorf("requests %v, want %v", p.seen, want)
	}
	// The error tells what each level gave and why simple discovery was out.
	for _, part := range []string{"/a/b/c?ac-discovery=1: 404 Not Found", "example.com/a?ac-discovery=1: no matching tag", "needs the os label"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}
}

func TestRedirectFollowed(t *testing.T) {
	n := fetchtest.New(t)
	p := &pages{t: t, files: map[string]string{"/real": "meta01.html"}}
	n.ServeTLS(t, p, "pages.example.com")
	n.ServeTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://pages.example.com/real?"+r.URL.RawQuery, http.StatusMovedPermanently)
	}), "example.com")
	d := &Discoverer{Client: n.Client()}
	eps, err := d.Endpoints(context.Background(), imagename.App{Name: "example.com/myapp", Labels: full})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Endpoint{endpoint(storage + "myapp-1.0.0-linux-amd64.aci")}; !reflect.DeepEqual(eps, want) {
		t.Errorf("Endpoints = %+v, want %+v", eps, want)
	}
}

func TestHTTPOnlyWhenAllowed(t *testing.T) {
	n := fetchtest.New(t)
	p := &pages{t: t, files: map[string]string{"/myapp": `<meta name="ac-discovery" content="example.com http://plain.example.com/{name}.{ext}">
		<meta name="ac-discovery-pubkeys" content="example.com http://plain.example.com/keys.gpg">`}}
	n.ServeHTTP(t, p, "example.com") // no https server at all
	app := imagename.App{Name: "example.com/myapp", Labels: map[string]string{"version": "1"}}

	d := &Discoverer{Client: n.Client()}
	if eps, err := d.Endpoints(context.Background(), app); !errors.Is(err, ErrNotFound) {
		t.Errorf("without AllowHTTP: Endpoints = %v, %v; want ErrNotFound", eps, err)
	}
	if len(p.seen) != 0 {
		t.Errorf("plain http requests made without AllowHTTP: %v", p.seen)
	}
	d.AllowHTTP = true
	eps, err := d.Endpoints(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Endpoint{endpoint("http://plain.example.com/example.com/myapp.aci")}; !reflect.DeepEqual(eps, want) {
		t.Errorf("Endpoints = %+v, want %+v", eps, want)
	}
	keys, err := d.PublicKeys(context.Background(), app.Name)
	if err != nil || !reflect.DeepEqual(keys, []string{"http://plain.example.com/keys.gpg"}) {
		t.Errorf("PublicKeys = %v, %v", keys, err)
	}
}

func TestTLSFailureIsNotFallback(t *testing.T) {
	// A server whose certificate the client does not trust gives nothing,
	// and without AllowHTTP nothing is tried over plain http.
	n := fetchtest.New(t)
	other := fetchtest.New(t)
	p := &pages{t: t, files: map[string]string{"/myapp": "meta01.html"}}
	n.ServeTLS(t, p, "example.com")
	c := other.Client()
	c.Transport.(*http.Transport).DialContext = n.DialContext
	d := &Discoverer{Client: c}
	_, err := d.PublicKeys(context.Background(), "example.com/myapp")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("err = %v, want a certificate error and ErrNotFound", err)
	}
}

func TestContextCancelled(t *testing.T) {
	n := fetchtest.New(t)
	p := &pages{t: t, files: map[string]string{}}
	n.ServeTLS(t, p, "example.com")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := &Discoverer{Client: n.Client()}
	eps, err := d.Endpoints(ctx, imagename.App{Name: "example.com/a/b", Labels: full})
	if !errors.Is(err, context.Canceled) || eps != nil {
		t.Errorf("Endpoints with a cancelled context = %v, %v; want context.Canceled and no simple fallback", eps, err)
	}
	if _, err := d.PublicKeys(ctx, "example.com/a/b"); !errors.Is(err, context.Canceled) {
		t.Errorf("PublicKeys with a cancelled context: %v", err)
	}
}

func TestBadName(t *testing.T) {
	// A client that fails every request: the refusal must be the name's,
	// before any request, not a failure of the request.
	asked := false
	d := &Discoverer{Client: &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		asked = true
		return nil, errors.New("no request may be made")
	})}}
	if _, err := d.Endpoints(context.Background(), imagename.App{Name: "Example.com/x"}); err == nil || !strings.Contains(err.Error(), "Example.com/x") {
		t.Errorf("Endpoints of a bad name: %v, want a refusal naming it", err)
	}
	if _, err := d.PublicKeys(context.Background(), "example.com/../x"); err == nil || !strings.Contains(err.Error(), "example.com/../x") {
		t.Errorf("PublicKeys of a bad name: %v, want a refusal naming it", err)
	}
	if asked {
		t.Error("a request was made for a bad name")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestWithFetchClient(t *testing.T) {
	n := fetchtest.New(t)
	inner := &pages{t: t, files: map[string]string{"/myapp": "meta01.html"}}
	n.ServeTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sesame" {
			http.Error(w, "login first", http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	}), "example.com")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "auth.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "auth.d", "example.json"), []byte(`{"rktKind":"auth","rktVersion":"v1",
		"domains":["example.com"],"type":"oauth","credentials":{"token":"sesame"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	auth, err := fetch.LoadAuth(nil, filepath.Join(dir, "auth.d"))
	if err != nil {
		t.Fatal(err)
	}
	noProxy := func(*http.Request) (*url.URL, error) { return nil, nil }
	app := imagename.App{Name: "example.com/myapp", Labels: full}

	// Without credentials every level says 401 and only simple discovery is left.
	f := fetch.New(fetch.Options{RootCAs: n.Pool, DialContext: n.DialContext, Proxy: noProxy})
	eps, err := (&Discoverer{Client: f.Client()}).Endpoints(context.Background(), app)
	if err != nil || len(eps) != 1 || !eps[0].Simple || !strings.Contains(eps[0].Reason, "401 Unauthorized") {
		t.Errorf("without credentials: %+v, %v", eps, err)
	}

	// With the auth.d credentials of the host the page is read.
	f = fetch.New(fetch.Options{RootCAs: n.Pool, DialContext: n.DialContext, Proxy: noProxy, Auth: auth})
	d := &Discoverer{Client: f.Client()}
	eps, err = d.Endpoints(context.Background(), app)
	if want := []Endpoint{endpoint(storage + "myapp-1.0.0-linux-amd64.aci")}; err != nil || !reflect.DeepEqual(eps, want) {
		t.Errorf("with credentials: %+v, %v", eps, err)
	}

	// AllowHTTP in discovery does not override the fetch policy: the
	// plain-http retry is refused by the client.
	d.AllowHTTP = true
	_, err = d.PublicKeys(context.Background(), "example.com/nothing/here")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "--insecure-options=http") {
		t.Errorf("http retry without the fetch relaxation: %v", err)
	}
}

// TestEndpointsStalledPage: a discovery page trickled a byte at a time is
// ended by the fetch client's stall timeout, and the error says so for that
// level instead of treating the cut page as one without tags.
func TestEndpointsStalledPage(t *testing.T) {
	n := fetchtest.New(t)
	n.ServeTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 1<<16; i++ {
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}), "example.com")
	f := fetch.New(fetch.Options{RootCAs: n.Pool, DialContext: n.DialContext, Proxy: func(*http.Request) (*url.URL, error) { return nil, nil }, StallTimeout: 200 * time.Millisecond})
	d := &Discoverer{Client: f.Client()}
	start := time.Now()
	eps, err := d.Endpoints(context.Background(), imagename.App{Name: "example.com/app", Labels: map[string]string{}})
	if err == nil || !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "stalled") || !strings.Contains(err.Error(), "https://example.com/app?ac-discovery=1") {
		t.Errorf("Endpoints from a trickling server = %+v, %v; want an error naming the stalled page", eps, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the trickle held discovery for %v", d)
	}
}
