package supervisor

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMetadataKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata", "hmac.key")
	k1, err := metadataKey(path)
	if err != nil || len(k1) != metadataKeySize {
		t.Fatalf("new key: %d bytes, %v", len(k1), err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v, want mode 0600", fi, err)
	}
	k2, err := metadataKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Errorf("second call: a different key (%v)", err)
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := metadataKey(path); err == nil || !strings.Contains(err.Error(), "5 bytes, want 64") {
		t.Errorf("a damaged key: %v", err)
	}
}
