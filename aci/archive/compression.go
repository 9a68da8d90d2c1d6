package archive

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/ulikunitz/xz"
)

// Compression names the outer encoding of an ACI file. The spec allows a
// plain tar or one compressed with gzip, bzip2 or xz; which one is in use is
// decided by the magic bytes at the start of the stream, never by the file
// name and never by running an external program.
type Compression int

// The compressions an ACI may use.
const (
	// CompressionUnknown means the stream starts with none of the known
	// magic numbers and is not a tar either.
	CompressionUnknown Compression = iota
	// CompressionNone is a plain tar ("ustar" at offset 257).
	CompressionNone
	CompressionGzip
	CompressionBzip2
	CompressionXz
)

// String returns the name used on the command line (--compression=NAME).
func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionGzip:
		return "gzip"
	case CompressionBzip2:
		return "bzip2"
	case CompressionXz:
		return "xz"
	}
	return "unknown"
}

// ParseCompression is the inverse of Compression.String for the four known
// names.
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "none", "tar":
		return CompressionNone, nil
	case "gzip", "gz":
		return CompressionGzip, nil
	case "bzip2", "bz2":
		return CompressionBzip2, nil
	case "xz":
		return CompressionXz, nil
	}
	return CompressionUnknown, fmt.Errorf("unknown compression %q (want gzip, bzip2, xz or none)", s)
}

// The magic numbers, as constants so that nothing can change them.
const (
	magicGzip  = "\x1f\x8b"
	magicBzip2 = "BZh"
	magicXz    = "\xfd7zXZ\x00"
	magicUstar = "ustar"
)

// tarMagicOffset is where a POSIX/GNU tar header holds its "ustar" magic.
const tarMagicOffset = 257

// DetectCompression looks at the first bytes of an ACI stream (at least 262
// bytes for a plain tar to be recognised) and says how it is encoded.
func DetectCompression(head []byte) Compression {
	switch {
	case bytes.HasPrefix(head, []byte(magicXz)):
		return CompressionXz
	case bytes.HasPrefix(head, []byte(magicGzip)):
		return CompressionGzip
	case bytes.HasPrefix(head, []byte(magicBzip2)):
		return CompressionBzip2
	case len(head) >= tarMagicOffset+len(magicUstar) &&
		string(head[tarMagicOffset:tarMagicOffset+len(magicUstar)]) == magicUstar:
		return CompressionNone
	}
	return CompressionUnknown
}

// Decompress detects the compression of r by its magic bytes and returns a
// reader of the uncompressed tar stream. The decompressors are pure Go and run
// in this process. Closing the returned reader does not close r.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(tarMagicOffset + len(magicUstar))
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, CompressionUnknown, fmt.Errorf("read header: %w", err)
	}
	c := DetectCompression(head)
	switch c {
	case CompressionNone:
		return io.NopCloser(br), c, nil
	case CompressionGzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, c, headerError(c, err)
		}
		return zr, c, nil
	case CompressionBzip2:
		return io.NopCloser(bzip2.NewReader(br)), c, nil
	case CompressionXz:
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, c, headerError(c, err)
		}
		return io.NopCloser(xr), c, nil
	}
	if len(head) == 0 {
		return nil, c, fmt.Errorf("empty file")
	}
	return nil, c, fmt.Errorf("unrecognised format: not a tar, gzip, bzip2 or xz stream")
}

// headerError describes a failure to read a compressed stream's header. The
// decompressors' own messages already name the format ("gzip: invalid
// header"); a bare end of input does not.
func headerError(c Compression, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("truncated %s header: %w", c, io.ErrUnexpectedEOF)
	}
	if strings.HasPrefix(err.Error(), c.String()+":") {
		return err
	}
	return fmt.Errorf("%s: %w", c, err)
}
