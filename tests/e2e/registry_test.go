package e2e

// OCI and Docker images (issue 20) from real parts: Debian's docker-registry
// started by the tests (tests/registry), plain, with TLS and with token
// auth, images built with umoci, pushed with skopeo and saved with podman;
// fetched and run by acirun on the test machine and in the box.

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/tests/registry"
)

// ociListing is what the app of ociImage prints first: its /srv after the
// second layer's whiteouts (gone, sub/ deleted) and /d after the third
// layer's opaque directory (old hidden).
var ociListing = []string{"srv:", "keep", "new", "d:", "fresh"}

// ociImage builds tag in l: testapp with files in a first layer, a second
// layer deleting a file and a directory (umoci writes whiteouts), a third
// replacing /d whole (an opaque directory). Its app prints ociListing and
// then runs args (testapp commands), unless cfg sets Cmd.
func ociImage(t *testing.T, l *registry.Layout, tag string, cfg registry.Config, args ...string) string {
	t.Helper()
	return buildOCIImage(t, l, tag, nil, cfg, args...)
}

// ociImageOwnLayers is ociImage with a file /image naming tag in the first
// layer, so that no other image has its layers: umoci's tar headers keep
// whole seconds, and two images of ociImage made within one second have
// the same layers, which a store holding one of them need not fetch again.
func ociImageOwnLayers(t *testing.T, l *registry.Layout, tag string, cfg registry.Config) string {
	t.Helper()
	return buildOCIImage(t, l, tag, map[string]string{"/image": tag}, cfg)
}

// buildOCIImage builds ociImage's image with the files more in its first
// layer too.
func buildOCIImage(t *testing.T, l *registry.Layout, tag string, more map[string]string, cfg registry.Config, args ...string) string {
	t.Helper()
	files := map[string]string{"/srv/keep": "k", "/srv/gone": "g", "/srv/sub/x": "x", "/d/old": "o"}
	maps.Copy(files, more)
	if cfg.Entrypoint == nil {
		cfg.Entrypoint = []string{"/testapp"}
	}
	if cfg.Cmd == nil {
		cfg.Cmd = []string{"print", "srv:", "+", "ls", "/srv", "+", "print", "d:", "+", "ls", "/d"}
		if len(args) > 0 {
			cfg.Cmd = append(append(cfg.Cmd, "+"), args...)
		}
	}
	return l.Build(tag, registry.Image{
		Layers: []registry.Layer{
			{
				Copies: map[string]string{"/testapp": e.testapp},
				Files:  files,
			},
			{Remove: []string{"/srv/gone", "/srv/sub"}, Files: map[string]string{"/srv/new": "n"}},
			{Raw: []registry.Entry{{Name: "d/", Type: tar.TypeDir}, {Name: "d/.wh..wh..opq"}, {Name: "d/fresh", Body: "f"}}},
		},
		Config: cfg,
	})
}

// authFor writes an auth.d file giving h's acirun user:pass for domain.
func (h *host) authFor(domain, user, pass string) {
	h.t.Helper()
	dir := filepath.Join(h.local, "auth.d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		h.t.Fatal(err)
	}
	conf, _ := json.Marshal(map[string]any{"rktKind": "auth", "rktVersion": "v1", "domains": []string{domain},
		"type": "basic", "credentials": map[string]string{"user": user, "password": pass}})
	if err := os.WriteFile(filepath.Join(dir, "registry.json"), conf, 0o600); err != nil {
		h.t.Fatal(err)
	}
}

