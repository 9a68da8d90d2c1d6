package archive

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// The overlayfs attributes an upper directory carries (Documentation/
// filesystems/overlayfs.rst). Build reads them when it merges an upper
// directory into a rootfs (BuildOptions.Upper) and stores none of them.
const (
	overlayXattrPrefix = "trusted.overlay."
	// overlayOpaque "y" on a directory: it hides the lower one's entries.
	overlayOpaque = overlayXattrPrefix + "opaque"
	// redirect_dir and metacopy mark entries whose data or name lives in
	// a lower layer elsewhere; acirun mounts its overlays without those
	// features, so an upper directory holding them was not made by it.
	overlayRedirect = overlayXattrPrefix + "redirect"
	overlayMetacopy = overlayXattrPrefix + "metacopy"
)

// addMerged stores, as name, what an overlay mount of upper over lower
// shows at this point: upper's entry when it has one (a whiteout, a
// character device 0/0, hides the name), else lower's; a directory in both
// holds the union of their entries unless upper's is opaque. Either path
// may be "" (no entry on that side). Entries are stored in sorted order, as
// Build's walk does.
func (b *builder) addMerged(lower, upper, name string) error {
	p := upper
	if p == "" {
		p = lower
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	opaque := false
	if upper != "" {
		xattrs, err := buildXattrs(upper)
		if err != nil {
			return fmt.Errorf("build: %s: %w", upper, err)
		}
		for _, k := range []string{overlayRedirect, overlayMetacopy} {
			if _, ok := xattrs[k]; ok {
				return fmt.Errorf("build: %s: the overlay attribute %s (redirect_dir or metacopy) cannot be exported: this upper directory was not made by acirun's overlay mounts", upper, k)
			}
		}
		opaque = xattrs[overlayOpaque] == "y"
	}
	if err := b.addInfo(p, name, fi); err != nil {
		return err
	}
	if !fi.IsDir() {
		return nil
	}
	if upper != "" && lower != "" {
		if lfi, err := os.Lstat(lower); err != nil || !lfi.IsDir() || opaque {
			lower = ""
		}
	}
	upperNames, err := dirNames(upper)
	if err != nil {
		return err
	}
	lowerNames, err := dirNames(lower)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(upperNames)+len(lowerNames))
	for n := range upperNames {
		names = append(names, n)
	}
	for n := range lowerNames {
		if !upperNames[n] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		lo, up := "", ""
		if lowerNames[n] {
			lo = filepath.Join(lower, n)
		}
		if upperNames[n] {
			up = filepath.Join(upper, n)
			ufi, err := os.Lstat(up)
			if err != nil {
				return fmt.Errorf("build: %w", err)
			}
			if isWhiteout(ufi) {
				continue
			}
			if !ufi.IsDir() {
				lo = "" // upper's file replaces whatever lower had
			}
		}
		if err := b.addMerged(lo, up, name+"/"+n); err != nil {
			return err
		}
	}
	return nil
}

// dirNames returns the set of names in directory dir ("" has none).
func dirNames(dir string) (map[string]bool, error) {
	if dir == "" {
		return nil, nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	defer f.Close()
	list, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("build: %s: %w", dir, err)
	}
	names := make(map[string]bool, len(list))
	for _, n := range list {
		names[n] = true
	}
	return names, nil
}

// isWhiteout says whether fi is an overlayfs whiteout: a character device
// with device number 0/0.
func isWhiteout(fi fs.FileInfo) bool {
	return fi.Mode()&fs.ModeCharDevice != 0 && fi.Mode()&fs.ModeDevice != 0 && deviceNumber(fi) == 0
}
