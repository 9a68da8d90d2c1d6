package pod

import (
	"io/fs"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// podFiles reads the small files of one pod directory through a
// descriptor of the directory, with plain system calls: list and gc read
// five of them in each of a thousand pods, and os.ReadFile's os.File (a
// poller registration attempt and a fcntl per file, a path walk from the
// root per open) made those reads most of their cost.
type podFiles struct {
	dir string
	fd  int
}

// openPodFiles opens dir; the error wraps fs.ErrNotExist when it is gone.
func openPodFiles(dir string) (*podFiles, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return &podFiles{dir: dir, fd: fd}, nil
}

func (p *podFiles) close() { unix.Close(p.fd) }

// modTime returns when name was last written, and whether it exists.
func (p *podFiles) modTime(name string) (time.Time, bool) {
	var st unix.Stat_t
	if err := unix.Fstatat(p.fd, name, &st, 0); err != nil {
		return time.Time{}, false
	}
	return time.Unix(st.Mtim.Unix()), true
}

// read returns the contents of name, as os.ReadFile would (its errors are
// *fs.PathError naming the file).
func (p *podFiles) read(name string) ([]byte, error) {
	fd, err := unix.Openat(p.fd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: filepath.Join(p.dir, name), Err: err}
	}
	defer unix.Close(fd)
	b := make([]byte, 0, 512)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := unix.Read(fd, b[len(b):cap(b)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: filepath.Join(p.dir, name), Err: err}
		}
		if n == 0 {
			return b, nil
		}
		b = b[:len(b)+n]
	}
}
