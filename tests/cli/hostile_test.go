package cli

import (
	"archive/tar"
	"os"
	"path/filepath"
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
