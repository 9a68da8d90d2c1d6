package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acirun/acirun/tests/testimage"
)

// makeImage builds an ACI named name around testapp (running args) with our
// own builder, and returns its path.
func makeImage(t *testing.T, name string, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	testimage.Build(t, filepath.Join(dir, "img"), testimage.Manifest(name, args...), e.testapp, nil)
	out := filepath.Join(dir, strings.ReplaceAll(name, "/", "-")+".aci")
	cmd := exec.Command(e.acirun, "image", "build", filepath.Join(dir, "img"), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("image build: %v\n%s", err, b)
	}
	return out
}

// TestTrustAndFetchFile walks the security promise with a local file: an
// image runs only when signed by a key trusted for its name's prefix.
func TestTrustAndFetchFile(t *testing.T) {
	h := newHost(t)
	img := makeImage(t, "example.com/hello", "exit", "0")
	alice := newSigner(t, "alice")
	alice.sign(img)

	// No key trusted: refused, naming the image and the signer's key, and
	// nothing enters the store.
	h.fails([]string{img, "signer unknown"}, "fetch", img)
	if ids := h.storeIDs(); len(ids) != 0 {
		t.Fatalf("a refused fetch left %v in the store", ids)
	}

	// Trust needs a terminal or --skip-fingerprint-review.
	h.fails([]string{"not a terminal", "--skip-fingerprint-review"}, "trust", "--prefix=example.com/hello", alice.pub)

	// Trusted for a sibling prefix only: still refused, saying for what the key is trusted.
	h.ok("trust", "--prefix=example.com/helloworld", "--skip-fingerprint-review", alice.arm)
	r := h.fails([]string{"example.com/hello", "not trusted"}, "fetch", img)
	if !strings.Contains(r.stderr, alice.fingerprint()) && !strings.Contains(strings.ToUpper(r.stderr), strings.ToUpper(alice.fingerprint()[24:])) {
		t.Errorf("refusal does not name the key %s: %s", alice.fingerprint(), r.stderr)
	}

	// Trusted for the parent prefix (binary export): accepted.
	r = h.ok("trust", "--prefix=example.com", "--skip-fingerprint-review", alice.pub)
	if !strings.Contains(r.stdout, alice.fingerprint()) || !strings.Contains(r.stdout, "alice@example.com") {
		t.Errorf("trust output lacks fingerprint or user ID: %s", r.stdout)
	}
	r = h.ok("fetch", img)
	id := strings.TrimSpace(r.stdout)
	want := "sha512-" + strings.Fields(sh(t, "gzip -dc "+img+" | sha512sum"))[0]
	if !strings.HasPrefix(want, id) || len(id) != len("sha512-")+32 {
		t.Errorf("fetch printed %q, want the short form of %s", id, want)
	}
	if r := h.ok("fetch", "--full", img); strings.TrimSpace(r.stdout) != want {
		t.Errorf("fetch --full printed %q, want %s", r.stdout, want)
	}
	if ids := h.storeIDs(); len(ids) != 1 || ids[0] != want {
		t.Errorf("store holds %v, want [%s]", ids, want)
	}

	// trust list shows both keys; trust rm removes them.
	r = h.ok("trust", "list")
	for _, w := range []string{"example.com/helloworld", "example.com ", alice.fingerprint(), "trusted"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("trust list lacks %q:\n%s", w, r.stdout)
		}
	}
	h.ok("trust", "rm", alice.fingerprint())
	if r := h.ok("trust", "list"); strings.Contains(r.stdout, alice.fingerprint()) {
		t.Errorf("key still listed after trust rm:\n%s", r.stdout)
	}

	// A tampered image is refused even though its key was trusted.
	h.ok("trust", "--prefix=example.com/hello", "--skip-fingerprint-review", alice.pub)
	tampered := filepath.Join(t.TempDir(), "tampered.aci")
	b, _ := os.ReadFile(img)
	b[len(b)/2] ^= 0x40
	os.WriteFile(tampered, b, 0o644)
	sig, _ := os.ReadFile(img + ".asc")
	os.WriteFile(tampered+".asc", sig, 0o644)
	h.fails([]string{tampered}, "fetch", tampered)

	// Unsigned: refused unless --insecure-options=image, which says so.
	unsigned := makeImage(t, "example.com/unsigned", "exit", "0")
	h.fails([]string{unsigned + ".asc", "--insecure-options=image"}, "fetch", unsigned)
	r = h.ok("fetch", "--insecure-options=image", unsigned)
	if !strings.Contains(r.stderr, "insecure") || !strings.Contains(r.stderr, unsigned) {
		t.Errorf("--insecure-options=image did not warn: %q", r.stderr)
	}
	// Used later from the store by a command without the option, it is
	// still said to be unverified; a signed image is not.
	uid := strings.TrimSpace(r.stdout)
	const unverified = "is in the store without a verified signature: it was fetched with --insecure-options=image"
	if r := h.ok("fetch", uid); !strings.Contains(r.stderr, "warning: image example.com/unsigned ("+uid+") "+unverified) {
		t.Errorf("stored unsigned image used without --insecure-options=image: no warning: %s", r)
	}
	if r := h.ok("fetch", "--insecure-options=image", uid); strings.Contains(r.stderr, unverified) {
		t.Errorf("stored unsigned image used with --insecure-options=image: warned anyway: %s", r)
	}
	if r := h.ok("fetch", img); strings.Contains(r.stderr, "warning") {
		t.Errorf("signed image: %s", r)
	}
}

// TestPlainToolsImage: an image made with tar, signed with gpg --armor
// --detach-sign, and a key exported with gpg --export work unchanged.
func TestPlainToolsImage(t *testing.T) {
	needRoot(t)
	h := newHost(t)
	dir := testimage.Build(t, filepath.Join(t.TempDir(), "img"), testimage.Manifest("example.com/plain", "exit", "3"), e.testapp, nil)
	img := filepath.Join(t.TempDir(), "plain.aci")
	sh(t, "tar -C "+dir+" -czf "+img+" manifest rootfs")
	bob := newSigner(t, "bob")
	bob.sign(img)
	h.ok("trust", "--prefix=example.com/plain", "--skip-fingerprint-review", bob.pub)
	r := h.run("run", "--net=none", img)
	if r.code != 3 {
		t.Fatalf("run of a tar-made image: want the app's exit code 3: %s", r)
	}
}

// sh runs a shell command line and returns its output.
func sh(t *testing.T, script string) string {
	t.Helper()
	out, err := exec.Command("sh", "-ec", script).CombinedOutput()
	if err != nil {
		t.Fatalf("sh %q: %v\n%s", script, err, out)
	}
	return string(out)
}
