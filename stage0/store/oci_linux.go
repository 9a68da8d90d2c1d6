package store

// OCI and Docker images in the store.
//
// An OCI image is stored as its layers and one image entry:
//
//	ocilayers/sha256-HEX/rootfs/     one layer, unpacked once (HEX is its diffID,
//	                                 the SHA-256 of the uncompressed tar)
//	ocilayers/sha256-HEX/owndirs     the directories the layer's tar names
//	ocilayers/sha256-HEX/whiteouts   what it removes from the layers below
//	images/ID.json, blobs/ID, trees/ID  as for an ACI
//
// The entry's ID is the image ID of an ACI holding only the manifest that
// maps the image's config onto an app (blobs/ID is that ACI): the manifest
// names the image's manifest digest, so the ID changes with the content and
// with the name and labels it was fetched under. Its tree is rendered at
// fetch time: the layers in order, each one's whiteouts applied to those
// below before its files are laid over them, its files hard links to the
// layer's (so a layer's content is on disk once, however many images use
// it). A pod mounts that tree as one lower layer, exactly like an ACI's:
// starting a pod costs the same whatever the number of layers, and
// everything downstream of the store is unchanged. A layer stays while an
// image names it (Image.OCI.Layers); Remove and GC remove the rest.
//
// A layer is unpacked by the same extractor as an ACI, with the same rules
// for hostile names, links, devices and xattrs; whiteouts are recorded, not
// extracted. Each layer is checked against both its digests while it
// streams (the compressed blob's and the diffID the config lists), and
// nothing is kept of an import that fails: new layers are staged with the
// image and move into ocilayers/ only when the image is committed.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/aci/archive"
	"github.com/acirun/acirun/stage0/store/extract"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"
)

