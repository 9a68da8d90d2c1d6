package trust

import (
	"errors"
	"strings"
	"testing"
)

func TestDeferredVerifierScoping(t *testing.T) {
	f := fixture
	ed, other := f.keys["ed"], f.keys["other"]
	// other+ed.sig holds a signature by each key, "other" first.
	s, _ := newTestStore(t,
		place{key: "other", prefix: "foo.com"},
		place{key: "ed", prefix: "example.com/hello"},
	)
	for _, tc := range []struct {
		name string
		fp   string // signer, or "" for a refusal
		want error
	}{
		{"example.com/hello", ed.fp, nil},
		{"example.com/hello/x", ed.fp, nil},
		{"foo.com/app", other.fp, nil},
		{"example.com/helloworld", "", ErrUntrusted},
		{"bar.com", "", ErrUntrusted},
	} {
		v, err := s.NewDeferredVerifier("/images/x.aci", f.sigs["other+ed.sig"])
		if err != nil {
			t.Fatal(err)
		}
		v.Write(f.image)
		signer, err := v.VerifyFor(tc.name)
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want == nil && signer.Fingerprint != tc.fp:
			t.Errorf("%s: signed by %s, want %s", tc.name, signer.Fingerprint, tc.fp)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}

	// Verify without a name would accept a key trusted for any prefix.
	v, err := s.NewDeferredVerifier("/images/x.aci", f.sigs["ed.sig"])
	if err != nil {
		t.Fatal(err)
	}
	v.Write(f.image)
	if signer, err := v.Verify(); err == nil || !strings.Contains(err.Error(), "Verify on a deferred Verifier; call VerifyFor") {
		t.Fatalf("Verify on a deferred verifier: %v, %v; want a refusal naming VerifyFor", signer, err)
	}
	if _, err := v.VerifyFor("example.com/hello"); err != nil {
		t.Fatalf("VerifyFor after a refused Verify: %v", err)
	}
}
