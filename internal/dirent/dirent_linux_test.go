package dirent

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestType reads the types of a file and a directory from a real
// directory (the test's temporary one, on a file system that fills d_type
// in, as overlayfs needs), and refuses a name that is not there.
func TestType(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want uint8
	}{{"f", unix.DT_REG}, {"d", unix.DT_DIR}, {".", unix.DT_DIR}} {
		if got, err := Type(dir, tc.name); err != nil || got != tc.want {
			t.Errorf("Type(%q) = %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
	if _, err := Type(dir, "missing"); err == nil || err.Error() != "read directory "+dir+": missing is not listed" {
		t.Errorf("Type of a name that is not there: %v, want a refusal naming it", err)
	}
	if _, err := Type(filepath.Join(dir, "f"), "x"); !errors.Is(err, unix.ENOTDIR) || !strings.Contains(err.Error(), "read directory "+filepath.Join(dir, "f")) {
		t.Errorf("Type in a file: %v, want ENOTDIR naming the file", err)
	}
}

// record is one struct linux_dirent64 of name with type typ, padded to 8.
func record(name string, typ uint8) []byte {
	n := (19 + len(name) + 1 + 7) &^ 7
	b := make([]byte, n)
	binary.NativeEndian.PutUint16(b[16:], uint16(n))
	b[18] = typ
	copy(b[19:], name)
	return b
}

func TestFind(t *testing.T) {
	two := append(record("a", unix.DT_REG), record("bb", unix.DT_UNKNOWN)...)
	for _, tc := range []struct {
		desc  string
		b     []byte
		name  string
		typ   uint8
		found bool
		bad   bool
	}{
		{"first", two, "a", unix.DT_REG, true, false},
		{"second, no type", two, "bb", unix.DT_UNKNOWN, true, false},
		{"a prefix of a name is not it", two, "b", 0, false, false},
		{"absent", two, "c", 0, false, false},
		{"empty", nil, "a", 0, false, false},
		{"short record", two[:10], "a", 0, false, true},
		{"reclen past the end", two[:20], "a", 0, false, true},
		{"reclen zero", make([]byte, 24), "a", 0, false, true},
	} {
		typ, found, err := find(tc.b, tc.name)
		if typ != tc.typ || found != tc.found || (err != nil) != tc.bad {
			t.Errorf("%s: find = %d, %v, %v; want %d, %v, error %v", tc.desc, typ, found, err, tc.typ, tc.found, tc.bad)
		}
	}
}

// FuzzFind: no input makes the record parser panic or read past its
// buffer, and it never both finds the name and fails.
func FuzzFind(f *testing.F) {
	f.Add(append(record("a", unix.DT_REG), record("bb", unix.DT_DIR)...), "bb")
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, b []byte, name string) {
		if _, found, err := find(b, name); err != nil && found {
			t.Fatalf("found %q with an error: %v", name, err)
		}
	})
}
