package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	failed := errors.New("the writer failed")
	for _, tc := range []struct {
		name     string
		existing string // "" for none
		opts     Options
		write    func(io.Writer) error
		want     string // content afterwards ("" for no file)
		mode     os.FileMode
		err      error
	}{
		{name: "new", write: text("new\n"), want: "new\n", mode: 0o644},
		{name: "new, no sync, mode 0600", opts: Options{Perm: 0o600, NoSync: true}, write: text("x"), want: "x", mode: 0o600},
		{name: "replace", existing: "old", write: text("new"), want: "new", mode: 0o644},
		{name: "no replace, none there", opts: Options{NoReplace: true}, write: text("new"), want: "new", mode: 0o644},
		{name: "no replace, one there", existing: "old", opts: Options{NoReplace: true}, write: text("new"), want: "old", mode: 0o600, err: fs.ErrExist},
		{name: "writer fails", existing: "old", write: func(w io.Writer) error { w.Write([]byte("part")); return failed }, want: "old", mode: 0o600, err: failed},
		{name: "writer fails, none there", write: func(io.Writer) error { return failed }, err: failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if tc.existing != "" {
				if err := os.WriteFile(path, []byte(tc.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := Write(path, tc.opts, tc.write)
			if tc.err == nil && err != nil || tc.err != nil && (!errors.Is(err, tc.err) || !strings.Contains(err.Error(), path)) {
				t.Fatalf("Write: %v, want %v naming %s", err, tc.err, path)
			}
			b, rerr := os.ReadFile(path)
			switch {
			case tc.want == "" && !errors.Is(rerr, fs.ErrNotExist):
				t.Errorf("file after a failed write: %q, %v", b, rerr)
			case tc.want != "" && string(b) != tc.want:
				t.Errorf("content %q (%v), want %q", b, rerr, tc.want)
			}
			if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() != tc.mode {
				t.Errorf("mode %v, want %v", fi.Mode().Perm(), tc.mode)
			}
			if ents, _ := os.ReadDir(dir); len(ents) > 1 || len(ents) == 1 && ents[0].Name() != "f" {
				t.Errorf("left in the directory: %v", ents)
			}
		})
	}
}

func TestWriteFileAndSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFile(filepath.Join(dir, "a"), []byte("a"), Options{}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "a")); err != nil || string(b) != "a" {
		t.Errorf("WriteFile: %q, %v", b, err)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "a"), nil, Options{}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("WriteFile into a missing directory: %v", err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "sync "+dir) {
		t.Errorf("SyncDir of a missing directory: %v", err)
	}
}

func text(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

// TestWriteOverDirectory: a directory where the file goes is not replaced
// (rename(2) refuses it) and no temporary file is left beside it.
func TestWriteOverDirectory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(path, []byte("x"), Options{NoSync: true})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("WriteFile over a directory: %v, want an error naming %s", err, path)
	}
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		t.Errorf("the directory after the write: %v, %v", fi, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("left in the directory: %v", ents)
	}
}

// TestWriteReady: Options.Ready runs once the temporary file is complete,
// before the file appears at its path; its error fails the write and
// leaves the old file and no temporary one.
func TestWriteReady(t *testing.T) {
	failed := errors.New("not ready")
	for _, fail := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		called := 0
		err := WriteFile(path, []byte("new"), Options{Ready: func() error {
			called++
			if b, _ := os.ReadFile(path); string(b) != "old" {
				t.Errorf("when ready: %s holds %q, want the old content", path, b)
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 2 {
				t.Errorf("when ready: %v in the directory, want the file and the temporary one", ents)
			} else if b, _ := os.ReadFile(filepath.Join(dir, ents[0].Name())); string(b) != "new" {
				t.Errorf("when ready: the temporary file %s holds %q, want it complete", ents[0].Name(), b)
			}
			if fail {
				return failed
			}
			return nil
		}})
		want := "new"
		if fail {
			want = "old"
			if !errors.Is(err, failed) {
				t.Errorf("Write with Ready failing: %v, want %v", err, failed)
			}
		} else if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != want || called != 1 {
			t.Errorf("fail %v: %q after the write, Ready called %d times; want %q, once", fail, b, called, want)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("fail %v: left in the directory: %v", fail, ents)
		}
	}
}