// dataTree lists every file under h's data directory but run/ (leases
// and locks of pods), with its type and size: what a refused fetch must
// leave as it was.
func (h *host) dataTree() []string {
	h.t.Helper()
	var out []string
	err := filepath.WalkDir(h.data, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(h.data, p)
		if rel == "run" {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %s %d", rel, info.Mode().Type(), info.Size()))
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		h.t.Fatal(err)
	}
	return out
}

// sub is h for the subtest t.
func (h *host) sub(t *testing.T) *host {
	c := *h
	c.t = t
	return &c
}

// unchanged fails the test if h's data directory differs from before.
func (h *host) unchanged(what string, before []string) {
	h.t.Helper()
	after := h.dataTree()
	if !slices.Equal(before, after) {
		h.t.Errorf("%s changed the data directory:\nbefore:\n%s\nafter:\n%s", what, strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
}

// TestOCISources: the same image (three layers, whiteouts and an opaque
// directory) from every source acirun takes: a registry by digest with
// gzip layers and with zstd layers, an OCI layout by tag, podman save's
// oci-archive and docker-archive. Each runs with its whiteouts applied; a
// local layout or archive is unsigned, so it needs --insecure-options=image
// as an unsigned ACI does, and says so.
func TestOCISources(t *testing.T) {
	needRoot(t)
	h := newHost(t)
	l := registry.NewLayout(t, filepath.Join(t.TempDir(), "layout"))
	ociImage(t, l, "1.0", registry.Config{})
	ca := newCA(t)
	h.useCA(ca)
	r := registry.Start(t, registry.Options{CA: ca.net})
	gz := r.Push(l.Ref("1.0"), "web:1.0")
	zs := r.Push(l.Recompress("1.0", "zstd").Ref("1.0"), "webz:1.0")
	dir := t.TempDir()
	ociArchive, dockerArchive := filepath.Join(dir, "oci.tar"), filepath.Join(dir, "docker.tar")
	l.Save("1.0", ociArchive, "oci-archive", "example.com/web:1.0")
	l.Save("1.0", dockerArchive, "docker-archive", "example.com/web:1.0")

	for _, tc := range []struct {
		ref      string
		insecure bool
	}{
		{"docker://" + r.Ref("web@"+gz), false},
		{"docker://" + r.Ref("webz@"+zs), false},
		{"oci:" + l.Dir + ":1.0", true},
		{"oci-archive:" + ociArchive, true},
		{"docker-archive:" + dockerArchive, true},
	} {
		if tc.insecure {
			h.fails([]string{"--insecure-options=image"}, "run", tc.ref)
			res := h.ok("run", "--insecure-options=image", tc.ref)
			wantLines(t, res, ociListing...)
			if !strings.Contains(res.stderr, "--insecure-options=image") {
				t.Errorf("run --insecure-options=image %s: no warning:\n%s", tc.ref, res)
			}
			continue
		}
		res := h.ok("run", tc.ref)
		wantLines(t, res, ociListing...)
		if strings.Contains(res.stderr, "insecure") || strings.Contains(res.stderr, "warning") {
			t.Errorf("run %s (pinned by digest, TLS): warned:\n%s", tc.ref, res)
		}
	}
	// The registry's image is listed by its reference and manifest digest.
	list := h.ok("image", "list", "--full", "--fields=name,source,digest").stdout
	for _, want := range []string{r.Ref("web@" + gz), gz, zs} {
		if !strings.Contains(list, want) {
			t.Errorf("image list lacks %s:\n%s", want, list)
		}
	}
}

// TestOCITagNeedsInsecure: a reference by tag alone is not verified
// content: refused without --insecure-options=image, naming it, with the
// store as it was; with it, fetched with a warning. Plain http needs
// --insecure-options=http.
func TestOCITagNeedsInsecure(t *testing.T) {
	needRoot(t)
	h := newHost(t)
	l := registry.NewLayout(t, filepath.Join(t.TempDir(), "layout"))
	ociImage(t, l, "1.0", registry.Config{})
	ca := newCA(t)
	h.useCA(ca)
	r := registry.Start(t, registry.Options{CA: ca.net})
	digest := r.Push(l.Ref("1.0"), "web:1.0")
	h.ok("fetch", "docker://"+r.Ref("web@"+digest))
	before := h.dataTree()

	h.fails([]string{"--insecure-options=image", r.Ref("web:1.0")}, "fetch", "docker://"+r.Ref("web:1.0"))
	h.unchanged("fetch by tag", before)
	res := h.ok("fetch", "--insecure-options=image", "docker://"+r.Ref("web:1.0"))
	if !strings.Contains(res.stderr, "--insecure-options=image") {
		t.Errorf("fetch --insecure-options=image by tag: no warning:\n%s", res)
	}

	plain := registry.Start(t, registry.Options{})
	// An image the store lacks: a stored digest is not fetched again.
	ociImage(t, l, "plain", registry.Config{Env: []string{"IMAGE=plain"}})
	pd := plain.Push(l.Ref("plain"), "web:1.0")
	ref := "docker://" + plain.Ref("web@"+pd)
	before = h.dataTree()
	h.fails([]string{"--insecure-options=http"}, "fetch", ref)
	h.unchanged("fetch over plain http", before)
	h.ok("fetch", "--insecure-options=http", ref)
}

// TestOCITokenAuth: a registry that asks for bearer tokens, its token
// server checking basic auth: without credentials the fetch fails saying
// so, with the store as it was; with the user's credentials in auth.d for
// the registry's host:port the token server issues a pull token to that
// user and the image is fetched; a wrong password is refused.
func TestOCITokenAuth(t *testing.T) {
	needRoot(t)
	h := newHost(t)
	l := registry.NewLayout(t, filepath.Join(t.TempDir(), "layout"))
	ociImage(t, l, "1.0", registry.Config{})
	ca := newCA(t)
	h.useCA(ca)
	r := registry.Start(t, registry.Options{CA: ca.net, Token: &registry.Token{Users: map[string]string{"alice": "s3cret"}}})
	digest := r.Push(l.Ref("1.0"), "team/web:1.0")
	ref := "docker://" + r.Ref("team/web@"+digest)
	pushes := len(r.TokenRequests())

	h.ok("image", "list") // the store exists; a refused fetch adds nothing to it
	before := h.dataTree()
	h.fails([]string{"401", r.Host}, "fetch", ref)
	h.unchanged("fetch without credentials", before)

	h.authFor(r.Host, "alice", "wrong")
	h.fails([]string{"401", r.Host}, "fetch", ref)
	h.unchanged("fetch with a wrong password", before)

	h.authFor(r.Host, "alice", "s3cret")
	h.ok("fetch", ref)
	var granted bool
	for _, q := range r.TokenRequests()[pushes:] {
		if q.User == "alice" && q.Status == http.StatusOK && slices.Contains(q.Granted, "repository:team/web:pull") {
			granted = true
		}
	}
	if !granted {
		t.Errorf("no pull token issued to alice: %+v", r.TokenRequests()[pushes:])
	}
	wantLines(t, h.ok("run", ref), ociListing...)
}

// TestOCIPlatforms: from an index of several platforms the host's is taken
// (its manifest's digest recorded, its arch label the host's); an index
// without the host's platform is refused, listing the platforms it has,
// with the store as it was.
func TestOCIPlatforms(t *testing.T) {
	needRoot(t)
	h := newHost(t)
	l := registry.NewLayout(t, filepath.Join(t.TempDir(), "layout"))
	host := registry.HostPlatform()
	others := []registry.Platform{{OS: "linux", Architecture: "s390x"}, {OS: "linux", Architecture: "arm", Variant: "v7"}}
	if host.Architecture != "riscv64" {
		others = append(others, registry.Platform{OS: "linux", Architecture: "riscv64"})
	}
	var tags []string
	var platforms []registry.Platform
	for _, p := range append(others, host) {
		tag := p.Architecture + p.Variant
		// Every image runs testapp (the host's), printing its platform.
		ociImage(t, l, tag, registry.Config{Architecture: p.Architecture}, "print", "platform="+tag)
		tags, platforms = append(tags, tag), append(platforms, p)
	}
	hostManifest := l.Descriptor(tags[len(tags)-1]).Digest
	l.Index("all", tags, platforms)
	l.Index("foreign", tags[:len(others)], platforms[:len(others)])
	ca := newCA(t)
	h.useCA(ca)
	r := registry.Start(t, registry.Options{CA: ca.net})
	all := r.Push(l.Ref("all"), "multi:all", "--all")
	foreign := r.Push(l.Ref("foreign"), "multi:foreign", "--all")

	res := h.ok("run", "docker://"+r.Ref("multi@"+all))
	wantLines(t, res, "platform="+host.Architecture+host.Variant)
	if list := h.ok("image", "list", "--full", "--fields=name,digest").stdout; !strings.Contains(list, hostManifest) {
		t.Errorf("image list lacks the host's manifest %s:\n%s", hostManifest, list)
	}

	before := h.dataTree()
	want := []string{"platform"}
	for _, p := range others {
		want = append(want, "linux/"+p.Architecture)
	}
	h.fails(want, "fetch", "docker://"+r.Ref("multi@"+foreign))
	h.unchanged("fetch of an index without the host's platform", before)
}

// TestOCIHostile: what a registry can send wrong, each refused with a
// clear error and the data directory as it was: a layer whose bytes do
// not match its digest, a manifest naming a blob the registry lacks,
// layers writing outside the root (../ names, a whiteout of ../), a 1 GB
// manifest (read no further than a manifest's limit), and a token realm
// on another host than the registry's, to which the registry's
// credentials must not go.
func TestOCIHostile(t *testing.T) {
	needRoot(t)
	h := newHost(t)
	ca := newCA(t)
	h.useCA(ca)
	l := registry.NewLayout(t, filepath.Join(t.TempDir(), "layout"))
	ociImage(t, l, "good", registry.Config{})
	r := registry.Start(t, registry.Options{CA: ca.net})
	good := r.Push(l.Ref("good"), "good:1")
	h.ok("fetch", "docker://"+r.Ref("good@"+good))
	before := h.dataTree()

	t.Run("corrupt blob", func(t *testing.T) {
		h := h.sub(t)
		ociImageOwnLayers(t, l, "corrupt", registry.Config{Env: []string{"IMAGE=corrupt"}})
		d := r.Push(l.Ref("corrupt"), "corrupt:1")
		var m registry.Manifest
		if err := json.Unmarshal(r.Inspect("corrupt@"+d), &m); err != nil {
			t.Fatal(err)
		}
		// The first layer (testapp and /image), which no other image
		// has: the same length, other bytes.
		layer := m.Layers[0].Digest
		file := r.BlobFile(layer)
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		h.fails([]string{layer}, "fetch", "docker://"+r.Ref("corrupt@"+d))
		h.unchanged("fetch of a corrupt layer", before)
	})

	t.Run("missing blob", func(t *testing.T) {
		h := h.sub(t)
		ociImageOwnLayers(t, l, "missing", registry.Config{Env: []string{"IMAGE=missing"}})
		d := r.Push(l.Ref("missing"), "missing:1")
		var m registry.Manifest
		if err := json.Unmarshal(r.Inspect("missing@"+d), &m); err != nil {
			t.Fatal(err)
		}
		// The first layer, its own: the last (raw, its times fixed) is
		// the good image's too, which the store has and need not fetch.
		layer := m.Layers[0].Digest
		if err := os.Remove(r.BlobFile(layer)); err != nil {
			t.Fatal(err)
		}
		h.fails([]string{layer}, "fetch", "docker://"+r.Ref("missing@"+d))
		h.unchanged("fetch of a manifest naming a missing blob", before)
	})

	for _, tc := range []struct {
		name  string
		entry registry.Entry
	}{
		{"dotdot", registry.Entry{Name: "../escaped", Body: "x"}},
		{"inner dotdot", registry.Entry{Name: "srv/../../escaped", Body: "x"}},
		{"absolute", registry.Entry{Name: "/../escaped", Body: "x"}},
		{"whiteout dotdot", registry.Entry{Name: "../.wh.victim"}},
		{"whiteout inner dotdot", registry.Entry{Name: "srv/../../.wh.victim"}},
		{"opaque dotdot", registry.Entry{Name: "../.wh..wh..opq"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := h.sub(t)
			tag := strings.ReplaceAll(tc.name, " ", "-")
			d := l.Build(tag, registry.Image{Layers: []registry.Layer{
				{Copies: map[string]string{"/testapp": e.testapp}},
				{Raw: []registry.Entry{{Name: "srv/", Type: tar.TypeDir}, tc.entry}},
			}, Config: registry.Config{Entrypoint: []string{"/testapp", "exit", "0"}}})
			r.Push(l.Ref(tag), "hostile:"+tag)
			name := strings.TrimPrefix(tc.entry.Name, "/")
			h.fails([]string{name}, "fetch", "docker://"+r.Ref("hostile@"+d))
			h.unchanged("fetch of a layer with "+tc.entry.Name, before)
		})
	}

	t.Run("1 GB manifest", func(t *testing.T) {
		h := h.sub(t)
		srv := ca.serve(t, listen(t, "127.0.0.1:0"), "127.0.0.1")
		srv.handle("/v2/", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
			w.Write([]byte("{}"))
		})
		const size = 1 << 30
		digest := "sha256:" + strings.Repeat("ab", 32)
		srv.handle("/v2/big/manifests/"+digest, func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Header().Set("Docker-Content-Digest", digest)
			w.Header().Set("Content-Length", strconv.Itoa(size))
			if req.Method == http.MethodHead {
				return
			}
			w.Write([]byte(`{"schemaVersion":2,"annotations":{"pad":"`))
			chunk := []byte(strings.Repeat("x", 1<<16))
			for sent := 0; sent < size-64; sent += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return // the client hung up, as it should
				}
			}
		})
		host := strings.TrimPrefix(srv.base, "https://")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		res := h.runCtx(ctx, "fetch", "docker://"+host+"/big@"+digest)
		if res.code != 254 || !strings.Contains(res.stderr, "manifest") {
			t.Errorf("fetch of a 1 GB manifest: want exit 254 and an error about the manifest: %s", res)
		}
		if sent := srv.bodyBytes(); sent > 64<<20 {
			t.Errorf("acirun read %d bytes of a 1 GB manifest before giving up, want a few MiB", sent)
		}
		h.unchanged("fetch of a 1 GB manifest", before)
	})

	t.Run("realm on another host", func(t *testing.T) {
		h := h.sub(t)
		other := registry.Start(t, registry.Options{CA: ca.net, Token: &registry.Token{
			Users: map[string]string{"alice": "s3cret"}, IP: "127.0.0.2"}})
		// An image the store lacks: a stored digest is not fetched again.
		ociImage(t, l, "realm", registry.Config{Env: []string{"IMAGE=realm"}})
		d := other.Push(l.Ref("realm"), "realm:1")
		if !strings.HasPrefix(other.Realm(), "https://127.0.0.2:") {
			t.Fatalf("realm %s, want one on 127.0.0.2", other.Realm())
		}
		pushes := len(other.TokenRequests())
		h.authFor(other.Host, "alice", "s3cret")
		defer os.RemoveAll(filepath.Join(h.local, "auth.d"))
		h.fails([]string{"127.0.0.2"}, "fetch", "docker://"+other.Ref("realm@"+d))
		for _, q := range other.TokenRequests()[pushes:] {
			if q.User != "" {
				t.Errorf("the credentials for %s went to the realm on another host: %+v", other.Host, q)
			}
		}
		h.unchanged("fetch with a realm on another host", before)
	})
}

