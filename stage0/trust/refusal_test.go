package trust

import (
	"errors"
	"strings"
	"testing"
)

// Every refusal reason is explained with the image, the key, the reason,
// the specifics and what to do, and stays checkable with errors.Is.
func TestRefusalExplains(t *testing.T) {
	for _, tc := range []struct {
		reason error
		fix    string // a substring of what to do
	}{
		{ErrNoSignature, "detached signature"},
		{ErrMalformedSignature, "gpg --detach-sign"},
		{ErrBadSignature, "fetch the image and its signature again"},
		{ErrUntrusted, "acirun trust --prefix"},
		{ErrUnknownSigner, "acirun trust --prefix"},
		{ErrExpired, "current key"},
		{ErrRevoked, "revoked it"},
		{ErrWeakHash, "--digest-algo SHA256"},
		{ErrWeakKey, "stronger key"},
	} {
		e := &VerifyError{Image: "example.com/app", KeyID: "0123456789ABCDEF", Reason: tc.reason, Detail: "the specifics"}
		msg := e.Error()
		for _, want := range []string{"example.com/app", "0123456789ABCDEF", tc.reason.Error(), "the specifics", tc.fix} {
			if !strings.Contains(msg, want) {
				t.Errorf("%v: %q does not say %q", tc.reason, msg, want)
			}
		}
		if !errors.Is(e, tc.reason) {
			t.Errorf("%v: errors.Is fails", tc.reason)
		}
	}
}
