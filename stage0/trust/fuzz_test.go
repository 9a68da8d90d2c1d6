package trust

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParseKey feeds arbitrary bytes to the key parser: it must not panic,
// and whatever it accepts is one public key with a well-formed
// fingerprint.
func FuzzParseKey(f *testing.F) {
	for _, k := range fixture.keys {
		f.Add(k.pub)
		f.Add(k.pubArm)
	}
	f.Add(fixture.revokedPub)
	f.Add(fixture.subRevokedPub)
	f.Add(fixture.twoKeys)
	f.Add(fixture.secretArm)
	f.Add([]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n=AAAA\n-----END PGP PUBLIC KEY BLOCK-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ki, err := ParseKey(bytes.NewReader(data))
		if err != nil {
			return
		}
		if !isFingerprintName(ki.Fingerprint) || ki.Entity == nil || ki.Entity.PrivateKey != nil {
			t.Fatalf("accepted key with fingerprint %q", ki.Fingerprint)
		}
		_ = checkUsable(ki.Entity, ki.Created)
	})
}

// FuzzParseSignature feeds arbitrary signature files through the whole
// verifier with a trusted key in place: no panic, and nothing but the
// real signature verifies the image.
func FuzzParseSignature(f *testing.F) {
	for _, s := range fixture.sigs {
		f.Add(s)
	}
	f.Add(fixture.keys["ed"].pubArm)
	dir := f.TempDir()
	s := NewStore(dir+"/system", dir+"/local")
	for _, k := range []string{"ed", "rsa", "sub"} {
		if _, _, err := s.AddKey("example.com", bytes.NewReader(fixture.keys[k].pub)); err != nil {
			f.Fatal(err)
		}
	}
	image := fixture.image[:4096]
	f.Fuzz(func(t *testing.T, sig []byte) {
		weakSignatures(sig)
		signer, err := s.Verify("example.com/app", bytes.NewReader(image), sig)
		if err == nil && signer == nil {
			t.Fatal("no error and no signer")
		}
		// The fixture signatures cover the whole image, not this prefix.
		if err == nil {
			t.Fatalf("signature %x verified a 4 KiB prefix of the image", sig)
		}
		var ve *VerifyError
		if !errors.As(err, &ve) {
			t.Fatalf("error %v is not a *VerifyError", err)
		}
	})
}