// OCILayer is one layer of an OCI or Docker image, as its manifest and
// config describe it.
type OCILayer struct {
	// Digest is the digest of the blob as transferred ("sha256:HEX").
	Digest string
	// DiffID is the digest of the uncompressed tar ("sha256:HEX"), from
	// the config's rootfs.diff_ids: what names the layer in the store.
	DiffID string
	// Size is the blob's size from the manifest (0: unknown).
	Size int64
	// Open returns the blob's bytes (gzip, zstd or a plain tar). They are
	// verified against Digest and DiffID by the store as they stream.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// OCIRecord is what an image entry keeps of the OCI image it came from.
type OCIRecord struct {
	// Reference is what was fetched: docker://REGISTRY/NAME:TAG,
	// oci:DIR:TAG, oci-archive:FILE or docker-archive:FILE.
	Reference string `json:"reference"`
	// Digest is the image manifest's digest ("sha256:HEX").
	Digest string `json:"digest"`
	// Config is the config blob's digest.
	Config string `json:"config"`
	// Layers are the layers' diffIDs, the lowest first.
	Layers []string `json:"layers"`
}

// OCIImportOptions describe the import of one OCI image.
type OCIImportOptions struct {
	Layers []OCILayer
	Record OCIRecord
	// Manifest makes the image manifest once the layers are composed into
	// rootfs, which it may read (the user's group comes from the image's
	// /etc/passwd) but must not change.
	Manifest func(rootfs string) (*aci.ImageManifest, error)
	Origin   Origin
	// Jobs bounds the layers fetched and unpacked at once; 0 means 4.
	Jobs int
	// Zstd opens a zstd-compressed layer's content (oci.ZstdReader); nil
	// refuses such layers. The importer gives it, so that the store,
	// which acirun links to run pods, links no zstd decoder, whose
	// package initialisation every acirun start paid: only acirun-fetch
	// imports OCI images.
	Zstd func(io.Reader) (io.ReadCloser, error)
}

// ociWhiteouts is the record of a stored layer: its whiteouts, and what
// its files hold.
type ociWhiteouts struct {
	// Remove are the names whose lower contents go.
	Remove []string `json:"remove,omitempty"`
	// Opaque are the directories whose lower contents go.
	Opaque []string `json:"opaque,omitempty"`
	// Bytes is the content of the layer's regular files: an image's
	// layers together are bounded as one ACI is (Options.Limits).
	Bytes int64 `json:"bytes"`
	// Entries are the layer's entries as extracted, with the content
	// digests of its files, so that the tree hash of an image composed
	// of layers reads none of their files again (see composedDigests).
	// Empty for a layer recorded without them: its files are read.
	Entries []ociEntry `json:"entries,omitempty"`
}

// ociEntry is one entry of a layer: its name, its type (f a regular file,
// d a directory, o anything else), and for a file its size, content
// SHA-256 and extended attributes as extracted.
type ociEntry struct {
	Name   string      `json:"n"`
	Type   string      `json:"t"`
	Size   int64       `json:"s,omitempty"`
	Sum    string      `json:"h,omitempty"`
	Xattrs [][2]string `json:"x,omitempty"`
}

// composedDigests follows the composition of layers (their records, the
// lowest first) name by name and returns the content digest of every
// regular file of the result, keyed by its name below the rootfs, or nil
// if a layer has no entries recorded. Whatever a whiteout, an opaque
// directory or a later entry replaced is forgotten, as composeOCI removes
// it; TreeHash still takes a file's digest only when its size matches.
func composedDigests(recs []ociWhiteouts) map[string]extract.Digest {
	known := map[string]extract.Digest{}
	dirs := map[string]bool{} // directories of the composition so far
	forgetBelow := func(dir string) {
		if dir != "." && !dirs[dir] {
			return // nothing can be below what is not a directory
		}
		for n := range known {
			if dir == "." || strings.HasPrefix(n, dir+"/") {
				delete(known, n)
			}
		}
		for n := range dirs {
			if dir == "." || strings.HasPrefix(n, dir+"/") {
				delete(dirs, n)
			}
		}
	}
	for _, r := range recs {
		if r.Bytes > 0 && len(r.Entries) == 0 {
			return nil
		}
		for _, d := range r.Opaque {
			forgetBelow(d)
		}
		for _, n := range r.Remove {
			delete(known, n)
			forgetBelow(n)
			delete(dirs, n)
		}
		for _, e := range r.Entries {
			switch e.Type {
			case "f":
				var d extract.Digest
				b, err := hex.DecodeString(e.Sum)
				if err != nil || len(b) != len(d.Sum) {
					return nil
				}
				copy(d.Sum[:], b)
				d.Size, d.Xattrs = e.Size, e.Xattrs
				forgetBelow(e.Name) // a file where a directory was
				delete(dirs, e.Name)
				known[e.Name] = d
			case "d":
				delete(known, e.Name) // merged with a directory below, or replacing a file
				dirs[e.Name] = true
			default:
				delete(known, e.Name)
				forgetBelow(e.Name)
				delete(dirs, e.Name)
			}
		}
	}
	return known
}

const (
	ociLayersDir  = "ocilayers"
	whiteoutsFile = "whiteouts"
)

// parseDigest checks a "sha256:HEX" digest and returns the name it has in
// the store, "sha256-HEX". Only SHA-256 is taken: it is what every
// registry and tool writes, and a name must not depend on a choice the
// image's author made.
func parseDigest(d string) (string, error) {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != sha256.Size*2 || !lowerHex(h) {
		return "", fmt.Errorf("digest %q: want sha256: and 64 lower-case hex digits", clip(d))
	}
	return "sha256-" + h, nil
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func (s *Store) ociLayerDir(key string) string { return s.path(ociLayersDir, key) }
func (s *Store) ociLayerLock(key string) string {
	return filepath.Join(s.lockDir, "layer-"+key+".lock")
}

// ImportOCI brings an OCI image into the store: its layers that the store
// lacks are fetched (Jobs at a time), verified and unpacked, the image's
// tree is composed from all of them, and the entry is committed; the same
// image already stored is returned as it is, with opts.Origin recorded.
// Any error leaves the store as it was.
func (s *Store) ImportOCI(ctx context.Context, opts OCIImportOptions) (*Image, error) {
	img, err := s.importOCI(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", opts.Record.Reference, s.noSpace(err))
	}
	return img, nil
}

// ociLayerJob is one distinct layer of an import.
type ociLayerJob struct {
	layer OCILayer
	key   string // sha256-HEX of the diffID
	dir   string // where it is (the store's, or the staging's until commit)
	fresh bool   // unpacked by this import, to be moved in at commit
	done  chan struct{}
	err   error
}

func (s *Store) importOCI(ctx context.Context, opts OCIImportOptions) (*Image, error) {
	if opts.Manifest == nil {
		return nil, errors.New("no manifest function given")
	}
	if _, err := parseDigest(opts.Record.Digest); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if len(opts.Layers) == 0 {
		return nil, errors.New("the image has no layers")
	}
	st, err := s.newStaging("oci")
	if err != nil {
		return nil, err
	}
	defer st.remove()
	if err := os.MkdirAll(s.path(ociLayersDir), 0o700); err != nil {
		return nil, err
	}

	// One job per distinct diffID (empty layers often repeat), each layer
	// held shared so that GC leaves it alone while this import uses it.
	var jobs []*ociLayerJob
	order := make([]*ociLayerJob, len(opts.Layers))
	byKey := map[string]*ociLayerJob{}
	var locks []*lock
	defer func() {
		for _, l := range locks {
			l.unlock()
		}
	}()
	for i, l := range opts.Layers {
		key, err := parseDigest(l.DiffID)
		if err != nil {
			return nil, fmt.Errorf("layer %d: diffID: %w", i+1, err)
		}
		if _, err := parseDigest(l.Digest); err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
		if j := byKey[key]; j != nil {
			order[i] = j
			continue
		}
		lk, err := takeLock(ctx, s.ociLayerLock(key), false)
		if err != nil {
			return nil, err
		}
		locks = append(locks, lk)
		j := &ociLayerJob{layer: l, key: key, dir: s.ociLayerDir(key), done: make(chan struct{})}
		if _, err := os.Lstat(filepath.Join(j.dir, whiteoutsFile)); err != nil {
			j.fresh, j.dir = true, filepath.Join(st.dir, "layer-"+key)
		}
		byKey[key], order[i] = j, j
		jobs = append(jobs, j)
	}

	// Fetch and unpack the missing layers, Jobs at a time; compose each
	// layer as soon as it and those below it are ready.
	n := opts.Jobs
	if n <= 0 {
		n = 4
	}
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, j := range jobs {
		if !j.fresh {
			close(j.done)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(j.done)
			select {
			case sem <- struct{}{}:
			case <-jctx.Done():
				j.err = jctx.Err()
				return
			}
			defer func() { <-sem }()
			if err := s.unpackOCILayer(jctx, j.layer, j.dir, opts.Zstd); err != nil {
				j.err = fmt.Errorf("layer %s (%s): %w", j.layer.Digest, j.layer.DiffID, err)
				cancel()
			}
		}()
	}
	defer wg.Wait()

	tree := filepath.Join(st.dir, "tree")
	rootfs := filepath.Join(tree, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return nil, err
	}
	dirs := make([]string, len(order))
	for i, j := range order {
		select {
		case <-j.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if j.err != nil {
			return nil, firstCause(j.err, jobs)
		}
		dirs[i] = j.dir
	}
	known, err := s.composeOCI(ctx, rootfs, dirs)
	if err != nil {
		return nil, err
	}
	wg.Wait()

	m, err := opts.Manifest(rootfs)
	if err != nil {
		return nil, err
	}
	mjson, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if _, err := aci.ParseImageManifest(mjson); err != nil {
		return nil, fmt.Errorf("image manifest made from the config: %w", err)
	}
	blob, err := manifestACI(mjson)
	if err != nil {
		return nil, err
	}
	sum := sha512.Sum512(blob)
	id, err := aci.ImageIDFromSum(sum[:])
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(st.dir, "blob"), blob, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tree, "manifest"), mjson, 0o644); err != nil {
		return nil, err
	}
	th, err := treeHash(ctx, tree, func(name string) (extract.Digest, bool) {
		d, ok := known[strings.TrimPrefix(name, "rootfs/")]
		return d, ok && strings.HasPrefix(name, "rootfs/")
	})
	if err != nil {
		return nil, err
	}
	rec := opts.Record
	rec.Layers = make([]string, len(opts.Layers))
	for i, l := range opts.Layers {
		rec.Layers[i] = l.DiffID
	}
	// Size is what the layers weigh as transferred, as an ACI's is its
	// file's (the manifest-only blob would say nothing).
	size := int64(len(blob))
	for _, l := range opts.Layers {
		size += l.Size
	}
	now := time.Now().UTC()
	img := &Image{
		ID:          id.String(),
		Name:        string(m.Name),
		Labels:      m.Labels,
		Origin:      opts.Origin,
		FetchedAt:   now,
		ImportTime:  now,
		Size:        size,
		TarSize:     int64(len(blob)),
		Compression: archive.CompressionNone.String(),
		Rendered:    true,
		TreeHash:    th,
		OCI:         &rec,
		Manifest:    mjson,
	}
	if img.Unsynced, err = s.unsynced(); err != nil {
		return nil, err
	}
	// The layers go in before the entry that names them.
	for _, j := range jobs {
		if !j.fresh {
			continue
		}
		dst := s.ociLayerDir(j.key)
		if _, err := os.Lstat(dst); err == nil {
			continue // another import put it there meanwhile
		}
		if err := os.Rename(j.dir, dst); err != nil {
			return nil, fmt.Errorf("store layer %s: %w", j.layer.DiffID, err)
		}
	}
	return s.commit(ctx, st, img)
}

// firstCause prefers the error that stopped the other layers over the
// cancellation it caused.
func firstCause(err error, jobs []*ociLayerJob) error {
	if !errors.Is(err, context.Canceled) {
		return err
	}
	for _, j := range jobs {
		if j.err != nil && !errors.Is(j.err, context.Canceled) {
			return j.err
		}
	}
	return err
}

// manifestACI is the ACI of an OCI image's entry: a tar holding the
// manifest and an empty rootfs, deterministic (fixed times and owners), so
// that the same manifest always gives the same image ID.
func manifestACI(mjson []byte) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	epoch := time.Unix(0, 0)
	if err := tw.WriteHeader(&tar.Header{Name: archive.ManifestEntry, Mode: 0o644, Size: int64(len(mjson)), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(mjson); err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: archive.RootfsEntry + "/", Mode: 0o755, ModTime: epoch, Typeflag: tar.TypeDir, Format: tar.FormatUSTAR}); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// hashingReader hashes what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// The magic numbers of the layer compressions OCI allows besides none.
var (
	magicGzip = []byte{0x1f, 0x8b}
	magicZstd = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// layerTar returns the uncompressed tar of a layer blob, recognising gzip
// and zstd (opened by openZstd) by their magic numbers (a media type can
// lie; the bytes cannot) and taking anything else as a plain tar, which
// the tar reader checks.
func layerTar(br *bufio.Reader, openZstd func(io.Reader) (io.ReadCloser, error)) (io.Reader, func(), error) {
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, magicGzip):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		zr.Multistream(true)
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(head, magicZstd):
		if openZstd == nil {
			return nil, nil, errors.New("zstd: the layer is zstd-compressed and the import was given no zstd decoder (OCIImportOptions.Zstd)")
		}
		zr, err := openZstd(br)
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	}
	return br, func() {}, nil
}

