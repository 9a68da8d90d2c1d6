package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/aci/archive"
	"github.com/acirun/acirun/stage0/oci/ocitest"
	"github.com/acirun/acirun/stage0/store/extract"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// testLayer is a layer blob and its digests, opened as many times as asked
// (counted).
type testLayer struct {
	blob   []byte
	digest string
	diffID string
	opens  atomic.Int32
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func newTestLayer(t *testing.T, c ocitest.Compression, entries ...ocitest.Entry) *testLayer {
	t.Helper()
	raw := ocitest.Tar(t, entries...)
	var blob []byte
	switch c {
	case ocitest.Gzip:
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(raw)
		zw.Close()
		blob = b.Bytes()
	case ocitest.Zstd:
		var b bytes.Buffer
		zw, _ := zstd.NewWriter(&b)
		zw.Write(raw)
		zw.Close()
		blob = b.Bytes()
	default:
		blob = raw
	}
	return &testLayer{blob: blob, digest: digestOf(blob), diffID: digestOf(raw)}
}

func (l *testLayer) layer() OCILayer {
	return OCILayer{Digest: l.digest, DiffID: l.diffID, Size: int64(len(l.blob)), Open: func(context.Context) (io.ReadCloser, error) {
		l.opens.Add(1)
		return io.NopCloser(bytes.NewReader(l.blob)), nil
	}}
}

func ociOpts(name, digest string, layers ...*testLayer) OCIImportOptions {
	o := OCIImportOptions{
		Record: OCIRecord{Reference: "oci:/test/" + name, Digest: digest, Config: digestOf([]byte(name))},
		Zstd: func(r io.Reader) (io.ReadCloser, error) {
			zr, err := zstd.NewReader(r)
			if err != nil {
				return nil, err
			}
			return zr.IOReadCloser(), nil
		},
		Manifest: func(string) (*aci.ImageManifest, error) {
			return aci.ParseImageManifest([]byte(manifest("example.com/" + name)))
		},
	}
	for _, l := range layers {
		o.Layers = append(o.Layers, l.layer())
	}
	return o
}

// storeState lists what a store holds, to compare before and after a
// failed import.
func storeState(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"images", "blobs", "trees", ociLayersDir, "tmp"} {
		ents, _ := os.ReadDir(s.path(sub))
		for _, e := range ents {
			out = append(out, sub+"/"+e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// TestImportOCILayers: layers are composed in order with their whiteouts
// and opaque directories applied to the layers below, gzip, zstd and plain
// layers alike; a directory's metadata comes from the layer that names it;
// an image sharing a layer with another reuses it (not fetched again, the
// same inodes); removing an image removes only the layers no image uses.
func TestImportOCILayers(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	base := newTestLayer(t, ocitest.Gzip,
		ocitest.Dir("a"), ocitest.File("a/keep", "k"), ocitest.File("a/gone", "g"), ocitest.Dir("a/gonedir"), ocitest.File("a/gonedir/x", "x"),
		ocitest.Dir("b"), ocitest.File("b/old", "o"),
		ocitest.Entry{Name: "tmp", Type: '5', Mode: 0o1777},
		ocitest.File("c", "file"),
	)
	upper := newTestLayer(t, ocitest.Zstd,
		ocitest.Whiteout("a", "gone"), ocitest.Whiteout("a", "gonedir"), ocitest.Whiteout("", "nothing-there"),
		ocitest.Dir("b"), ocitest.Opaque("b"), ocitest.File("b/new", "n"),
		ocitest.File("tmp/t", "in tmp"), // tmp only as a parent: keeps 1777
	)
	top := newTestLayer(t, ocitest.None,
		ocitest.Whiteout("", "c"), ocitest.Dir("c"), ocitest.File("c/z", "z"),
		ocitest.File("a/keep", "k2"),
		ocitest.File("b/new", "N"), // the same size as below: only its digest tells
	)
	img, err := s.ImportOCI(ctx, ociOpts("one", digestOf([]byte("one")), base, upper, top))
	if err != nil {
		t.Fatal(err)
	}
	if img.OCI == nil || len(img.OCI.Layers) != 3 || !img.Rendered {
		t.Fatalf("entry %+v", img)
	}
	tree, err := s.TreePath(img.ID)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(tree, "rootfs")
	for name, want := range map[string]string{"a/keep": "k2", "b/new": "N", "c/z": "z", "tmp/t": "in tmp"} {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", name, b, err, want)
		}
	}
	for _, gone := range []string{"a/gone", "a/gonedir", "b/old"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: still there (%v)", gone, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("tmp: %v %v, want drwxrwxrwt", fi.Mode(), err)
	}
	if err := s.VerifyTree(ctx, img.ID); err != nil {
		t.Errorf("verify: %v", err)
	}

	// A second image on the same base: the base is not fetched again and
	// its files are the same inodes.
	other := newTestLayer(t, ocitest.Gzip, ocitest.File("other", "o"))
	img2, err := s.ImportOCI(ctx, ociOpts("two", digestOf([]byte("two")), base, other))
	if err != nil {
		t.Fatal(err)
	}
	if n := base.opens.Load(); n != 1 {
		t.Errorf("the shared layer was opened %d times, want 1", n)
	}
	tree2, _ := s.TreePath(img2.ID)
	var st1, st2 syscall.Stat_t
	if err := syscall.Stat(filepath.Join(root, "b"), &st1); err != nil {
		t.Fatal(err)
	}
	syscall.Stat(filepath.Join(tree, "rootfs/a/keep"), &st1)
	syscall.Stat(filepath.Join(tree2, "rootfs/a/keep"), &st2)
	if st1.Ino == st2.Ino {
		t.Errorf("a/keep: the upper layer's file should differ from the base's")
	}
	syscall.Stat(filepath.Join(tree2, "rootfs/c"), &st1)
	var stBase syscall.Stat_t
	key, _ := parseDigest(base.diffID)
	syscall.Stat(filepath.Join(s.ociLayerDir(key), "rootfs/c"), &stBase)
	if st1.Ino != stBase.Ino {
		t.Errorf("c of the second image is not the base layer's file")
	}
	if n := len(mustReadDir(t, s.path(ociLayersDir))); n != 4 {
		t.Errorf("%d layers stored, want 4", n)
	}

	// The same image again: the stored entry, nothing fetched.
	again, err := s.ImportOCI(ctx, ociOpts("two", digestOf([]byte("two")), base, other))
	if err != nil || again.ID != img2.ID {
		t.Fatalf("again: %v, %v", again, err)
	}

	// Exported, it is an ACI of its tree.
	var aciBuf bytes.Buffer
	if err := s.Export(ctx, img.ID, &aciBuf); err != nil {
		t.Fatal(err)
	}
	m, _, err := archive.ReadImage(&aciBuf)
	if err != nil || m.Name != "example.com/one" {
		t.Fatalf("exported ACI: %v, %v", m, err)
	}

	if err := s.Remove(ctx, img.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(mustReadDir(t, s.path(ociLayersDir))); n != 2 {
		t.Errorf("after removing the first image %d layers are left, want 2 (base and other)", n)
	}
	if err := s.Remove(ctx, img2.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(mustReadDir(t, s.path(ociLayersDir))); n != 0 {
		t.Errorf("after removing both images %d layers are left", n)
	}
}

func mustReadDir(t *testing.T, dir string) []os.DirEntry {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ents
}

// TestImportOCIRefuses: a blob or tar that does not match its digest, a
// hostile name, a whiteout that reaches out of its directory, a missing
// blob: each fails naming the problem, and the store is as it was, the
// good layers of the same image included.
func TestImportOCIRefuses(t *testing.T) {
	ctx := context.Background()
	good := func(t *testing.T) *testLayer { return newTestLayer(t, ocitest.Gzip, ocitest.File("ok", "ok")) }
	for _, tc := range []struct {
		name  string
		layer func(t *testing.T) *testLayer
		want  string
	}{
		{"blob digest", func(t *testing.T) *testLayer {
			l := newTestLayer(t, ocitest.Gzip, ocitest.File("f", "x"))
			l.digest = digestOf([]byte("something else"))
			return l
		}, "blob digest mismatch"},
		{"diffID", func(t *testing.T) *testLayer {
			l := newTestLayer(t, ocitest.Zstd, ocitest.File("f", "x"))
			l.diffID = digestOf([]byte("something else"))
			return l
		}, "diffID mismatch"},
		{"dot-dot", func(t *testing.T) *testLayer {
			return newTestLayer(t, ocitest.None, ocitest.File("../escape", "x"))
		}, "escape"},
		{"absolute symlink parent", func(t *testing.T) *testLayer {
			return newTestLayer(t, ocitest.None, ocitest.Symlink("etc", "/etc"), ocitest.File("etc/passwd", "x"))
		}, "symlink"},
		{"whiteout of the parent", func(t *testing.T) *testLayer {
			return newTestLayer(t, ocitest.None, ocitest.File("a/.wh...", ""))
		}, "whiteout"},
		{"empty whiteout", func(t *testing.T) *testLayer {
			return newTestLayer(t, ocitest.None, ocitest.File(".wh.", ""))
		}, "whiteout"},
		{"bad digest", func(t *testing.T) *testLayer {
			l := good(t)
			l.digest = "sha512:abc"
			return l
		}, "sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			keep, err := s.ImportOCI(ctx, ociOpts("keep", digestOf([]byte("keep")), good(t)))
			if err != nil {
				t.Fatal(err)
			}
			before := storeState(t, s)
			fresh := newTestLayer(t, ocitest.Gzip, ocitest.File("fresh", "a good layer of the failing image"))
			_, err = s.ImportOCI(ctx, ociOpts("bad", digestOf([]byte("bad")), fresh, tc.layer(t)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			if after := storeState(t, s); strings.Join(after, " ") != strings.Join(before, " ") {
				t.Errorf("store changed:\n before %v\n after  %v", before, after)
			}
			if _, err := s.Get(keep.ID); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("zstd without a decoder", func(t *testing.T) {
		// The importer gives the decoder (OCIImportOptions.Zstd), so
		// that the store links none; without one a zstd layer is
		// refused whole, not taken for a plain tar.
		s := openStore(t)
		before := storeState(t, s)
		o := ociOpts("bad", digestOf([]byte("bad")), newTestLayer(t, ocitest.Zstd, ocitest.File("f", "x")))
		o.Zstd = nil
		if _, err := s.ImportOCI(ctx, o); err == nil || !strings.Contains(err.Error(), "no zstd decoder") {
			t.Fatalf("error %v", err)
		}
		if after := storeState(t, s); strings.Join(after, " ") != strings.Join(before, " ") {
			t.Errorf("store changed: %v", after)
		}
	})
	t.Run("missing blob", func(t *testing.T) {
		s := openStore(t)
		before := storeState(t, s)
		l := good(t).layer()
		l.Open = func(context.Context) (io.ReadCloser, error) { return nil, errors.New("blob unknown to registry") }
		o := ociOpts("bad", digestOf([]byte("bad")))
		o.Layers = []OCILayer{l}
		if _, err := s.ImportOCI(ctx, o); err == nil || !strings.Contains(err.Error(), "blob unknown") {
			t.Fatalf("error %v", err)
		}
		if after := storeState(t, s); strings.Join(after, " ") != strings.Join(before, " ") {
			t.Errorf("store changed: %v", after)
		}
	})
}

// TestGCOCILayers: GC removes an OCI image no pod uses and then its layers;
// a layer an image in use names stays.
func TestGCOCILayers(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	shared := newTestLayer(t, ocitest.Gzip, ocitest.File("shared", "s"))
	a, err := s.ImportOCI(ctx, ociOpts("a", digestOf([]byte("a")), shared, newTestLayer(t, ocitest.Gzip, ocitest.File("a", "a"))))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.ImportOCI(ctx, ociOpts("b", digestOf([]byte("b")), shared, newTestLayer(t, ocitest.Gzip, ocitest.File("b", "b"))))
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.GC(ctx, GCOptions{InUse: func() (map[string]bool, error) { return map[string]bool{b.ID: true}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 1 || res.Removed[0] != a.ID {
		t.Errorf("removed %v, want %s", res.Removed, a.ID)
	}
	if n := len(mustReadDir(t, s.path(ociLayersDir))); n != 2 {
		t.Errorf("%d layers left, want b's 2", n)
	}
	if _, err := s.GC(ctx, GCOptions{InUse: func() (map[string]bool, error) { return nil, nil }}); err != nil {
		t.Fatal(err)
	}
	if n := len(mustReadDir(t, s.path(ociLayersDir))); n != 0 {
		t.Errorf("%d layers left with no image", n)
	}
}

// TestImportOCITooLarge: an image's layers together are bounded as one
// ACI is (Options.Limits.MaxBytes), each within it or not.
func TestImportOCITooLarge(t *testing.T) {
	s, err := Open(t.TempDir(), Options{NoSync: true, Limits: extract.Options{MaxBytes: 100}})
	if err != nil {
		t.Fatal(err)
	}
	before := storeState(t, s)
	a := newTestLayer(t, ocitest.Gzip, ocitest.File("a", strings.Repeat("a", 60)))
	b := newTestLayer(t, ocitest.Gzip, ocitest.File("b", strings.Repeat("b", 60)))
	_, err = s.ImportOCI(context.Background(), ociOpts("big", digestOf([]byte("big")), a, b))
	if !errors.Is(err, extract.ErrTooLarge) || !strings.Contains(err.Error(), "120 bytes") {
		t.Fatalf("error %v", err)
	}
	if after := storeState(t, s); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("store changed: %v", after)
	}
	// The same layer twice counts once.
	if _, err := s.ImportOCI(context.Background(), ociOpts("twice", digestOf([]byte("twice")), a, a)); err != nil {
		t.Error(err)
	}
}
