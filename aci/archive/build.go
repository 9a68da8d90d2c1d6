package archive

import (
	"archive/tar"
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dsnet/compress/bzip2"
	"github.com/klauspost/compress/gzip"
	"github.com/ulikunitz/xz"

	"github.com/acirun/acirun/aci"
)

// BuildOptions tune Build and BuildFile.
type BuildOptions struct {
	// Compression of the output. The zero value, CompressionUnknown,
	// means gzip, the usual encoding of an .aci file.
	Compression Compression
	// Overwrite lets BuildFile replace an existing output file. Without it
	// BuildFile refuses to touch one.
	Overwrite bool
	// Rootfs, when set, is the tree stored as rootfs/ instead of the
	// layout's own rootfs (which must still be there): a pod's private
	// copy of an image, exported with the image's manifest.
	Rootfs string
	// Upper, when set, is an overlayfs upper directory whose changes are
	// applied to the rootfs as it is stored, as overlayfs shows the merged
	// tree (see build_merge.go): a pod's app, exported.
	Upper string
	// Rendered says that the rootfs is a rendered tree, the image's
	// dependencies already laid under it and its pathWhitelist already
	// applied (a store's rendered image, or a pod's app made from one).
	// The manifest is then stored without dependencies and pathWhitelist,
	// which the stored rootfs already reflects: a consumer that applied
	// them again would lay the dependencies over the files that replaced
	// or deleted theirs, and fetch images the ACI no longer needs.
	Rendered bool
}

// Build writes an ACI to w from the image layout in dir, which must hold
// exactly a regular file "manifest" and a directory "rootfs" (neither a
// symlink) and nothing else. The manifest is validated before anything is
// written.
//
// The archive is deterministic: the same tree gives the same bytes. It holds
// "manifest" first (so that a streaming reader can check it before it
// extracts anything), then "rootfs/" and the tree below it in the order of a
// depth-first walk with each directory's names sorted bytewise. Every entry
// keeps its mode (setuid, setgid and sticky bits included), numeric owner
// and group, user and group names as the host resolves them, modification
// time to the second (like GNU tar's default format; access and change times
// are not stored) and extended attributes (as SCHILY.xattr.* pax records).
// A file whose inode was already stored becomes a hard link to the first
// path seen; symlinks, device nodes and fifos are stored as such; sockets
// cannot be stored and make Build fail. The tar is USTAR where that can
// represent an entry and pax where it cannot (long names, xattrs).
//
// On failure w may have received part of an archive: use BuildFile to get
// all or nothing.
func Build(dir string, w io.Writer, opts BuildOptions) error {
	if err := checkBuildLayout(dir); err != nil {
		return err
	}
	manifest, mfi, err := readBuildManifest(dir)
	if err != nil {
		return err
	}
	if opts.Rendered {
		if manifest, err = standaloneManifest(manifest); err != nil {
			return fmt.Errorf("build %s: %w", dir, err)
		}
	}

	comp := opts.Compression
	if comp == CompressionUnknown {
		comp = CompressionGzip
	}
	cw, err := newCompressWriter(w, comp)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(cw)
	b := &builder{tw: tw, inodes: make(map[buildInode]string)}
	if err := b.writeManifest(filepath.Join(dir, ManifestEntry), mfi, manifest); err != nil {
		return err
	}
	root := filepath.Join(dir, RootfsEntry)
	if opts.Rootfs != "" {
		root = opts.Rootfs
	}
	if opts.Upper != "" {
		b.overlay = true
		err = b.addMerged(root, opts.Upper, RootfsEntry)
	} else {
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("build %s: %w", dir, err)
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			return b.add(p, path.Join(RootfsEntry, filepath.ToSlash(rel)), d)
		})
	}
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("build %s: finish tar: %w", dir, err)
	}
	if err := cw.Close(); err != nil {
		return fmt.Errorf("build %s: finish %s stream: %w", dir, comp, err)
	}
	return nil
}

