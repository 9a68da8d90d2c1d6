package pull

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/fetch/fetchtest"
	"github.com/acirun/acirun/stage0/oci"
	"github.com/acirun/acirun/stage0/oci/ocitest"
	"github.com/acirun/acirun/stage0/store"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// testRegistry is go-containerregistry's in-process registry behind
// https://registry.example.com (a test CA), with what a real deployment
// puts in front of one: bearer-token auth whose token service (realm) is
// https://REALM/token and wants basic credentials, and blob downloads
// redirected to https://storage.example.com.
type testRegistry struct {
	net   *fetchtest.Net
	inner http.Handler
	user  string
	pass  string
	realm string // host of the token service

	// Seen by the token service: the Authorization headers it got.
	mu         sync.Mutex
	tokenAuths []string
	// corrupt, if set, flips a byte in the middle of every blob but the
	// config of that digest.
	corrupt   string
	blobFetch atomic.Int32
	fetched   map[string]int // digest → times served by the storage
	// cut, if set, makes the storage drop the connection halfway through
	// some blob downloads (see serveStorage); ranges counts the Range
	// requests it answered.
	cut    cutMode
	ranges atomic.Int32
	// stall is the puller's fetch.Options.StallTimeout (0: the default);
	// muteManifests makes the registry send a manifest's headers and then
	// nothing.
	stall         time.Duration
	muteManifests bool
}

// cutMode is how the test storage breaks blob downloads.
type cutMode int

const (
	cutNone       cutMode = iota
	cutFirst              // the first download of each blob stops halfway; Range requests are answered
	cutAlways             // every answer stops halfway, Range requests too
	cutNoRange            // the first download stops halfway; Range is ignored (200, the whole blob)
	cutCorrupt            // the first download stops halfway; the rest has a byte changed
	cutTrickle            // the first download sends 16 bytes, then a byte every 50ms; Range requests are answered
	cutTrickleAll         // every answer sends 16 bytes, then trickles, Range requests too
)

const testToken = "s3cr3t-t0k3n"

func newTestRegistry(t *testing.T, realm string) *testRegistry {
	r := &testRegistry{net: fetchtest.New(t), inner: registry.New(registry.Logger(log.New(io.Discard, "", 0))), user: "alice", pass: "wonderland", realm: realm, fetched: map[string]int{}}
	r.net.ServeTLS(t, http.HandlerFunc(r.serveRegistry), "registry.example.com")
	r.net.ServeTLS(t, r.inner, "push.example.com") // no auth: how tests push
	r.net.ServeTLS(t, http.HandlerFunc(r.serveStorage), "storage.example.com")
	if realm != "registry.example.com" {
		r.net.ServeTLS(t, http.HandlerFunc(r.serveToken), realm)
	}
	return r
}

func (r *testRegistry) serveRegistry(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/token" {
		r.serveToken(w, req)
		return
	}
	if req.Header.Get("Authorization") != "Bearer "+testToken {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://`+r.realm+`/token",service="registry.example.com"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
		return
	}
	if strings.HasSuffix(req.URL.Path, "/manifests/huge") {
		// A manifest without end (1 GiB, were it read to the end).
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("0", 64))
		chunk := []byte(strings.Repeat(" ", 1<<20))
		for i := 0; i < 1024; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		return
	}
	if r.muteManifests && strings.Contains(req.URL.Path, "/manifests/") && req.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-req.Context().Done()
		return
	}
	if strings.Contains(req.URL.Path, "/blobs/sha256:") && req.Method == http.MethodGet {
		http.Redirect(w, req, "https://storage.example.com"+req.URL.Path, http.StatusTemporaryRedirect)
		return
	}
	r.inner.ServeHTTP(w, req)
}

