package store

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTrash: what is put in the trash is out of sight at once (a missing
// path is no error and makes no staging directory), and empty deletes it
// all with its staging directory, leaving tmp/ empty.
func TestTrash(t *testing.T) {
	s, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	tmp := s.path("tmp")
	tr := &trash{s: s}
	if err := tr.put(s.path("trees", "missing")); err != nil || tr.st != nil {
		t.Fatalf("put of a missing path: %v, staging %v", err, tr.st)
	}
	dir := s.path("trees", "a")
	file := s.path("blobs", "b")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, file} {
		if err := tr.put(p); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there after put: %v", p, err)
		}
	}
	// Once the trash is there, a missing path is still no error.
	if err := tr.put(s.path("trees", "missing")); err != nil {
		t.Errorf("put of a missing path into a trash: %v", err)
	}
	if ents, _ := os.ReadDir(tr.st.dir); len(ents) != 2 {
		t.Errorf("trash holds %d entries, want 2", len(ents))
	}
	tr.empty()
	tr.empty() // twice is harmless
	if ents, err := os.ReadDir(tmp); err != nil || len(ents) != 0 {
		t.Errorf("tmp/ after empty: %v %v", ents, err)
	}
}