// trustInBox adds ca to the box's system trust (Debian's bundle,
// /etc/ssl/certs/ca-certificates.crt, in the box's own upper layer), as an
// operator trusts a private registry's CA, until the test ends.
func (p *boxPod) trustInBox(ca *testCA) {
	p.t.Helper()
	const bundle = "/etc/ssl/certs/ca-certificates.crt"
	file, err := p.b.Path(bundle)
	if err != nil {
		p.t.Fatal(err)
	}
	old, err := os.ReadFile(file)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.b.WriteFile(bundle, append(append([]byte{}, old...), ca.net.CAPEM()...), 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { p.b.WriteFile(bundle, old, 0o644) })
}

// boxRegistry starts a registry with TLS in the box's network namespace,
// its CA trusted by the box's system, and pushes an ociImage serving HTTP
// on port 8080, which it declares, as web:1.0; it returns the registry
// and the manifest's digest.
func (p *boxPod) boxRegistry() (*registry.Registry, string) {
	p.t.Helper()
	ca := newCA(p.t)
	p.trustInBox(ca)
	l := registry.NewLayout(p.t, filepath.Join(p.t.TempDir(), "layout"))
	ociImage(p.t, l, "1.0", registry.Config{ExposedPorts: []string{"8080/tcp"}}, "serve", ":8080")
	r := registry.Start(p.t, registry.Options{Netns: registry.InBox(p.b), CA: ca.net})
	return r, r.Push(l.Ref("1.0"), "web:1.0")
}

