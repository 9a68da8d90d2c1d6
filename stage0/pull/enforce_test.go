package pull

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/fetch/fetchtest"
	"github.com/acirun/acirun/stage0/store"
	"github.com/acirun/acirun/stage0/trust"
)

// The fetch-time enforcement of signatures, through the Puller as the CLI
// uses it, over https from a test server (fetchtest) with discovery, by
// file, by URL and by name: an image (or a dependency) whose signature is
// missing, made by an unknown key, by a key trusted for another prefix, or
// does not match its bytes is refused with that reason (errors.Is on the
// trust package's reasons), and the store is left empty, partial downloads
// included.

// signer is an OpenPGP key of a test.
type signer struct{ e *openpgp.Entity }

func newSigner(t *testing.T, name string) signer {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return signer{e}
}

// sign is gpg --armor --detach-sign of data.
func (s signer) sign(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&b, s.e, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// trustFor adds s's public key to ts for prefix ("" for root.d).
func (s signer) trustFor(t *testing.T, ts *trust.Store, prefix string) {
	t.Helper()
	var b bytes.Buffer
	if err := s.e.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	var err error
	if prefix == "" {
		_, _, err = ts.AddRootKey(&b)
	} else {
		_, _, err = ts.AddKey(prefix, &b)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// testACI is an uncompressed ACI named name, with a file whose content is
// body and the given dependencies (image names).
func testACI(t *testing.T, name, body string, deps ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	mt := time.Unix(1600000000, 0)
	dj := ""
	if len(deps) > 0 {
		var ds []string
		for _, d := range deps {
			ds = append(ds, fmt.Sprintf(`{"imageName":%q}`, d))
		}
		dj = `,"dependencies":[` + strings.Join(ds, ",") + `]`
	}
	man := fmt.Sprintf(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":%q,"labels":[{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}]%s}`, name, dj)
	for _, h := range []struct {
		hdr  tar.Header
		body string
	}{
		{tar.Header{Name: "rootfs", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt}, ""},
		{tar.Header{Name: "rootfs/" + strings.ReplaceAll(name, "/", "_"), Typeflag: tar.TypeReg, Mode: 0o644, ModTime: mt}, body},
		{tar.Header{Name: "manifest", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: mt}, man},
	} {
		h.hdr.Size = int64(len(h.body))
		if err := tw.WriteHeader(&h.hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(h.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// tamper changes one byte of body in an ACI made by testACI: the archive
// stays valid, its content is not what was signed.
func tamper(t *testing.T, data []byte, body string) []byte {
	t.Helper()
	i := bytes.Index(data, []byte(body))
	if i < 0 {
		t.Fatal("tamper: body not found")
	}
	out := bytes.Clone(data)
	out[i] ^= 0x20
	return out
}

// imageSite serves images by discovery on https://example.com: the meta
// page maps every name below example.com to /aci/NAME.aci and .aci.asc.
type imageSite struct {
	files map[string][]byte // path → content; a missing path is a 404
}

func (s *imageSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("ac-discovery") == "1" {
		fmt.Fprint(w, `<html><head><meta name="ac-discovery" content="example.com https://example.com/aci/{name}.{ext}"></head></html>`)
		return
	}
	b, ok := s.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}

// enforcement is one refusal: what is served (by name, with an optional
// dependency) and why it must be refused.
type enforcement struct {
	name string
	// image and sig of example.com/hello; nil sig is none served.
	image, sig []byte
	// dep and depSig of example.com/base, when the image depends on it.
	dep, depSig []byte
	// want is the reason (a trust.Err* value), or nil when only wantText
	// identifies the refusal.
	want error
	// notWant must not match (ErrUnknownSigner also matches ErrUntrusted).
	notWant  error
	wantText string
	// depOnly: the refusal is of the dependency, so pulling the file or
	// URL of the image is refused for the same reason.
	depOnly bool
}

func TestFetchEnforcesSignatures(t *testing.T) {
	ctx := context.Background()
	alice := newSigner(t, "alice")     // trusted for example.com/hello and example.com/base
	carol := newSigner(t, "carol")     // trusted for example.com/other only
	mallory := newSigner(t, "mallory") // unknown to the trust store
	dave := newSigner(t, "dave")       // trusted for example.com/hello: the prefix of whole segments

	hello := testACI(t, "example.com/hello", "hello body")
	withDep := testACI(t, "example.com/hello", "hello body with a dependency", "example.com/base")
	base := testACI(t, "example.com/base", "base body")
	helloEvil := testACI(t, "example.com/helloevil", "evil body")
	other := testACI(t, "example.com/hello", "another image of the same name")

	cases := []enforcement{
		{name: "unsigned", image: hello, wantText: "no signature at https://example.com/aci/example.com/hello.aci.asc"},
		{name: "untrusted signer", image: hello, sig: mallory.sign(t, hello), want: trust.ErrUnknownSigner},
		{name: "wrong prefix", image: hello, sig: carol.sign(t, hello), want: trust.ErrUntrusted, notWant: trust.ErrUnknownSigner,
			wantText: "trusted only for prefix example.com/other"},
		{name: "tampered", image: tamper(t, hello, "hello body"), sig: alice.sign(t, hello), want: trust.ErrBadSignature},
		{name: "signature of another image", image: hello, sig: alice.sign(t, other), want: trust.ErrBadSignature},
		{name: "malformed signature", image: hello, sig: []byte("-----BEGIN PGP SIGNATURE-----\n\nnot base64\n-----END PGP SIGNATURE-----\n"), want: trust.ErrMalformedSignature},
		{name: "dependency unsigned", image: withDep, sig: alice.sign(t, withDep), dep: base, depOnly: true,
			wantText: "no signature at https://example.com/aci/example.com/base.aci.asc"},
		{name: "dependency untrusted", image: withDep, sig: alice.sign(t, withDep), dep: base, depSig: mallory.sign(t, base), depOnly: true, want: trust.ErrUnknownSigner},
		{name: "dependency wrong prefix", image: withDep, sig: alice.sign(t, withDep), dep: base, depSig: carol.sign(t, base), depOnly: true,
			want: trust.ErrUntrusted, notWant: trust.ErrUnknownSigner},
		{name: "dependency tampered", image: withDep, sig: alice.sign(t, withDep), dep: tamper(t, base, "base body"), depSig: alice.sign(t, base), depOnly: true, want: trust.ErrBadSignature},
	}

	// newPuller is a Puller with an empty store over site, its trust
	// store holding alice for example.com/hello and example.com/base, carol
	// for example.com/other and dave for example.com/hello.
	newPuller := func(t *testing.T, site *imageSite) (*Puller, string) {
		n := fetchtest.New(t)
		n.ServeTLS(t, site, "example.com")
		dir := t.TempDir()
		st, err := store.Open(filepath.Join(dir, "store"), store.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		ts := trust.NewStore(filepath.Join(dir, "system"), filepath.Join(dir, "local"))
		ts.Warnings = &strings.Builder{}
		alice.trustFor(t, ts, "example.com/hello")
		alice.trustFor(t, ts, "example.com/base")
		carol.trustFor(t, ts, "example.com/other")
		dave.trustFor(t, ts, "example.com/hello")
		partial := filepath.Join(dir, "partial")
		return &Puller{
			Store: st, Trust: ts, Policy: fetch.PullNew, Warnings: &strings.Builder{},
			Fetcher:    fetch.New(fetch.Options{RootCAs: n.Pool, DialContext: n.DialContext}),
			PartialDir: partial, HostLabels: map[string]string{"os": "linux", "arch": "amd64"},
		}, partial
	}
	serve := func(tc enforcement) *imageSite {
		site := &imageSite{files: map[string][]byte{"/aci/example.com/hello.aci": tc.image}}
		if tc.sig != nil {
			site.files["/aci/example.com/hello.aci.asc"] = tc.sig
		}
		if tc.dep != nil {
			site.files["/aci/example.com/base.aci"] = tc.dep
		}
		if tc.depSig != nil {
			site.files["/aci/example.com/base.aci.asc"] = tc.depSig
		}
		return site
	}

	// The control: what is properly signed is fetched, by every way, and
	// so is its dependency; without it, the refusals below could pass
	// for any broken setup.
	t.Run("signed", func(t *testing.T) {
		tc := enforcement{image: withDep, sig: alice.sign(t, withDep), dep: base, depSig: alice.sign(t, base)}
		for _, how := range []string{"name", "url", "file"} {
			p, partial := newPuller(t, serve(tc))
			img, err := p.Pull(ctx, refFor(t, how, tc))
			if err != nil {
				t.Fatalf("%s: %v", how, err)
			}
			if img.Name != "example.com/hello" || img.Origin.Signer != fmt.Sprintf("%x", alice.e.PrimaryKey.Fingerprint) || !img.Rendered {
				t.Errorf("%s: image %s signer %q rendered %v", how, img.Name, img.Origin.Signer, img.Rendered)
			}
			imgs, err := p.Store.List(store.Filter{})
			if err != nil || len(imgs) != 2 {
				t.Errorf("%s: stored %d images (%v), want the image and its dependency", how, len(imgs), err)
			}
			// Each is stored as it was served (a download is
			// moved into the store, not written again), and no
			// partial download is left.
			for _, img := range imgs {
				want := map[string][]byte{"example.com/hello": withDep, "example.com/base": base}[img.Name]
				var got bytes.Buffer
				if err := p.Store.Export(ctx, img.ID, &got); err != nil || !bytes.Equal(got.Bytes(), want) {
					t.Errorf("%s: %s stored as %d bytes (%v), want the %d served", how, img.Name, got.Len(), err, len(want))
				}
			}
			if ents, _ := os.ReadDir(partial); len(ents) != 0 {
				t.Errorf("%s: %d partial downloads left", how, len(ents))
			}
		}
	})
	// A key trusted for example.com/hello does not cover
	// example.com/helloevil: prefixes match whole segments.
	t.Run("prefix is whole segments", func(t *testing.T) {
		tc := enforcement{image: helloEvil, sig: dave.sign(t, helloEvil)}
		for _, how := range []string{"url", "file"} {
			p, partial := newPuller(t, serve(tc))
			_, err := p.Pull(ctx, refFor(t, how, tc))
			if !errors.Is(err, trust.ErrUntrusted) || errors.Is(err, trust.ErrUnknownSigner) {
				t.Errorf("%s: err = %v, want the signer not trusted for example.com/helloevil", how, err)
			}
			assertNothingLeft(t, p, partial)
		}
	})

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, how := range []string{"name", "url", "file"} {
				p, partial := newPuller(t, serve(tc))
				ref := refFor(t, how, tc)
				if tc.sig == nil && how == "file" {
					// FILE.asc is missing: the refusal names it.
					tc.wantText = "no signature: " + ref + ".asc does not exist"
				}
				img, err := p.Pull(ctx, ref)
				if err == nil {
					t.Fatalf("%s: fetched %s (%s), want a refusal", how, img.Name, img.ID)
				}
				if tc.want != nil && !errors.Is(err, tc.want) {
					t.Errorf("%s: err = %v, want %v", how, err, tc.want)
				}
				if tc.notWant != nil && errors.Is(err, tc.notWant) {
					t.Errorf("%s: err = %v, must not be %v", how, err, tc.notWant)
				}
				if tc.wantText != "" && !strings.Contains(err.Error(), tc.wantText) {
					t.Errorf("%s: err = %v, want it to say %q", how, err, tc.wantText)
				}
				if tc.depOnly && !strings.Contains(err.Error(), "dependency example.com/base") {
					t.Errorf("%s: err = %v, want it to name the dependency", how, err)
				}
				assertNothingLeft(t, p, partial)
			}
		})
	}
}

// refFor is the reference that pulls tc's image how: by name (discovery),
// by its https URL, or as a local file with its signature beside it.
func refFor(t *testing.T, how string, tc enforcement) string {
	switch how {
	case "name":
		return "example.com/hello"
	case "url":
		return "https://example.com/aci/example.com/hello.aci"
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "hello.aci")
	if err := os.WriteFile(path, tc.image, 0o644); err != nil {
		t.Fatal(err)
	}
	if tc.sig != nil {
		if err := os.WriteFile(path+".asc", tc.sig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// assertNothingLeft: a refused fetch leaves no image, no blob or tree, no
// temporary file in the store, and no partial download to resume.
func assertNothingLeft(t *testing.T, p *Puller, partial string) {
	t.Helper()
	assertEmpty(t, p.Store)
	ents, err := os.ReadDir(partial)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("partial download left: %s", e.Name())
	}
}
