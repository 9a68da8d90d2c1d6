package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/acirun/acirun/aci"
)

// The two top-level names of an ACI (spec/aci.md): the image manifest, a
// regular file, and the directory holding the app's root filesystem.
const (
	ManifestEntry = "manifest"
	RootfsEntry   = "rootfs"
)

// MaxArchiveEntries caps the number of entries in an ACI. The duplicate
// check remembers every name (as a 16-byte hash), so without a cap a small,
// highly compressed archive of empty files could make WalkArchive use
// unbounded memory. Real images have at most a few hundred thousand files.
const MaxArchiveEntries = 1 << 20

// maxTrailer bounds the zero padding read after the end-of-archive marker.
// Tar writers pad to their record size (GNU tar: 10 KiB by default, at most
// a few MiB with a large blocking factor); more is a decompression bomb that
// would only burn CPU hashing zeros.
const maxTrailer = 16 << 20

// errTrailerTooLong ends a drain that read more than maxTrailer bytes.
var errTrailerTooLong = errors.New("trailer too long")

// ArchiveInfo is what one pass over an ACI learns about it.
type ArchiveInfo struct {
	// ID is the image ID: the SHA-512 of the whole uncompressed tar
	// stream, end-of-archive blocks and padding included, i.e. what
	// `gzip -dc FILE | sha512sum` prints.
	ID aci.ImageID
	// Compression is the outer encoding found by the magic bytes.
	Compression Compression
	// ManifestJSON is the content of the manifest entry, unparsed.
	ManifestJSON []byte
	// Entries counts the tar entries making up the image: manifest,
	// rootfs and everything below it (a leading "./" entry and pax global
	// headers are not counted).
	Entries int
	// ContentSize is the sum of the sizes of the regular files.
	ContentSize int64
	// TarSize is the length of the uncompressed tar stream.
	TarSize int64
	// ArchiveSize is the number of bytes read from the input, i.e. the
	// size of the ACI file as stored.
	ArchiveSize int64
}

// ArchiveError reports an ACI whose content is invalid: its layout, one of
// its entries, its tar structure or its compressed data. Errors reading the
// underlying input and errors returned by a WalkArchive callback are not
// ArchiveErrors, so a caller can tell a bad image from a failed download.
type ArchiveError struct {
	// Entry is the entry's name as stored in the archive, or "" when the
	// problem is with the archive as a whole.
	Entry string
	// Msg says what is wrong.
	Msg string
	// Err is the underlying decoder error, if any.
	Err error
}

