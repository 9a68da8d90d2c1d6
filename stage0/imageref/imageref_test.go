package imageref

import (
	"os"
	"path/filepath"
	"testing"
)

func TestClassify(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "image") // an existing file without .aci
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	tests := []struct {
		ref  string
		want Kind
	}{
		{"https://example.com/hello.aci", KindURL},
		{"http://example.com/hello.aci", KindURL},
		{"HTTPS://example.com/hello.aci", KindURL}, // schemes are case-insensitive
		{"Http://example.com/hello.aci", KindURL},
		{"file:///srv/hello.aci", KindFile},
		{"/srv/hello.aci", KindFile},
		{"./hello", KindFile},
		{"../hello", KindFile},
		{"hello.aci", KindFile},
		{"image", KindFile}, // exists in the working directory
		{plain, KindFile},
		{"sha512-0123abcd", KindID},
		{"example.com/hello", KindName},
		{"example.com/hello:1.0,os=linux,arch=amd64", KindName},
		{"hello", KindName}, // no such file
		{"example.com/hello.aci.d", KindName},
	}
	for _, tc := range tests {
		if got := Classify(tc.ref); got != tc.want {
			t.Errorf("Classify(%q) = %v, want %v", tc.ref, got, tc.want)
		}
	}
}