// waitServing GETs url from the box's network namespace until the pod's
// testapp answers, for up to 30 s.
func (p *boxPod) waitServing(url string) {
	p.t.Helper()
	var body string
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if body, err = boxGet(p.t, p, "", url); err == nil && body == "hello from testapp\n" {
			return
		}
	}
	p.t.Fatalf("GET %s in the box: %q, %v", url, body, err)
}

// TestOCIRunInBox: `acirun run -d docker://127.0.0.1:PORT/web@sha256:…`
// pulls the image from a registry in the box (TLS, its CA in the box's
// system trust, nothing insecure), runs it as a unit, and the app serves
// on the port its image exposes, published with --port=8080-tcp:HOSTPORT;
// its whiteouts and opaque directory applied.
func TestOCIRunInBox(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, digest := p.boxRegistry()
	_, unit, res := p.runDetached(ctx, "--port=8080-tcp:18080", "docker://"+r.Ref("web@"+digest))
	if strings.Contains(res.stderr, "insecure") || strings.Contains(res.stderr, "warning") {
		t.Errorf("run -d of an image pinned by digest over TLS warned:\n%s", res)
	}
	p.waitServing("http://127.0.0.1:18080/")
	journal := p.waitJournal(ctx, unit, "serving")
	if !strings.Contains(appLines(journal), strings.Join(ociListing, "\n")) {
		t.Errorf("the app's listing (whiteouts, opaque directory), want %q:\n%s", ociListing, journal)
	}
}

