package pod

import (
	"io/fs"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// podFiles reads the small files of one pod directory through a directory
// descriptor, with plain system calls: list and gc read five of them in
// each of a thousand pods, and os.ReadFile's os.File (a poller
// registration attempt and a fcntl per file, a path walk from the root per
// open) made those reads most of their cost.
type podFiles struct {
	dir  string // the pod directory's path, for Pod.Dir and errors
	fd   int    // a directory descriptor
	rel  string // the pod directory relative to fd
	owns bool   // close closes fd
}

// openPodFiles opens dir; the error wraps fs.ErrNotExist when it is gone.
func openPodFiles(dir string) (*podFiles, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return &podFiles{dir: dir, fd: fd, rel: ".", owns: true}, nil
}

// podFilesAt reads the pod directory name in the directory of podsFd (the
// pods directory, whose path is podsDir) without opening it: List reaches
// each file of a thousand pods with one path step from podsFd, and saves
// an open and a close per pod.
func podFilesAt(podsFd int, podsDir, name string) *podFiles {
	return &podFiles{dir: podsDir + "/" + name, fd: podsFd, rel: name}
}

func (p *podFiles) close() {
	if p.owns {
		unix.Close(p.fd)
	}
}

// path is name's path relative to fd.
func (p *podFiles) path(name string) string { return p.rel + "/" + name }

// exists reports whether the pod directory itself is still there; an
// error other than its absence counts as there.
func (p *podFiles) exists() bool {
	var st unix.Stat_t
	return unix.Fstatat(p.fd, p.rel, &st, 0) != unix.ENOENT
}

// modTime returns when name was last written, and whether it exists.
func (p *podFiles) modTime(name string) (time.Time, bool) {
	var st unix.Stat_t
	if err := unix.Fstatat(p.fd, p.path(name), &st, 0); err != nil {
		return time.Time{}, false
	}
	return time.Unix(st.Mtim.Unix()), true
}

// read returns the contents of name, as os.ReadFile would (its errors are
// *fs.PathError naming the file).
func (p *podFiles) read(name string) ([]byte, error) {
	return p.readInto(name, make([]byte, 0, 512), false)
}

// readMarked is read for a file whose format marks its own end (the
// summary's "end" line), into buf, which it returns grown as needed: the
// caller reuses it from one pod to the next. A first read that does not
// fill buf is taken as the whole file, without the read(2) that would
// return 0: a short read of a regular file is its end, and were it not, the
// part read would lack its end mark (or the file is damaged after it).
func (p *podFiles) readMarked(name string, buf []byte) ([]byte, error) {
	if cap(buf) < 512 {
		buf = make([]byte, 0, 512)
	}
	return p.readInto(name, buf[:0], true)
}

func (p *podFiles) readInto(name string, b []byte, marked bool) ([]byte, error) {
	fd, err := unix.Openat(p.fd, p.path(name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: filepath.Join(p.dir, name), Err: err}
	}
	defer unix.Close(fd)
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
		if marked && len(b) < cap(b) {
			return b, nil
		}
	}
}
