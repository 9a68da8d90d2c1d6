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
		{ErrUntrusted, "acirun trust --prefix=example.com/app KEYFILE"},
		{ErrUnknownSigner, "acirun trust --prefix=example.com/app KEYFILE"},
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

// The prefix to trust is the image's name; an image known only by its
// source (a URL) leaves it for the user to fill in.
func TestRefusalNamesPrefix(t *testing.T) {
	for image, want := range map[string]string{
		"example.com/app":             "acirun trust --prefix=example.com/app KEYFILE",
		"https://example.com/app.aci": "acirun trust --prefix=PREFIX KEYFILE",
		"./app.aci":                   "acirun trust --prefix=PREFIX KEYFILE",
	} {
		e := &VerifyError{Image: image, KeyID: "0123456789ABCDEF", Reason: ErrUnknownSigner}
		if msg := e.Error(); !strings.Contains(msg, want) {
			t.Errorf("%s: %q does not say %q", image, msg, want)
		}
	}
}
