package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFetchSignatureFlag: fetch --signature=FILE checks a file or a URL
// against a detached signature kept elsewhere (made by real gpg), instead
// of FILE.asc or URL.asc, which are neither read nor requested; a
// signature of other bytes is refused; it is for one image only.
func TestFetchSignatureFlag(t *testing.T) {
	h, _, srv := newWebHost(t)
	alice := newSigner(t, "alice")
	h.ok("trust", "--prefix=example.com/hello", "--skip-fingerprint-review", alice.arm)

	img := makeImage(t, "example.com/hello", "exit", "0")
	other := makeImage(t, "example.com/hello/other", "exit", "1")
	alice.sign(img)
	alice.sign(other)
	sigs := t.TempDir()
	sig, otherSig := filepath.Join(sigs, "hello.sig"), filepath.Join(sigs, "other.sig")
	if err := os.Rename(img+".asc", sig); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other+".asc", otherSig); err != nil {
		t.Fatal(err)
	}

	// A file without FILE.asc: its signature given.
	h.fails([]string{img + ".asc"}, "fetch", img)
	if r := h.ok("fetch", "--signature="+sig, img); strings.TrimSpace(r.stdout) != short(imageID(t, img)) {
		t.Errorf("fetch --signature of a file: %s", r)
	}
	// A URL whose server has no signature: URL.asc is not asked for.
	srv.putFile("/other.aci", other)
	u := srv.url("/other.aci")
	h.fails([]string{"signature does not match the image"}, "fetch", "--signature", sig, u)
	if r := h.ok("fetch", u, "--signature", otherSig); strings.TrimSpace(r.stdout) != short(imageID(t, other)) {
		t.Errorf("fetch --signature of a URL: %s", r)
	}
	if got := only(srv.requests(), "/other.aci.asc"); len(got) != 0 {
		t.Errorf("URL.asc was requested although --signature was given:\n%s", summary(got))
	}
	// One image only, and not with --insecure-options=image.
	r := h.run("fetch", "--signature="+sig, img, u)
	if r.code != 2 || !strings.Contains(r.stderr, "--signature") || !strings.Contains(r.stderr, "one at a time") {
		t.Errorf("fetch --signature of two images: %s", r)
	}
	h.fails([]string{"contradict"}, "fetch", "--signature="+sig, "--insecure-options=image", img)
	if ids := h.storeIDs(); len(ids) != 2 {
		t.Errorf("store: %v, want the two images", ids)
	}
}
