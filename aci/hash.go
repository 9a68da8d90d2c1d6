package aci

import (
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// ImageIDPrefix starts every image ID: sha512 is the only algorithm the spec
// allows.
const ImageIDPrefix = "sha512-"

// imageIDHexLen is the length of a full ID's hex part (SHA-512 is 64 bytes).
const imageIDHexLen = 2 * sha512.Size

// ShortImageIDLen is the length of ImageID.Short: the prefix and 32 hex
// digits, as rkt displayed it.
const ShortImageIDLen = len(ImageIDPrefix) + 32

// ImageID identifies an image: "sha512-" followed by the lower-case hex
// SHA-512 of the image's uncompressed tar. The zero ImageID means "no ID".
//
// An ImageID made by ParseImageID or ImageIDFromHash is full (135
// characters). Manifests may also carry a partial ID, accepted by
// ParsePartialImageID, because the spec's own examples and pod templates
// write placeholders; such an ID never equals a real one and IsFull reports
// false for it.
type ImageID struct {
	s string
}

// ParseImageID parses a full image ID: "sha512-" and 128 lower-case hex
// digits, nothing else.
func ParseImageID(s string) (ImageID, error) {
	if !strings.HasPrefix(s, ImageIDPrefix) {
		return ImageID{}, fmt.Errorf("image ID %q does not start with %q", clip(s), ImageIDPrefix)
	}
	h := s[len(ImageIDPrefix):]
	if len(h) != imageIDHexLen {
		return ImageID{}, fmt.Errorf("image ID %q has %d hex digits, want %d", clip(s), len(h), imageIDHexLen)
	}
	if !lowerHex(h) {
		return ImageID{}, fmt.Errorf("image ID %q is not lower-case hex after %q", clip(s), ImageIDPrefix)
	}
	return ImageID{s: s}, nil
}

// ParsePartialImageID accepts what a manifest may carry where an image ID is
// expected: a full ID, a prefix of one ("sha512-" and 1 to 128 lower-case hex
// digits, which a store can resolve), or the placeholder "sha512-..." that
// the spec's examples use. Use IsFull to tell them apart.
func ParsePartialImageID(s string) (ImageID, error) {
	if !strings.HasPrefix(s, ImageIDPrefix) {
		return ImageID{}, fmt.Errorf("image ID %q does not start with %q", clip(s), ImageIDPrefix)
	}
	h := s[len(ImageIDPrefix):]
	if h == "..." {
		return ImageID{s: s}, nil
	}
	if h == "" || len(h) > imageIDHexLen || !lowerHex(h) {
		return ImageID{}, fmt.Errorf("image ID %q: want %q followed by 1 to %d lower-case hex digits", clip(s), ImageIDPrefix, imageIDHexLen)
	}
	return ImageID{s: s}, nil
}

// ImageIDFromHash returns the ID for a finished SHA-512 hash of an
// uncompressed image tar (h.Sum is called, h is not reset). It fails if h is
// not a SHA-512.
func ImageIDFromHash(h hash.Hash) (ImageID, error) {
	return ImageIDFromSum(h.Sum(nil))
}

// ImageIDFromSum returns the ID for a 64-byte SHA-512 digest.
func ImageIDFromSum(sum []byte) (ImageID, error) {
	if len(sum) != sha512.Size {
		return ImageID{}, fmt.Errorf("image ID from a %d-byte digest: want a %d-byte SHA-512", len(sum), sha512.Size)
	}
	return ImageID{s: ImageIDPrefix + hex.EncodeToString(sum)}, nil
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// String returns the ID as written in manifests ("" for the zero ID).
func (id ImageID) String() string { return id.s }

// Short returns the display form: "sha512-" and the first 32 hex digits.
// IDs shorter than that are returned whole.
func (id ImageID) Short() string {
	if len(id.s) <= ShortImageIDLen {
		return id.s
	}
	return id.s[:ShortImageIDLen]
}

// IsZero reports whether the ID is unset.
func (id ImageID) IsZero() bool { return id.s == "" }

// IsFull reports whether the ID is a complete SHA-512 ID rather than a
// prefix or placeholder.
func (id ImageID) IsFull() bool {
	return len(id.s) == len(ImageIDPrefix)+imageIDHexLen && strings.HasPrefix(id.s, ImageIDPrefix) && lowerHex(id.s[len(ImageIDPrefix):])
}

// Matches reports whether the full ID full is the one id designates: equal
// to it, or starting with it when id is a hex prefix. A placeholder matches
// nothing.
func (id ImageID) Matches(full ImageID) bool {
	if id.IsZero() || !full.IsFull() || strings.HasSuffix(id.s, "...") {
		return false
	}
	return strings.HasPrefix(full.s, id.s)
}

// MarshalText writes the ID string.
func (id ImageID) MarshalText() ([]byte, error) { return []byte(id.s), nil }

// UnmarshalText parses an ID leniently, with ParsePartialImageID, as
// manifests require; an empty text gives the zero ID.
func (id *ImageID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*id = ImageID{}
		return nil
	}
	p, err := ParsePartialImageID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}