// TestOCIAciTemplateUnit: an image pulled from the registry by tag and
// digest is known by name and tag, and `systemctl start aci@NAME:TAG`
// of the shipped unit runs it from the store; its app serves on its
// exposed port at the pod's address.
func TestOCIAciTemplateUnit(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p.installUnits(ctx)
	r, digest := p.boxRegistry()
	if err := p.b.Exec(ctx, e.acirun, "fetch", "docker://"+r.Ref("web:1.0@"+digest)); err != nil {
		t.Fatal(err)
	}
	out, err := p.b.Output(ctx, e.acirun, "image", "list", "--format=json", "--full")
	if err != nil {
		t.Fatal(err)
	}
	var imgs []struct {
		Name   string
		Labels map[string]string
	}
	if err := json.Unmarshal(out, &imgs); err != nil || len(imgs) != 1 || imgs[0].Labels["version"] != "1.0" {
		t.Fatalf("image list after the fetch: %v\n%s", err, out)
	}
	name, err := p.b.Output(ctx, "systemd-escape", "--template=aci@.service", imgs[0].Name+":1.0")
	if err != nil {
		t.Fatal(err)
	}
	u := strings.TrimSpace(string(name))
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p.b.Exec(c, "systemctl", "stop", u)
	})
	if err := p.b.Exec(ctx, "systemctl", "start", u); err != nil {
		j, _ := p.b.Journal(ctx, u)
		t.Fatalf("%v\njournal:\n%s", err, j)
	}
	props := p.show(ctx, u, "ActiveState", "StatusText")
	at, ok := strings.CutPrefix(props["StatusText"], "Running 1 app(s) at ")
	if props["ActiveState"] != "active" || !ok || at == "" {
		t.Fatalf("%s after systemctl start: %v", u, props)
	}
	ip, _, _ := strings.Cut(strings.Fields(at)[0], "/") // the pod's address, maybe with its prefix length
	p.waitServing("http://" + ip + ":8080/")
	journal := p.waitJournal(ctx, u, "serving")
	if !strings.Contains(appLines(journal), strings.Join(ociListing, "\n")) {
		t.Errorf("the app's listing, want %q:\n%s", ociListing, journal)
	}
	if err := p.b.Exec(ctx, "systemctl", "stop", u); err != nil {
		t.Fatal(err)
	}
}

