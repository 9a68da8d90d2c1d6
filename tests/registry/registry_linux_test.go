package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acirun/acirun/stage0/fetch/fetchtest"
	"github.com/acirun/acirun/tests/box"
)

var shared box.Shared

func TestMain(m *testing.M) { box.Main(m, &shared) }

// layered builds, in a new layout, the image the tests push: three
// layers, the second removing a file and a directory of the first (umoci
// writes whiteouts), the third replacing a directory whole (an opaque
// directory, added raw).
func layered(t *testing.T) (*Layout, string) {
	l := NewLayout(t, filepath.Join(t.TempDir(), "layout"))
	d := l.Build("v1", Image{
		Layers: []Layer{
			{Files: map[string]string{"/etc/hello": "hello\n", "/etc/gone": "x", "/data/a": "a", "/old/sub/f": "f"}},
			{Remove: []string{"/etc/gone", "/old"}, Files: map[string]string{"/etc/new": "new"}},
			{Raw: []Entry{{Name: "data/", Type: tar.TypeDir}, {Name: "data/.wh..wh..opq"}, {Name: "data/b", Body: "b"}}},
		},
		Config: Config{Entrypoint: []string{"/bin/true"}, ExposedPorts: []string{"8080/tcp"}, Labels: map[string]string{"k": "v"}},
	})
	return l, d
}

// layerNames lists the entries of each layer of the manifest m, read from
// the layout l (gzip or plain tar).
func layerNames(t *testing.T, l *Layout, m Manifest) [][]string {
	t.Helper()
	var out [][]string
	for _, d := range m.Layers {
		var r io.Reader = bytes.NewReader(l.Blob(d.Digest))
		if strings.HasSuffix(d.MediaType, "+gzip") {
			zr, err := gzip.NewReader(r)
			if err != nil {
				t.Fatalf("layer %s: %v", d.Digest, err)
			}
			r = zr
		}
		var names []string
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: %v", d.Digest, err)
			}
			names = append(names, h.Name)
		}
		out = append(out, names)
	}
	return out
}

func sha256Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// TestPushPull: a umoci image of three layers pushed with skopeo to a plain
// HTTP registry is served under the digest skopeo reports, and pulled back
// with skopeo it has the whiteouts and the opaque directory it was built
// with; a blob file the registry stores is where BlobFile says.
func TestPushPull(t *testing.T) {
	l, _ := layered(t)
	r := Start(t, Options{})
	digest := r.Push(l.Ref("v1"), "web:1")
	raw := r.Inspect("web:1")
	if got := sha256Digest(raw); got != digest {
		t.Fatalf("the registry's manifest is %s, skopeo pushed %s", got, digest)
	}
	if !bytes.Equal(r.Inspect("web@"+digest), raw) {
		t.Fatal("the manifest by digest differs from the one by tag")
	}
	back := NewLayout(t, filepath.Join(t.TempDir(), "back"))
	r.Skopeo(append(append([]string{"copy", "--quiet"}, r.skopeoArgs("src-")...), "docker://"+r.Ref("web:1"), back.Ref("pulled"))...)
	m := back.Manifest("pulled")
	names := layerNames(t, back, m)
	if len(names) != 3 {
		t.Fatalf("pulled %d layers, want 3: %v", len(names), names)
	}
	for i, want := range [][]string{{"etc/hello", "old/sub/f"}, {"etc/.wh.gone", ".wh.old", "etc/new"}, {"data/.wh..wh..opq", "data/b"}} {
		for _, w := range want {
			if !slices.Contains(names[i], w) {
				t.Errorf("layer %d lacks %s: %v", i, w, names[i])
			}
		}
	}
	for _, d := range append(m.Layers, *m.Config) {
		b, err := os.ReadFile(r.BlobFile(d.Digest))
		if err != nil || sha256Digest(b) != d.Digest {
			t.Errorf("BlobFile(%s): %v, content %s", d.Digest, err, sha256Digest(b))
		}
	}
	if !strings.Contains(r.Log(), `"GET /v2/web/manifests/1 HTTP/1.1" 200`) {
		t.Errorf("the registry's access log lacks the manifest GET:\n%s", r.Log())
	}
}

// TestTLSAndToken: a registry speaking TLS with a certificate of the
// test's CA, which a client without that CA refuses, and asking for bearer
// tokens from /token on its own host and port: anonymous requests get the challenge, the token server refuses
// wrong and missing credentials and issues tokens to its user, with which
// skopeo pushes and pulls.
func TestTLSAndToken(t *testing.T) {
	ca := fetchtest.New(t)
	r := Start(t, Options{CA: ca, Token: &Token{Users: map[string]string{"alice": "secret"}}})
	if r.Scheme != "https" || r.Realm() != r.URL("/token") {
		t.Fatalf("scheme %s, realm %s: want https, and the realm at the registry's host and port", r.Scheme, r.Realm())
	}
	if _, err := http.Get(r.URL("/v2/")); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client without the test CA: %v, want a certificate error", err)
	}
	resp, err := r.Client().Get(r.URL("/v2/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	challenge := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(challenge, `Bearer realm="`+r.Realm()+`"`) ||
		!strings.Contains(challenge, `service="`+tokenService+`"`) {
		t.Fatalf("GET /v2/ without a token: %s, challenge %q", resp.Status, challenge)
	}

	l, _ := layered(t)
	digest := r.Push(l.Ref("v1"), "team/web:1")
	if got := sha256Digest(r.Inspect("team/web:1")); got != digest {
		t.Fatalf("inspect with a token: %s, pushed %s", got, digest)
	}
	reqs := r.TokenRequests()
	pushed := false
	for _, q := range reqs {
		if q.User == "alice" && q.Status == 200 && slices.Contains(q.Granted, "repository:team/web:pull,push") {
			pushed = true
		}
	}
	if !pushed {
		t.Errorf("no token for alice to push team/web: %+v", reqs)
	}

	for _, creds := range []string{"--creds=alice:wrong", "--no-creds"} {
		_, err := r.skopeo("inspect", "--raw", "--cert-dir="+r.certDir, creds, "docker://"+r.Ref("team/web:1"))
		if err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
			t.Errorf("skopeo inspect %s: %v, want unauthorized", creds, err)
		}
	}
	last := r.TokenRequests()[len(reqs):]
	if len(last) < 2 || last[0].User != "alice" || last[0].Status != 401 || last[len(last)-1].User != "" || last[len(last)-1].Status != 401 {
		t.Errorf("the token server's answers to a wrong password and to none: %+v", last)
	}
}

