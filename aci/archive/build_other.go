//go:build !linux

package archive

import (
	"errors"
	"io/fs"
)

// Building reads inode numbers and extended attributes, which this package
// only knows how to do on Linux. Reading and validating ACIs works anywhere.

const buildNoFollow = 0

func buildInodeOf(fs.FileInfo) (buildInode, uint64, bool) { return buildInode{}, 0, false }

func buildXattrs(string) (map[string]string, error) {
	return nil, errors.New("building ACIs is only supported on Linux")
}

func deviceNumber(fs.FileInfo) uint64 { return ^uint64(0) }
