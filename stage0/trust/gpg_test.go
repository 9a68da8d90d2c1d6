package trust

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// The fixture: keys and signatures made once per test binary with the real
// gpg (Debian package gnupg), each key in its own throw-away homedir so
// they can be generated in parallel.

type gpgKey struct {
	home   string // removed once the fixture is made
	fp     string // lower-case primary fingerprint
	subFP  string // lower-case signing subkey fingerprint, if any
	pub    []byte // gpg --export
	pubArm []byte // gpg --export --armor
}

type fixtureData struct {
	image []byte
	keys  map[string]*gpgKey
	// sigs holds detached signatures over image by name, see makeFixture.
	sigs map[string][]byte
	// revokedPub etc. are exports taken after a later change of the key.
	revokedPub    []byte // "revoked" with its revocation certificate imported
	subRevokedPub []byte // "sub" with its signing subkey revoked
	// extra data for the "parse" tests
	secretArm []byte // gpg --export-secret-keys --armor of "ed"
	twoKeys   []byte // "ed" and "other" exported together
}

var fixture *fixtureData

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("gpg"); err != nil {
		fmt.Fprintln(os.Stderr, "stage0/trust tests need gpg (Debian package gnupg):", err)
		os.Exit(1)
	}
	f, err := makeFixture()
	if err != nil {
		fmt.Fprintln(os.Stderr, "make gpg fixture:", err)
		os.Exit(1)
	}
	fixture = f
	os.Exit(m.Run())
}

