package trust

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// place puts one file into a test key store.
type place struct {
	system bool
	prefix string // "" for root.d
	key    string // fixture key name
	arm    bool   // write the armored export
	data   []byte // content instead of the key's export
	mask   bool   // zero-size file named by the key's fingerprint
	name   string // file name instead of the key's fingerprint
}

// newTestStore builds a store in fresh temporary directories. Warnings
// are collected in the returned buffer.
func newTestStore(t *testing.T, places ...place) (*Store, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	s := NewStore(filepath.Join(dir, "usr/lib/acirun/trustedkeys"), filepath.Join(dir, "etc/acirun/trustedkeys"))
	var warn bytes.Buffer
	s.Warnings = &warn
	for _, p := range places {
		base := s.LocalDir
		if p.system {
			base = s.SystemDir
		}
		var k *gpgKey
		if p.key != "" {
			k = fixture.keys[p.key]
		}
		name := p.name
		if name == "" {
			name = k.fp
		}
		data := p.data
		switch {
		case p.mask:
			data = []byte{}
		case data == nil && p.arm:
			data = k.pubArm
		case data == nil:
			data = k.pub
		}
		d := locDir(base, p.prefix == "", p.prefix)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return s, &warn
}

// revokedElsewhere is why the Verifier refuses what go-crypto accepts when
// the copy of a key in force is not revoked but another stored copy is.
const revokedElsewhere = "a revocation in any stored copy of the key counts; the library sees only the copy in force"

func TestVerify(t *testing.T) {
	f := fixture
	ed, other, sub := f.keys["ed"], f.keys["other"], f.keys["sub"]
	tampered := bytes.Clone(f.image)
	tampered[len(tampered)/2] ^= 0x01
	const img = "example.com/hello"

	tests := []struct {
		name    string
		image   string // default img
		places  []place
		sig     string // fixture signature name
		rawSig  []byte // instead of sig
		data    []byte // instead of f.image
		want    error  // nil: must verify
		detail  string // substring of the error, or of the signer's trust location
		warning string // substring expected in the warnings
		// lib says why our policy refuses a signature that go-crypto's
		// own verification accepts (zero: they agree).
		lib stricter
	}{
		// rkt's TestTrust, in order.
		{name: "unsigned", places: []place{{key: "ed", prefix: img}}, rawSig: nil, want: ErrNoSignature},
		{name: "signed but no key trusted", sig: "ed.asc", want: ErrUnknownSigner, detail: "key ID " + strings.ToUpper(ed.fp[24:])},
		{name: "key trusted for a wrong prefix", places: []place{{key: "ed", prefix: "wrong-prefix.com/my-app"}}, sig: "ed.asc", want: ErrUntrusted, detail: "trusted only for prefix wrong-prefix.com/my-app"},
		{name: "right prefix, wrong key", places: []place{{key: "other", prefix: img}}, sig: "ed.asc", want: ErrUnknownSigner},
		{name: "right prefix, right key", places: []place{{key: "other", prefix: img}, {key: "ed", prefix: img}}, sig: "ed.asc", detail: "prefix " + img},
		{name: "second image under another name", image: "rkt-alternative.com/my-app", places: []place{{key: "ed", prefix: img}}, sig: "ed.asc", want: ErrUntrusted},
		{name: "unrelated prefixes grant nothing", places: []place{{key: "ed", prefix: "foo.com"}, {key: "ed", prefix: "example.com/my-app"}}, sig: "ed.asc", want: ErrUntrusted, detail: "example.com/my-app, foo.com"},
		{name: "root key covers everything", image: "rkt-alternative.com/my-app", places: []place{{key: "ed"}}, sig: "ed.asc", detail: "root"},

		// Whole-segment prefixes.
		{name: "sibling prefix hello vs helloworld", image: "example.com/helloworld", places: []place{{key: "ed", prefix: "example.com/hello"}}, sig: "ed.asc", want: ErrUntrusted, detail: "example.com/hello"},
		{name: "sibling prefix helloworld vs hello", places: []place{{key: "ed", prefix: "example.com/helloworld"}}, sig: "ed.asc", want: ErrUntrusted},
		{name: "domain sibling", image: "example.company/hello", places: []place{{key: "ed", prefix: "example.com"}}, sig: "ed.asc", want: ErrUntrusted},
		{name: "parent prefix covers child", image: "example.com/hello/x", places: []place{{key: "ed", prefix: "example.com"}}, sig: "ed.asc", detail: "prefix example.com"},
		{name: "prefix covers deeper child", image: "example.com/hello/x/y", places: []place{{key: "ed", prefix: "example.com/hello"}}, sig: "ed.asc"},
		{name: "child prefix does not cover parent", places: []place{{key: "ed", prefix: "example.com/hello/x"}}, sig: "ed.asc", want: ErrUntrusted},
		{name: "system prefix key", places: []place{{system: true, key: "ed", prefix: "example.com"}}, sig: "ed.asc"},
		{name: "system root key", places: []place{{system: true, key: "ed"}}, sig: "ed.asc"},

		// Masks.
		{name: "system root key masked by local root mask", places: []place{{system: true, key: "ed"}, {mask: true, key: "ed"}}, sig: "ed.asc", want: ErrUntrusted, detail: "masked"},
		{name: "system prefix key masked at its prefix", places: []place{{system: true, key: "ed", prefix: "example.com"}, {mask: true, key: "ed", prefix: "example.com"}}, sig: "ed.asc", want: ErrUntrusted},
		{name: "system root key masked below a prefix", places: []place{{system: true, key: "ed"}, {mask: true, key: "ed", prefix: img}}, sig: "ed.asc", want: ErrUntrusted},
		{name: "mask below a prefix leaves other names", image: "example.com/other", places: []place{{system: true, key: "ed"}, {mask: true, key: "ed", prefix: img}}, sig: "ed.asc"},
		{name: "mask of another fingerprint", places: []place{{system: true, key: "ed"}, {mask: true, key: "other"}}, sig: "ed.asc"},
		{name: "masks do not affect local keys", places: []place{{key: "ed"}, {mask: true, key: "ed", prefix: img}}, sig: "ed.asc"},
		{name: "local key beside a masked system key", places: []place{{system: true, key: "ed"}, {mask: true, key: "ed"}, {key: "ed", prefix: "example.com"}}, sig: "ed.asc"},
		{name: "empty file in the system dir is not a key", places: []place{{system: true, mask: true, key: "ed"}}, sig: "ed.asc", want: ErrUnknownSigner, warning: "empty file in the system directory"},

		// File names.
		{name: "key under another key's fingerprint", places: []place{{key: "ed", prefix: img, name: other.fp}}, sig: "ed.asc", want: ErrUnknownSigner, warning: "does not match the key's fingerprint " + ed.fp},
		{name: "upper-case fingerprint name", places: []place{{key: "ed", prefix: img, name: strings.ToUpper(ed.fp)}}, sig: "ed.asc", want: ErrUnknownSigner, warning: "not a full lower-case hex fingerprint"},
		{name: "key ID as name", places: []place{{key: "ed", prefix: img, name: ed.fp[24:]}}, sig: "ed.asc", want: ErrUnknownSigner, warning: "not a full lower-case hex fingerprint"},
		{name: "file with .asc suffix", places: []place{{key: "ed", prefix: img, name: ed.fp + ".asc"}}, sig: "ed.asc", want: ErrUnknownSigner, warning: ed.fp + ".asc"},
		{name: "ignored file beside a good key", places: []place{{key: "ed", prefix: img}, {key: "other", prefix: img, name: "README"}}, sig: "ed.asc", warning: "README"},
		{name: "unparsable key file", places: []place{{key: "ed", prefix: img, data: []byte("not a key")}}, sig: "ed.asc", want: ErrUnknownSigner, warning: ed.fp},
		{name: "secret key file", places: []place{{key: "ed", prefix: img, data: f.secretArm}}, sig: "ed.asc", want: ErrUnknownSigner, warning: "secret key"},
		{name: "two keys in one file", places: []place{{key: "ed", prefix: img, data: f.twoKeys}}, sig: "ed.asc", want: ErrUnknownSigner, warning: "found 2 keys"},

		// Formats.
		{name: "binary key, armored signature", places: []place{{key: "ed", prefix: img}}, sig: "ed.asc"},
		{name: "binary key, binary signature", places: []place{{key: "ed", prefix: img}}, sig: "ed.sig"},
		{name: "armored key, armored signature", places: []place{{key: "ed", prefix: img, arm: true}}, sig: "ed.asc"},
		{name: "armored key, binary signature", places: []place{{key: "ed", prefix: img, arm: true}}, sig: "ed.sig"},
		{name: "rsa armored SHA-512", places: []place{{key: "rsa", prefix: img, arm: true}}, sig: "rsa.asc"},
		{name: "rsa binary SHA-256", places: []place{{key: "rsa", prefix: img}}, sig: "rsa.sig"},
		{name: "signed by a subkey", places: []place{{key: "sub", prefix: img}}, sig: "sub.asc"},
		{name: "untrusted and trusted signature in one file", places: []place{{key: "ed", prefix: img}}, sig: "other+ed.sig"},
		{name: "two untrusted signatures", places: []place{{key: "rsa", prefix: img}}, sig: "other+ed.sig", want: ErrUnknownSigner, detail: strings.ToUpper(other.fp[24:])},
		{name: "text-mode signature", places: []place{{key: "ed", prefix: img}}, sig: "text.asc", want: ErrMalformedSignature, detail: "text-mode"},
		{name: "garbage signature", places: []place{{key: "ed", prefix: img}}, rawSig: []byte("garbage\x00\xff"), want: ErrMalformedSignature},
		{name: "empty signature", places: []place{{key: "ed", prefix: img}}, rawSig: []byte("\n"), want: ErrNoSignature},
		{name: "public key as signature", places: []place{{key: "ed", prefix: img}}, rawSig: ed.pubArm, want: ErrMalformedSignature, detail: "PGP PUBLIC KEY BLOCK"},
		{name: "binary public key as signature", places: []place{{key: "ed", prefix: img}}, rawSig: ed.pub, want: ErrMalformedSignature},
		{name: "truncated armor", places: []place{{key: "ed", prefix: img}}, rawSig: f.sigs["ed.asc"][:len(f.sigs["ed.asc"])/2], want: ErrMalformedSignature},
		{name: "clear-signed message", places: []place{{key: "ed", prefix: img}}, rawSig: []byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nhello\n" + string(f.sigs["ed.asc"])), want: ErrMalformedSignature},

		// Data.
		{name: "tampered byte", places: []place{{key: "ed", prefix: img}}, sig: "ed.asc", data: tampered, want: ErrBadSignature},
		{name: "tampered byte rsa", places: []place{{key: "rsa", prefix: img}}, sig: "rsa.sig", data: tampered, want: ErrBadSignature},
		{name: "truncated image", places: []place{{key: "ed", prefix: img}}, sig: "ed.asc", data: f.image[:len(f.image)-1], want: ErrBadSignature},
		{name: "appended byte", places: []place{{key: "ed", prefix: img}}, sig: "ed.sig", data: append(bytes.Clone(f.image), 0), want: ErrBadSignature},
		{name: "empty image", places: []place{{key: "ed", prefix: img}}, sig: "ed.sig", data: []byte{}, want: ErrBadSignature},
		{name: "CRLF turned to LF", places: []place{{key: "ed", prefix: img}}, sig: "ed.sig", data: bytes.ReplaceAll(f.image, []byte("\r\n"), []byte("\n")), want: ErrBadSignature},

		// Key and signature validity.
		{name: "expired key", places: []place{{key: "expired", prefix: img}}, sig: "expired.asc", want: ErrExpired, detail: "expired on", lib: stricter{v2: "v2 checks the key at the signature's time only; we also require it unexpired now (as v1 does)"}},
		{name: "expired signature", places: []place{{key: "old", prefix: img}}, sig: "sigexpired.asc", want: ErrExpired, detail: "signature expired"},
		{name: "signature older than the key", places: []place{{key: "ed", prefix: img}}, sig: "predates.asc", want: ErrBadSignature, detail: "predates", lib: stricter{v1: "v1 does not compare the signature's date with the key's creation (v2 does)"}},
		{name: "revoked key", places: []place{{key: "revoked", prefix: img, data: f.revokedPub}}, sig: "revoked.asc", want: ErrRevoked},
		{name: "revoked key, unrevoked export is fine", places: []place{{key: "revoked", prefix: img}}, sig: "revoked.asc"},
		{name: "revocation in the system copy counts", places: []place{{key: "revoked", prefix: img}, {system: true, key: "revoked", data: f.revokedPub}}, sig: "revoked.asc", want: ErrRevoked, lib: both(revokedElsewhere)},
		{name: "revocation in a local copy counts", places: []place{{key: "revoked", data: f.revokedPub}, {system: true, key: "revoked", prefix: img}}, sig: "revoked.asc", want: ErrRevoked},
		{name: "revoked copy under another prefix counts", places: []place{{key: "revoked", prefix: img}, {key: "revoked", prefix: "example.org", data: f.revokedPub}}, sig: "revoked.asc", want: ErrRevoked, lib: both(revokedElsewhere)},
		{name: "revoked copy in a masked system file counts", places: []place{{key: "revoked", prefix: img}, {system: true, key: "revoked", data: f.revokedPub}, {mask: true, key: "revoked"}}, sig: "revoked.asc", want: ErrRevoked, lib: both(revokedElsewhere)},
		{name: "revoked signing subkey", places: []place{{key: "sub", prefix: img, data: f.subRevokedPub}}, sig: "sub.asc", want: ErrRevoked, detail: "subkey " + strings.ToUpper(sub.subFP[24:])},
		{name: "SHA-1", places: []place{{key: "rsa", prefix: img}}, sig: "sha1.sig", want: ErrWeakHash, detail: "SHA-1", lib: stricter{v1: "v1 accepts SHA-1 message signatures; we refuse SHA-1 whatever the library's defaults (v2 refuses it too)"}},
		{name: "MD5", places: []place{{key: "rsa", prefix: img}}, sig: "md5.sig", want: ErrWeakHash, detail: "MD5"},
		{name: "RIPEMD-160", places: []place{{key: "rsa", prefix: img}}, sig: "ripemd160.sig", want: ErrWeakHash, detail: "RIPEMD-160"},
		{name: "unknown critical notation", places: []place{{key: "ed", prefix: img}}, sig: "critical.asc", want: ErrCriticalNotation, detail: "frobnicate@example.com"},
		{name: "key without the sign flag", places: []place{{key: "nosign", prefix: img}}, sig: "nosign.sig", want: ErrNotSigningKey, detail: "sign flag"},
		{name: "DSA key", places: []place{{key: "dsa", prefix: img}}, sig: "dsa.asc", want: ErrWeakKey, detail: "algorithm dsa2048", lib: stricter{v1: "v1 accepts DSA signatures; we refuse DSA keys as v2 does"}},
		{name: "SHA-1 by an untrusted key is untrusted", places: []place{{key: "ed", prefix: img}}, sig: "sha1.sig", want: ErrUnknownSigner},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, warn := newTestStore(t, tc.places...)
			image := tc.image
			if image == "" {
				image = img
			}
			sig := tc.rawSig
			if tc.sig != "" {
				sig = f.sigs[tc.sig]
				if sig == nil {
					t.Fatalf("no fixture signature %q", tc.sig)
				}
			}
			data := tc.data
			if data == nil {
				data = f.image
			}
			signer, err := verifyChunked(s, image, data, sig, 32<<10)
			if err != nil {
				t.Log(err)
			}
			checkResult(t, image, signer, err, tc.want, tc.detail)
			if tc.warning != "" && !strings.Contains(warn.String(), tc.warning) {
				t.Errorf("warnings %q do not mention %q", warn.String(), tc.warning)
			}
			if tc.warning == "" && warn.Len() != 0 {
				t.Errorf("unexpected warnings: %s", warn.String())
			}
			// The same through the convenience wrapper and in odd chunks.
			signer2, err2 := s.Verify(image, bytes.NewReader(data), sig)
			checkResult(t, image, signer2, err2, tc.want, tc.detail)
			signer3, err3 := verifyChunked(s, image, data, sig, 7)
			checkResult(t, image, signer3, err3, tc.want, tc.detail)
			// The same verdict when the name is known only at the end,
			// as for a local file or a URL.
			signer4, err4 := verifyDeferred(s, image, data, sig)
			checkDeferred(t, image, signer4, err4, tc.want)
			// The same verdict from go-crypto alone, or the stated
			// difference.
			checkLibraryAgrees(t, s, image, data, sig, err, tc.lib)
		})
	}
}

