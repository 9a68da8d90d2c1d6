package e2e

import (
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acirun/acirun/tests/box"
	"github.com/acirun/acirun/tests/testimage"
)

// imageID computes the ID of an ACI file as the spec defines it, outside
// acirun: the sha512 of the uncompressed tar.
func imageID(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	h := sha512.New()
	if _, err := io.Copy(h, zr); err != nil {
		t.Fatal(err)
	}
	return "sha512-" + hex.EncodeToString(h.Sum(nil))
}

// short is the short form of an image ID that acirun prints.
func short(id string) string { return id[:len("sha512-")+32] }

// appcArch is this machine's arch label as appc names it.
func appcArch() string {
	if runtime.GOARCH == "arm64" {
		return "aarch64"
	}
	return runtime.GOARCH
}

// manifest returns an image manifest named name with the given labels (os
// and arch of this machine added), an app running testapp with args, and
// more top-level fields (dependencies, pathWhitelist, …).
func manifest(name string, labels map[string]string, more map[string]any, args ...string) []byte {
	m := map[string]any{}
	if err := json.Unmarshal(testimage.Manifest(name, args...), &m); err != nil {
		panic(err)
	}
	ls := m["labels"].([]any)
	for k, v := range labels {
		ls = append(ls, map[string]string{"name": k, "value": v})
	}
	m["labels"] = ls
	for k, v := range more {
		m[k] = v
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

// newWebHost starts a remote fetch test (it needs root): a host whose
// acirun trusts a new test CA, and an HTTPS server with that CA's
// certificate on 127.0.0.1.
func newWebHost(t *testing.T) (*host, *testCA, *web) {
	t.Helper()
	needRoot(t)
	ca := newCA(t)
	h := newHost(t)
	h.useCA(ca)
	return h, ca, ca.serve(t, listen(t, "127.0.0.1:0"), "127.0.0.1")
}

// servedSigned makes an image named name (testapp exit 0), signed by a new
// key alice that h trusts for name, and serves it with its signature at
// path of srv; it returns the image's file and its signer.
func servedSigned(h *host, srv *web, name, path string) (string, *signer) {
	h.t.Helper()
	img := makeImage(h.t, name, "exit", "0")
	alice := newSigner(h.t, "alice")
	alice.sign(img)
	h.ok("trust", "--prefix="+name, "--skip-fingerprint-review", alice.arm)
	srv.putFile(path, img)
	return img, alice
}

// fetchID runs a fetch that must succeed and returns the ID it printed.
func (h *host) fetchID(args ...string) string {
	h.t.Helper()
	r := h.ok(append([]string{"fetch"}, args...)...)
	return strings.TrimSpace(r.stdout)
}

// TestFetchURL: images and their URL.asc signatures over HTTPS with a CA
// the operator trusts; no signature, no image; plain http only when asked.
func TestFetchURL(t *testing.T) {
	h, ca, srv := newWebHost(t)

	img, alice := servedSigned(h, srv, "example.com/hello", "/images/hello.aci")
	want := imageID(t, img)

	// Signed and trusted: fetched, the short ID printed, the URL and the
	// signer recorded.
	u := srv.url("/images/hello.aci")
	r := h.ok("fetch", u)
	if id := strings.TrimSpace(r.stdout); id != short(want) {
		t.Fatalf("fetch %s printed %q, want %s", u, id, short(want))
	}
	if r.stderr != "" {
		t.Errorf("fetch with stderr on a pipe wrote to it (no progress bar on a pipe): %q", r.stderr)
	}
	reqs := srv.requests()
	if len(only(reqs, "/images/hello.aci.asc")) != 1 || len(only(reqs, "/images/hello.aci")) != 1 || len(reqs) != 2 {
		t.Errorf("want one request for the image and one for its signature, got:\n%s", summary(reqs))
	}
	list := h.ok("image", "list", "--format=json", "--full").stdout
	var entries []struct{ ID, Name, Source, Signer string }
	if err := json.Unmarshal([]byte(list), &entries); err != nil {
		t.Fatalf("image list --format=json: %v\n%s", err, list)
	}
	if len(entries) != 1 || entries[0].ID != want || entries[0].Name != "example.com/hello" || entries[0].Source != u ||
		!strings.EqualFold(entries[0].Signer, alice.fingerprint()) {
		t.Errorf("store after the fetch: %+v, want %s named example.com/hello from %s signed by %s", entries, want, u, alice.fingerprint())
	}

	// No signature on the server: refused, naming the signature's URL and
	// the way around it; nothing stored.
	unsigned := makeImage(t, "example.com/hello/unsigned", "exit", "0")
	srv.putFile("/images/unsigned.aci", unsigned)
	uu := srv.url("/images/unsigned.aci")
	r = h.fails([]string{uu + ".asc", "--insecure-options=image", "404"}, "fetch", uu)
	if strings.TrimSpace(r.stdout) != "" {
		t.Errorf("a refused fetch printed %q", r.stdout)
	}
	if ids := h.storeIDs(); len(ids) != 1 {
		t.Errorf("a refused fetch changed the store: %v", ids)
	}
	if got := only(srv.requests(), "/images/unsigned.aci"); len(got) != 0 {
		t.Errorf("the image was downloaded although its signature is missing:\n%s", summary(got))
	}
	r = h.ok("fetch", "--insecure-options=image", uu)
	if strings.TrimSpace(r.stdout) != short(imageID(t, unsigned)) || !strings.Contains(r.stderr, "warning: --insecure-options=image") || !strings.Contains(r.stderr, uu) {
		t.Errorf("fetch --insecure-options=image of an unsigned image: %s", r)
	}

	// A signature by a key not trusted for the name: refused.
	mallory := newSigner(t, "mallory")
	other := makeImage(t, "example.com/hello/other", "exit", "1")
	mallory.sign(other)
	srv.putFile("/images/other.aci", other)
	h.fails([]string{srv.url("/images/other.aci"), "signer unknown"}, "fetch", srv.url("/images/other.aci"))

	// A server whose certificate the CA did not sign: refused, nothing
	// fetched; --insecure-options=tls lets it through with a warning.
	rogue := newCA(t).serve(t, listen(t, "127.0.0.1:0"), "127.0.0.1")
	rogue.putFile("/hello.aci", img)
	h.fails([]string{rogue.url("/hello.aci"), "certificate"}, "fetch", rogue.url("/hello.aci"))
	r = h.ok("fetch", "--insecure-options=tls", rogue.url("/hello.aci"))
	if strings.TrimSpace(r.stdout) != short(want) || !strings.Contains(r.stderr, "warning: --insecure-options=tls") {
		t.Errorf("fetch --insecure-options=tls: %s", r)
	}

	// Plain http: refused without --insecure-options=http, before any
	// request; accepted with it, with a warning, signature still checked.
	plain := (*testCA)(nil).serve(t, listen(t, "127.0.0.1:0"), "127.0.0.1")
	plain.putFile("/hello.aci", img)
	pu := plain.url("/hello.aci")
	h2 := newHost(t)
	h2.useCA(ca)
	h2.ok("trust", "--prefix=example.com/hello", "--skip-fingerprint-review", alice.pub)
	h2.fails([]string{pu, "--insecure-options=http"}, "fetch", pu)
	if got := plain.requests(); len(got) != 0 {
		t.Errorf("a refused http fetch sent requests:\n%s", summary(got))
	}
	if ids := h2.storeIDs(); len(ids) != 0 {
		t.Errorf("a refused http fetch stored %v", ids)
	}
	r = h2.ok("fetch", "--insecure-options=http", pu)
	if strings.TrimSpace(r.stdout) != short(want) || !strings.Contains(r.stderr, "warning: --insecure-options=http") {
		t.Errorf("fetch --insecure-options=http: %s", r)
	}
	if reqs := plain.requests(); len(only(reqs, "/hello.aci.asc")) != 1 {
		t.Errorf("the signature was not fetched over http:\n%s", summary(reqs))
	}
	// Over http too, a wrong signature is refused.
	plain.put("/bad.aci", mustRead(t, img))
	plain.put("/bad.aci.asc", mustRead(t, other+".asc"))
	h2.fails([]string{plain.url("/bad.aci")}, "fetch", "--insecure-options=http", plain.url("/bad.aci"))
}

func mustRead(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFetchPullPolicy: new answers from the store without a request; update
// asks with If-None-Match and keeps the stored copy on 304, takes a changed
// image, and makes no request while Cache-Control max-age lasts; never
// fetches nothing.
func TestFetchPullPolicy(t *testing.T) {
	h, _, srv := newWebHost(t)
	alice := newSigner(t, "alice")
	h.ok("trust", "--prefix=example.com/app", "--skip-fingerprint-review", alice.arm)
	v1 := podImage(t, manifest("example.com/app", map[string]string{"version": "1"}, nil, "exit", "1"), nil)
	v2 := podImage(t, manifest("example.com/app", map[string]string{"version": "2"}, nil, "exit", "2"), nil)
	alice.sign(v1)
	alice.sign(v2)
	id1, id2 := imageID(t, v1), imageID(t, v2)
	u := srv.url("/app.aci")

	// never, with nothing stored: fails naming the image, asks nothing.
	h.fails([]string{u, "--pull-policy=never"}, "fetch", "--pull-policy=never", u)
	if reqs := srv.requests(); len(reqs) != 0 {
		t.Errorf("--pull-policy=never sent requests:\n%s", summary(reqs))
	}

	srv.putFile("/app.aci", v1)
	if id := h.fetchID("--full", u); id != id1 {
		t.Fatalf("first fetch: %s, want %s", id, id1)
	}
	srv.requests()

	// new (the default too): from the store, no request, fast.
	for _, args := range [][]string{{"--pull-policy=new", u}, {u}} {
		start := time.Now()
		id := h.fetchID(append([]string{"--full"}, args...)...)
		took := time.Since(start)
		if id != id1 {
			t.Errorf("fetch %v: %s, want the stored %s", args, id, id1)
		}
		if reqs := srv.requests(); len(reqs) != 0 {
			t.Errorf("fetch %v of a stored image sent requests:\n%s", args, summary(reqs))
		}
		t.Logf("fetch %v from the store: %v", args, took)
		if took > time.Second {
			t.Errorf("fetch %v from the store took %v", args, took)
		}
	}
	// never, with the image stored: the stored copy.
	if id := h.fetchID("--full", "--pull-policy=never", u); id != id1 {
		t.Errorf("--pull-policy=never: %s, want %s", id, id1)
	}

	// update, unchanged: If-None-Match with the ETag, 304, same ID, no
	// image bytes.
	etag := srv.files["/app.aci"].etag
	if id := h.fetchID("--full", "--pull-policy=update", u); id != id1 {
		t.Errorf("update of an unchanged image: %s, want %s", id, id1)
	}
	reqs := only(srv.requests(), "/app.aci")
	if len(reqs) != 1 || reqs[0].header.Get("If-None-Match") != etag || reqs[0].status != http.StatusNotModified || reqs[0].sent != 0 {
		t.Errorf("update of an unchanged image: want one conditional request (If-None-Match %s) answered 304, got:\n%s(If-None-Match %q)", etag, summary(reqs), firstHeader(reqs, "If-None-Match"))
	}
	if ids := h.storeIDs(); len(ids) != 1 {
		t.Errorf("store after a 304: %v", ids)
	}

	// update, changed on the server: the new image, a new ID, both stored,
	// and new answers with the newer one.
	srv.putFile("/app.aci", v2)
	if id := h.fetchID("--full", "--pull-policy=update", u); id != id2 {
		t.Errorf("update of a changed image: %s, want %s", id, id2)
	}
	reqs = only(srv.requests(), "/app.aci")
	if len(reqs) != 1 || reqs[0].header.Get("If-None-Match") != etag || reqs[0].status != http.StatusOK {
		t.Errorf("update of a changed image: want one conditional request answered 200, got:\n%s", summary(reqs))
	}
	if ids := h.storeIDs(); len(ids) != 2 {
		t.Errorf("store after an update: %v, want %s and %s", ids, id1, id2)
	}
	if id := h.fetchID("--full", "--pull-policy=new", u); id != id2 {
		t.Errorf("new after an update: %s, want the newer %s", id, id2)
	}

	// update within Cache-Control max-age: no request at all.
	srv.putFile("/app.aci", v1, "Cache-Control", "max-age=3600")
	if id := h.fetchID("--full", "--pull-policy=update", u); id != id1 {
		t.Errorf("update to v1 again: %s, want %s", id, id1)
	}
	srv.requests()
	srv.putFile("/app.aci", v2)
	if id := h.fetchID("--full", "--pull-policy=update", u); id != id1 {
		t.Errorf("update within max-age: %s, want the fresh stored %s", id, id1)
	}
	if reqs := srv.requests(); len(reqs) != 0 {
		t.Errorf("update within max-age sent requests:\n%s", summary(reqs))
	}
}

func firstHeader(reqs []webReq, name string) string {
	if len(reqs) == 0 {
		return ""
	}
	return reqs[0].header.Get(name)
}

// TestFetchAuth: credentials from LOCAL-CONFIG/auth.d reach their host, and
// only their host: a redirect elsewhere drops them.
func TestFetchAuth(t *testing.T) {
	h, ca, srv := newWebHost(t)
	other := ca.serve(t, listen(t, "127.0.0.2:0"), "127.0.0.2")
	img := makeImage(t, "example.com/private", "exit", "0")
	alice := newSigner(t, "alice")
	alice.sign(img)
	h.ok("trust", "--prefix=example.com/private", "--skip-fingerprint-review", alice.arm)
	want := short(imageID(t, img))

	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("u:p"))
	private := func(data []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != basic {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			w.Write(data)
		}
	}
	srv.handle("/private.aci", private(mustRead(t, img)))
	srv.handle("/private.aci.asc", private(mustRead(t, img+".asc")))
	redirect := func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.url(strings.Replace(r.URL.Path, "/moved", "/public", 1)), http.StatusFound)
	}
	srv.handle("/moved.aci", redirect)
	srv.handle("/moved.aci.asc", redirect)
	other.putFile("/public.aci", img)

	// Without credentials: 401, and the message says none are configured.
	h.fails([]string{"401", "no credentials", "auth.d"}, "fetch", srv.url("/private.aci"))

	authDir := filepath.Join(h.local, "auth.d")
	if err := os.MkdirAll(authDir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := `{"rktKind": "auth", "rktVersion": "v1", "domains": ["127.0.0.1"], "type": "basic", "credentials": {"user": "u", "password": "p"}}`
	if err := os.WriteFile(filepath.Join(authDir, "test.json"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.requests()
	if id := h.fetchID(srv.url("/private.aci")); id != want {
		t.Fatalf("fetch with credentials: %s, want %s", id, want)
	}
	for _, r := range srv.requests() {
		if r.header.Get("Authorization") != basic || r.status != http.StatusOK {
			t.Errorf("%s: Authorization %q, status %d; want %q, 200", r.path, r.header.Get("Authorization"), r.status, basic)
		}
	}

	// A file every user can read is still used, with a warning naming it.
	authFile := filepath.Join(authDir, "test.json")
	if err := os.Chmod(authFile, 0o644); err != nil {
		t.Fatal(err)
	}
	r := h.ok("fetch", "--pull-policy=update", srv.url("/private.aci"))
	if want := "warning: auth config " + authFile + " is readable by every user (mode 0644)"; !strings.Contains(r.stderr, want) {
		t.Errorf("world-readable auth config: stderr lacks %q:\n%s", want, r.stderr)
	}
	if err := os.Chmod(authFile, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := h.ok("fetch", srv.url("/private.aci")); strings.Contains(r.stderr, "readable by every user") {
		t.Errorf("auth config of mode 0600: warned anyway:\n%s", r.stderr)
	}
	srv.requests()

	// A redirect to another host: the image comes from there, without the
	// first host's credentials.
	h2 := newHost(t)
	h2.useCA(ca)
	h2.local = h.local
	if id := h2.fetchID(srv.url("/moved.aci")); id != want {
		t.Fatalf("fetch through a redirect: %s, want %s", id, want)
	}
	for _, r := range srv.requests() {
		if r.header.Get("Authorization") != basic || r.status != http.StatusFound {
			t.Errorf("first host, %s: Authorization %q, status %d; want the credentials and 302", r.path, r.header.Get("Authorization"), r.status)
		}
	}
	reqs := other.requests()
	if len(reqs) != 2 {
		t.Errorf("want image and signature from the second host, got:\n%s", summary(reqs))
	}
	for _, r := range reqs {
		if a := r.header.Get("Authorization"); a != "" {
			t.Errorf("second host, %s: got Authorization %q; credentials must not follow a redirect to another host", r.path, a)
		}
	}

	// Bearer tokens ("oauth") reach their host too.
	oauth := `{"rktKind": "auth", "rktVersion": "v1", "domains": ["127.0.0.2"], "type": "oauth", "credentials": {"token": "s3cret"}}`
	if err := os.WriteFile(filepath.Join(authDir, "token.json"), []byte(oauth), 0o600); err != nil {
		t.Fatal(err)
	}
	h4 := newHost(t)
	h4.useCA(ca)
	h4.local = h.local
	if id := h4.fetchID(other.url("/public.aci")); id != want {
		t.Fatalf("fetch with a bearer token: %s, want %s", id, want)
	}
	for _, r := range other.requests() {
		if a := r.header.Get("Authorization"); a != "Bearer s3cret" {
			t.Errorf("%s: Authorization %q, want the bearer token", r.path, a)
		}
	}

	// Wrong credentials: the message names the file they came from.
	conf = strings.Replace(conf, `"p"`, `"wrong"`, 1)
	if err := os.WriteFile(filepath.Join(authDir, "test.json"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	h3 := newHost(t)
	h3.useCA(ca)
	h3.local = h.local
	h3.fails([]string{"401", filepath.Join(authDir, "test.json")}, "fetch", srv.url("/private.aci"))
	if r := h3.run("fetch", srv.url("/private.aci")); strings.Contains(r.stderr, "wrong") {
		t.Errorf("an error message shows the password: %s", r.stderr)
	}
}

// dirEntries lists the names in dir ("ls"); a missing dir is empty.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestFetchKilled: acirun fetch killed with SIGKILL in the middle of a slow
// download leaves nothing visible; the next fetch resumes the download with
// Range, ends with exactly one good entry and cleans the dead staging.
func TestFetchKilled(t *testing.T) {
	h, _, srv := newWebHost(t)
	img, _ := servedSigned(h, srv, "example.com/slow", "/slow.aci")
	size := int64(len(mustRead(t, img)))
	want := imageID(t, img)
	u := srv.url("/slow.aci")

	srv.setTrickle(4 << 10) // 400 KB/s: several seconds for the image
	cmd := exec.Command(e.acirun, h.args("fetch", "--full", u)...)
	cmd.Env = append(os.Environ(), h.env...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tmp := filepath.Join(h.data, "store", "tmp")
	deadline := time.Now().Add(30 * time.Second)
	for srv.bodyBytes() < size/3 || len(dirEntries(t, tmp)) == 0 {
		select {
		case err := <-exited:
			t.Fatalf("fetch ended before it was killed (%v): %s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the download did not get a third through in 30s (%d of %d bytes, staging %v)", srv.bodyBytes(), size, dirEntries(t, tmp))
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	sent := srv.bodyBytes()
	t.Logf("killed after the server sent %d of %d bytes; staging: %v", sent, size, dirEntries(t, tmp))
	if sent >= size {
		t.Fatalf("the whole image went out before the kill")
	}
	if ids := h.storeIDs(); len(ids) != 0 {
		t.Fatalf("a killed fetch left a visible entry: %v", ids)
	}

	srv.setTrickle(0)
	srv.requests()
	if id := h.fetchID("--full", u); id != want {
		t.Fatalf("fetch after the kill: %s, want %s", id, want)
	}
	if ids := h.storeIDs(); len(ids) != 1 || ids[0] != want {
		t.Errorf("store after the kill and a new fetch: %v, want [%s]", ids, want)
	}
	if left := dirEntries(t, tmp); len(left) != 0 {
		t.Errorf("staging left in %s: %v", tmp, left)
	}
	if left := dirEntries(t, filepath.Join(h.data, "store", "partial")); len(left) != 0 {
		t.Errorf("partial downloads left: %v", left)
	}
	reqs := only(srv.requests(), "/slow.aci")
	if len(reqs) != 1 || reqs[0].status != http.StatusPartialContent || !strings.HasPrefix(reqs[0].header.Get("Range"), "bytes=") || reqs[0].sent >= size {
		t.Errorf("the second fetch did not resume with Range (want one 206 answer shorter than %d bytes):\n%s", size, summary(reqs))
	}
	if r := h.ok("image", "verify", want); !strings.Contains(r.stdout, short(want)+": ok") {
		t.Errorf("image verify after the kill: %s", r)
	}
}

// TestFetchParallel: ten acirun fetch of one image at once end with one
// entry, all ten print its ID, and the image and its signature are
// downloaded once: the other nine wait for the first and take what it stored.
func TestFetchParallel(t *testing.T) {
	h, _, srv := newWebHost(t)
	img, _ := servedSigned(h, srv, "example.com/busy", "/busy.aci")
	srv.setTrickle(256 << 10) // ~25 MB/s: the fetches overlap
	want := imageID(t, img)

	const n = 10
	results := make(chan result, n)
	for range n {
		go func() { results <- h.run("fetch", "--full", srv.url("/busy.aci")) }()
	}
	for range n {
		r := <-results
		if r.code != 0 || strings.TrimSpace(r.stdout) != want {
			t.Errorf("one of %d parallel fetches: want %s: %s", n, want, r)
		}
	}
	if ids := h.storeIDs(); len(ids) != 1 || ids[0] != want {
		t.Errorf("store after %d parallel fetches: %v, want [%s]", n, ids, want)
	}
	if left := dirEntries(t, filepath.Join(h.data, "store", "tmp")); len(left) != 0 {
		t.Errorf("staging left: %v", left)
	}
	reqs := srv.requests()
	if len(only(reqs, "/busy.aci")) != 1 || len(only(reqs, "/busy.aci.asc")) != 1 {
		t.Errorf("%d parallel fetches: want one download of the image and one of its signature, got:\n%s", n, summary(reqs))
	}
}

// addHosts appends lines to the box's /etc/hosts until the test ends.
func addHosts(t *testing.T, b *box.Box, lines string) {
	t.Helper()
	p, err := b.Path("/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.WriteFile("/etc/hosts", append(append([]byte{}, old...), lines+"\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.WriteFile("/etc/hosts", old, 0o644) })
}

// TestDiscoveryInBox: image names resolved by appc meta discovery against
// https://example.com, which is a server of the test on 127.0.0.1:443 of the
// box's own network namespace; acirun runs in the box.
func TestDiscoveryInBox(t *testing.T) {
	b := shared.Get(t)
	ca := newCA(t)
	var ln net.Listener
	if err := b.InNetNS("", func() (err error) {
		ln, err = net.Listen("tcp4", "127.0.0.1:443")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := ca.serve(t, ln, "example.com", "keys.example.net")
	addHosts(t, b, "127.0.0.1 example.com keys.example.net")
	h := newBoxHost(t, b)
	h.useCA(ca)

	alice := newSigner(t, "alice")
	srv.put("/keys/alice.gpg", mustRead(t, alice.arm))
	srv.put("/elsewhere?ac-discovery=1", []byte(`<meta name="ac-discovery-pubkeys" content="example.com/elsewhere https://keys.example.net/keys/alice.gpg">`))
	// A key discovered on another host than the prefix's is refused when
	// nobody reviews it, naming the host; named on the command line it is
	// the operator's choice.
	h.fails([]string{"keys.example.net", "not example.com", "--skip-fingerprint-review"}, "trust", "--prefix=example.com/elsewhere", "--skip-fingerprint-review")
	if r := h.ok("trust", "--prefix=example.com/elsewhere", "--skip-fingerprint-review", "https://keys.example.net/keys/alice.gpg"); !strings.Contains(r.stdout, alice.fingerprint()) {
		t.Errorf("trust of a named key on another host: %s", r)
	}
	h.ok("trust", "rm", alice.fingerprint())
	tpl := "https://example.com/images/{name}-{version}-{os}-{arch}.{ext}"
	srv.put("/?ac-discovery=1", []byte(`<!DOCTYPE html>
<html><head>
<meta name="ac-discovery" content="example.com/hello `+tpl+`">
<meta name="ac-discovery-pubkeys" content="example.com/hello https://example.com/keys/alice.gpg">
<meta name="ac-discovery" content="example.com/base `+tpl+`">
</head><body>images</body></html>
`))
	path := func(name, version string) string {
		return "/images/" + name + "-" + version + "-linux-" + appcArch() + ".aci"
	}
	hello := podImage(t, manifest("example.com/hello", map[string]string{"version": "1.0"}, nil, "exit", "0"), nil)
	alice.sign(hello)
	srv.putFile(path("example.com/hello", "1.0"), hello)
	helloID := imageID(t, hello)

	// No key trusted yet: discovered and downloaded, but refused.
	h.fails([]string{"example.com/hello", "signer unknown"}, "fetch", "example.com/hello:1.0")
	if ids := h.storeIDs(); len(ids) != 0 {
		t.Fatalf("a refused fetch stored %v", ids)
	}

	// trust --prefix with no key: the key is found by ac-discovery-pubkeys,
	// walking up from example.com/hello to example.com.
	srv.requests()
	r := h.ok("trust", "--prefix=example.com/hello", "--skip-fingerprint-review")
	if !strings.Contains(r.stdout, alice.fingerprint()) || !strings.Contains(r.stdout, "prefix example.com/hello") {
		t.Errorf("trust by discovery: %s", r)
	}
	reqs := srv.requests()
	if got, want := summary(reqs), "404 /hello?ac-discovery=1"; !strings.HasPrefix(got, want) || len(only(reqs, "/?ac-discovery=1")) != 1 || len(only(reqs, "/keys/alice.gpg")) != 1 {
		t.Errorf("trust by discovery: want the walk up (/hello, then /) and the key, got:\n%s", got)
	}

	// Now the name resolves: walk up, template rendered with
	// {name}{version}{os}{arch}{ext}, signature at the template's .aci.asc.
	if id := h.fetchID("--full", "example.com/hello:1.0"); id != helloID {
		t.Fatalf("fetch example.com/hello:1.0: %s, want %s", id, helloID)
	}
	reqs = srv.requests()
	if got := summary(reqs); len(reqs) != 4 || reqs[0].path != "/hello?ac-discovery=1" || reqs[0].status != 404 || reqs[1].path != "/?ac-discovery=1" || len(only(reqs, path("example.com/hello", "1.0")+".asc")) != 1 || len(only(reqs, path("example.com/hello", "1.0"))) != 1 {
		t.Errorf("fetch by discovery: requests\n%s", got)
	}
	// Stored: the name answers from the store; never works too.
	if id := h.fetchID("--full", "example.com/hello:1.0"); id != helloID {
		t.Errorf("second fetch: %s", id)
	}
	if id := h.fetchID("--full", "--pull-policy=never", "example.com/hello:1.0"); id != helloID {
		t.Errorf("--pull-policy=never of a stored name: %s", id)
	}
	if reqs := srv.requests(); len(reqs) != 0 {
		t.Errorf("fetching a stored name sent requests:\n%s", summary(reqs))
	}
	h.fails([]string{"example.com/hello", "3.0", "--pull-policy=never"}, "fetch", "--pull-policy=never", "example.com/hello:3.0")
	// update by name: discovery again, then a conditional request for the
	// image, answered 304.
	if id := h.fetchID("--full", "--pull-policy=update", "example.com/hello:1.0"); id != helloID {
		t.Errorf("--pull-policy=update of a stored name: %s", id)
	}
	reqs = only(srv.requests(), path("example.com/hello", "1.0"))
	if len(reqs) != 1 || reqs[0].status != http.StatusNotModified || reqs[0].header.Get("If-None-Match") == "" {
		t.Errorf("--pull-policy=update of a stored name: want one conditional request answered 304:\n%s", summary(reqs))
	}

	// A tag for example.com/hello does not serve example.com/helloworld,
	// though a signed image waits at the path its template would give.
	world := podImage(t, manifest("example.com/helloworld", map[string]string{"version": "1.0"}, nil, "exit", "0"), nil)
	alice.sign(world)
	srv.putFile(path("example.com/helloworld", "1.0"), world)
	h.fails([]string{"example.com/helloworld"}, "fetch", "example.com/helloworld:1.0")
	for _, r := range srv.requests() {
		if strings.HasPrefix(r.path, "/images/") {
			t.Errorf("fetch of example.com/helloworld requested %s through example.com/hello's tag", r.path)
		}
	}

	// The manifest must be what was asked for: version 1.0 served for 2.0,
	// or example.com/hello served for example.com/hello/sub, is refused
	// although the signature is good.
	srv.putFile(path("example.com/hello", "2.0"), hello)
	h.fails([]string{"example.com/hello", `version="1.0"`, `version="2.0"`}, "fetch", "example.com/hello:2.0")
	srv.putFile(path("example.com/hello/sub", "1.0"), hello)
	h.fails([]string{`"example.com/hello"`, `"example.com/hello/sub"`}, "fetch", "example.com/hello/sub:1.0")
	if ids := h.storeIDs(); len(ids) != 1 {
		t.Errorf("refused fetches changed the store: %v", ids)
	}

	// No meta tag for example.com/simple: simple discovery,
	// https://{name}-{version}-{os}-{arch}.{ext}.
	simple := podImage(t, manifest("example.com/simple", map[string]string{"version": "1.0"}, nil, "exit", "0"), nil)
	alice.sign(simple)
	srv.putFile("/simple-1.0-linux-"+appcArch()+".aci", simple)
	h.ok("trust", "--prefix=example.com/simple", "--skip-fingerprint-review", "https://example.com/keys/alice.gpg")
	srv.requests()
	if id := h.fetchID("--full", "example.com/simple:1.0"); id != imageID(t, simple) {
		t.Errorf("fetch by simple discovery: %s, want %s", id, imageID(t, simple))
	}
	if reqs := srv.requests(); len(only(reqs, "/simple-1.0-linux-"+appcArch()+".aci")) != 1 {
		t.Errorf("simple discovery requests:\n%s", summary(reqs))
	}

	// A dependency (A13) fetched by discovery on its name and labels, its
	// imageID checked; the rendered tree holds both layers with the app's
	// pathWhitelist applied.
	base := podImage(t, manifest("example.com/base", map[string]string{"version": "1.0"}, nil), &testimage.Options{
		NoApp: true,
		Files: map[string]string{"/base.txt": "base\n", "/etc/base.conf": "conf\n", "/junk/file": "junk\n"},
	})
	alice.sign(base)
	srv.putFile(path("example.com/base", "1.0"), base)
	baseID := imageID(t, base)
	dep := func(id string) map[string]any {
		return map[string]any{
			"dependencies": []map[string]any{{
				"imageName": "example.com/base",
				"imageID":   id,
				"labels":    []map[string]string{{"name": "version", "value": "1.0"}},
			}},
			"pathWhitelist": []string{testimage.AppPath, "/app.txt", "/base.txt", "/etc/base.conf"},
		}
	}
	app := podImage(t, manifest("example.com/hello/app", map[string]string{"version": "1.0"}, dep(baseID), "exit", "0"),
		&testimage.Options{Files: map[string]string{"/app.txt": "app\n", "/base.txt": "app's\n"}})
	alice.sign(app)
	srv.putFile(path("example.com/hello/app", "1.0"), app)
	appID := imageID(t, app)
	h.ok("trust", "--prefix=example.com/base", "--skip-fingerprint-review", "https://example.com/keys/alice.gpg")
	srv.requests()
	if id := h.fetchID("--full", "example.com/hello/app:1.0"); id != appID {
		t.Fatalf("fetch of an image with a dependency: %s, want %s", id, appID)
	}
	reqs = srv.requests()
	if len(only(reqs, path("example.com/base", "1.0"))) != 1 || len(only(reqs, path("example.com/base", "1.0")+".asc")) != 1 {
		t.Errorf("the dependency was not fetched by discovery:\n%s", summary(reqs))
	}
	ids := h.storeIDs()
	if len(ids) != 4 || !slices.Contains(ids, baseID) || !slices.Contains(ids, appID) {
		t.Errorf("store: %v, want hello, simple, base %s and app %s", ids, baseID, appID)
	}
	dir := filepath.Join(h.dir, "rendered")
	h.ok("image", "render", appID, dir)
	for p, want := range map[string]string{
		"/base.txt":       "app's\n", // the image's own layer over its dependency's
		"/app.txt":        "app\n",
		"/etc/base.conf":  "conf\n",
		"/junk/file":      "", // not in the whitelist
		testimage.AppPath: string(mustRead(t, e.testapp)),
	} {
		got, err := os.ReadFile(filepath.Join(dir, "rootfs", p))
		if want == "" {
			if !os.IsNotExist(err) {
				t.Errorf("rendered tree: %s is there (%v), but not in the pathWhitelist", p, err)
			}
			continue
		}
		if string(got) != want {
			t.Errorf("rendered tree: %s = %.20q (%v), want %.20q", p, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "rootfs", "junk")); !os.IsNotExist(err) {
		t.Errorf("rendered tree: /junk is there (%v), but nothing under it is whitelisted", err)
	}
	if m := mustRead(t, filepath.Join(dir, "manifest")); !strings.Contains(string(m), "example.com/hello/app") {
		t.Errorf("rendered manifest: %s", m)
	}

	// A dependency whose imageID does not match what discovery brings is
	// refused, and no tree is rendered for the image.
	bad := podImage(t, manifest("example.com/hello/bad", map[string]string{"version": "1.0"}, dep(helloID), "exit", "0"), nil)
	alice.sign(bad)
	srv.putFile(path("example.com/hello/bad", "1.0"), bad)
	h2 := newBoxHost(t, b)
	h2.useCA(ca)
	h2.local = h.local
	r = h2.fails([]string{"example.com/base", short(helloID)}, "fetch", "example.com/hello/bad:1.0")
	if r2 := h2.run("image", "render", imageID(t, bad), filepath.Join(h2.dir, "r")); r2.code == 0 {
		t.Errorf("an image whose dependency failed its imageID was rendered: %s", r2)
	}
	// Nor is it left in the store: a failed fetch leaves nothing visible.
	for _, id := range h2.storeIDs() {
		if id == imageID(t, bad) {
			t.Errorf("an image whose dependency failed is still listed in the store")
		}
	}
}
