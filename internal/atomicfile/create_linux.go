package atomicfile

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/regfile"
)

// createTemp creates a new file in dir named prefix and a random number,
// mode 0600, open for reading and writing, as os.CreateTemp does, but
// opened with regfile.OpenFile: a pod's start writes several files this
// way (its pid files, the apps' records, the exit record) on its way.
func createTemp(dir, prefix string) (*os.File, error) {
	for range 10000 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		f, err := regfile.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, &fs.PathError{Op: "createtemp", Path: filepath.Join(dir, prefix+"*"), Err: fs.ErrExist}
}

// rename moves the complete temporary file over path: rename(2) itself,
// without os.Rename's lstat of path first (which only turns renaming over a
// directory into EEXIST; rename(2) refuses that too, with EISDIR).
func rename(tmp, path string) error {
	if err := unix.Rename(tmp, path); err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err}
	}
	return nil
}
