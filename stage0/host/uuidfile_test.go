package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadUUIDFile(t *testing.T) {
	const uuid = "4f215d60-0b37-4c2d-9a1e-5b0c9f3e2a11"
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		want          string // UUID, or a part of the error
		ok            bool
	}{
		{"plain", uuid, uuid, true},
		{"newline", uuid + "\n", uuid, true},
		{"crlf and blanks", "  " + uuid + " \r\n", uuid, true},
		{"upper case", strings.ToUpper(uuid) + "\n", uuid, true},
		{"empty", "", "the file is empty", false},
		{"blank", " \n\n", "the file is empty", false},
		{"prefix", uuid[:8] + "\n", "is not a pod UUID", false},
		{"two", uuid + "\n" + uuid + "\n", "is not a pod UUID", false},
		{"junk", "hello", `"hello" is not a pod UUID`, false},
		{"long", strings.Repeat("x", 300), "longer than a UUID", false},
		{"missing", "", "no such file", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if tc.name != "missing" {
				if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ReadUUIDFile(p)
			if tc.ok {
				if err != nil || got != tc.want {
					t.Errorf("ReadUUIDFile = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadUUIDFile = %q, %v; want an error with %q", got, err, tc.want)
			}
			if err != nil && tc.name != "missing" && !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}
