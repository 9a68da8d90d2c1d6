package trust

import (
	"errors"
	"fmt"
	"strings"

	"github.com/acirun/acirun/stage0/imagename"
)

// The verification (verify.go) decides: it accepts a signature or refuses
// it for one of the reasons below, decided from the signature, the keys and
// the library's verdict as values (its error sentinels and types, the
// signatures' algorithms and dates), never from the text of a library
// error. This file explains a refusal to the person who has to act on it:
// which image, which key, why, and what to do.

// Reasons a signature is refused. A *VerifyError wraps exactly one of them
// (ErrUnknownSigner also matches ErrUntrusted), so callers can test with
// errors.Is.
var (
	ErrNoSignature        = errors.New("no signature")
	ErrMalformedSignature = errors.New("malformed signature")
	ErrBadSignature       = errors.New("signature does not match the image")
	ErrUntrusted          = errors.New("signer not trusted for this image name")
	ErrUnknownSigner      = errors.New("signer unknown to the trust store")
	ErrExpired            = errors.New("expired")
	ErrRevoked            = errors.New("revoked")
	ErrWeakHash           = errors.New("weak digest algorithm")
	ErrWeakKey            = errors.New("weak key")
	ErrCriticalNotation   = errors.New("unknown critical notation")
	ErrNotSigningKey      = errors.New("key not allowed to sign")
)

// VerifyError is a refused signature. Its message names the image, the
// signing key and the reason.
type VerifyError struct {
	Image       string // image name the signature was checked for
	KeyID       string // issuer key ID (16 upper-case hex digits), if known
	Fingerprint string // primary key fingerprint, if the key is known
	Reason      error  // one of the Err* values of this package
	Detail      string // human-readable specifics
	Err         error  // underlying library error, if any
}

func (e *VerifyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "verify signature of image %s", e.Image)
	switch {
	case e.Fingerprint != "":
		fmt.Fprintf(&b, " (key %s)", e.Fingerprint)
	case e.KeyID != "":
		fmt.Fprintf(&b, " (key ID %s)", e.KeyID)
	}
	fmt.Fprintf(&b, ": %v", e.Reason)
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, " (%v)", e.Err)
	}
	if f := fix(e.Reason, e.Image); f != "" {
		fmt.Fprintf(&b, "; %s", f)
	}
	return b.String()
}

// Unwrap exposes the reason, and for ErrUnknownSigner also ErrUntrusted.
// The library error is deliberately not exposed: its sentinels are not
// part of this package's contract.
func (e *VerifyError) Unwrap() []error {
	if e.Reason == ErrUnknownSigner {
		return []error{e.Reason, ErrUntrusted}
	}
	return []error{e.Reason}
}

// fix says what to do about a refusal for reason of the image named image
// (its source, a file or URL, when its name is not known: then the prefix
// to trust is left for the user to fill in).
func fix(reason error, image string) string {
	switch reason {
	case ErrNoSignature:
		return "fetch the image's detached signature (IMAGE.aci.asc, made with gpg --detach-sign) with it"
	case ErrMalformedSignature:
		return "the signature file must hold binary-document signatures, as gpg --detach-sign (optionally --armor) makes them"
	case ErrBadSignature:
		return "fetch the image and its signature again; if this persists, the image is not the one that was signed"
	case ErrUnknownSigner, ErrUntrusted:
		prefix := "PREFIX"
		if imagename.ValidatePrefix(image) == nil {
			prefix = image
		}
		return "if you trust the signing key for this name, add it with acirun trust --prefix=" + prefix + " KEYFILE"
	case ErrExpired:
		return "ask the image's publisher for a signature by a current key, or check the clock"
	case ErrRevoked:
		return "the key's owner revoked it: do not trust images it signed; ask the publisher for a signature by a current key"
	case ErrWeakHash:
		return "re-sign with SHA-256 or better (gpg --digest-algo SHA256)"
	case ErrWeakKey:
		return "re-sign with a stronger key (RSA of 2048 bits or more, or Ed25519)"
	case ErrCriticalNotation:
		return "ask the publisher to sign without critical notations (gpg --sig-notation without the leading '!')"
	case ErrNotSigningKey:
		return "ask the publisher to sign with a key or subkey that has the sign flag (gpg --quick-add-key FINGERPRINT ed25519 sign), then trust its new export"
	}
	return ""
}
