package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrustRefusalSaysOnceWhatToDo: an image signed by a key the store does
// not know is refused in one line that names the file once, the image's
// name, the key, and the command that fixes it with the prefix filled in;
// that command then makes the same run work. (It said "image X: image X:
// verify signature of image X …" once, and named no prefix.)
func TestTrustRefusalSaysOnceWhatToDo(t *testing.T) {
	h := newHost(t)
	img := makeImage(t, "example.com/hello", "exit", "0")
	alice := newSigner(t, "alice")
	alice.sign(img)
	for _, cmd := range [][]string{{"fetch", img}, {"run", img}} {
		r := h.run(cmd...)
		if r.code != 254 {
			t.Fatalf("acirun %s: want exit 254: %s", cmd[0], r)
		}
		want := "acirun: image " + img + ": verify signature of image example.com/hello (key ID "
		if !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 || strings.Count(r.stderr, img) != 1 {
			t.Errorf("acirun %s: stderr %q, want one line starting %q and naming the file once", cmd[0], r.stderr, want)
		}
		if !strings.Contains(r.stderr, "signer unknown to the trust store") || !strings.HasSuffix(r.stderr, "acirun trust --prefix=example.com/hello KEYFILE\n") {
			t.Errorf("acirun %s: stderr %q does not say why and what to do", cmd[0], r.stderr)
		}
	}
	h.ok("trust", "--prefix=example.com/hello", "--skip-fingerprint-review", alice.pub)
	h.ok("fetch", img)
}

// TestNameThatDoesNotResolve: an image name whose host has no address is
// one short line naming the name, the host, and what to do, not three
// nested DNS errors. The box resolves host names from /etc/hosts alone
// (nsswitch "hosts: files"), so no lookup leaves it.
func TestNameThatDoesNotResolve(t *testing.T) {
	b := shared.Get(t)
	p, err := b.Path("/etc/nsswitch.conf")
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.WriteFile("/etc/nsswitch.conf", []byte("hosts: files\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.WriteFile("/etc/nsswitch.conf", old, 0o644) })
	h := newBoxHost(t, b)
	for _, cmd := range [][]string{{"fetch", "example.invalid/hello:1.0"}, {"run", "--net=none", "example.invalid/hello"}} {
		r := h.run(cmd...)
		name := cmd[len(cmd)-1]
		want := "acirun: image " + name + ": the host example.invalid does not resolve (no such host): check the image name, or give the image as a file (./IMAGE.aci) or an http(s) URL\n"
		if r.code != 254 || r.stderr != want {
			t.Errorf("acirun %s: exit %d, stderr\n%q\nwant\n%q", strings.Join(cmd, " "), r.code, r.stderr, want)
		}
	}
}

// TestIgnoredKeyFileWarns: a key file the trust store ignores (here one not
// named by its key's fingerprint) is said once on stderr when a signature is
// checked, naming the file, as the README promises; the fetch still works
// with the properly named key beside it.
func TestIgnoredKeyFileWarns(t *testing.T) {
	h := newHost(t)
	img := makeImage(t, "example.com/hello", "exit", "0")
	alice := newSigner(t, "alice")
	alice.sign(img)
	h.ok("trust", "--prefix=example.com/hello", "--skip-fingerprint-review", alice.pub)
	key, err := os.ReadFile(alice.pub)
	if err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(h.local, "trustedkeys", "prefix.d", "example.com", "hello", "alice.gpg")
	if err := os.WriteFile(stray, key, 0o644); err != nil {
		t.Fatal(err)
	}
	r := h.run("fetch", img)
	if r.code != 0 {
		t.Fatalf("fetch: %s", r)
	}
	if !strings.Contains(r.stderr, "warning: ") || strings.Count(r.stderr, stray) != 1 {
		t.Errorf("fetch with a misnamed key file: stderr %q, want one warning naming %s", r.stderr, stray)
	}
}
