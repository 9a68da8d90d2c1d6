package store

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// tent is one rootfs entry of a test image ("rootfs/" is prepended).
type tent struct {
	name, link string
	typ        byte
	mode       int64
	body       string
}

func reg(name, body string) tent { return tent{name: name, typ: tar.TypeReg, body: body} }
func regm(name, body string, m int64) tent {
	return tent{name: name, typ: tar.TypeReg, body: body, mode: m}
}
func dirm(name string, m int64) tent { return tent{name: name, typ: tar.TypeDir, mode: m} }
func sym(name, target string) tent   { return tent{name: name, typ: tar.TypeSymlink, link: target} }

// manifest returns a minimal image manifest, with optional extra JSON
// fields (e.g. `"pathWhitelist": [...]`).
func manifest(name string, extra ...string) string {
	s := fmt.Sprintf(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":%q`, name)
	for _, e := range extra {
		s += "," + e
	}
	return s + "}"
}

// deps renders a dependencies field for manifest.
func deps(ds ...[2]string) string {
	var parts []string
	for _, d := range ds {
		if d[1] == "" {
			parts = append(parts, fmt.Sprintf(`{"imageName":%q}`, d[0]))
		} else {
			parts = append(parts, fmt.Sprintf(`{"imageName":%q,"imageID":%q}`, d[0], d[1]))
		}
	}
	return `"dependencies":[` + strings.Join(parts, ",") + `]`
}

func pwl(paths ...string) string {
	b, _ := json.Marshal(paths)
	return `"pathWhitelist":` + string(b)
}

// mkACI builds an uncompressed ACI, the manifest last as the appc writer
// does.
func mkACI(t testing.TB, man string, ents ...tent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Unix(1600000000, 0)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	rootMode := int64(0o755)
	if len(ents) > 0 && ents[0].name == "." {
		rootMode, ents = ents[0].mode, ents[1:]
	}
	must(tw.WriteHeader(&tar.Header{Name: "rootfs", Typeflag: tar.TypeDir, Mode: rootMode, ModTime: mt}))
	for _, e := range ents {
		h := &tar.Header{Name: "rootfs/" + e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, ModTime: mt}
		if e.link != "" && e.typ == tar.TypeLink {
			h.Linkname = "rootfs/" + e.link
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if e.typ == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		must(tw.WriteHeader(h))
		_, err := io.WriteString(tw, e.body)
		must(err)
	}
	must(tw.WriteHeader(&tar.Header{Name: "manifest", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(man)), ModTime: mt}))
	_, err := io.WriteString(tw, man)
	must(err)
	must(tw.Close())
	return buf.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func openStore(t testing.TB) *Store {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "store"), Options{LockDir: filepath.Join(dir, "locks"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustImport(t testing.TB, s *Store, b []byte) *Image {
	t.Helper()
	img, err := s.Import(context.Background(), bytes.NewReader(b), ImportOptions{})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return img
}

// dirEntries lists the names in the store's sub directory sub.
func dirEntries(t testing.TB, s *Store, sub string) []string {
	t.Helper()
	ents, err := os.ReadDir(s.path(sub))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// assertEmptyStore checks that nothing is visible or left over.
func assertEmptyStore(t testing.TB, s *Store) {
	t.Helper()
	imgs, err := s.List(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 0 {
		t.Errorf("%d images visible, want none", len(imgs))
	}
	for _, sub := range []string{"blobs", "images", "trees", "layers", "tmp"} {
		if n := dirEntries(t, s, sub); len(n) != 0 {
			t.Errorf("%s/ holds %q, want nothing", sub, n)
		}
	}
}

// finfo describes one path of a rendered rootfs.
type finfo struct {
	typ  byte
	size int64
	mode fs.FileMode
}

// listTree maps every path below root (relative) to its description.
func listTree(t testing.TB, root string) map[string]finfo {
	t.Helper()
	out := make(map[string]finfo)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var f finfo
		switch {
		case fi.IsDir():
			f = finfo{typ: tar.TypeDir, mode: fi.Mode().Perm()}
		case fi.Mode()&fs.ModeSymlink != 0:
			f = finfo{typ: tar.TypeSymlink}
		default:
			f = finfo{typ: tar.TypeReg, size: fi.Size(), mode: fi.Mode().Perm()}
		}
		out[rel] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func describe(m map[string]finfo) string {
	var lines []string
	for p, f := range m {
		lines = append(lines, fmt.Sprintf("%s %c %d %o", p, f.typ, f.size, f.mode))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
