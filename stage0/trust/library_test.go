package trust

import (
	"bytes"
	"os"
	"testing"

	openpgpv1 "github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// The Verifier hashes the image itself (Write mirrors the v2 library's
// signature-check reader) and interprets the library's verdict; an upgrade
// of go-crypto could change either without any of our own tests noticing
// a changed error text. So every case of the suite is also checked by
// go-crypto's own complete verifications, with the keys the store trusts
// for the image name (read from their files) and the store's clock: the
// v2 package's VerifyDetachedSignature / VerifyArmoredDetachedSignature
// (whose reader the Verifier mirrors) and the v1 package's
// CheckDetachedSignature / CheckArmoredDetachedSignature. They must accept
// what we accept and refuse what we refuse, except where a case states in
// its table why our policy is deliberately stricter.

// libraryVerdict is what the two library entry points said of one case.
type libraryVerdict struct {
	v2, v1 error
}

// libraryVerify checks sig over data for image with go-crypto alone.
func libraryVerify(t *testing.T, s *Store, image string, data, sig []byte) libraryVerdict {
	t.Helper()
	trusted, err := s.trusted(image)
	if err != nil {
		t.Fatalf("keys trusted for %s: %v", image, err)
	}
	var ring2 openpgp.EntityList
	var ring1 openpgpv1.EntityList
	for _, tk := range trusted {
		// The key file the Verifier takes the key from.
		raw, err := os.ReadFile(tk.copies[0].path)
		if err != nil {
			t.Fatal(err)
		}
		read2, read1 := openpgp.ReadKeyRing, openpgpv1.ReadKeyRing
		if isArmored(raw) {
			read2, read1 = openpgp.ReadArmoredKeyRing, openpgpv1.ReadArmoredKeyRing
		}
		el2, err := read2(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("v2 reads %s: %v", tk.copies[0].path, err)
		}
		ring2 = append(ring2, el2...)
		el1, err := read1(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("v1 reads %s: %v", tk.copies[0].path, err)
		}
		ring1 = append(ring1, el1...)
	}
	cfg := &packet.Config{Time: s.now}
	var v libraryVerdict
	if isArmored(sig) {
		_, _, v.v2 = openpgp.VerifyArmoredDetachedSignature(ring2, bytes.NewReader(data), bytes.NewReader(sig), cfg)
		_, v.v1 = openpgpv1.CheckArmoredDetachedSignature(ring1, bytes.NewReader(data), bytes.NewReader(sig), cfg)
	} else {
		_, _, v.v2 = openpgp.VerifyDetachedSignature(ring2, bytes.NewReader(data), bytes.NewReader(sig), cfg)
		_, v.v1 = openpgpv1.CheckDetachedSignature(ring1, bytes.NewReader(data), bytes.NewReader(sig), cfg)
	}
	return v
}

// stricter states, for one case and each library entry point, why our
// policy refuses a signature that go-crypto accepts; "" means the entry
// point must give our verdict.
type stricter struct{ v2, v1 string }

// both is the same difference for both entry points.
func both(why string) stricter { return stricter{v2: why, v1: why} }

// checkLibraryAgrees fails t unless each library entry point's verdict on
// the case agrees with ours (ourErr nil: accepted), or, where diff states
// why our policy is stricter, unless we refuse and it accepts. We never
// accept what the library refuses.
func checkLibraryAgrees(t *testing.T, s *Store, image string, data, sig []byte, ourErr error, diff stricter) {
	t.Helper()
	lib := libraryVerify(t, s, image, data, sig)
	verdict := func(err error) string {
		if err == nil {
			return "accept"
		}
		return "refuse (" + err.Error() + ")"
	}
	for _, ep := range []struct {
		name, why string
		err       error
	}{
		{"v2 VerifyDetachedSignature", diff.v2, lib.v2},
		{"v1 CheckDetachedSignature", diff.v1, lib.v1},
	} {
		switch {
		case ep.why != "" && (ourErr == nil || ep.err != nil):
			t.Errorf("stated stricter than go-crypto %s (%s), but our verdict is %s and its verdict %s", ep.name, ep.why, verdict(ourErr), verdict(ep.err))
		case ep.why == "" && (ourErr == nil) != (ep.err == nil):
			t.Errorf("verdicts differ: ours is %s, go-crypto %s's is %s", verdict(ourErr), ep.name, verdict(ep.err))
		}
	}
}
