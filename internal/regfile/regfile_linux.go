// Package regfile opens regular files as *os.File without os.OpenFile's
// attempt to put them under the runtime's poller.
//
// For every file it opens, os.OpenFile switches the descriptor to
// non-blocking, asks epoll to watch it, which the kernel refuses for a
// regular file (EPERM), and switches it back: four system calls besides the
// open. A pod's start opens a dozen small files (lock files, its state
// files) on its way; each costs one fcntl with OpenFile here.
package regfile

import (
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// OpenFile is os.OpenFile for a regular file (or one the caller will only
// use with blocking calls): open(2) with O_CLOEXEC added, again if a
// signal interrupted it (as os.OpenFile does), and os.NewFile of the
// descriptor. Its error is an *fs.PathError, as os.OpenFile's.
func OpenFile(path string, flags int, perm os.FileMode) (*os.File, error) {
	for {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, uint32(perm.Perm()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}

// ReadFile is os.ReadFile for a small regular file: opened with OpenFile,
// read to its end. The pod network's lease files are read this way, on
// every pod's start and end.
func ReadFile(path string) ([]byte, error) {
	f, err := OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// WriteFile is os.WriteFile for a small regular file, or a control file
// of the kernel's (a cgroup's tasks or pids.max): opened with OpenFile
// (O_WRONLY|O_CREATE|O_TRUNC, perm before the umask), written, closed.
// The pod's PID 1 writes its cgroups' this way, on the way to every app's
// start.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	f, err := OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
