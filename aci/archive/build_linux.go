package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// buildNoFollow makes Build's opens fail on a symlink swapped in for a file
// it has already looked at.
const buildNoFollow = unix.O_NOFOLLOW

// buildInodeOf returns the device and inode of a file and its link count.
func buildInodeOf(fi fs.FileInfo) (buildInode, uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return buildInode{}, 0, false
	}
	return buildInode{dev: uint64(st.Dev), ino: st.Ino}, uint64(st.Nlink), true
}

// buildXattrs returns the extended attributes of p itself (not of a symlink's
// target). A filesystem without xattr support has none.
func buildXattrs(p string) (map[string]string, error) {
	names, err := buildXattrCall(func(b []byte) (int, error) { return unix.Llistxattr(p, b) })
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list xattrs: %w", err)
	}
	if len(names) == 0 {
		return nil, nil
	}
	xattrs := make(map[string]string)
	for _, name := range bytes.Split(bytes.TrimSuffix(names, []byte{0}), []byte{0}) {
		if len(name) == 0 {
			continue
		}
		n := string(name)
		val, err := buildXattrCall(func(b []byte) (int, error) { return unix.Lgetxattr(p, n, b) })
		if errors.Is(err, unix.ENODATA) {
			continue // removed since it was listed
		}
		if err != nil {
			return nil, fmt.Errorf("read xattr %s: %w", n, err)
		}
		xattrs[n] = string(val)
	}
	return xattrs, nil
}

// buildXattrCall runs a size-then-fetch xattr call, retrying if the value
// grows between the two.
func buildXattrCall(call func([]byte) (int, error)) ([]byte, error) {
	for range 5 {
		n, err := call(nil)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, nil
		}
		b := make([]byte, n)
		n, err = call(b)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return b[:n], nil
	}
	return nil, unix.ERANGE
}

// deviceNumber returns a device node's device number (st_rdev).
func deviceNumber(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Rdev)
	}
	return ^uint64(0)
}