func (r *testRegistry) serveToken(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.tokenAuths = append(r.tokenAuths, req.Header.Get("Authorization"))
	r.mu.Unlock()
	u, p, ok := req.BasicAuth()
	if !ok || u != r.user || p != r.pass {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
		http.Error(w, "bad credentials", http.StatusUnauthorized)
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"token": testToken})
}

// serveStorage is the blob storage redirected to: it needs no credentials
// (the redirect URL would be signed in a real one).
func (r *testRegistry) serveStorage(w http.ResponseWriter, req *http.Request) {
	r.blobFetch.Add(1)
	d := req.URL.Path[strings.LastIndexByte(req.URL.Path, '/')+1:]
	r.mu.Lock()
	r.fetched[d]++
	first := r.fetched[d] == 1
	r.mu.Unlock()
	if r.cut != cutNone {
		r.serveCut(w, req, first)
		return
	}
	if r.corrupt != "" && d != r.corrupt {
		rec := httptest.NewRecorder()
		r.inner.ServeHTTP(rec, req)
		b := rec.Body.Bytes()
		b[len(b)/2] ^= 0xff // the same size, other bytes
		w.Write(b)
		return
	}
	r.inner.ServeHTTP(w, req)
}

// serveCut serves a blob as r.cut says: a download that is cut sends
// half the blob under the whole blob's Content-Length, then aborts the
// connection, as a dropped one ends.
func (r *testRegistry) serveCut(w http.ResponseWriter, req *http.Request, first bool) {
	whole := req.Clone(req.Context())
	whole.Header.Del("Range")
	rec := httptest.NewRecorder()
	r.inner.ServeHTTP(rec, whole)
	b := rec.Body.Bytes()
	rng := req.Header.Get("Range")
	if r.cut == cutTrickleAll || r.cut == cutTrickle && rng == "" {
		if rng != "" {
			r.ranges.Add(1)
		}
		r.serveTrickle(w, req, b, rng)
		return
	}
	if rng != "" && r.cut != cutNoRange {
		r.ranges.Add(1)
		if r.cut == cutAlways {
			var start int
			fmt.Sscanf(rng, "bytes=%d-", &start)
			b = b[start:]
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+len(b)-1, start+len(b)))
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(b[:len(b)/2])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		if r.cut == cutCorrupt {
			b = bytes.Clone(b)
			b[len(b)-1] ^= 0xff
		}
		http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(b))
		return
	}
	if !first && r.cut != cutAlways {
		w.Write(b)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b[:len(b)/2])
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}

// serveTrickle sends the blob b, or its part from the Range rng, as a
// server with a failing link would: 16 bytes at once, then one byte
// every 50ms until the client gives up.
func (r *testRegistry) serveTrickle(w http.ResponseWriter, req *http.Request, b []byte, rng string) {
	if rng != "" {
		var start int
		fmt.Sscanf(rng, "bytes=%d-", &start)
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(b)-1, len(b)))
		b = b[start:]
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(http.StatusOK)
	}
	head := min(16, len(b))
	w.Write(b[:head])
	w.(http.Flusher).Flush()
	for i := head; i < len(b); i++ {
		select {
		case <-req.Context().Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
		if _, err := w.Write(b[i : i+1]); err != nil {
			return
		}
		w.(http.Flusher).Flush()
	}
}

