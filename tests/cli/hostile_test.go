package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tarEntry is one entry of an archive written by writeTar: a header, and
// the body of a regular file.
type tarEntry struct {
	hdr  tar.Header
	body string
}

// writeTar writes an uncompressed tar of entries to path; regular files get
// their body's size.
func writeTar(t *testing.T, path string, entries []tarEntry) {
	t.Helper()
	f, err := os.Create(path)
	must(t, err)
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if h.Mode == 0 {
			h.Mode = 0o755
		}
		must(t, tw.WriteHeader(&h))
		if h.Typeflag == tar.TypeReg {
			_, err := tw.Write([]byte(e.body))
			must(t, err)
		}
	}
	must(t, tw.Close())
	must(t, f.Close())
}

// TestFetchWarnsOfDevices: device nodes in an image are left out of its
// tree and the fetch that imports it says so once, naming the count and the
// first; a second fetch of the same image says nothing more.
func TestFetchWarnsOfDevices(t *testing.T) {
	img := filepath.Join(t.TempDir(), "dev.aci")
	writeTar(t, img, []tarEntry{
		{hdr: tar.Header{Name: "rootfs", Typeflag: tar.TypeDir}},
		{hdr: tar.Header{Name: "rootfs/dev", Typeflag: tar.TypeDir}},
		{hdr: tar.Header{Name: "rootfs/dev/sda", Typeflag: tar.TypeBlock, Mode: 0o666, Devmajor: 8}},
		{hdr: tar.Header{Name: "rootfs/dev/mem", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 1}},
		{hdr: tar.Header{Name: "rootfs/bin/hello", Typeflag: tar.TypeReg}, body: "#!/bin/sh\n"},
		{hdr: tar.Header{Name: "manifest", Typeflag: tar.TypeReg, Mode: 0o644}, body: helloManifest},
	})
	data := t.TempDir()
	r := mustRun(t, "--dir", data, "fetch", "--insecure-options=image", img)
	want := "image example.com/hello (sha512-"
	if strings.Count(r.stderr, "device node") != 1 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "2 device nodes left out (the first is /dev/sda)") {
		t.Errorf("fetch's stderr %q: want one warning naming the image, 2 device nodes and /dev/sda", r.stderr)
	}
	t.Log(r.stderr)
	r = mustRun(t, "--dir", data, "fetch", "--insecure-options=image", img)
	if strings.Contains(r.stderr, "device node") {
		t.Errorf("second fetch of the same image warns again: %q", r.stderr)
	}
}