// Error returns `entry "NAME": what is wrong: underlying error`, leaving out
// the parts that are empty.
func (e *ArchiveError) Error() string {
	var b strings.Builder
	if e.Entry != "" {
		fmt.Fprintf(&b, "entry %q: ", e.Entry)
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap gives errors.Is and errors.As access to the underlying error (for
// example io.ErrUnexpectedEOF, or the manifest's ErrorList).
func (e *ArchiveError) Unwrap() error { return e.Err }

func badEntry(name, format string, args ...any) *ArchiveError {
	return &ArchiveError{Entry: name, Msg: fmt.Sprintf(format, args...)}
}

// WalkArchive reads an ACI from r in one pass and in constant memory: it
// detects the compression by the magic bytes, hashes the uncompressed stream
// into the image ID while parsing the tar, and checks the layout strictly:
//
//   - at the top level exactly a regular file "manifest" (at most
//     MaxManifestSize bytes) and
//     a directory "rootfs", with everything else below "rootfs/";
//   - no name twice (names are compared cleaned: "./rootfs/a/" and
//     "rootfs/a" are the same entry), no absolute names, no ".." elements;
//   - hard links only to an earlier non-directory entry below "rootfs/",
//     symlinks with a non-empty target, only file, directory, link, device
//     and fifo entries;
//   - the stream ends with the tar end-of-archive marker, followed by
//     nothing but zero padding, and the compressed data is intact.
//
// A "./" entry at the top, as `tar -C dir -cf x.aci .` writes, is accepted
// and skipped, and pax global headers are skipped when they carry nothing but
// comments (as `git archive` writes).
//
// fn, if not nil, is called for "rootfs" and every entry below it, in
// archive order, with the header and the entry's body (which fn may read
// or not). The header's Name is cleaned ("rootfs/bin/sh", no "./" or
// trailing slash), a hard link's Linkname likewise, and an old-GNU sparse
// file arrives as TypeReg. fn is not called for the manifest, which may be
// anywhere in the archive (the appc reference writer puts it last): its
// bytes are in ArchiveInfo.ManifestJSON, unparsed. Because the layout can
// only be known to be valid at the end, a caller extracting through fn must
// discard its work if WalkArchive returns an error.
//
// Memory use is bounded whatever the number of entries: the names the
// rules need are kept in a window of a few MB, past which they are spilled
// to files in os.TempDir() (WalkArchiveIn picks another directory) and the
// rules that need an earlier name are applied at the end (see nameLedger). Reading r,
// decompressing and hashing each run in a goroutine of their own, side by
// side with fn; all have returned before WalkArchive does, so r is not read
// after it returns. r is read ahead of what the decompressor has used, up to
// a few MiB, and to its end for a valid archive.
func WalkArchive(r io.Reader, fn func(hdr *tar.Header, body io.Reader) error) (*ArchiveInfo, error) {
	return walkArchive(r, fn, walkConfig{maxEntries: MaxArchiveEntries})
}

// WalkArchiveIn is WalkArchive with the names it must remember spilled,
// past a few MB, to a temporary directory it makes in dir (see
// nameLedger), not os.TempDir(): the store's own, where an import stages.
func WalkArchiveIn(dir string, r io.Reader, fn func(hdr *tar.Header, body io.Reader) error) (*ArchiveInfo, error) {
	return walkArchive(r, fn, walkConfig{maxEntries: MaxArchiveEntries, spillDir: dir})
}

// walkConfig is what a walk's bounds and spill are; tests make them small.
type walkConfig struct {
	maxEntries int
	spillDir   string
	ledgerRecs int // records the ledger keeps in memory; 0 means ledgerMaxRecs
}

func walkArchive(r io.Reader, fn func(hdr *tar.Header, body io.Reader) error, cfg walkConfig) (*ArchiveInfo, error) {
	// The input is read ahead in a goroutine of its own (see walk_pipe.go).
	// src is looked at only once that goroutine has stopped.
	src := &countingReader{r: r}
	in := newWalkPipe(src, nil)
	defer in.stop()
	zr, comp, err := Decompress(in)
	if err != nil {
		in.stop()
		if src.err != nil {
			return nil, fmt.Errorf("read archive: %w", src.err)
		}
		return nil, &ArchiveError{Msg: "not an ACI", Err: err}
	}
	defer zr.Close()

	h := sha512.New()
	pipe := newWalkPipe(zr, h)
	defer pipe.stop()

	w := archiveWalker{
		info:  &ArchiveInfo{Compression: comp},
		names: newNameLedger(cfg.spillDir, cfg.ledgerRecs),
		pipe:  pipe,
		max:   cfg.maxEntries,
	}
	defer w.names.close()
	if err := w.walk(tar.NewReader(pipe), fn); err != nil {
		return nil, w.streamError(err, pipe, in, src)
	}
	nonZero, err := pipe.drain(maxTrailer)
	if err == errTrailerTooLong {
		return nil, &ArchiveError{Msg: fmt.Sprintf("more than %d bytes of zero padding after the end-of-archive marker", maxTrailer)}
	}
	if err != nil {
		return nil, w.streamError(err, pipe, in, src)
	}
	if nonZero >= 0 {
		return nil, &ArchiveError{Msg: fmt.Sprintf("data after the end-of-archive marker at offset %d", nonZero)}
	}
	// The rules the ledger could not apply as the entries came (see
	// nameLedger) are applied now.
	if n, err := w.names.finish(); err != nil {
		return nil, err
	} else if n > w.max {
		return nil, &ArchiveError{Msg: fmt.Sprintf("more than %d entries in the archive", w.max)}
	}
	if !w.haveManifest {
		return nil, &ArchiveError{Msg: "no manifest: an ACI must hold a regular file \"manifest\" at the top level"}
	}
	if !w.haveRootfs {
		return nil, &ArchiveError{Msg: "no rootfs: an ACI must hold a directory \"rootfs/\" at the top level"}
	}
	if w.info.ID, err = aci.ImageIDFromHash(h); err != nil {
		return nil, err
	}
	w.info.TarSize = pipe.recv
	pipe.stop()
	in.stop()
	w.info.ArchiveSize = src.n
	return w.info, nil
}

// streamError turns a failure reading the tar stream into the error
// WalkArchive returns: errors of fn and of the input pass through; the rest
// says where in the archive the stream broke. It stops the pipes first, so
// that src is no longer being read.
func (w *archiveWalker) streamError(err error, pipe, in *walkPipe, src *countingReader) error {
	pipe.stop()
	in.stop()
	var ae *ArchiveError
	if errors.As(err, &ae) {
		return err
	}
	where := "at the start"
	switch {
	case w.cur != "":
		where = fmt.Sprintf("in entry %q", w.cur)
	case w.last != "":
		where = fmt.Sprintf("in or after entry %q", w.last)
	}
	var fe *archiveFuncError
	if errors.As(err, &fe) {
		// fn failing because the body it was reading broke off is a
		// broken archive (or input), not fn's own failure.
		broken := errors.Is(fe.err, io.ErrUnexpectedEOF) || (pipe.err() != nil && errors.Is(fe.err, pipe.err()))
		if !broken {
			return fmt.Errorf("entry %q: %w", fe.entry, fe.err)
		}
		err = fe.err
	}
	if src.err != nil && errors.Is(err, src.err) {
		return fmt.Errorf("read archive: %w", err)
	}
	// A failure of the decompressor is a broken compressed stream; a tar
	// stream that breaks while the decompressor is fine is a broken tar.
	kind := "tar"
	if pipe.err() != nil && w.info.Compression != CompressionNone {
		kind = w.info.Compression.String()
	}
	what := "corrupt"
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		what = "truncated"
	case kind == "tar" && errors.Is(err, tar.ErrHeader):
		what = "invalid"
	}
	msg := fmt.Sprintf("%s %s stream %s (offset %d of the tar stream)", what, kind, where, pipe.pos)
	return &ArchiveError{Msg: msg, Err: err}
}

// archiveFuncError carries an error returned by the WalkArchive callback.
type archiveFuncError struct {
	entry string
	err   error
}

func (e *archiveFuncError) Error() string { return e.err.Error() }

type archiveWalker struct {
	info *ArchiveInfo
	// names knows every cleaned name met and its kind (kind* below),
	// implicit parents included, by a 128-bit hash: with per-process
	// random seeds a collision is not something an image author can
	// arrange.
	names        *nameLedger
	haveManifest bool
	haveRootfs   bool
	last         string // name of the last complete entry, for errors
	cur          string // name of the entry being read, for errors
	max          int    // most entries allowed
	pipe         *walkPipe
}

func (w *archiveWalker) walk(tr *tar.Reader, fn func(*tar.Header, io.Reader) error) error {
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return w.checkEnd()
		}
		if err != nil {
			return err
		}
		w.cur = hdr.Name
		if err := w.entry(tr, hdr, fn); err != nil {
			return err
		}
		w.last, w.cur = w.cur, ""
	}
}

