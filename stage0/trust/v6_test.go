package trust

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// TestV6Key covers OpenPGP v6 (RFC 9580) keys, whose fingerprints have 64
// hex digits. gpg 2.2 cannot make them, so the library makes key and
// signature here.
func TestV6Key(t *testing.T) {
	cfg := &packet.Config{V6Keys: true, Algorithm: packet.PubKeyAlgoEd25519}
	e, err := openpgp.NewEntity("V6 Signer", "", "v6@example.com", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var pub, sig bytes.Buffer
	if err := e.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	if err := openpgp.DetachSign(&sig, []*openpgp.Entity{e}, bytes.NewReader(fixture.image), cfg); err != nil {
		t.Fatal(err)
	}
	s, _ := newTestStore(t)
	fp, p, err := s.AddKey("example.com", bytes.NewReader(pub.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(fp) != 64 || filepath.Base(p) != fp {
		t.Fatalf("fingerprint %q, path %s", fp, p)
	}
	signer, err := s.Verify("example.com/v6", bytes.NewReader(fixture.image), sig.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if signer.Fingerprint != fp {
		t.Errorf("signer %s, want %s", signer.Fingerprint, fp)
	}
	checkLibraryAgrees(t, s, "example.com/v6", fixture.image, sig.Bytes(), err, stricter{})
	tampered := bytes.Clone(fixture.image)
	tampered[0] ^= 1
	if _, err = s.Verify("example.com/v6", bytes.NewReader(tampered), sig.Bytes()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("tampered: %v", err)
	}
	checkLibraryAgrees(t, s, "example.com/v6", tampered, sig.Bytes(), err, stricter{})
	// A v6 key under its 40-digit prefix is ignored.
	if err := os.Rename(p, filepath.Join(filepath.Dir(p), fp[:40])); err != nil {
		t.Fatal(err)
	}
	if _, err = s.Verify("example.com/v6", bytes.NewReader(fixture.image), sig.Bytes()); !errors.Is(err, ErrUnknownSigner) {
		t.Errorf("misnamed v6 key: %v", err)
	}
	checkLibraryAgrees(t, s, "example.com/v6", fixture.image, sig.Bytes(), err, stricter{})
}
