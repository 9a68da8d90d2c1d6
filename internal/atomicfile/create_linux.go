package atomicfile

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// createTemp creates a new file in dir named prefix and a random number,
// mode 0600, open for reading and writing, as os.CreateTemp does. Its
// *os.File is made from the descriptor (os.NewFile: one fcntl), not by
// os.OpenFile, which switches a regular file to non-blocking, tries to
// register it with the runtime's poller (which refuses regular files) and
// switches it back: four system calls more for every file written, and a
// pod's start writes several (its pid files, the apps' records, the exit
// record) on its way.
func createTemp(dir, prefix string) (*os.File, error) {
	for range 10000 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		fd, err := unix.Open(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		if err == unix.EEXIST {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return os.NewFile(uintptr(fd), name), nil
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