// checkEnd tells a proper end-of-archive marker (two zero blocks) from a
// stream that simply stops at an entry boundary or after one zero block,
// which archive/tar also reports as io.EOF. After a proper marker archive/tar
// has not seen the end of our stream yet.
func (w *archiveWalker) checkEnd() error {
	if w.pipe.eof {
		where := "at the start"
		if w.last != "" {
			where = fmt.Sprintf("after entry %q", w.last)
		}
		return &ArchiveError{Msg: "truncated tar stream " + where + ": no end-of-archive marker"}
	}
	return nil
}

func (w *archiveWalker) entry(tr *tar.Reader, hdr *tar.Header, fn func(*tar.Header, io.Reader) error) error {
	raw := hdr.Name
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		for k := range hdr.PAXRecords {
			if k != "comment" {
				return badEntry(raw, "pax global header with record %q: global headers are not supported", k)
			}
		}
		return nil
	}
	name, err := cleanArchiveName(raw)
	if err != nil {
		return badEntry(raw, "%s", err)
	}
	if name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return badEntry(raw, "top-level \".\" entry is not a directory (type %s)", tarTypeName(hdr.Typeflag))
		}
		return nil
	}
	// The names met so far (implicit parents included) while the ledger
	// holds them all, the entries after that; the ledger counts the
	// names exactly at the end.
	if n := len(w.names.seen); (w.names.spilled() && w.info.Entries >= w.max) || (!w.names.spilled() && n >= w.max) {
		return badEntry(raw, "more than %d entries in the archive", w.max)
	}
	if _, err := w.names.apply(w.names.key(name), opEntry, hdr.Typeflag, raw, name); err != nil {
		return err
	}
	w.info.Entries++

	top, _, below := strings.Cut(name, "/")
	switch {
	case name == ManifestEntry:
		return w.manifest(tr, hdr, raw)
	case name == RootfsEntry:
		if hdr.Typeflag != tar.TypeDir {
			return badEntry(raw, "rootfs is not a directory (type %s)", tarTypeName(hdr.Typeflag))
		}
		w.haveRootfs = true
	case top == RootfsEntry && below:
		if err := w.rootfsEntry(hdr, name, raw); err != nil {
			return err
		}
	case top == ManifestEntry:
		return badEntry(raw, "entry below \"manifest\", which must be a regular file")
	default:
		return badEntry(raw, "unexpected top-level name %q: an ACI holds only \"manifest\" and \"rootfs/\"", top)
	}

	if hdr.Typeflag == tar.TypeReg {
		w.info.ContentSize += hdr.Size
	}
	if fn == nil {
		return nil
	}
	hdr.Name = name
	if err := fn(hdr, tr); err != nil {
		return &archiveFuncError{entry: name, err: err}
	}
	return nil
}