// unpackOCILayer fetches one layer into dir (rootfs/, owndirs,
// whiteouts), checking the blob's digest and size and the tar's diffID on
// the way; dir is staging, thrown away on error.
func (s *Store) unpackOCILayer(ctx context.Context, l OCILayer, dir string, openZstd func(io.Reader) (io.ReadCloser, error)) error {
	rc, err := l.Open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return err
	}
	blob := &hashingReader{r: rc, h: sha256.New()}
	br := bufio.NewReaderSize(ctxReader{ctx, blob}, 1<<20)
	err = s.unpackOCITar(ctx, l, br, blob, rootfs, dir, openZstd)
	if err != nil && !errors.Is(err, context.Canceled) && l.Size > 0 && blob.n <= l.Size {
		// Bytes that do not decompress or untar are most often bytes
		// that are not the blob: say that, if the rest of the blob (no
		// more than the manifest says it has; read even when another
		// layer's failure has cancelled this one) shows it.
		io.CopyN(io.Discard, blob, l.Size-blob.n)
		if got := "sha256:" + hex.EncodeToString(blob.h.Sum(nil)); got != l.Digest && blob.n == l.Size {
			return fmt.Errorf("blob digest mismatch: the bytes received hash to %s, the manifest says %s", got, l.Digest)
		}
	}
	return err
}

