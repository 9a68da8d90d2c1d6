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
	bad := []struct{ s, why string }{
		{"", `does not start with "sha512-"`}, {"sha512-", "has 0 hex digits, want 128"},
		{"sha512-...", "has 3 hex digits, want 128"}, {"sha512-zz", "has 2 hex digits, want 128"},
		{"sha256-" + full[7:], `does not start with "sha512-"`}, {"SHA512-" + full[7:], `does not start with "sha512-"`},
		{full[:len(full)-1], "has 127 hex digits"}, {full + "0", "has 129 hex digits"},
		{"sha512-" + strings.ToUpper(full[7:]), "is not lower-case hex"}, {" " + full, `does not start with "sha512-"`},
	}
	for _, tc := range bad {
		if _, err := ParseImageID(tc.s); err == nil || !strings.HasPrefix(err.Error(), "image ID ") || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("ParseImageID(%q) = %v, want an error naming the image ID: %s", tc.s, err, tc.why)
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
		why := `want "sha512-" followed by 1 to 128 lower-case hex digits`
		if !strings.HasPrefix(s, "sha512-") {
			why = `does not start with "sha512-"`
		}
		if _, err := ParsePartialImageID(s); err == nil || !strings.HasPrefix(err.Error(), "image ID ") || !strings.Contains(err.Error(), why) {
			t.Errorf("ParsePartialImageID(%q) = %v, want an error naming the image ID: %s", s, err, why)
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
	if _, err := ImageIDFromHash(sha256.New()); err == nil || !strings.Contains(err.Error(), "32-byte digest: want a 64-byte SHA-512") {
		t.Errorf("ImageIDFromHash(sha256) = %v, want an error naming the digest's size", err)
	}
	var z ImageID
	if err := z.UnmarshalText([]byte("sha512-...")); err != nil || z.IsFull() {
		t.Errorf("UnmarshalText placeholder: %v", err)
	}
	if err := z.UnmarshalText([]byte("bogus")); err == nil || !strings.Contains(err.Error(), `image ID "bogus" does not start with "sha512-"`) {
		t.Errorf("UnmarshalText(bogus) = %v, want an error naming it", err)
	}
}