// verifyChunked feeds data to a Verifier in chunks of n bytes.
func verifyChunked(s *Store, image string, data, sig []byte, n int) (*Signer, error) {
	v, err := s.NewVerifier(image, sig)
	if err != nil {
		return nil, err
	}
	for len(data) > 0 {
		c := min(n, len(data))
		if w, err := v.Write(data[:c]); err != nil || w != c {
			return nil, errors.Join(errors.New("short write"), err)
		}
		data = data[c:]
	}
	return v.Verify()
}

// verifyDeferred checks sig the way a file or URL image is checked: the
// name is given after the last byte.
func verifyDeferred(s *Store, image string, data, sig []byte) (*Signer, error) {
	v, err := s.NewDeferredVerifier("/images/hello.aci", sig)
	if err != nil {
		return nil, err
	}
	if _, err := v.Write(data); err != nil {
		return nil, err
	}
	return v.VerifyFor(image)
}

// checkDeferred asserts the verdict of verifyDeferred: the same reason as
// the direct check, and an error naming the image or, when it failed
// before the name was known, the file.
func checkDeferred(t *testing.T, image string, signer *Signer, err error, want error) {
	t.Helper()
	if want == nil {
		if err != nil || signer == nil || signer.Fingerprint == "" {
			t.Fatalf("deferred: want success, got %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("deferred: want %v, verified by %s", want, signer.Fingerprint)
	}
	if !errors.Is(err, want) {
		t.Fatalf("deferred: want %v, got %v", want, err)
	}
	if !strings.Contains(err.Error(), image) && !strings.Contains(err.Error(), "/images/hello.aci") {
		t.Errorf("deferred: error %q names neither the image nor the file", err)
	}
}

func TestDeferredVerifierMisuse(t *testing.T) {
	f := fixture
	s, _ := newTestStore(t, place{key: "ed", prefix: "example.com/hello"})
	v, err := s.NewVerifier("example.com/hello", f.sigs["ed.asc"])
	if err != nil {
		t.Fatal(err)
	}
	v.Write(f.image)
	if _, err := v.VerifyFor("example.com/other"); err == nil || !strings.Contains(err.Error(), "example.com/other") {
		t.Errorf("VerifyFor with another name than NewVerifier's: %v", err)
	}
	if _, err := verifyDeferred(s, "Not A Name", f.image, f.sigs["ed.asc"]); err == nil || !strings.Contains(err.Error(), `image name: invalid prefix "Not A Name": not an AC Identifier`) {
		t.Errorf("VerifyFor with an invalid image name: %v, want a refusal naming it", err)
	}
}

func checkResult(t *testing.T, image string, signer *Signer, err error, want error, detail string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("want success, got %v", err)
		}
		if signer == nil || signer.Fingerprint == "" || signer.Entity == nil {
			t.Fatalf("no signer: %+v", signer)
		}
		loc := "prefix " + signer.Prefix
		if signer.Root {
			loc = "root"
		}
		if !strings.Contains(loc, detail) {
			t.Errorf("trusted through %q, want %q", loc, detail)
		}
		return
	}
	if err == nil {
		t.Fatalf("want %v, verified by %s", want, signer.Fingerprint)
	}
	if signer != nil {
		t.Errorf("signer %v returned with error", signer.Fingerprint)
	}
	if !errors.Is(err, want) {
		t.Fatalf("want %v, got %v", want, err)
	}
	if want == ErrUnknownSigner && !errors.Is(err, ErrUntrusted) {
		t.Errorf("unknown signer %v does not match ErrUntrusted", err)
	}
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("%v is not a *VerifyError", err)
	}
	if !strings.Contains(err.Error(), image) {
		t.Errorf("error %q does not name image %s", err, image)
	}
	if want != ErrNoSignature && want != ErrMalformedSignature && ve.KeyID == "" && ve.Fingerprint == "" {
		t.Errorf("error %q names no key", err)
	}
	if detail != "" && !strings.Contains(err.Error(), detail) {
		t.Errorf("error %q does not contain %q", err, detail)
	}
}