// unpackOCITar is unpackOCILayer once the blob is open.
func (s *Store) unpackOCITar(ctx context.Context, l OCILayer, br *bufio.Reader, blob *hashingReader, rootfs, dir string, openZstd func(io.Reader) (io.ReadCloser, error)) error {
	dec, closeDec, err := layerTar(br, openZstd)
	if err != nil {
		return err
	}
	defer closeDec()
	diff := &hashingReader{r: dec, h: sha256.New()}
	lim := s.opts.Limits
	lim.Overwrite = false
	lim.NoOwnership = os.Geteuid() != 0
	lim.Record = true // the content digests, so that no tree hash reads the files again
	x, err := extract.New(rootfs, lim)
	if err != nil {
		return err
	}
	defer x.Close()
	own := map[string]bool{}
	var wh ociWhiteouts
	tr := tar.NewReader(diff)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		name, err := extract.CleanName(hdr.Name)
		if err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		kind, target, err := parseWhiteout(name)
		if err != nil {
			return err
		}
		switch kind {
		case whiteoutFile:
			wh.Remove = append(wh.Remove, target)
			continue
		case whiteoutOpaqueDir:
			wh.Opaque = append(wh.Opaque, target)
			continue
		case whiteoutMeta:
			continue
		}
		if hdr.Typeflag == tar.TypeDir {
			own[name] = true
		}
		if err := x.Add(ctx, hdr, tr); err != nil {
			return err
		}
	}
	// The rest of the tar (its end blocks) and of the blob count too.
	if _, err := io.Copy(io.Discard, diff); err != nil {
		return fmt.Errorf("read tar: %w", err)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return fmt.Errorf("read blob: %w", err)
	}
	if got := "sha256:" + hex.EncodeToString(blob.h.Sum(nil)); got != l.Digest {
		return fmt.Errorf("blob digest mismatch: the bytes received hash to %s, the manifest says %s", got, l.Digest)
	}
	if l.Size > 0 && blob.n != l.Size {
		return fmt.Errorf("blob size mismatch: %d bytes received, the manifest says %d", blob.n, l.Size)
	}
	if got := "sha256:" + hex.EncodeToString(diff.h.Sum(nil)); got != l.DiffID {
		return fmt.Errorf("layer diffID mismatch: the uncompressed tar hashes to %s, the config says %s", got, l.DiffID)
	}
	res, err := x.Finish(ctx)
	if err != nil {
		return err
	}
	wh.Bytes = res.Bytes
	if ents, ok := x.Entries(); ok {
		for _, e := range ents {
			if e.Name == "." {
				continue
			}
			r := ociEntry{Name: e.Name, Type: "o"}
			switch e.Mode & unix.S_IFMT {
			case unix.S_IFREG:
				r.Type, r.Size, r.Sum, r.Xattrs = "f", e.Size, hex.EncodeToString(e.Sum[:]), e.Xattrs
			case unix.S_IFDIR:
				r.Type = "d"
			}
			wh.Entries = append(wh.Entries, r)
		}
	}
	if err := writeOwnDirs(filepath.Join(dir, ownDirsFile), own); err != nil {
		return err
	}
	sort.Strings(wh.Remove)
	sort.Strings(wh.Opaque)
	b, err := json.Marshal(wh)
	if err != nil {
		return err
	}
	// Written last: its presence says the layer is complete.
	return os.WriteFile(filepath.Join(dir, whiteoutsFile), b, 0o600)
}