// checkBuildLayout checks that dir holds exactly manifest and rootfs.
func checkBuildLayout(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("build %s: not a directory", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	var extra []string
	var haveManifest, haveRootfs bool
	for _, e := range ents {
		switch e.Name() {
		case ManifestEntry:
			if !e.Type().IsRegular() {
				return fmt.Errorf("build %s: manifest is not a regular file (%s)", dir, describeMode(e.Type()))
			}
			haveManifest = true
		case RootfsEntry:
			if !e.IsDir() {
				return fmt.Errorf("build %s: rootfs is not a directory (%s)", dir, describeMode(e.Type()))
			}
			haveRootfs = true
		default:
			extra = append(extra, fmt.Sprintf("%q", e.Name()))
		}
	}
	switch {
	case len(extra) > 0:
		return fmt.Errorf("build %s: unexpected %s at the top level: an image layout holds only \"manifest\" and \"rootfs/\"",
			dir, strings.Join(extra, ", "))
	case !haveManifest:
		return fmt.Errorf("build %s: no manifest file", dir)
	case !haveRootfs:
		return fmt.Errorf("build %s: no rootfs directory", dir)
	}
	return nil
}

func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m.IsRegular():
		return "a regular file"
	}
	return "mode " + m.String()
}

// readBuildManifest reads and validates the layout's manifest.
func readBuildManifest(dir string) ([]byte, fs.FileInfo, error) {
	p := filepath.Join(dir, ManifestEntry)
	f, err := os.OpenFile(p, os.O_RDONLY|buildNoFollow, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("build: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("build: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("build %s: not a regular file", p)
	}
	if fi.Size() > aci.MaxManifestSize {
		return nil, nil, fmt.Errorf("build %s: %d bytes, more than the limit of %d", p, fi.Size(), aci.MaxManifestSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, aci.MaxManifestSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("build: read %s: %w", p, err)
	}
	if int64(len(data)) != fi.Size() {
		return nil, nil, fmt.Errorf("build %s: file changed while being read", p)
	}
	if err := checkBuildManifest(data); err != nil {
		return nil, nil, fmt.Errorf("build %s: invalid image manifest:\n%w", p, err)
	}
	return data, fi, nil
}

// checkBuildManifest validates the manifest before anything is written.
func checkBuildManifest(data []byte) error {
	_, err := aci.ParseImageManifest(data)
	return err
}

// standaloneManifest returns the image manifest data (already validated)
// without its dependencies and pathWhitelist, for a rendered rootfs; data
// without either is returned unchanged. Decoding is strict, so re-encoding
// loses nothing else.
func standaloneManifest(data []byte) ([]byte, error) {
	m, err := aci.ParseImageManifest(data)
	if err != nil {
		return nil, fmt.Errorf("invalid image manifest:\n%w", err)
	}
	if len(m.Dependencies) == 0 && len(m.PathWhitelist) == 0 {
		return data, nil
	}
	m.Dependencies, m.PathWhitelist = nil, nil
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode the manifest without dependencies and pathWhitelist: %w", err)
	}
	return out, nil
}

// buildInode identifies a file for hard link detection.
type buildInode struct{ dev, ino uint64 }

type builder struct {
	tw     *tar.Writer
	inodes map[buildInode]string // first archive name of each multiply linked inode
	// overlay: the tree is an overlay's layers, whose trusted.overlay.*
	// attributes are overlayfs's bookkeeping, not the files'.
	overlay bool
}

func (b *builder) writeManifest(p string, fi fs.FileInfo, data []byte) error {
	hdr, err := b.header(p, ManifestEntry, fi)
	if err != nil {
		return err
	}
	hdr.Size = int64(len(data))
	if err := b.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("build: %s: %w", p, err)
	}
	if _, err := b.tw.Write(data); err != nil {
		return fmt.Errorf("build: %s: %w", p, err)
	}
	return nil
}

// header makes the tar header for the file at p, to be stored as name.
func (b *builder) header(p, name string, fi fs.FileInfo) (*tar.Header, error) {
	var link string
	if fi.Mode()&fs.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(p); err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
	}
	if fi.Mode()&fs.ModeSocket != 0 {
		return nil, fmt.Errorf("build: %s: a socket cannot be stored in an ACI", p)
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return nil, fmt.Errorf("build: %s: %w", p, err)
	}
	hdr.Name = name
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.ModTime = fi.ModTime().Truncate(time.Second)
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	xattrs, err := buildXattrs(p)
	if err != nil {
		return nil, fmt.Errorf("build: %s: %w", p, err)
	}
	if b.overlay {
		for k := range xattrs {
			if strings.HasPrefix(k, overlayXattrPrefix) {
				delete(xattrs, k)
			}
		}
	}
	if len(xattrs) > 0 {
		keys := make([]string, 0, len(xattrs))
		for k := range xattrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		hdr.PAXRecords = make(map[string]string, len(xattrs))
		for _, k := range keys {
			hdr.PAXRecords["SCHILY.xattr."+k] = xattrs[k]
		}
	}
	return hdr, nil
}

