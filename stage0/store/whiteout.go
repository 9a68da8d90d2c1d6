package store

import (
	"fmt"
	"path"
	"strings"
)

// The OCI layer format's whiteout names (image-spec layer.md, AUFS's): a
// file ".wh.NAME" says that NAME, in the same directory, is removed from
// the layers below; ".wh..wh..opq" says that its directory hides everything
// the layers below put in it. Other ".wh..wh." names are AUFS's own
// bookkeeping (hard link directories), never meant to be extracted.
const (
	whiteoutPrefix     = ".wh."
	whiteoutMetaPrefix = ".wh..wh."
	whiteoutOpaque     = ".wh..wh..opq"
)

// whiteoutKind says what a layer entry's name means.
type whiteoutKind int

const (
	// notWhiteout is an ordinary entry, extracted as it is.
	notWhiteout whiteoutKind = iota
	// whiteoutFile removes the target from the layers below.
	whiteoutFile
	// whiteoutOpaqueDir hides what the layers below put in the target
	// directory (which this layer keeps).
	whiteoutOpaqueDir
	// whiteoutMeta is AUFS bookkeeping: skipped.
	whiteoutMeta
)

// parseWhiteout classifies the clean name of a layer entry (as
// extract.CleanName gives it: relative, no "." or ".." components, "." for
// the root) and returns the clean name its whiteout applies to. A whiteout
// that names nothing (".wh."), its own directory or a parent (".wh..",
// ".wh...") is an error: a layer cannot reach above the directory it is in.
func parseWhiteout(name string) (whiteoutKind, string, error) {
	dir, base := path.Split(name)
	if !strings.HasPrefix(base, whiteoutPrefix) {
		return notWhiteout, "", nil
	}
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	switch {
	case base == whiteoutOpaque:
		return whiteoutOpaqueDir, dir, nil
	case strings.HasPrefix(base, whiteoutMetaPrefix):
		return whiteoutMeta, "", nil
	}
	target := base[len(whiteoutPrefix):]
	if target == "" || target == "." || target == ".." || strings.ContainsAny(target, "/\x00") {
		return notWhiteout, "", fmt.Errorf("whiteout %q names no entry of its directory", name)
	}
	if dir == "." {
		return whiteoutFile, target, nil
	}
	return whiteoutFile, dir + "/" + target, nil
}
