// Package atomicfile writes files that readers see whole or not at all: the
// store's index entries, trusted keys, exported images and a pod's state
// files. A file is written to a hidden temporary file beside its path and
// renamed (or linked) into place only once it is complete, so that a failed
// write or a crash leaves the old file, or none, and at most a hidden
// temporary file.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Options say how a file is written.
type Options struct {
	// Perm is the file's mode; 0 means 0644.
	Perm os.FileMode
	// NoReplace fails, with an error matching fs.ErrExist, if path exists
	// when the file is put in place, where a rename would replace it.
	NoReplace bool
	// NoSync skips the fsync of the file and of its directory: for what
	// does not need to survive a power cut (and for tests).
	NoSync bool
	// Ready, if set, is called once the temporary file is complete (and
	// synced), before it is put in place; an error from it fails the
	// write, leaving path as it was. A caller whose file must not appear
	// before something else is durable waits for that here, so that the
	// file's own write and sync overlap with the wait.
	Ready func() error
}

// Write writes path with what write writes to it. Unless NoSync, the file is
// on disk, under its name, when Write returns nil.
func Write(path string, opts Options, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	perm := opts.Perm
	if perm == 0 {
		perm = 0o644
	}
	f, err := createTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if !opts.NoSync {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if opts.Ready != nil {
		if err := opts.Ready(); err != nil {
			return err
		}
	}
	if opts.NoReplace {
		// A hard link fails if path exists; the temporary name goes after.
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%w (not replaced)", fs.ErrExist)
			}
			return err
		}
		os.Remove(tmp)
	} else if err := rename(tmp, path); err != nil {
		return err
	}
	if !opts.NoSync {
		if err := SyncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile is Write of data.
func WriteFile(path string, data []byte, opts Options) error {
	return Write(path, opts, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// SyncDir fsyncs a directory, so that the names created, renamed or removed
// in it are on disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
