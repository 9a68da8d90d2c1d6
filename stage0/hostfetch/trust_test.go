package hostfetch

import (
	"strings"
	"testing"
)

// TestKeyHostCheck: a key discovered for a prefix is from the prefix's own
// host (its first segment, any port, any case), or it is reported, naming
// both hosts.
func TestKeyHostCheck(t *testing.T) {
	for _, tc := range []struct {
		prefix, url string
		ok          bool
	}{
		{"example.com/hello", "https://example.com/pubkeys.gpg", true},
		{"example.com/hello", "https://EXAMPLE.com:8443/keys/a.gpg", true},
		{"example.com", "https://example.com/k.gpg", true},
		{"example.com/hello", "https://keys.example.net/k.gpg", false},
		{"example.com/hello", "https://example.com.evil.example/k.gpg", false},
		{"example.com/hello", "https://sub.example.com/k.gpg", false},
		{"example.com/hello", "https://evil.example@example.net/k.gpg", false},
	} {
		err := keyHostCheck(tc.prefix, tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("keyHostCheck(%q, %q) = %v, want ok=%v", tc.prefix, tc.url, err, tc.ok)
		}
		if err != nil && (!strings.Contains(err.Error(), tc.prefix) || !strings.Contains(err.Error(), "not example.com")) {
			t.Errorf("keyHostCheck(%q, %q) = %v, want the prefix and its host named", tc.prefix, tc.url, err)
		}
	}
}
