package store

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/aci/archive"
	"github.com/acirun/acirun/internal/atomicfile"
	"github.com/acirun/acirun/stage0/store/extract"
	"golang.org/x/sys/unix"
)

// ImportOptions describe one import.
type ImportOptions struct {
	// ExpectedID, if set, is the full ID the image must have (a
	// dependency's imageID, or an ID the user asked for); a different
	// hash fails the import.
	ExpectedID string
	// Verify, if set, is called once the whole stream has been read (the
	// caller typically tees the stream into a signature check and
	// finishes it here) and before anything becomes visible. An error
	// fails the import.
	//
	// It is given the parsed manifest, because the name that selects the
	// trusted keys of a file or URL image is known only from it (the
	// manifest comes last in the tar), and the origin to be recorded, so
	// that it can add what it learnt (the signer's fingerprint, caching
	// data of the finished download).
	Verify func(m *aci.ImageManifest, origin *Origin) error
	// Origin is recorded in the index entry.
	Origin Origin
	// BlobAt, if set, is told where in the import's staging the image's
	// stored copy (blobs/ID) goes, before r is read, by a caller that keeps
	// the bytes of r in a file anyway (a resumable download on the store's
	// file system): by the time r ends, that file must be at that path,
	// renamed there, holding exactly the bytes r gave. Import then writes
	// no copy of its own, which would write the image a second time; it
	// checks the file's size and syncs it before the entry appears, as it
	// does its own copy.
	BlobAt func(path string)
}

// ctxReader fails reads once ctx is done, so a cancelled import stops
// within one buffer.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Import reads one ACI from r in a single pass: the bytes are stored as
// received, decompressed, hashed into the image ID, validated and
// extracted into private staging at the same time. Only when the stream is
// complete, the ID is the expected one, the manifest is valid and
// opts.Verify has passed does the entry become visible, atomically. An
// image without dependencies is rendered by then (its tree is the
// extracted rootfs with pathWhitelist applied); one with dependencies
// needs Render once they are in the store.
//
// If the image is already in the store, the staging is discarded, the new
// origin recorded, and the existing entry returned. Parallel imports of the
// same image end with exactly one entry. Any error leaves nothing visible.
func (s *Store) Import(ctx context.Context, r io.Reader, opts ImportOptions) (*Image, error) {
	img, err := s.doImport(ctx, r, opts)
	if err != nil {
		return nil, fmt.Errorf("import image: %w", s.noSpace(err))
	}
	return img, nil
}