func (w *archiveWalker) manifest(tr *tar.Reader, hdr *tar.Header, raw string) error {
	if hdr.Typeflag != tar.TypeReg {
		return badEntry(raw, "manifest is not a regular file (type %s)", tarTypeName(hdr.Typeflag))
	}
	if hdr.Size > aci.MaxManifestSize {
		return badEntry(raw, "manifest is %d bytes, more than the limit of %d", hdr.Size, aci.MaxManifestSize)
	}
	var buf bytes.Buffer
	buf.Grow(int(hdr.Size))
	if _, err := io.Copy(&buf, tr); err != nil {
		return err
	}
	w.info.ManifestJSON = buf.Bytes()
	w.info.ContentSize += hdr.Size
	w.haveManifest = true
	return nil
}

func (w *archiveWalker) rootfsEntry(hdr *tar.Header, name, raw string) error {
	if _, err := CleanEntryName(strings.TrimPrefix(name, RootfsEntry+"/")); err != nil {
		return badEntry(raw, "%s", err)
	}
	if err := w.parents(name, raw); err != nil {
		return err
	}
	if !OwnerInRange(hdr) {
		return badEntry(raw, "owner %d:%d out of range (0 to %d)", hdr.Uid, hdr.Gid, int64(MaxID))
	}
	if err := CheckXattrs(hdr.PAXRecords); err != nil {
		return badEntry(raw, "%s", err)
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeDir, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	case tar.TypeGNUSparse:
		// archive/tar has already turned the sparse map into a
		// reader of the logical content.
		hdr.Typeflag = tar.TypeReg
	case tar.TypeSymlink:
		switch {
		case hdr.Linkname == "":
			return badEntry(raw, "symlink with an empty target")
		case len(hdr.Linkname) > MaxPathLen:
			return badEntry(raw, "symlink target is %d bytes long, more than %d", len(hdr.Linkname), MaxPathLen)
		case strings.IndexByte(hdr.Linkname, 0) >= 0:
			return badEntry(raw, "symlink target contains a NUL byte")
		}
	case tar.TypeLink:
		target, err := cleanArchiveName(hdr.Linkname)
		if err != nil {
			return badEntry(raw, "hard link target %q: %s", hdr.Linkname, err)
		}
		if t, _, _ := strings.Cut(target, "/"); t != RootfsEntry || target == RootfsEntry {
			return badEntry(raw, "hard link to %q, which is not below rootfs/", hdr.Linkname)
		}
		if target == name {
			return badEntry(raw, "hard link to %q, which is not an earlier entry", hdr.Linkname)
		}
		if _, err := w.names.apply(w.names.key(target), opLink, hdr.Typeflag, raw, hdr.Linkname); err != nil {
			return err
		}
		hdr.Linkname = target
	default:
		return badEntry(raw, "unsupported entry type %s", tarTypeName(hdr.Typeflag))
	}
	return nil
}