// add stores the file at p (the layout's rootfs or something below it) as
// name.
func (b *builder) add(p, name string, d fs.DirEntry) error {
	fi, err := d.Info()
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	return b.addInfo(p, name, fi)
}

// addInfo stores the file at p, described by fi, as name.
func (b *builder) addInfo(p, name string, fi fs.FileInfo) error {
	hdr, err := b.header(p, name, fi)
	if err != nil {
		return err
	}
	if fi.Mode().IsRegular() {
		if ino, nlink, ok := buildInodeOf(fi); ok && nlink > 1 {
			if first, seen := b.inodes[ino]; seen {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				hdr.Size = 0
			} else {
				b.inodes[ino] = name
			}
		}
	}
	if err := b.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("build: %s: %w", p, err)
	}
	if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
		return nil
	}
	return b.copyFile(p, hdr.Size)
}

// copyFile copies exactly size bytes of the regular file at p into the
// archive, and fails if the file changed size meanwhile: a tar entry's size
// is fixed before its body is written.
func (b *builder) copyFile(p string, size int64) error {
	f, err := os.OpenFile(p, os.O_RDONLY|buildNoFollow, 0)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	defer f.Close()
	n, err := io.CopyN(b.tw, f, size)
	if err == io.EOF {
		return fmt.Errorf("build: %s: file shrank from %d to %d bytes while being read", p, size, n)
	}
	if err != nil {
		return fmt.Errorf("build: %s: %w", p, err)
	}
	var one [1]byte
	if m, _ := f.Read(one[:]); m > 0 {
		return fmt.Errorf("build: %s: file grew beyond %d bytes while being read", p, size)
	}
	return nil
}

// compressWriter is the compressor (or a plain buffer) between the tar
// writer and the output. Close flushes everything to the output but does
// not close it.
type compressWriter struct {
	io.Writer
	closers []func() error
}

func (c *compressWriter) Close() error {
	for _, f := range c.closers {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

func newCompressWriter(w io.Writer, c Compression) (*compressWriter, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	out := &compressWriter{}
	switch c {
	case CompressionGzip:
		zw, err := gzip.NewWriterLevel(bw, gzip.DefaultCompression)
		if err != nil {
			return nil, fmt.Errorf("build: gzip: %w", err)
		}
		out.Writer, out.closers = zw, []func() error{zw.Close}
	case CompressionNone:
		out.Writer = bw
	case CompressionBzip2:
		zw, err := bzip2.NewWriter(bw, &bzip2.WriterConfig{Level: bzip2.DefaultCompression})
		if err != nil {
			return nil, fmt.Errorf("build: bzip2: %w", err)
		}
		out.Writer, out.closers = zw, []func() error{zw.Close}
	case CompressionXz:
		zw, err := xz.NewWriter(bw)
		if err != nil {
			return nil, fmt.Errorf("build: xz: %w", err)
		}
		out.Writer, out.closers = zw, []func() error{zw.Close}
	default:
		return nil, fmt.Errorf("build: unknown compression %d", c)
	}
	out.closers = append(out.closers, bw.Flush)
	return out, nil
}

// BuildFile builds the ACI for the layout in dir (see Build) into the file
// out. It writes a temporary file beside out and moves it into place only
// when the archive is complete, so a failure never leaves a partial out.
// Without opts.Overwrite an existing out is an error, checked atomically at
// the end; out may not lie inside dir.
func BuildFile(dir, out string, opts BuildOptions) error {
	return buildFile(dir, out, opts)
}

func buildFile(dir, out string, opts BuildOptions) (err error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if rel, err := filepath.Rel(absDir, absOut); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
		return fmt.Errorf("build %s: output %s lies inside the image layout", dir, out)
	}
	if !opts.Overwrite {
		if _, err := os.Lstat(out); err == nil {
			return fmt.Errorf("build %s: %s already exists (overwrite it with --overwrite)", dir, out)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(absOut), "."+filepath.Base(absOut)+".tmp-*")
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := Build(dir, tmp, opts); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("build: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("build: write %s: %w", tmp.Name(), err)
	}
	if opts.Overwrite {
		if err := os.Rename(tmp.Name(), absOut); err != nil {
			return fmt.Errorf("build: %w", err)
		}
		return nil
	}
	// A hard link fails if out appeared meanwhile, where a rename would
	// silently replace it.
	if err := os.Link(tmp.Name(), absOut); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("build %s: %s already exists (overwrite it with --overwrite)", dir, out)
		}
		return fmt.Errorf("build: %w", err)
	}
	os.Remove(tmp.Name())
	return nil
}
