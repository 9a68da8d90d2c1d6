package pod

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPodFilesRead: podFiles reads what os.ReadFile would, of every size
// around its first buffer's, and reports a missing file as fs.ErrNotExist
// naming it.
func TestPodFilesRead(t *testing.T) {
	dir := t.TempDir()
	f, err := openPodFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	for _, size := range []int{0, 1, 511, 512, 513, 1024, 100_000} {
		want := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
		name := "f" + string(rune('a'+size%26))
		if err := os.WriteFile(filepath.Join(dir, name), want, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := f.read(name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("read of %d bytes: %d bytes, %v", size, len(got), err)
		}
	}
	_, err = f.read("missing")
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Path != filepath.Join(dir, "missing") {
		t.Errorf("read of a missing file: %v, want a path error wrapping fs.ErrNotExist", err)
	}
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 6000, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "fa"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if got, ok := f.modTime("fa"); !ok || !got.Equal(mtime) {
		t.Errorf("modTime: %v %v, want %v true", got, ok, mtime)
	}
	if _, ok := f.modTime("missing"); ok {
		t.Error("modTime of a missing file: exists")
	}
	if _, err := openPodFiles(filepath.Join(dir, "gone")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("openPodFiles of a missing directory: %v, want fs.ErrNotExist", err)
	}
}

// TestPodFilesReadMarked: readMarked reads whole files of every size
// around its buffer's, reusing the buffer it is given when it suffices.
func TestPodFilesReadMarked(t *testing.T) {
	dir := t.TempDir()
	f, err := openPodFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	var buf []byte
	for _, size := range []int{0, 1, 511, 512, 513, 1024, 100_000, 10} {
		want := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
		if err := os.WriteFile(filepath.Join(dir, "f"), want, 0o644); err != nil {
			t.Fatal(err)
		}
		before := cap(buf)
		got, err := f.readMarked("f", buf)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("read of %d bytes: %d bytes, %v", size, len(got), err)
		}
		if size < before && &got[:1][0] != &buf[:1][0] {
			t.Errorf("read of %d bytes into a buffer of %d: a new buffer", size, before)
		}
		buf = got
	}
	if _, err := f.readMarked("missing", buf); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read of a missing file: %v, want fs.ErrNotExist", err)
	}
}