// Kinds of names in archiveWalker.seen: what a later entry below the name,
// or a hard link to it, may rely on.
const (
	kindImplicit = 'i' // a parent of entries, not an entry itself
	kindDir      = 'd'
	kindFile     = 'f' // a regular file or a hard link to one
	kindSymlink  = 's'
	kindOther    = 'o' // device, fifo
)

func entryKind(typ byte) byte {
	switch typ {
	case tar.TypeDir:
		return kindDir
	case tar.TypeReg, tar.TypeLink, tar.TypeGNUSparse, tar.TypeCont:
		return kindFile
	case tar.TypeSymlink:
		return kindSymlink
	}
	return kindOther
}

// kindName names a kind of entry other than a directory in errors.
func kindName(k byte) string {
	switch k {
	case kindFile:
		return "a regular file"
	case kindSymlink:
		return "a symlink"
	}
	return "a device or fifo"
}

// parents checks that every parent of the entry name below rootfs/ is, or
// can still be, a directory: not an earlier symlink, file, device or fifo
// of the archive (an extractor would have to follow the symlink or give
// up), and records the ones no entry named as implicit directories.
func (w *archiveWalker) parents(name, raw string) error {
	for dir := path.Dir(name); dir != RootfsEntry && dir != "."; dir = path.Dir(dir) {
		was, err := w.names.apply(w.names.key(dir), opParent, 0, raw, dir)
		if err != nil {
			return err
		}
		if was == kindDir || was == kindImplicit {
			return nil // and so are its parents
		}
	}
	return nil
}

// Bounds on names that hold for every image: Linux's PATH_MAX and
// NAME_MAX, for the path below rootfs/ and for each of its components.
const (
	MaxPathLen = 4096
	MaxNameLen = 255
)

// Bounds on an entry's extended attributes (PAX SCHILY.xattr.* records):
// at most MaxXattrs, each name at most 255 bytes (XATTR_NAME_MAX) and each
// value at most 64 KiB (XATTR_SIZE_MAX).
const (
	MaxXattrs     = 128
	maxXattrName  = 255
	maxXattrValue = 64 << 10
	// PAXXattr prefixes the PAX records that carry extended attributes.
	PAXXattr = "SCHILY.xattr."
)

// CheckXattrs applies the bounds on an entry's extended attributes to its
// PAX records: one rule for validation and extraction.
func CheckXattrs(pax map[string]string) error {
	n := 0
	for k, v := range pax {
		name, ok := strings.CutPrefix(k, PAXXattr)
		if !ok {
			continue
		}
		if n++; n > MaxXattrs {
			return fmt.Errorf("more than %d extended attributes", MaxXattrs)
		}
		if len(v) > maxXattrValue || len(name) > maxXattrName || name == "" {
			return fmt.Errorf("extended attribute %.64q too large", name)
		}
	}
	return nil
}

// MaxID is the largest user or group ID an entry may have (4294967294;
// 2^32-1 is the kernel's "no ID").
const MaxID = 1<<32 - 2

