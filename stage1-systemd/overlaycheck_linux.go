package stage1

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// overlayfsMagic is OVERLAYFS_SUPER_MAGIC.
const overlayfsMagic = 0x794c7630

// checkOverlaySupport checks, before anything is mounted, that dir can hold
// overlay upper and work directories: it must not be on overlayfs itself,
// and must report file types in directory entries and store trusted xattrs.
func checkOverlaySupport(dir string) error {
	hint := "; run the pod with --no-overlay (a private copy of each image per pod) or move the data directory"
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		return fmt.Errorf("overlay check: %w", err)
	}
	if sfs.Type == overlayfsMagic {
		return fmt.Errorf("%s is on overlayfs, which cannot hold an overlay upper layer%s", dir, hint)
	}
	// Probe with what is there (no files created): a trusted xattr set and
	// removed on dir itself, and the type of an entry of its parent.
	const attr = "trusted.overlay.acirun-probe"
	if err := unix.Setxattr(dir, attr, []byte("y"), 0); err != nil {
		return fmt.Errorf("%s cannot store trusted.* extended attributes (%v), which overlayfs needs%s", dir, err, hint)
	}
	_ = unix.Removexattr(dir, attr)
	ok, err := direntHasType(filepath.Dir(dir), filepath.Base(dir))
	if err != nil {
		return fmt.Errorf("overlay check: %w", err)
	}
	if !ok {
		return fmt.Errorf("%s does not report file types in directory entries (d_type), which overlayfs needs%s", dir, hint)
	}
	return nil
}

// direntHasType reads dir with getdents64 and reports whether the entry name
// carries a file type (not DT_UNKNOWN).
func direntHasType(dir, name string) (bool, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			return false, err
		}
		if n == 0 {
			return false, fmt.Errorf("%s not listed in %s", name, dir)
		}
		for b := buf[:n]; len(b) >= 19; {
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < 19 || reclen > len(b) {
				return false, errors.New("malformed directory entry")
			}
			typ := b[18]
			nm := b[19:reclen]
			if i := bytes.IndexByte(nm, 0); i >= 0 {
				nm = nm[:i]
			}
			if string(nm) == name {
				return typ != unix.DT_UNKNOWN, nil
			}
			b = b[reclen:]
		}
	}
}
