package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// signer is a gpg key made for one test, with gpg's own home.
type signer struct {
	t    *testing.T
	home string
	uid  string
	pub  string // gpg --export, binary
	arm  string // gpg --export --armor
}

func newSigner(t *testing.T, name string) *signer {
	t.Helper()
	home, err := os.MkdirTemp("", "acirun-gpg-")
	if err != nil {
		t.Fatal(err)
	}
	s := &signer{t: t, home: home, uid: name + " <" + name + "@example.com>"}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	s.gpg("--quick-gen-key", s.uid, "ed25519", "sign", "never")
	dir := t.TempDir()
	s.pub = filepath.Join(dir, name+".gpg")
	s.arm = filepath.Join(dir, name+".asc")
	s.gpg("--output", s.pub, "--export", s.uid)
	s.gpg("--armor", "--output", s.arm, "--export", s.uid)
	return s
}

func (s *signer) gpg(args ...string) string {
	s.t.Helper()
	cmd := exec.Command("gpg", append([]string{"--batch", "--quiet", "--homedir", s.home, "--passphrase", "", "--pinentry-mode", "loopback"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// sign writes file.asc, an armored detached signature, as a user would.
func (s *signer) sign(file string) {
	s.t.Helper()
	os.Remove(file + ".asc")
	s.gpg("--armor", "--detach-sign", "--output", file+".asc", file)
}

// fingerprint is the key's full fingerprint in lower case.
func (s *signer) fingerprint() string {
	s.t.Helper()
	out := s.gpg("--with-colons", "--fingerprint", s.uid)
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "fpr:") {
			f := strings.Split(line, ":")
			return strings.ToLower(f[9])
		}
	}
	s.t.Fatalf("no fingerprint in %q", out)
	return ""
}