// TestOCIRealmByName: a registry known by name (registry.test) whose
// token service is on another host, also by name (auth.test), as Docker
// Hub's is: the user's credentials for registry.test go to neither
// auth.test nor anywhere else but the registry; the token is asked for
// anonymously, so the image is fetched where anonymous pulls are granted,
// and refused, with the data directory as it was, where they are not.
func TestOCIRealmByName(t *testing.T) {
	p := newBoxPod(t)
	ca := newCA(t)
	p.trustInBox(ca)
	addHosts(t, p.b, "127.0.0.1 registry.test\n127.0.0.2 auth.test")
	l := registry.NewLayout(t, filepath.Join(t.TempDir(), "layout"))
	h := newBoxHost(t, p.b)
	for _, anonymous := range []bool{true, false} {
		tag := fmt.Sprintf("anonymous-%v", anonymous)
		ociImage(t, l, tag, registry.Config{Env: []string{"IMAGE=" + tag}})
		r := registry.Start(t, registry.Options{Netns: registry.InBox(p.b), CA: ca.net, Name: "registry.test",
			Token: &registry.Token{Users: map[string]string{"alice": "s3cret"}, Anonymous: anonymous, IP: "127.0.0.2", Name: "auth.test"}})
		if !strings.HasPrefix(r.Realm(), "https://auth.test:") {
			t.Fatalf("realm %s, want one on auth.test", r.Realm())
		}
		d := r.Push(l.Ref(tag), "web:1.0")
		pushes := len(r.TokenRequests())
		ref := "docker://" + r.NameRef("web@"+d)
		h.authFor(strings.Split(r.NameRef(""), "/")[0], "alice", "s3cret")
		h.ok("image", "list")
		before := h.dataTree()
		if anonymous {
			h.ok("fetch", ref)
		} else {
			h.fails([]string{"auth.test"}, "fetch", ref)
			h.unchanged("fetch refused by the token service", before)
		}
		reqs := r.TokenRequests()[pushes:]
		if len(reqs) == 0 {
			t.Errorf("anonymous=%v: acirun asked auth.test for no token", anonymous)
		}
		for _, q := range reqs {
			if q.User != "" {
				t.Errorf("anonymous=%v: registry.test's credentials went to auth.test: %+v", anonymous, q)
			}
		}
	}
}