func (s *Store) doImport(ctx context.Context, r io.Reader, opts ImportOptions) (*Image, error) {
	if opts.ExpectedID != "" {
		if err := checkID(opts.ExpectedID); err != nil {
			return nil, fmt.Errorf("expected ID: %w", err)
		}
	}
	s.opts.Trace.Step("import: started")
	st, err := s.newStaging("import")
	if err != nil {
		return nil, err
	}
	defer st.remove()

	blobPath := filepath.Join(st.dir, "blob")
	var blob *os.File
	var bw *bufio.Writer
	src := io.Reader(ctxReader{ctx, r})
	if opts.BlobAt != nil {
		opts.BlobAt(blobPath)
	} else {
		blob, err = os.OpenFile(blobPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return nil, err
		}
		defer blob.Close()
		if s.opts.NoSync {
			bw = bufio.NewWriterSize(blob, 1<<20)
		} else {
			bw = bufio.NewWriterSize(&writebackWriter{f: blob}, 1<<20)
		}
		src = io.TeeReader(src, bw)
	}

	tree := filepath.Join(st.dir, "tree")
	rootfs := filepath.Join(tree, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return nil, err
	}
	lim := s.opts.Limits
	lim.Overwrite = false
	lim.NoOwnership = os.Geteuid() != 0
	lim.Record = true
	lim.SpillDir = st.dir
	x, err := extract.New(rootfs, lim)
	if err != nil {
		return nil, err
	}
	defer x.Close()

	// The image's own explicit directories survive its whitelist (see
	// whitelist); implicit parents do not. Only an image with
	// dependencies or a whitelist needs them, which the manifest (last,
	// as a rule) says: they go to a file, not memory, in the meantime.
	own, err := newOwnDirsLog(filepath.Join(st.dir, ownDirsFile))
	if err != nil {
		return nil, err
	}
	defer own.close()
	info, err := archive.WalkArchiveIn(st.dir, src, func(hdr *tar.Header, body io.Reader) error {
		h := rootfsHeader(hdr)
		if h.Typeflag == tar.TypeDir {
			if err := own.add(h.Name); err != nil {
				return err
			}
		}
		return x.Add(ctx, h, body)
	})
	if err != nil {
		return nil, err
	}
	tr := s.opts.Trace
	tr.Step("import: archive walked (%d entries, %d bytes of tar)", info.Entries, info.TarSize)
	// Read to the end of the input, so that the stored file and whatever
	// the caller tees the stream into see every byte.
	rest, err := io.Copy(io.Discard, src)
	if err != nil {
		return nil, fmt.Errorf("read archive: %w", err)
	}
	if blob == nil {
		if blob, err = keptBlob(blobPath, info.ArchiveSize+rest); err != nil {
			return nil, err
		}
		defer blob.Close()
	} else if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("store archive: %w", err)
	}
	// The blob alone is synced before the entry appears; the tree is
	// recorded as unsynced (see the package documentation). The blob's
	// writeback has been under way all along, and the wait for the rest
	// overlaps with the checks and finishing the tree.
	waitBlob := func() error { return nil }
	if !s.opts.NoSync {
		waitBlob = syncInBackground(blob)
		defer waitBlob() // no return while the blob is being synced
	}
	if opts.ExpectedID != "" && info.ID.String() != opts.ExpectedID {
		return nil, fmt.Errorf("image hash mismatch: the archive is %s, expected %s", info.ID, opts.ExpectedID)
	}
	m, err := aci.ParseImageManifest(info.ManifestJSON)
	if err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", info.ID, err)
	}
	origin := opts.Origin
	if opts.Verify != nil {
		if err := opts.Verify(m, &origin); err != nil {
			return nil, fmt.Errorf("image %s (%s): %w", m.Name, info.ID, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	switch {
	case len(m.Dependencies) > 0:
		// Rendered later, over the dependencies: keep what the whitelist
		// needs to know.
		if err := own.moveTo(filepath.Join(tree, ownDirsFile)); err != nil {
			return nil, err
		}
	case len(m.PathWhitelist) > 0:
		dirs, err := own.read()
		if err != nil {
			return nil, err
		}
		if err := x.Prune(ctx, whitelist(m.PathWhitelist, dirs)); err != nil {
			return nil, err
		}
	}
	tr.Step("import: image checked")
	res, err := x.Finish(ctx)
	if err != nil {
		return nil, err
	}
	tr.Step("import: tree finished")
	if err := os.WriteFile(filepath.Join(tree, "manifest"), info.ManifestJSON, 0o644); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	img := &Image{
		ID:             info.ID.String(),
		Name:           string(m.Name),
		Labels:         m.Labels,
		Origin:         origin,
		FetchedAt:      now,
		ImportTime:     now,
		Size:           info.ArchiveSize,
		TarSize:        info.TarSize,
		Compression:    info.Compression.String(),
		SkippedDevices: res.SkippedDevices,
		Manifest:       info.ManifestJSON,
	}
	if len(m.Dependencies) == 0 {
		if img.TreeHash, err = importTreeHash(ctx, tree, x); err != nil {
			return nil, err
		}
		img.Rendered = true
		tr.Step("import: tree hashed")
	}
	if err := waitBlob(); err != nil {
		return nil, fmt.Errorf("sync %s: %w", blob.Name(), err)
	}
	tr.Step("import: stored copy synced")
	if img.Unsynced, err = s.unsynced(); err != nil {
		return nil, err
	}
	if err := blob.Close(); err != nil {
		return nil, err
	}
	return s.commit(ctx, st, img)
}

// importTreeHash hashes the tree an import has just extracted. The
// extractor recorded every entry as it made it, so no walk is needed, unless
// a whitelist pruned the tree; then the walk takes the content digests from
// the extractor and adds the final metadata.
func importTreeHash(ctx context.Context, tree string, x *extract.Extractor) (string, error) {
	if ents, ok := x.Entries(); ok {
		h, ok, err := recordedTreeHash(ctx, tree, ents)
		if err != nil || ok {
			return h, err
		}
	}
	return treeHash(ctx, tree, func(name string) (extract.Digest, bool) {
		n, ok := strings.CutPrefix(name, "rootfs/")
		if !ok {
			return extract.Digest{}, false
		}
		return x.Digest(n)
	})
}

// keptBlob opens the stored copy of an image that the caller of Import put
// at path (ImportOptions.BlobAt), once size bytes have been read: a file of
// another size is not a copy of what was imported. It is made readable as
// Import's own copies are.
func keptBlob(path string, size int64) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("the image's stored copy: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() != size {
		err = fmt.Errorf("%s holds %d bytes, the image has %d", path, fi.Size(), size)
	}
	if err == nil && fi.Mode().Perm() != 0o644 {
		err = f.Chmod(0o644)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("the image's stored copy: %w", err)
	}
	return f, nil
}

// syncInBackground starts fdatasync of f in a goroutine of its own and
// returns the function that waits for it and returns its error; every call
// returns the same. The sync holds os.File's reference to the descriptor, so
// a Close meanwhile cannot pull it away; still, the caller waits before it
// closes f or returns, so that no sync outlives the import.
func syncInBackground(f *os.File) func() error {
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		rc, cerr := f.SyscallConn()
		if cerr == nil {
			cerr = rc.Control(func(fd uintptr) { err = unix.Fdatasync(int(fd)) })
		}
		if cerr != nil {
			err = cerr
		}
	}()
	return func() error {
		<-done
		return err
	}
}