// OwnerInRange says whether hdr's user and group IDs are both from 0 to
// MaxID: the one check of an entry's owner, for the walker that validates
// an archive and for the extractor that writes it.
func OwnerInRange(hdr *tar.Header) bool {
	return hdr.Uid >= 0 && int64(hdr.Uid) <= MaxID && hdr.Gid >= 0 && int64(hdr.Gid) <= MaxID
}

// CleanEntryName is the one rule for the name of a file of an image's root
// file system, relative to it (the archive's name without "rootfs/"; "."
// for the root itself), shared by validation (WalkArchive) and extraction:
// it refuses absolute names, ".." components, NUL bytes, names longer than
// MaxPathLen and components longer than MaxNameLen, and returns the name
// with "." components and repeated slashes removed.
func CleanEntryName(name string) (string, error) {
	switch {
	case name == "":
		return "", errors.New("empty name")
	case strings.IndexByte(name, 0) >= 0:
		return "", errors.New("name contains a NUL byte")
	case len(name) > MaxPathLen:
		return "", fmt.Errorf("name is %d bytes long, more than %d", len(name), MaxPathLen)
	case name[0] == '/':
		return "", errors.New("absolute name")
	}
	parts := strings.Split(name, "/")
	out := parts[:0]
	for _, p := range parts {
		switch {
		case p == "" || p == ".":
			continue
		case p == "..":
			return "", errors.New(`name has a ".." component`)
		case len(p) > MaxNameLen:
			return "", fmt.Errorf("name component is %d bytes long, more than %d", len(p), MaxNameLen)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return ".", nil
	}
	return strings.Join(out, "/"), nil
}

// cleanArchiveName checks a name (or hard link target) from the archive and
// returns it cleaned: no "./" prefix, no trailing or doubled slashes.
func cleanArchiveName(name string) (string, error) {
	switch {
	case name == "":
		return "", errors.New("empty name")
	case strings.HasPrefix(name, "/"):
		return "", errors.New("absolute path")
	case strings.IndexByte(name, 0) >= 0:
		return "", errors.New("NUL byte in name")
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return "", errors.New("\"..\" in path")
		}
	}
	return path.Clean(name), nil
}

// tarTypeName names a tar type flag for error messages.
func tarTypeName(t byte) string {
	switch t {
	case tar.TypeReg:
		return "regular file"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeDir:
		return "directory"
	case tar.TypeFifo:
		return "fifo"
	case tar.TypeCont:
		return "contiguous file"
	case tar.TypeGNUSparse:
		return "sparse file"
	}
	return fmt.Sprintf("%q", t)
}

// countingReader counts the bytes read from the input and remembers its
// first error other than io.EOF, so that a failing disk or connection is not
// reported as a corrupt image.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// ValidateArchive reads a whole ACI from r and checks it as WalkArchive
// does, returning what it learnt. It does not parse the manifest.
func ValidateArchive(r io.Reader) (*ArchiveInfo, error) {
	return WalkArchive(r, nil)
}

// ReadManifest returns the raw manifest of the ACI read from r. It reads and
// validates the whole archive: the manifest may be its last entry, and a
// manifest from an archive that turns out to be broken is not to be
// trusted.
func ReadManifest(r io.Reader) ([]byte, error) {
	info, err := WalkArchive(r, nil)
	if err != nil {
		return nil, err
	}
	return info.ManifestJSON, nil
}

// ReadImage reads a whole ACI from r, checks it as WalkArchive does and
// parses and validates its manifest. A manifest error is an *ArchiveError
// for the entry "manifest" wrapping the parser's ErrorList.
func ReadImage(r io.Reader) (*aci.ImageManifest, *ArchiveInfo, error) {
	info, err := WalkArchive(r, nil)
	if err != nil {
		return nil, nil, err
	}
	m, err := aci.ParseImageManifest(info.ManifestJSON)
	if err != nil {
		return nil, nil, &ArchiveError{Entry: ManifestEntry, Msg: "invalid image manifest", Err: err}
	}
	return m, info, nil
}

// OpenImage is ReadImage for the ACI file named file.
func OpenImage(file string) (*aci.ImageManifest, *ArchiveInfo, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	m, info, err := ReadImage(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	return m, info, nil
}