// zeroBomb writes to path a gzip ACI of about 10 MB whose one file,
// rootfs/zeros, is announced as 10 GiB of zeros: gzip members of zeros
// concatenated (a multistream gzip, as gzip -dc reads it), so that building
// it costs next to nothing.
func zeroBomb(t *testing.T, path string) {
	t.Helper()
	var head bytes.Buffer
	tw := tar.NewWriter(&head)
	must(t, tw.WriteHeader(&tar.Header{Name: "rootfs", Typeflag: tar.TypeDir, Mode: 0o755}))
	must(t, tw.WriteHeader(&tar.Header{Name: "rootfs/zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: 10 << 30}))
	// No Flush: the content is not written through tw.
	member := func(b []byte) []byte {
		var out bytes.Buffer
		zw := gzip.NewWriter(&out)
		_, err := zw.Write(b)
		must(t, err)
		must(t, zw.Close())
		return out.Bytes()
	}
	f, err := os.Create(path)
	must(t, err)
	defer f.Close()
	_, err = f.Write(member(head.Bytes()))
	must(t, err)
	zeros := member(make([]byte, 1<<20))
	for range 10 << 10 {
		_, err = f.Write(zeros)
		must(t, err)
	}
	must(t, f.Close())
}

// storeLeftovers lists what is in the store's directories of images and
// staging (blobs, trees, layers, tmp, the index) below data.
func storeLeftovers(t *testing.T, data string) []string {
	t.Helper()
	var out []string
	for _, d := range []string{"blobs", "trees", "layers", "tmp", "images"} {
		ents, err := os.ReadDir(filepath.Join(data, "store", d))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range ents {
			out = append(out, d+"/"+e.Name())
		}
	}
	return out
}

// TestFetchRefusesBomb: a 10 MB gzip ACI announcing a 10 GiB file is
// refused by the default bound on what one image may expand to, before its
// content is written, naming the limit and how to raise it, and leaves
// nothing in the store; the bound is the store's setting in
// LOCAL-CONFIG/store.d, and fetch --max-image-size overrides it.
func TestFetchRefusesBomb(t *testing.T) {
	bomb := filepath.Join(t.TempDir(), "bomb.aci")
	zeroBomb(t, bomb)
	if fi, err := os.Stat(bomb); err != nil || fi.Size() > 12<<20 {
		t.Fatalf("bomb: %v, %v", fi, err)
	}
	data := t.TempDir()
	r := acirun(t, "--dir", data, "fetch", "--insecure-options=image", bomb)
	if r.code != 254 || !strings.Contains(r.stderr, `"rootfs/zeros"`) || !strings.Contains(r.stderr, "more than the limit of 8589934592 bytes") || !strings.Contains(r.stderr, "--max-image-size") {
		t.Errorf("fetch of the bomb: exit %d, stderr %q; want 254 naming the entry, the limit and --max-image-size", r.code, r.stderr)
	}
	if left := storeLeftovers(t, data); len(left) != 0 {
		t.Errorf("the refused bomb left %v in the store", left)
	}

	// An ordinary image of 2 MiB of content, against limits of 1 MiB.
	dir := imageDir(t, helloManifest)
	must(t, os.WriteFile(filepath.Join(dir, "rootfs", "big"), bytes.Repeat([]byte("0123456789abcdef"), 128<<10), 0o644))
	img := filepath.Join(t.TempDir(), "hello.aci")
	mustRun(t, "image", "build", dir, img)
	local := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(local, "store.d"), 0o755))
	must(t, os.WriteFile(filepath.Join(local, "store.d", "size.json"), []byte(`{"rktKind": "store", "rktVersion": "v1", "maxImageSize": "1Mi"}`), 0o644))
	for _, tc := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"flag below", []string{"--dir", t.TempDir(), "fetch", "--max-image-size=1Mi"}, false},
		{"store.d below", []string{"--dir", t.TempDir(), "--local-config", local, "fetch"}, false},
		{"flag over store.d", []string{"--dir", t.TempDir(), "--local-config", local, "fetch", "--max-image-size=16Mi"}, true},
		{"bad flag", []string{"--dir", t.TempDir(), "fetch", "--max-image-size=lots"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := acirun(t, append(tc.args, "--insecure-options=image", img)...)
			if tc.ok {
				if r.code != 0 {
					t.Fatalf("exit %d: %s", r.code, r.stderr)
				}
				return
			}
			if tc.name == "bad flag" {
				if r.code != 2 || !strings.Contains(r.stderr, `--max-image-size: "lots" is not a valid quantity`) {
					t.Errorf("exit %d, stderr %q; want a usage error", r.code, r.stderr)
				}
				return
			}
			if r.code != 254 || !strings.Contains(r.stderr, "more than the limit of 1048576 bytes") {
				t.Errorf("exit %d, stderr %q; want 254 naming the limit", r.code, r.stderr)
			}
		})
	}
}

// TestFetchTraces: with ACIRUN_TRACE set, the fetch helper says the steps
// of its import on acirun's standard error, in order, after acirun's main.
func TestFetchTraces(t *testing.T) {
	img := filepath.Join(t.TempDir(), "hello.aci")
	writeTar(t, img, []tarEntry{
		{hdr: tar.Header{Name: "rootfs", Typeflag: tar.TypeDir}},
		{hdr: tar.Header{Name: "rootfs/bin/hello", Typeflag: tar.TypeReg}, body: "#!/bin/sh\n"},
		{hdr: tar.Header{Name: "manifest", Typeflag: tar.TypeReg, Mode: 0o644}, body: helloManifest},
	})
	t.Setenv("ACIRUN_TRACE", "1")
	r := mustRun(t, "--dir", t.TempDir(), "fetch", "--insecure-options=image", img)
	var steps []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if _, step, ok := strings.Cut(l, "]: "); ok && strings.Contains(l, "acirun trace") {
			who, _, _ := strings.Cut(l[strings.Index(l, "ms  ")+4:], "[")
			step, _, _ = strings.Cut(step, " (")
			steps = append(steps, who+": "+step)
		}
	}
	want := []string{"acirun: main", "fetch helper: import: started", "fetch helper: import: archive walked", "fetch helper: import: image checked",
		"fetch helper: import: tree finished", "fetch helper: import: tree hashed", "fetch helper: import: stored copy synced",
		"fetch helper: import: committed", "fetch helper: answered", "acirun: exit 0"}
	if !slices.Equal(steps, want) {
		t.Errorf("trace steps %q, want %q\nstderr:\n%s", steps, want, r.stderr)
	}
}
