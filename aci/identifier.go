package aci

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ACIdentifier names images, labels, annotations and isolators:
// lower-case alphanumerics separated by single '-', '.', '_', '~' or '/'
// (^[a-z0-9]+([-._~/][a-z0-9]+)*$). The empty ACIdentifier means "not set".
type ACIdentifier string

// NewACIdentifier checks s and returns it as an ACIdentifier.
func NewACIdentifier(s string) (ACIdentifier, error) {
	if err := ACIdentifier(s).Validate(); err != nil {
		return "", err
	}
	return ACIdentifier(s), nil
}

// Validate reports whether the identifier is well formed.
func (id ACIdentifier) Validate() error {
	if why := wordError(string(id), "-._~/"); why != "" {
		return fmt.Errorf("%q is not a valid AC Identifier: %s", string(id), why)
	}
	return nil
}

// String returns the identifier itself.
func (id ACIdentifier) String() string { return string(id) }

// ACName names the parts of a pod: apps, volumes, mount points and ports.
// It is an ACIdentifier with '-' as the only separator
// (^[a-z0-9]+([-][a-z0-9]+)*$), so that it can appear in file names and
// systemd unit names unescaped.
type ACName string

// NewACName checks s and returns it as an ACName.
func NewACName(s string) (ACName, error) {
	if err := ACName(s).Validate(); err != nil {
		return "", err
	}
	return ACName(s), nil
}

// Validate reports whether the name is well formed.
func (n ACName) Validate() error {
	if why := wordError(string(n), "-"); why != "" {
		return fmt.Errorf("%q is not a valid AC Name: %s", string(n), why)
	}
	return nil
}

// String returns the name itself.
func (n ACName) String() string { return string(n) }

// SanitizeACName turns an arbitrary string (typically the last part of an
// image name, to name the app running it) into a valid ACName: it lowers the
// case, replaces every run of other characters by one '-' and trims '-' at
// both ends. It fails only if nothing alphanumeric is left.
func SanitizeACName(s string) (ACName, error) {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		} else {
			dash = true
		}
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("cannot make an AC Name from %q: no letters or digits", s)
	}
	return ACName(b.String()), nil
}

// validWord checks ^[a-z0-9]+([seps][a-z0-9]+)*$.
func validWord(s, seps string) bool { return wordError(s, seps) == "" }

// wordError says where s breaks ^[a-z0-9]+([seps][a-z0-9]+)*$, or returns ""
// if it does not: the first offending byte and its offset, so that a long
// name with one bad character is easy to fix.
func wordError(s, seps string) string {
	if s == "" {
		return "empty"
	}
	prevSep := true // a separator may not start the string
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			prevSep = false
		case strings.IndexByte(seps, c) >= 0:
			if prevSep {
				return fmt.Sprintf("%q at offset %d must follow a letter or digit", c, i)
			}
			prevSep = true
		default:
			what := fmt.Sprintf("byte 0x%02x", c)
			if r, _ := utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError {
				what = fmt.Sprintf("character %q", r)
			}
			return fmt.Sprintf("%s at offset %d (only a-z, 0-9 and %s are allowed)", what, i, seps)
		}
	}
	if prevSep {
		return "it must end with a letter or digit"
	}
	return ""
}

// ACKind says which of the two manifest types a JSON document is.
type ACKind string

// The two kinds of manifest the spec defines.
const (
	ACKindImageManifest ACKind = "ImageManifest"
	ACKindPodManifest   ACKind = "PodManifest"
)
