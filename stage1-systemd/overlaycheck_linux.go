package stage1

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/dirent"
)

// checkOverlaySupport checks, before anything is mounted, that dir can hold
// overlay upper and work directories: it must not be on overlayfs itself,
// and must report file types in directory entries and store trusted xattrs.
func checkOverlaySupport(dir string) error {
	hint := "; run the pod with --no-overlay (a private copy of each image per pod) or move the data directory"
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		return fmt.Errorf("overlay check: %w", err)
	}
	if sfs.Type == unix.OVERLAYFS_SUPER_MAGIC {
		return fmt.Errorf("%s is on overlayfs, which cannot hold an overlay upper layer%s", dir, hint)
	}
	// Probe with what is there (no files created): a trusted xattr set and
	// removed on dir itself, and the type of an entry of its parent.
	const attr = "trusted.overlay.acirun-probe"
	if err := unix.Setxattr(dir, attr, []byte("y"), 0); err != nil {
		return fmt.Errorf("%s cannot store trusted.* extended attributes (%v), which overlayfs needs%s", dir, err, hint)
	}
	_ = unix.Removexattr(dir, attr)
	typ, err := dirent.Type(filepath.Dir(dir), filepath.Base(dir))
	if err != nil {
		return fmt.Errorf("overlay check: %w", err)
	}
	if typ == unix.DT_UNKNOWN {
		return fmt.Errorf("%s does not report file types in directory entries (d_type), which overlayfs needs%s", dir, hint)
	}
	return nil
}
