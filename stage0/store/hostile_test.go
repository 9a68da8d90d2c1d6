package store

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// snapshotDir describes everything below dir so that any change shows.
func snapshotDir(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, _ := os.Lstat(p)
		line := fmt.Sprintf("%s %v %d %v", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			line += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		lines = append(lines, line)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// Hostile ACIs through the whole import pipeline (archive.WalkArchive and the
// extractor): each fails, leaves the store empty and a canary directory
// beside the store untouched. The full table of extractor cases is in
// package extract.
func TestImportHostile(t *testing.T) {
	canary := filepath.Join(t.TempDir(), "canary")
	os.MkdirAll(filepath.Join(canary, "sub"), 0o755)
	os.WriteFile(filepath.Join(canary, "secret"), []byte("keep"), 0o600)
	before := snapshotDir(t, canary)
	m := manifest("example.com/evil")
	cases := []struct {
		name    string
		ents    []tent
		wantErr string
	}{
		{"symlink to canary then file through it", []tent{sym("l", canary), reg("l/secret", "pwned")}, "symlink"},
		{"symlink to / then deep file", []tent{sym("r", "/"), reg("r"+canary+"/new", "pwned")}, "symlink"},
		{"relative symlink escape", []tent{sym("up", "../../../../../../../.."), reg("up"+canary+"/new", "x")}, "symlink"},
		{"hardlink to symlink", []tent{sym("s", canary+"/secret"), {name: "h", typ: tar.TypeLink, link: "s"}}, "hard link"},
		{"symlink replaced by file", []tent{sym("s", canary+"/secret"), reg("s", "pwned")}, "duplicate"},
		{"dir replaced by symlink", []tent{dirm("d", 0o755), sym("d", canary), reg("d/x", "pwned")}, "duplicate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			_, err := s.Import(context.Background(), bytes.NewReader(gz(t, mkACI(t, m, tc.ents...))), ImportOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tc.wantErr)
			}
			assertEmptyStore(t, s)
			if after := snapshotDir(t, canary); after != before {
				t.Errorf("canary changed:\n%s\n%s", before, after)
			}
		})
	}
	// Raw tar names that archive/tar would write but the layout forbids.
	for name, why := range map[string]string{"rootfs/../canary": `".." in path`, "/rootfs/etc/passwd": "absolute path", "../rootfs/x": `".." in path`} {
		t.Run(name, func(t *testing.T) {
			s := openStore(t)
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			tw.WriteHeader(&tar.Header{Name: "rootfs/", Typeflag: tar.TypeDir, Mode: 0o755})
			tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
			tw.Write([]byte("x"))
			tw.WriteHeader(&tar.Header{Name: "manifest", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(m))})
			tw.Write([]byte(m))
			tw.Close()
			if _, err := s.Import(context.Background(), &buf, ImportOptions{}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("entry %q: %s", name, why)) {
				t.Errorf("import: %v, want a refusal of entry %q: %s", err, name, why)
			}
			assertEmptyStore(t, s)
		})
	}
	// A device node is made harmless: skipped, recorded, not created.
	t.Run("device node skipped", func(t *testing.T) {
		s := openStore(t)
		img, err := s.Import(context.Background(), bytes.NewReader(mkACI(t, m, tent{name: "dev/sda", typ: tar.TypeBlock, mode: 0o666}, reg("ok", "x"))), ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tree, _ := s.TreePath(img.ID)
		if _, err := os.Lstat(filepath.Join(tree, "rootfs/dev/sda")); !os.IsNotExist(err) {
			t.Errorf("device node created: %v", err)
		}
		if len(img.SkippedDevices) != 1 || img.SkippedDevices[0] != "dev/sda" {
			t.Errorf("SkippedDevices = %q", img.SkippedDevices)
		}
	})
}