// composeOCI lays the layers (directories as unpackOCILayer leaves them,
// the lowest first) into rootfs: each layer's whiteouts remove what the
// layers below put there, then its files are linked in, its explicit
// directories' metadata replacing what was below.
func (s *Store) composeOCI(ctx context.Context, rootfs string, layers []string) (map[string]extract.Digest, error) {
	lim := s.opts.Limits
	lim.Overwrite = true
	lim.NoOwnership = os.Geteuid() != 0
	recs := make([]ociWhiteouts, len(layers))
	total, counted := int64(0), map[string]bool{}
	for i, dir := range layers {
		b, err := os.ReadFile(filepath.Join(dir, whiteoutsFile))
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", filepath.Base(dir), err)
		}
		if err := json.Unmarshal(b, &recs[i]); err != nil {
			return nil, fmt.Errorf("layer %s: %s: %w", filepath.Base(dir), whiteoutsFile, err)
		}
		if !counted[dir] {
			counted[dir] = true
			total += recs[i].Bytes
		}
	}
	limit := cmp.Or(lim.MaxBytes, extract.DefaultMaxBytes)
	if total > limit {
		return nil, fmt.Errorf("its layers hold %d bytes of files, more than the %d one image may hold: %w", total, limit, extract.ErrTooLarge)
	}
	x, err := extract.New(rootfs, lim)
	if err != nil {
		return nil, err
	}
	defer x.Close()
	for i, dir := range layers {
		wh := recs[i]
		for _, d := range wh.Opaque {
			if err := x.RemoveBelow(ctx, d); err != nil {
				return nil, err
			}
		}
		for _, n := range wh.Remove {
			if err := x.Remove(ctx, n); err != nil {
				return nil, err
			}
		}
		own, err := readOwnDirs(filepath.Join(dir, ownDirsFile))
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", filepath.Base(dir), err)
		}
		if err := copyTree(ctx, filepath.Join(dir, "rootfs"), x, true, own); err != nil {
			return nil, fmt.Errorf("layer %s: %w", filepath.Base(dir), err)
		}
	}
	if _, err := x.Finish(ctx); err != nil {
		return nil, err
	}
	return composedDigests(recs), nil
}