// TestOCIStopSignal: an OCI image whose config says StopSignal SIGQUIT,
// run from a shell and stopped with `acirun stop`: its app gets SIGQUIT,
// not SIGTERM (testapp wait-signal exits 0 only on SIGQUIT, 3 on any
// other), so the pod ends with 0. An image whose StopSignal is not a
// signal is refused at fetch, naming it, with the store as it was.
func TestOCIStopSignal(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	vol := filepath.Join(p.dir, "vol")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	l := registry.NewLayout(t, filepath.Join(p.dir, "layout"))
	ociImage(t, l, "1.0", registry.Config{StopSignal: "SIGQUIT", Volumes: []string{"/data"}}, "wait-signal", "SIGQUIT", "/data/waiting")
	uuid, cmd, done, _ := p.shellPod(ctx, "--volume=volume-data,kind=host,source="+vol, "oci:"+l.Dir+":1.0")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(vol, "waiting")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the app does not listen for signals after 30s")
		}
	}
	if r := p.runInBox(ctx, "stop", uuid); r.code != 0 {
		t.Fatalf("stop: %s", r)
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("acirun run still running 20s after stop returned")
	}
	b, m := p.exitOf(uuid)
	if code := cmd.ProcessState.ExitCode(); code != 0 || m["exitCode"] != float64(0) {
		t.Errorf("acirun run exited %d after stop, exit.json %s: want 0, the app having got SIGQUIT (3: another signal)", code, b)
	}

	// A StopSignal that is no signal: refused at fetch, naming it.
	bad := registry.NewLayout(t, filepath.Join(p.dir, "bad"))
	ociImage(t, bad, "1.0", registry.Config{StopSignal: "SIGNOPE"})
	r := p.runInBox(ctx, "fetch", "--insecure-options=image", "oci:"+bad.Dir+":1.0")
	if r.code == 0 || !strings.Contains(r.stderr, `StopSignal: stop signal "SIGNOPE"`) {
		t.Errorf("fetch of an image whose StopSignal is SIGNOPE: %s", r)
	}
	if r := p.runInBox(ctx, "image", "list", "--fields=name"); strings.Contains(r.stdout, "bad") {
		t.Errorf("the refused image is listed:\n%s", r)
	}
}

// appLines is a unit's journal (as box.Journal gives it, one message a
// line) without systemd's own messages about the unit ("Starting …",
// "Started …": "DESCRIPTION."), which may fall anywhere among the app's
// lines now that the app starts before systemd has logged the unit's start.
func appLines(journal string) string {
	var keep []string
	for _, l := range strings.Split(journal, "\n") {
		if (strings.HasPrefix(l, "Starting ") || strings.HasPrefix(l, "Started ")) && strings.Contains(l, " - App Container pod ") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}