func TestVerifyClock(t *testing.T) {
	f := fixture
	s, _ := newTestStore(t, place{key: "old", prefix: "example.com"})
	// "old" was made 30 days ago; sigexpired.asc was made 10 days ago
	// and expired a day later. With the clock set back within its
	// validity, it verifies: the Store's clock is used, not time.Now.
	s.Now = func() time.Time { return time.Now().Add(-10*24*time.Hour + time.Hour) }
	_, err := s.Verify("example.com/x", bytes.NewReader(f.image), f.sigs["sigexpired.asc"])
	if err != nil {
		t.Fatalf("with the clock set back: %v", err)
	}
	checkLibraryAgrees(t, s, "example.com/x", f.image, f.sigs["sigexpired.asc"], err, stricter{})
	s.Now = nil
	if _, err = s.Verify("example.com/x", bytes.NewReader(f.image), f.sigs["sigexpired.asc"]); !errors.Is(err, ErrExpired) {
		t.Fatalf("now: want ErrExpired, got %v", err)
	}
	checkLibraryAgrees(t, s, "example.com/x", f.image, f.sigs["sigexpired.asc"], err, stricter{})
	// A signature from the future is refused as such.
	s3, _ := newTestStore(t, place{key: "ed", prefix: "example.com"})
	s3.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	if _, err = s3.Verify("example.com/x", bytes.NewReader(f.image), f.sigs["ed.asc"]); !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "in the future") {
		t.Fatalf("signature from the future: %v", err)
	}
	checkLibraryAgrees(t, s3, "example.com/x", f.image, f.sigs["ed.asc"], err, stricter{})
	// The expired key's signature would verify if the clock were inside
	// the key's validity.
	s2, _ := newTestStore(t, place{key: "expired", prefix: "example.com"})
	s2.Now = func() time.Time { return time.Now().Add(-30*24*time.Hour + 2*time.Hour) }
	if _, err = s2.Verify("example.com/x", bytes.NewReader(f.image), f.sigs["expired.asc"]); err != nil {
		t.Fatalf("expired key inside its validity: %v", err)
	}
	checkLibraryAgrees(t, s2, "example.com/x", f.image, f.sigs["expired.asc"], err, stricter{})
}