// writebackWriter writes to f and starts writing each chunk to disk at once
// (atomicfile.StartWriteback), so that the fdatasync at the end of an import
// finds the blob mostly on disk already.
type writebackWriter struct {
	f   *os.File
	off int64
}

func (w *writebackWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if n > 0 {
		atomicfile.StartWriteback(w.f, w.off, int64(n))
		w.off += int64(n)
	}
	return n, err
}

// rootfsHeader turns a header from archive.WalkArchive ("rootfs",
// "rootfs/bin/sh", hard links to "rootfs/...") into one relative to the
// rootfs directory.
func rootfsHeader(hdr *tar.Header) *tar.Header {
	h := *hdr
	h.Name = strings.TrimPrefix(strings.TrimPrefix(hdr.Name, archive.RootfsEntry), "/")
	if h.Name == "" {
		h.Name = "."
	}
	if h.Typeflag == tar.TypeLink {
		h.Linkname = strings.TrimPrefix(hdr.Linkname, archive.RootfsEntry+"/")
	}
	return &h
}

// commit moves the staged blob and tree into place under the image lock and
// writes the index entry last.
func (s *Store) commit(ctx context.Context, st *staging, img *Image) (*Image, error) {
	s.reached(stepStaged)
	// An image already stored needs no exclusive lock, which would wait
	// for every holder, this process's own Holds included (a pod naming
	// two files of the same content). Its origin is updated only if the
	// lock can be had at once.
	if sl, err := s.lockImage(ctx, img.ID, false); err == nil {
		old, rerr := s.read(img.ID)
		sl.unlock()
		if rerr == nil {
			if l, err := tryLock(s.lockPath(img.ID), true); err == nil && l != nil {
				defer l.unlock()
				return s.commitLocked(st, img)
			}
			return old, nil
		}
	}
	l, err := s.lockImage(ctx, img.ID, true)
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	img, err = s.commitLocked(st, img)
	if err == nil {
		s.opts.Trace.Step("import: committed")
	}
	return img, err
}

