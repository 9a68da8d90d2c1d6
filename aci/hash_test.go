package aci

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"strings"
	"testing"
)

func TestParseImageID(t *testing.T) {
	full := "sha512-" + strings.Repeat("0123456789abcdef", 8)
	id, err := ParseImageID(full)
	if err != nil {
		t.Fatal(err)
	}
	if id.String() != full || !id.IsFull() || id.IsZero() {
		t.Errorf("ParseImageID(%q) = %v (full %v)", full, id, id.IsFull())
	}
	if got := id.Short(); got != "sha512-"+strings.Repeat("0123456789abcdef", 2) || len(got) != 39 {
		t.Errorf("Short() = %q", got)
	}
	bad := []string{
		"", "sha512-", "sha512-...", "sha512-zz", "sha256-" + full[7:], "SHA512-" + full[7:],
		full[:len(full)-1], full + "0", "sha512-" + strings.ToUpper(full[7:]), " " + full,
	}
	for _, s := range bad {
		if _, err := ParseImageID(s); err == nil {
			t.Errorf("ParseImageID(%q) ok, want error", s)
		}
	}
}

func TestParsePartialImageID(t *testing.T) {
	full := "sha512-" + strings.Repeat("ab", 64)
	for _, s := range []string{full, "sha512-a", "sha512-" + strings.Repeat("0", 32), "sha512-..."} {
		id, err := ParsePartialImageID(s)
		if err != nil {
			t.Errorf("ParsePartialImageID(%q) = %v", s, err)
			continue
		}
		if id.IsFull() != (s == full) {
			t.Errorf("ParsePartialImageID(%q).IsFull() = %v", s, id.IsFull())
		}
	}
	for _, s := range []string{"", "sha512-", "sha512-..", "sha512-A", "sha512-xyz", "sha512-" + strings.Repeat("a", 129), "md5-abc", "sha512-a.."} {
		if _, err := ParsePartialImageID(s); err == nil {
			t.Errorf("ParsePartialImageID(%q) ok, want error", s)
		}
	}
	f, _ := ParseImageID(full)
	p, _ := ParsePartialImageID("sha512-abab")
	ph, _ := ParsePartialImageID("sha512-...")
	if !p.Matches(f) || !f.Matches(f) || ph.Matches(f) || (ImageID{}).Matches(f) {
		t.Error("Matches wrong")
	}
	other, _ := ParsePartialImageID("sha512-abac")
	if other.Matches(f) {
		t.Error("sha512-abac matches " + full)
	}
}

func TestImageIDFromHash(t *testing.T) {
	h := sha512.New()
	h.Write([]byte("hello"))
	id, err := ImageIDFromHash(h)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum512([]byte("hello"))
	if want := "sha512-" + hex.EncodeToString(sum[:]); id.String() != want || !id.IsFull() {
		t.Errorf("ImageIDFromHash = %s, want %s", id, want)
	}
	if _, err := ImageIDFromHash(sha256.New()); err == nil {
		t.Error("ImageIDFromHash(sha256) ok, want error")
	}
	var z ImageID
	if err := z.UnmarshalText([]byte("sha512-...")); err != nil || z.IsFull() {
		t.Errorf("UnmarshalText placeholder: %v", err)
	}
	if err := z.UnmarshalText([]byte("bogus")); err == nil {
		t.Error("UnmarshalText(bogus) ok")
	}
}