func gpg(home string, stdin []byte, args ...string) ([]byte, error) {
	base := []string{"--homedir", home, "--batch", "--no-tty", "--quiet", "--pinentry-mode", "loopback", "--passphrase", ""}
	cmd := exec.Command("gpg", append(base, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("gpg %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// fakedTime is gpg's option value freezing its clock at t.
func fakedTime(t time.Time) string { return fmt.Sprintf("%d!", t.Unix()) }

// keySpec says how to make one fixture key.
type keySpec struct {
	uid     string
	algo    string // quick-gen-key algorithm
	usage   string // "sign", or "cert" plus a signing subkey
	expire  string
	created time.Time // zero: now
}

var keySpecs = map[string]keySpec{
	"ed":      {uid: "Ed Signer <ed@example.com>", algo: "ed25519", usage: "sign", expire: "never"},
	"rsa":     {uid: "RSA Signer <rsa@example.com>", algo: "rsa2048", usage: "sign", expire: "never"},
	"other":   {uid: "Other Signer <other@example.com>", algo: "ed25519", usage: "sign", expire: "never"},
	"expired": {uid: "Expired Signer <expired@example.com>", algo: "ed25519", usage: "sign", expire: "1d", created: time.Now().Add(-30 * 24 * time.Hour)},
	"old":     {uid: "Old Signer <old@example.com>", algo: "ed25519", usage: "sign", expire: "never", created: time.Now().Add(-30 * 24 * time.Hour)},
	"revoked": {uid: "Revoked Signer <revoked@example.com>", algo: "ed25519", usage: "sign", expire: "never"},
	"sub":     {uid: "Subkey Signer <sub@example.com>", algo: "ed25519", usage: "cert", expire: "never"},
	"dsa":     {uid: "DSA Signer <dsa@example.com>", algo: "dsa2048", usage: "sign", expire: "never"},
	// Signs, then loses its sign flag (see makeFixture).
	"nosign": {uid: "Certify Only <nosign@example.com>", algo: "ed25519", usage: "sign", expire: "never", created: time.Now().Add(-time.Hour)},
}

func makeKey(dir, name string, spec keySpec) (*gpgKey, error) {
	home := filepath.Join(dir, "h-"+name)
	if err := os.Mkdir(home, 0o700); err != nil {
		return nil, err
	}
	k := &gpgKey{home: home}
	args := []string{"--quick-gen-key", spec.uid, spec.algo, spec.usage, spec.expire}
	if !spec.created.IsZero() {
		args = append([]string{"--faked-system-time", fakedTime(spec.created)}, args...)
	}
	if _, err := gpg(home, nil, args...); err != nil {
		return k, err
	}
	if spec.usage == "cert" {
		fp, _, err := fingerprints(home)
		if err != nil {
			return k, err
		}
		if _, err := gpg(home, nil, "--quick-add-key", fp, "ed25519", "sign", "never"); err != nil {
			return k, err
		}
	}
	var err error
	if k.fp, k.subFP, err = fingerprints(home); err != nil {
		return k, err
	}
	if k.pub, err = gpg(home, nil, "--export", k.fp); err != nil {
		return k, err
	}
	if k.pubArm, err = gpg(home, nil, "--export", "--armor", k.fp); err != nil {
		return k, err
	}
	return k, nil
}

// fingerprints returns the primary and first subkey fingerprints.
func fingerprints(home string) (primary, sub string, err error) {
	out, err := gpg(home, nil, "--with-colons", "--list-keys")
	if err != nil {
		return "", "", err
	}
	var fps []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Split(line, ":"); f[0] == "fpr" && len(f) > 9 {
			fps = append(fps, strings.ToLower(f[9]))
		}
	}
	switch len(fps) {
	case 0:
		return "", "", fmt.Errorf("no key in %s", home)
	case 1:
		return fps[0], "", nil
	}
	return fps[0], fps[1], nil
}

func makeFixture() (*fixtureData, error) {
	dir, err := os.MkdirTemp("", "acirun-trust-")
	if err != nil {
		return nil, err
	}
	f := &fixtureData{keys: map[string]*gpgKey{}, sigs: map[string][]byte{}}
	// Everything the tests need is kept in memory: stop the agents and
	// remove the homedirs right away, so that a test binary killed later
	// (a fuzz worker, a timeout) leaves no process or file behind.
	defer func() {
		for _, k := range f.keys {
			if k != nil {
				exec.Command("gpgconf", "--homedir", k.home, "--kill", "gpg-agent").Run()
			}
		}
		os.RemoveAll(dir)
	}()
	// 300 KiB of random bytes with CR LF sprinkled in: a text-mode
	// signature would treat those differently.
	f.image = make([]byte, 300<<10)
	rand.Read(f.image)
	for i := 0; i < len(f.image); i += 4096 {
		copy(f.image[i:], "line\r\n")
	}
	imgPath := filepath.Join(dir, "image.aci")
	if err := os.WriteFile(imgPath, f.image, 0o644); err != nil {
		return f, err
	}

	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(keySpecs))
	for name, spec := range keySpecs {
		wg.Go(func() {
			k, err := makeKey(dir, name, spec)
			mu.Lock()
			f.keys[name] = k
			mu.Unlock()
			if err != nil {
				errs <- fmt.Errorf("key %s: %w", name, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return f, err
	}

	sign := func(out, key string, signer string, args ...string) error {
		k := f.keys[key]
		o := filepath.Join(dir, out)
		a := append([]string{"--local-user", signer + "!", "--output", o}, args...)
		a = append(a, "--detach-sign", imgPath)
		if _, err := gpg(k.home, nil, a...); err != nil {
			return err
		}
		b, err := os.ReadFile(o)
		f.sigs[out] = b
		return err
	}
	now := time.Now()
	steps := []struct {
		out, key string
		sub      bool
		args     []string
	}{
		{"ed.asc", "ed", false, []string{"--armor"}},
		{"ed.sig", "ed", false, nil},
		{"rsa.asc", "rsa", false, []string{"--armor", "--digest-algo", "SHA512"}},
		{"rsa.sig", "rsa", false, []string{"--digest-algo", "SHA256"}},
		{"other.asc", "other", false, []string{"--armor"}},
		{"other.sig", "other", false, nil},
		{"sha1.sig", "rsa", false, []string{"--digest-algo", "SHA1", "--allow-weak-digest-algos"}},
		{"md5.sig", "rsa", false, []string{"--digest-algo", "MD5", "--allow-weak-digest-algos"}},
		{"ripemd160.sig", "rsa", false, []string{"--digest-algo", "RIPEMD160", "--allow-weak-digest-algos"}},
		{"text.asc", "ed", false, []string{"--armor", "--textmode"}},
		// Made while the key was valid: an hour after its creation.
		{"expired.asc", "expired", false, []string{"--armor", "--faked-system-time", fakedTime(now.Add(-30*24*time.Hour + time.Hour))}},
		// Made ten days ago, valid for one day.
		{"sigexpired.asc", "old", false, []string{"--armor", "--ignore-time-conflict", "--faked-system-time", fakedTime(now.Add(-10 * 24 * time.Hour)), "--default-sig-expire", "1d"}},
		// Made a day before the key existed.
		{"predates.asc", "ed", false, []string{"--armor", "--ignore-time-conflict", "--faked-system-time", fakedTime(now.Add(-24 * time.Hour))}},
		{"revoked.asc", "revoked", false, []string{"--armor"}},
		{"sub.asc", "sub", true, []string{"--armor"}},
		{"dsa.asc", "dsa", false, []string{"--armor"}},
		// A critical notation ("!") that no verifier knows.
		{"critical.asc", "ed", false, []string{"--armor", "--sig-notation", "!frobnicate@example.com=1"}},
	}
	for _, s := range steps {
		k := f.keys[s.key]
		signer := k.fp
		if s.sub {
			signer = k.subFP
		}
		if err := sign(s.out, s.key, signer, s.args...); err != nil {
			return f, fmt.Errorf("signature %s: %w", s.out, err)
		}
	}
	// Two signatures in one file: an untrusted one first.
	f.sigs["other+ed.sig"] = append(append([]byte{}, f.sigs["other.sig"]...), f.sigs["ed.sig"]...)

	// Revoke "revoked" with the certificate gpg made at key generation.
	rk := f.keys["revoked"]
	rev, err := os.ReadFile(filepath.Join(rk.home, "openpgp-revocs.d", strings.ToUpper(rk.fp)+".rev"))
	if err != nil {
		return f, err
	}
	rev = bytes.ReplaceAll(rev, []byte(":-----BEGIN"), []byte("-----BEGIN"))
	if _, err := gpg(rk.home, rev, "--import"); err != nil {
		return f, err
	}
	if f.revokedPub, err = gpg(rk.home, nil, "--export", rk.fp); err != nil {
		return f, err
	}

	// Revoke the signing subkey of "sub".
	sk := f.keys["sub"]
	if _, err := gpg(sk.home, []byte("key 1\nrevkey\ny\n0\n\ny\nsave\n"), "--command-fd", "0", "--edit-key", sk.fp); err != nil {
		return f, err
	}
	if f.subRevokedPub, err = gpg(sk.home, nil, "--export", sk.fp); err != nil {
		return f, err
	}

	// Take the sign flag off "nosign": certification only. gpg will not
	// sign with it any more, other tools may: sign with the library.
	nk := f.keys["nosign"]
	if _, err := gpg(nk.home, []byte("change-usage\nS\nQ\nsave\n"), "--expert", "--command-fd", "0", "--edit-key", nk.fp); err != nil {
		return f, err
	}
	if nk.pub, err = gpg(nk.home, nil, "--export", nk.fp); err != nil {
		return f, err
	}
	nsec, err := gpg(nk.home, nil, "--export-secret-keys", nk.fp)
	if err != nil {
		return f, err
	}
	if f.sigs["nosign.sig"], err = librarySign(nsec, f.image); err != nil {
		return f, fmt.Errorf("signature nosign.sig: %w", err)
	}

	ek := f.keys["ed"]
	if f.secretArm, err = gpg(ek.home, nil, "--export-secret-keys", "--armor", ek.fp); err != nil {
		return f, err
	}
	f.twoKeys = append(append([]byte{}, ek.pub...), f.keys["other"].pub...)
	return f, nil
}

// librarySign makes a binary detached SHA-256 signature over data with the
// primary key of the secret key export sec, whatever its flags allow (gpg
// refuses to sign with a key that lacks the sign flag).
func librarySign(sec, data []byte) ([]byte, error) {
	el, err := openpgp.ReadKeyRing(bytes.NewReader(sec))
	if err != nil {
		return nil, err
	}
	e := el[0]
	sig := &packet.Signature{
		Version:           4,
		SigType:           packet.SigTypeBinary,
		PubKeyAlgo:        e.PrimaryKey.PubKeyAlgo,
		Hash:              crypto.SHA256,
		CreationTime:      time.Now(),
		IssuerKeyId:       &e.PrimaryKey.KeyId,
		IssuerFingerprint: e.PrimaryKey.Fingerprint,
	}
	h, err := sig.PrepareSign(nil)
	if err != nil {
		return nil, err
	}
	h.Write(data)
	if err := sig.Sign(h, e.PrivateKey, nil); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := sig.Serialize(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