func TestVerifierMisuse(t *testing.T) {
	f := fixture
	s, _ := newTestStore(t, place{key: "ed", prefix: "example.com"})
	v, err := s.NewVerifier("example.com/x", f.sigs["ed.sig"])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Write(f.image); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Write([]byte("x")); err == nil || !strings.Contains(err.Error(), "write after Verify") {
		t.Errorf("Write after Verify: %v, want a refusal saying so", err)
	}
	if _, err := v.Verify(); err == nil || !strings.Contains(err.Error(), "Verify called twice") {
		t.Errorf("second Verify: %v, want a refusal saying so", err)
	}
	for _, name := range []string{"", "Example.com/x", "example.com/../x", "/example.com", "example.com/", "a//b"} {
		want := fmt.Sprintf("image name: invalid prefix %q: not an AC Identifier", name)
		if name == "" {
			want = "image name: empty prefix"
		}
		if _, err := s.NewVerifier(name, f.sigs["ed.sig"]); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("image name %q: %v, want %q", name, err, want)
		}
	}
}

// BenchmarkVerifier measures the streaming check per byte of image.
func BenchmarkVerifier(b *testing.B) {
	f := fixture
	dir := b.TempDir()
	s := NewStore(filepath.Join(dir, "sys"), filepath.Join(dir, "local"))
	if _, _, err := s.AddKey("example.com", bytes.NewReader(f.keys["rsa"].pub)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(f.image)))
	for b.Loop() {
		v, err := s.NewVerifier("example.com/x", f.sigs["rsa.asc"])
		if err != nil {
			b.Fatal(err)
		}
		for off := 0; off < len(f.image); off += 32 << 10 {
			v.Write(f.image[off:min(off+32<<10, len(f.image))])
		}
		if _, err := v.Verify(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifierStream measures only the hashing path: 64 MiB written
// in 32 KiB chunks (the signature then fails, which is not measured).
func BenchmarkVerifierStream(b *testing.B) {
	for _, sig := range []string{"rsa.asc", "rsa.sig"} {
		b.Run(sig, func(b *testing.B) {
			f := fixture
			dir := b.TempDir()
			s := NewStore(filepath.Join(dir, "sys"), filepath.Join(dir, "local"))
			if _, _, err := s.AddKey("example.com", bytes.NewReader(f.keys["rsa"].pub)); err != nil {
				b.Fatal(err)
			}
			chunk := make([]byte, 32<<10)
			const total = 64 << 20
			b.SetBytes(total)
			for b.Loop() {
				v, err := s.NewVerifier("example.com/x", f.sigs[sig])
				if err != nil {
					b.Fatal(err)
				}
				for n := 0; n < total; n += len(chunk) {
					v.Write(chunk)
				}
				if _, err := v.Verify(); !errors.Is(err, ErrBadSignature) {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestNextPacket(t *testing.T) {
	body := bytes.Repeat([]byte{0xab}, 300)
	for _, tc := range []struct {
		name string
		pkt  []byte
		tag  byte
		n    int // body length, -1 for refused
	}{
		{"old 1-byte length", append([]byte{0x88, 5}, body[:5]...), 2, 5},
		{"old 2-byte length", append([]byte{0x89, 0x01, 0x2c}, body...), 2, 300},
		{"old 4-byte length", append([]byte{0x8a, 0, 0, 0x01, 0x2c}, body...), 2, 300},
		{"old indeterminate", append([]byte{0x8b}, body...), 0, -1},
		{"new 1-byte length", append([]byte{0xc2, 5}, body[:5]...), 2, 5},
		{"new 2-byte length", append([]byte{0xc2, 192, 108}, body...), 2, 300},
		{"new 5-byte length", append([]byte{0xc2, 0xff, 0, 0, 0x01, 0x2c}, body...), 2, 300},
		{"new partial length", append([]byte{0xc2, 0xe1}, body...), 0, -1},
		{"no tag bit", []byte{0x02, 0}, 0, -1},
		{"truncated body", append([]byte{0x89, 0x01, 0x2c}, body[:10]...), 0, -1},
		{"truncated header", []byte{0xc2, 0xff, 0}, 0, -1},
		{"huge length", []byte{0xc2, 0xff, 0xff, 0xff, 0xff, 0xff}, 0, -1},
	} {
		tag, b, rest, ok := nextPacket(tc.pkt)
		if tc.n < 0 {
			if ok {
				t.Errorf("%s: accepted", tc.name)
			}
			continue
		}
		if !ok || tag != tc.tag || len(b) != tc.n || len(rest) != 0 {
			t.Errorf("%s: tag %d, %d bytes, %d rest, ok %v", tc.name, tag, len(b), len(rest), ok)
		}
	}
}