// renderOCI composes img's tree again from its stored layers (repair,
// or a tree a crash may have damaged).
func (s *Store) renderOCI(ctx context.Context, img *Image, rootfs string) error {
	dirs := make([]string, len(img.OCI.Layers))
	for i, d := range img.OCI.Layers {
		key, err := parseDigest(d)
		if err != nil {
			return fmt.Errorf("layer %d: %w", i+1, err)
		}
		dirs[i] = s.ociLayerDir(key)
		if _, err := os.Lstat(filepath.Join(dirs[i], whiteoutsFile)); err != nil {
			return fmt.Errorf("layer %s is missing from the store: fetch %s again", d, img.OCI.Reference)
		}
	}
	_, err := s.composeOCI(ctx, rootfs, dirs)
	return err
}

// removeUnusedLayers removes the layers no image names and no import
// holds. It returns how many it removed.
func (s *Store) removeUnusedLayers() (int, error) {
	ents, err := os.ReadDir(s.path(ociLayersDir))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(ents) == 0 {
		return 0, nil
	}
	// Lock the candidates first, then see which images name them: an
	// import holds the layers it uses (shared) until its entry is
	// written, and from then on its entry names them.
	held := map[string]*lock{}
	defer func() {
		for _, l := range held {
			l.unlock()
		}
	}()
	for _, e := range ents {
		l, err := tryLock(s.ociLayerLock(e.Name()), true)
		if err == nil && l != nil {
			held[e.Name()] = l
		}
	}
	imgs, err := s.List(Filter{})
	if err != nil {
		return 0, err
	}
	for _, img := range imgs {
		if img.OCI == nil {
			continue
		}
		for _, d := range img.OCI.Layers {
			if key, err := parseDigest(d); err == nil {
				if l := held[key]; l != nil {
					l.unlock()
					delete(held, key)
				}
			}
		}
	}
	n := 0
	for key, l := range held {
		err := s.discard(s.ociLayerDir(key))
		l.unlinkAndUnlock()
		delete(held, key)
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