// TestIndexZstdArchives: an index of three platforms pushed with skopeo
// copy --all (each platform's manifest served by digest), zstd layers
// kept zstd in the registry, and podman's docker-archive and oci-archive
// of the image, which skopeo reads back with its name.
func TestIndexZstdArchives(t *testing.T) {
	l := NewLayout(t, filepath.Join(t.TempDir(), "layout"))
	platforms := []Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}, {OS: "linux", Architecture: "s390x"}}
	var tags []string
	for _, p := range platforms {
		tags = append(tags, p.Architecture)
		l.Build(p.Architecture, Image{Layers: []Layer{{Files: map[string]string{"/arch": p.Architecture}}},
			Config: Config{Architecture: p.Architecture}})
	}
	idxDigest := l.Index("multi", tags, platforms)
	r := Start(t, Options{})
	if got := r.Push(l.Ref("multi"), "multi:1", "--all"); got != idxDigest {
		t.Errorf("pushed index %s, built %s", got, idxDigest)
	}
	var idx Manifest
	if err := json.Unmarshal(r.Inspect("multi:1"), &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 3 {
		t.Fatalf("index of %d manifests, want 3: %+v", len(idx.Manifests), idx)
	}
	for i, d := range idx.Manifests {
		if d.Platform == nil || *d.Platform != platforms[i] {
			t.Errorf("entry %d: platform %+v, want %+v", i, d.Platform, platforms[i])
		}
		if got := sha256Digest(r.Inspect("multi@" + d.Digest)); got != d.Digest {
			t.Errorf("entry %d: manifest %s served as %s", i, d.Digest, got)
		}
	}

	l.Build("one", Image{Layers: []Layer{{Files: map[string]string{"/a": "a"}}, {Files: map[string]string{"/b": "b"}}}})
	r.Push(l.Recompress("one", "zstd").Ref("one"), "zstd:1")
	var m Manifest
	if err := json.Unmarshal(r.Inspect("zstd:1"), &m); err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Layers {
		if d.MediaType != "application/vnd.oci.image.layer.v1.tar+zstd" {
			t.Errorf("zstd layer pushed as %s", d.MediaType)
		}
		b, err := os.ReadFile(r.BlobFile(d.Digest))
		if err != nil || !bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
			t.Errorf("layer %s in the registry is not zstd: %v % x", d.Digest, err, b[:min(4, len(b))])
		}
	}

	for _, format := range []string{"docker-archive", "oci-archive"} {
		file := filepath.Join(t.TempDir(), format+".tar")
		l.Save("one", file, format, "example.com/one:1.0")
		out := r.Skopeo("inspect", format+":"+file)
		var info struct{ Layers []string }
		if err := json.Unmarshal(out, &info); err != nil || len(info.Layers) != 2 {
			t.Errorf("skopeo inspect %s: %v, %d layers, want 2:\n%s", format, err, len(info.Layers), out)
		}
		if format == "docker-archive" {
			var tf []byte
			f, _ := os.Open(file)
			tr := tar.NewReader(f)
			for h, err := tr.Next(); err == nil; h, err = tr.Next() {
				if h.Name == "manifest.json" {
					tf, _ = io.ReadAll(tr)
				}
			}
			f.Close()
			if !bytes.Contains(tf, []byte(`"example.com/one:1.0"`)) {
				t.Errorf("docker-archive manifest.json lacks the name: %s", tf)
			}
		}
	}
}

// TestInBox: a registry in the box's network namespace is reached there
// (skopeo, the test's client) and not from the test machine's.
func TestInBox(t *testing.T) {
	b := shared.Get(t)
	r := Start(t, Options{Netns: InBox(b), Dir: filepath.Join(b.Dir(), "registry-"+t.Name())})
	l, _ := layered(t)
	digest := r.Push(l.Ref("v1"), "web:1")
	req, _ := http.NewRequest("GET", r.URL("/v2/web/manifests/1"), nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	resp, err := r.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Docker-Content-Digest") != digest {
		t.Errorf("GET the manifest in the box: %s, digest %s, want %s", resp.Status, resp.Header.Get("Docker-Content-Digest"), digest)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if c, err := (&net.Dialer{}).DialContext(ctx, "tcp4", r.Host); err == nil {
		c.Close()
		t.Errorf("the box's registry at %s answers on the test machine's loopback", r.Host)
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial %s on the test machine's loopback: %v, want ECONNREFUSED (nothing listening there)", r.Host, err)
	}
}