// push writes img to REPO:TAG and returns its manifest digest.
func (r *testRegistry) push(t *testing.T, repoTag string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference("push.example.com/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithTransport(r.net.Client().Transport)); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// puller is a Puller over this registry with the auth.d credentials of
// credsFor (none when "").
func (r *testRegistry) puller(t *testing.T, insecure fetch.Insecure, credsFor string) (*Puller, *strings.Builder) {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var w strings.Builder
	auth := fetch.Auth{}
	if credsFor != "" {
		auth[credsFor] = fetch.Credentials{Type: "basic", User: r.user, Password: r.pass, Source: "test"}
	}
	f := fetch.New(fetch.Options{Insecure: insecure, RootCAs: r.net.Pool, DialContext: r.net.DialContext, Auth: auth, Warnings: &w, StallTimeout: r.stall})
	p := &Puller{Store: st, Fetcher: f, Insecure: insecure, Warnings: &w, OCI: OCIConfig{Credentials: func(reg string) (oci.Credentials, bool) {
		if reg == credsFor {
			return oci.Credentials{User: r.user, Password: r.pass}, true
		}
		return oci.Credentials{}, false
	}}}
	return p, &w
}

func registryImage(t *testing.T, body string) v1.Image {
	return ocitest.Image(t, oci.HostPlatform(), v1.Config{Cmd: []string{"/bin/true"}},
		ocitest.Layer(t, ocitest.Gzip, ocitest.Dir("etc"), ocitest.File("etc/os-release", "ID=test\n")),
		ocitest.Layer(t, ocitest.Zstd, ocitest.File("msg", body)))
}

// TestPullRegistry: docker://REGISTRY/NAME@sha256:DIGEST is fetched over
// https through the bearer-token challenge (the token service given the
// auth.d credentials), the blobs from the storage the registry redirects
// to, without --insecure-options=image (a digest is verified content) and
// without a warning; a tag needs --insecure-options=image; another tag of
// the same image reuses its layers.
func TestPullRegistry(t *testing.T) {
	ctx := context.Background()
	r := newTestRegistry(t, "registry.example.com")
	digest := r.push(t, "team/web:1.0", registryImage(t, "hello"))

	p, warnings := r.puller(t, 0, "registry.example.com")
	ref := "docker://registry.example.com/team/web@" + digest
	img, err := p.Pull(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if warnings.Len() != 0 {
		t.Errorf("warnings: %s", warnings)
	}
	if img.OCI.Digest != digest || img.Origin.Digest != digest || img.Name != "registry.example.com/team/web" {
		t.Errorf("entry %+v %+v", img, img.OCI)
	}
	tree, _ := p.Store.TreePath(img.ID)
	if b, err := os.ReadFile(filepath.Join(tree, "rootfs/msg")); err != nil || string(b) != "hello" {
		t.Errorf("msg: %q %v", b, err)
	}
	if r.blobFetch.Load() == 0 {
		t.Errorf("no blob came from the storage redirected to")
	}
	for _, a := range r.tokenAuths {
		if !strings.HasPrefix(a, "Basic ") {
			t.Errorf("the token service got %q", a)
		}
	}

	// A tag: refused without --insecure-options=image, nothing stored.
	if _, err := p.Pull(ctx, "docker://registry.example.com/team/web:1.0"); err == nil || !strings.Contains(err.Error(), "--insecure-options=image") || !strings.Contains(err.Error(), "@sha256:") {
		t.Fatalf("a tag: %v", err)
	}
	pi, warnings := r.puller(t, fetch.InsecureImage, "registry.example.com")
	pi.Store = p.Store
	timg, err := pi.Pull(ctx, "docker://registry.example.com/team/web:1.0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warnings.String(), "not checked") {
		t.Errorf("no warning for a tag: %q", warnings)
	}
	if v, _ := timg.ImageManifest(); v == nil {
		t.Fatal("no manifest")
	}
	ls, _ := registryImage(t, "hello").Layers()
	for _, l := range ls {
		d, _ := l.Digest()
		if n := r.fetched[d.String()]; n != 1 {
			t.Errorf("layer %s fetched %d times, want once", d, n)
		}
	}
	layers, _ := os.ReadDir(filepath.Join(p.Store.Dir(), "ocilayers"))
	if len(layers) != 2 {
		t.Errorf("%d layers stored, want 2", len(layers))
	}

	// The tag moves on: --pull-policy=new keeps the stored image,
	// update fetches the new one (its base layer from the store),
	// never does not ask.
	r.push(t, "team/web:1.0", registryImage(t, "hello again"))
	if again, err := pi.Pull(ctx, "docker://registry.example.com/team/web:1.0"); err != nil || again.ID != timg.ID {
		t.Errorf("--pull-policy=new: %v %v", again, err)
	}
	pi.Policy = fetch.PullUpdate
	updated, err := pi.Pull(ctx, "docker://registry.example.com/team/web:1.0")
	if err != nil || updated.ID == timg.ID {
		t.Fatalf("--pull-policy=update: %v %v", updated, err)
	}
	tree, _ = p.Store.TreePath(updated.ID)
	if b, _ := os.ReadFile(filepath.Join(tree, "rootfs/msg")); string(b) != "hello again" {
		t.Errorf("updated msg %q", b)
	}
	if same, err := pi.Pull(ctx, "docker://registry.example.com/team/web:1.0"); err != nil || same.ID != updated.ID {
		t.Errorf("update with nothing new: %v %v", same, err)
	}
	pi.Policy = fetch.PullNever
	if _, err := pi.Pull(ctx, "docker://registry.example.com/team/web:2.0"); err == nil || !strings.Contains(err.Error(), "--pull-policy=never") {
		t.Errorf("never: %v", err)
	}
}

// TestPullRegistryRefuses: what must not work fails with a clear error and
// leaves the store as it was.
func TestPullRegistryRefuses(t *testing.T) {
	ctx := context.Background()
	t.Run("challenge to another host gets no credentials", func(t *testing.T) {
		r := newTestRegistry(t, "evil.example.com")
		digest := r.push(t, "web:1", registryImage(t, "x"))
		p, _ := r.puller(t, 0, "registry.example.com")
		_, err := p.Pull(ctx, "docker://registry.example.com/web@"+digest)
		if err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
			t.Fatalf("error %v", err)
		}
		if len(r.tokenAuths) == 0 {
			t.Fatal("the token service was never asked")
		}
		for _, a := range r.tokenAuths {
			if a != "" {
				t.Errorf("the token service of another host got credentials: %q", a)
			}
		}
		t.Log(err)
		assertEmpty(t, p.Store)
	})
	t.Run("no credentials", func(t *testing.T) {
		r := newTestRegistry(t, "registry.example.com")
		digest := r.push(t, "web:1", registryImage(t, "x"))
		p, _ := r.puller(t, 0, "")
		// Refused by the token service for want of credentials, not by
		// any failure on the way.
		_, err := p.Pull(ctx, "docker://registry.example.com/web@"+digest)
		var te *transport.Error
		if !errors.As(err, &te) || te.StatusCode != http.StatusUnauthorized {
			t.Fatalf("without credentials: %v, want the registry's 401", err)
		}
		assertEmpty(t, p.Store)
	})
	t.Run("blob digest mismatch", func(t *testing.T) {
		r := newTestRegistry(t, "registry.example.com")
		img := registryImage(t, "x")
		digest := r.push(t, "web:1", img)
		cd, _ := img.ConfigName()
		r.corrupt = cd.String()
		p, _ := r.puller(t, 0, "registry.example.com")
		_, err := p.Pull(ctx, "docker://registry.example.com/web@"+digest)
		if err == nil || !strings.Contains(err.Error(), "layer sha256:") || !strings.Contains(err.Error(), "mismatch") && !strings.Contains(err.Error(), "checksum") {
			t.Fatalf("error %v, want one naming a layer and the mismatch", err)
		}
		t.Log(err)
		assertEmpty(t, p.Store)
	})
	t.Run("1 GiB manifest", func(t *testing.T) {
		r := newTestRegistry(t, "registry.example.com")
		p, _ := r.puller(t, fetch.InsecureImage, "registry.example.com")
		_, err := p.Pull(ctx, "docker://registry.example.com/web:huge")
		if err == nil || !strings.Contains(err.Error(), "more than the 4194304 bytes a manifest may have") {
			t.Fatalf("error %v", err)
		}
		assertEmpty(t, p.Store)
	})
	t.Run("manifest not matching its digest", func(t *testing.T) {
		r := newTestRegistry(t, "registry.example.com")
		r.push(t, "web:1", registryImage(t, "x"))
		other := registryImage(t, "y")
		d, _ := other.Digest()
		p, _ := r.puller(t, 0, "registry.example.com")
		_, err := p.Pull(ctx, "docker://registry.example.com/web@"+d.String())
		var te *transport.Error
		if !errors.As(err, &te) || te.StatusCode != http.StatusNotFound || !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
			t.Fatalf("a digest the registry does not have: %v, want its MANIFEST_UNKNOWN", err)
		}
		assertEmpty(t, p.Store)
	})
	t.Run("plain http", func(t *testing.T) {
		r := newTestRegistry(t, "registry.example.com")
		digest := r.push(t, "web:1", registryImage(t, "x"))
		srv := httptest.NewServer(r.inner)
		t.Cleanup(srv.Close)
		host := srv.Listener.Addr().String()
		p, _ := r.puller(t, 0, "")
		p.Fetcher = fetch.New(fetch.Options{})
		_, err := p.Pull(ctx, "docker://"+host+"/web@"+digest)
		if err == nil || !strings.Contains(err.Error(), "--insecure-options=http") {
			t.Fatalf("plain http without --insecure-options=http: %v", err)
		}
		assertEmpty(t, p.Store)
		var w strings.Builder
		p.Insecure = fetch.InsecureHTTP
		p.Fetcher = fetch.New(fetch.Options{Insecure: fetch.InsecureHTTP, Warnings: &w})
		if _, err := p.Pull(ctx, "docker://"+host+"/web@"+digest); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(w.String(), "plain http") {
			t.Errorf("no warning for plain http: %q", w.String())
		}
	})
}

func assertEmpty(t *testing.T, s *store.Store) {
	t.Helper()
	imgs, err := s.List(store.Filter{})
	if err != nil || len(imgs) != 0 {
		t.Errorf("images stored: %v %v", imgs, err)
	}
	for _, sub := range []string{"ocilayers", "tmp", "blobs", "trees"} {
		ents, _ := os.ReadDir(filepath.Join(s.Dir(), sub))
		if len(ents) != 0 {
			t.Errorf("%s holds %d entries", sub, len(ents))
		}
	}
}

// TestPullRegistryResumes: a blob download whose connection drops halfway
// is taken up again with a Range request from the bytes already had, and
// the image is stored whole, every blob verified against its digest over
// the whole stream. A storage that drops every answer halfway is given up
// on after oci.MaxBlobResumes, one that ignores Range is refused, and one
// whose rest has other bytes fails the digest: each with an error naming
// the blob and nothing stored.
func TestPullRegistryResumes(t *testing.T) {
	ctx := context.Background()
	r := newTestRegistry(t, "registry.example.com")
	digest := r.push(t, "team/web:1.0", registryImage(t, "hello"))
	ref := "docker://registry.example.com/team/web@" + digest

	r.cut = cutFirst
	p, _ := r.puller(t, 0, "registry.example.com")
	img, err := p.Pull(ctx, ref)
	if err != nil {
		t.Fatalf("pull with every blob's first download cut halfway: %v", err)
	}
	tree, _ := p.Store.TreePath(img.ID)
	if b, err := os.ReadFile(filepath.Join(tree, "rootfs/msg")); err != nil || string(b) != "hello" {
		t.Errorf("msg: %q %v", b, err)
	}
	if n := r.ranges.Load(); n < 3 { // two layers and the config
		t.Errorf("%d Range requests, want one per blob (3)", n)
	}

	for _, tc := range []struct {
		mode   cutMode
		errHas string
	}{
		{cutAlways, fmt.Sprintf("after %d resumes", oci.MaxBlobResumes)},
		{cutNoRange, "not the rest of the blob"},
		{cutCorrupt, "checksum"},
	} {
		r2 := newTestRegistry(t, "registry.example.com")
		d := r2.push(t, "team/web:1.0", registryImage(t, "hello"))
		r2.cut = tc.mode
		p, _ := r2.puller(t, 0, "registry.example.com")
		_, err := p.Pull(ctx, "docker://registry.example.com/team/web@"+d)
		if err == nil || !strings.Contains(err.Error(), tc.errHas) || !strings.Contains(err.Error(), "blobs/sha256:") && !strings.Contains(err.Error(), "config sha256:") {
			t.Errorf("cut mode %d: %v, want an error naming the blob and saying %q", tc.mode, err, tc.errHas)
		}
		assertEmpty(t, p.Store)
	}
}

// TestPullRegistryStalls: registry traffic is under the fetcher's stall
// deadline (fetch.Options.StallTimeout, --stall-timeout, store.d's
// stallTimeout), as ACI downloads are. A blob whose storage sends 16 bytes and
// then trickles a byte every 50ms (under fetch.MinProgress in the 1s
// stall timeout) is given up on and resumed with a Range request, and the
// image is stored whole; a storage that trickles every answer is given up
// on after oci.MaxBlobResumes with ErrStalled's message naming the blob and
// --stall-timeout, and a registry that sends a manifest's headers and then
// nothing with the same message: each in seconds, not in the minutes the
// trickle would last, and nothing is stored.
func TestPullRegistryStalls(t *testing.T) {
	ctx := context.Background()
	r := newTestRegistry(t, "registry.example.com")
	body := strings.Repeat("trickled ", 400) // a layer of some KiB: a minute of trickling
	digest := r.push(t, "team/web:1.0", registryImage(t, body))
	ref := "docker://registry.example.com/team/web@" + digest
	r.cut, r.stall = cutTrickle, time.Second
	p, _ := r.puller(t, 0, "registry.example.com")
	start := time.Now()
	img, err := p.Pull(ctx, ref)
	if err != nil {
		t.Fatalf("pull from a storage trickling each blob's first download: %v", err)
	}
	tree, _ := p.Store.TreePath(img.ID)
	if b, err := os.ReadFile(filepath.Join(tree, "rootfs/msg")); err != nil || string(b) != body {
		t.Errorf("msg: %d bytes, %v; want the layer's %d", len(b), err, len(body))
	}
	if n := r.ranges.Load(); n < 3 { // two layers and the config
		t.Errorf("%d Range requests, want one per blob (3)", n)
	}
	t.Logf("pulled with every blob stalled once in %v", time.Since(start))

	for _, tc := range []struct {
		name   string
		setup  func(*testRegistry)
		errHas []string
	}{
		{"every answer trickles", func(r *testRegistry) { r.cut = cutTrickleAll },
			[]string{fmt.Sprintf("after %d resumes", oci.MaxBlobResumes), "blobs/sha256:", "transfer stalled", "--stall-timeout"}},
		{"manifest headers then nothing", func(r *testRegistry) { r.muteManifests = true },
			[]string{"manifests/", "transfer stalled", "--stall-timeout"}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			r := newTestRegistry(t, "registry.example.com")
			d := r.push(t, "team/web:1.0", registryImage(t, body))
			tc.setup(r)
			r.stall = time.Second
			p, _ := r.puller(t, 0, "registry.example.com")
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			start := time.Now()
			_, err := p.Pull(ctx, "docker://registry.example.com/team/web@"+d)
			if err == nil {
				t.Fatal("pull succeeded")
			}
			for _, w := range tc.errHas {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if ctx.Err() != nil {
				t.Errorf("gave up only at the test's deadline (%v)", time.Since(start))
			}
			t.Logf("given up after %v: %v", time.Since(start), err)
			assertEmpty(t, p.Store)
		})
	}
}
