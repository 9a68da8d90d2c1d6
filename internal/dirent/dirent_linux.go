// Package dirent reads directory entries as the kernel reports them
// (getdents64), for what os.ReadDir hides: whether the file system fills in
// an entry's type (d_type), which overlayfs needs of the directory that
// holds its upper layer. Both stages check it before they mount anything,
// so that the user is told to use --no-overlay instead of seeing a mount
// fail halfway.
package dirent

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Type returns the d_type that getdents64 reports for the entry name of
// dir: unix.DT_UNKNOWN where the file system does not fill it in. An entry
// that is not there is an error.
func Type(dir, name string) (uint8, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("read directory %s: %w", dir, err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			return 0, fmt.Errorf("read directory %s: %w", dir, err)
		}
		if n == 0 {
			return 0, fmt.Errorf("read directory %s: %s is not listed", dir, name)
		}
		typ, found, err := find(buf[:n], name)
		if err != nil {
			return 0, fmt.Errorf("read directory %s: %w", dir, err)
		}
		if found {
			return typ, nil
		}
	}
}

// find looks for name among the struct linux_dirent64 records in b (ino
// u64, off s64, reclen u16, type u8, then the name, NUL-terminated and
// padded) and returns its type.
func find(b []byte, name string) (typ uint8, found bool, err error) {
	for len(b) > 0 {
		if len(b) < 19 {
			return 0, false, errors.New("malformed directory entry")
		}
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		if reclen < 19 || reclen > len(b) {
			return 0, false, errors.New("malformed directory entry")
		}
		nm := b[19:reclen]
		if i := bytes.IndexByte(nm, 0); i >= 0 {
			nm = nm[:i]
		}
		if string(nm) == name {
			return b[18], true, nil
		}
		b = b[reclen:]
	}
	return 0, false, nil
}