// commitLocked, with the image's exclusive lock held, returns the stored
// entry of img's ID with img's origin recorded, or moves the staging st
// into place and makes img the entry.
func (s *Store) commitLocked(st *staging, img *Image) (*Image, error) {
	if old, err := s.read(img.ID); err == nil {
		// Someone else imported it first. Keep theirs, record our origin.
		if img.Origin != (Origin{}) {
			old.Origin, old.FetchedAt = img.Origin, img.FetchedAt
			if err := s.write(old); err != nil {
				return nil, err
			}
		}
		return old, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	treeDst := s.treeDir(img.ID)
	if !img.Rendered {
		treeDst = s.layerDir(img.ID)
	}
	// Leftovers of an import that died after its renames but before its
	// index entry are invisible; replace them.
	for _, p := range []string{s.blobPath(img.ID), s.treeDir(img.ID), s.layerDir(img.ID)} {
		if err := s.discard(p); err != nil {
			return nil, err
		}
	}
	s.reached(stepLeftoversDiscarded)
	if err := os.Rename(filepath.Join(st.dir, "blob"), s.blobPath(img.ID)); err != nil {
		return nil, err
	}
	s.reached(stepBlobRenamed)
	if err := os.Rename(filepath.Join(st.dir, "tree"), treeDst); err != nil {
		return nil, err
	}
	s.reached(stepTreeRenamed)
	// The renames must be on disk before the entry appears. The two
	// directories are synced side by side, and while they are, the
	// entry's own file is written and synced: one flush waited for
	// instead of three before the entry's rename.
	var renamesSynced func() error
	if !s.opts.NoSync {
		errs := make(chan error, 2)
		for _, d := range []string{s.path("blobs"), filepath.Dir(treeDst)} {
			go func() { errs <- atomicfile.SyncDir(d) }()
		}
		renamesSynced = sync.OnceValue(func() error { return errors.Join(<-errs, <-errs) })
	}
	err := s.writeIndex(img, !s.opts.NoSync, renamesSynced)
	if renamesSynced != nil {
		renamesSynced() // no sync outlives the commit, whatever failed
	}
	if err != nil {
		return nil, err
	}
	s.reached(stepIndexWritten)
	return img, nil
}

// discard removes path (a file or directory tree) by first renaming it into
// tmp/, so that it disappears atomically from where it was.
func (s *Store) discard(path string) error {
	t := &trash{s: s}
	defer t.empty()
	return t.put(path)
}

// trash is a staging directory that paths are moved into, out of sight at
// once, and deleted together by empty: gc discards three paths of each of
// a thousand images, and a staging directory of their own for each (a lock
// file, a directory, their removal) was half of its system calls. What a
// process killed before empty leaves, cleanStaging removes.
type trash struct {
	s  *Store
	st *staging // made by the first put
	n  int
}

// put moves path (which may be missing) into the trash. Only the first
// path put is looked at first, so that a missing one makes no staging
// directory; after that, a missing path is a rename that fails, which costs
// what the look would have, and spares it for every path that is there.
func (t *trash) put(path string) error {
	if t.st == nil {
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		st, err := t.s.newStaging("trash")
		if err != nil {
			return err
		}
		t.st = st
	}
	t.n++
	// rename(2) itself: the name in the trash is new, and os.Rename would
	// look at it first.
	if err := unix.Rename(path, filepath.Join(t.st.dir, strconv.Itoa(t.n))); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s: move into %s: %w", path, t.st.dir, err)
	}
	return nil
}

// empty deletes what was put in the trash.
func (t *trash) empty() {
	t.st.remove()
	t.st = nil
}

// whitelist returns the keep function for extract.Prune that applies a
// pathWhitelist (spec A14, A16): with an empty list everything stays;
// otherwise a path stays if it is listed, and a directory also if it is in
// own (the image's own directories, which its whitelist never removes, as
// in the appc reference renderer) or still holds something that stays.
func whitelist(pwl []string, own map[string]bool) func(string, bool) bool {
	if len(pwl) == 0 {
		return func(string, bool) bool { return true }
	}
	set := make(map[string]bool, len(pwl))
	for _, p := range pwl {
		if c, err := extract.CleanName(strings.TrimLeft(p, "/")); err == nil && c != "." {
			set[c] = true
		}
	}
	return func(name string, isDir bool) bool {
		if set[name] {
			return true
		}
		return isDir && own[name]
	}
}
