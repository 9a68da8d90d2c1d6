package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/acirun/acirun/aci/archive"
	"github.com/acirun/acirun/internal/atomicfile"
	"github.com/acirun/acirun/stage0/store/extract"
)

// Hold keeps id from being removed (by Remove or GC) until release is
// called, and records the use in LastUsed. stage0/pod holds an image from
// before it reads the tree until the pod is recorded as prepared, after
// which GC's in-use set protects it. A tree written in an earlier boot and
// not known to have reached the disk is verified first, and rendered again
// from the blob if damaged (see the package documentation).
func (s *Store) Hold(ctx context.Context, id string) (img *Image, release func(), err error) {
	img, l, err := s.readSettled(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("hold %s: %w", id, err)
	}
	// The last use only feeds gc's grace period: not worth two fsyncs on
	// every pod start, nor a new index entry when the recorded one is
	// within LastUsedResolution.
	now := time.Now().UTC()
	if d := now.Sub(img.LastUsed); d < 0 || d >= LastUsedResolution {
		img.LastUsed = now
		if err := s.writeIndex(img, false, nil); err != nil {
			l.unlock()
			return nil, nil, fmt.Errorf("hold %s: %w", id, err)
		}
	}
	return img, l.unlock, nil
}

// LastUsedResolution is how far an image's LastUsed may be behind its last
// use: Hold records a use only when the recorded one is older, and GC
// counts an image as used until LastUsed plus this (or now, if sooner), so
// that it never removes one sooner than its grace period after a use. Each record is an
// index entry renamed over the old one, which makes ext4 start writing the
// new one's data out (auto_da_alloc): 0.02-7 ms on every pod start (perf
// trace, with other I/O on the disk), now once a minute for an image that
// pods keep starting from.
const LastUsedResolution = time.Minute

// UpdateOrigin records fresh origin information for id, e.g. after the
// server answered 304 Not Modified to a conditional request.
func (s *Store) UpdateOrigin(ctx context.Context, id string, o Origin) error {
	l, err := s.lockImage(ctx, id, true)
	if err != nil {
		return fmt.Errorf("update %s: %w", id, err)
	}
	defer l.unlock()
	img, err := s.read(id)
	if err != nil {
		return fmt.Errorf("update %s: %w", id, err)
	}
	img.Origin, img.FetchedAt = o, time.Now().UTC()
	if err := s.write(img); err != nil {
		return fmt.Errorf("update %s: %w", id, err)
	}
	return nil
}

// Remove deletes id: its index entry first (so it is gone at once), then
// its tree, layer and blob. It fails if the image is held (Hold) or being
// changed. It does not know about pods: to remove an image no pod uses,
// use RemoveUnused, which makes that check and the removal one decision.
func (s *Store) Remove(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	l, err := tryLock(s.lockPath(id), true)
	if err != nil {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	if l == nil {
		return fmt.Errorf("remove %s: the image is in use by another acirun process", id)
	}
	if err := s.removeEntries(ctx, []string{id})[0]; err != nil {
		if errors.Is(err, ErrNotFound) {
			// Removed by another process before this one locked it:
			// the lock file is this one's.
			l.unlinkAndUnlock()
		} else {
			l.unlock()
		}
		return fmt.Errorf("remove %s: %w", id, err)
	}
	t := &trash{s: s}
	err = s.discardFiles(id, t)
	t.empty()
	if err != nil {
		l.unlock()
		return fmt.Errorf("remove %s: %w", id, err)
	}
	l.unlinkAndUnlock()
	if _, err := s.removeUnusedLayers(); err != nil {
		return fmt.Errorf("remove %s: layers: %w", id, err)
	}
	return nil
}

// removeEntries removes the index entries of ids, whose locks the caller
// holds exclusively, and makes that durable with one sync of images/ before
// it returns: from then on none of them is visible, so their files may go
// (discardFiles), and a crash before they are gone leaves only files
// without an entry, which GC removes (removeLeftovers). An entry already
// gone is ErrNotFound; once ctx is done, the entries not yet removed stay
// and get its error. One sync for all of ids, not one per image: image rm
// and gc of a thousand images synced the directory a thousand times.
func (s *Store) removeEntries(ctx context.Context, ids []string) []error {
	errs := make([]error, len(ids))
	for i, id := range ids {
		if errs[i] = ctx.Err(); errs[i] != nil {
			continue
		}
		errs[i] = os.Remove(s.indexPath(id))
		if errors.Is(errs[i], os.ErrNotExist) {
			errs[i] = ErrNotFound
		}
	}
	if !s.opts.NoSync {
		atomicfile.SyncDir(s.path("images"))
	}
	return errs
}

// discardFiles moves the tree, layer and blob of id, whose entry
// removeEntries removed, into t; the caller holds id's lock exclusively,
// and empties t.
func (s *Store) discardFiles(id string, t *trash) error {
	for _, p := range []string{s.treeDir(id), s.layerDir(id), s.blobPath(id)} {
		if err := t.put(p); err != nil {
			return err
		}
	}
	return nil
}

// ErrInUse is what RemoveUnused says of an image its in-use set names.
var ErrInUse = errors.New("used by a prepared or running pod")

// ErrHeld is what RemoveUnused says of an image another holder has locked
// (Hold, an import or render of it).
var ErrHeld = errors.New("in use by another acirun process (a pod being prepared or started, an import): try again once it is done")

// RemoveUnused removes each image of ids that inUse does not name, as GC
// does: every image is locked before inUse is called, once, so that a pod
// prepared meanwhile either is in the set or still holds its image (Hold),
// which makes the image held. "In use" and "remove" are thus one decision;
// checking the set first and removing after (Remove) would take an image
// from a pod prepared in between. The result has an error for each id, in
// order: nil when it was removed, ErrInUse, ErrHeld, or another failure.
func (s *Store) RemoveUnused(ctx context.Context, ids []string, inUse func() (map[string]bool, error)) ([]error, error) {
	errs := make([]error, len(ids))
	var candidates []string
	for i, id := range ids {
		if err := checkID(id); err != nil {
			errs[i] = fmt.Errorf("remove %s: %w", id, err)
			continue
		}
		candidates = append(candidates, id)
	}
	u, err := s.lockUnused(candidates, inUse)
	if err != nil {
		return nil, fmt.Errorf("remove: %w", err)
	}
	defer u.unlock()
	var locked []string // each once, in order
	var at []int        // the index in ids of each of locked
	first := make(map[string]int)
	for i, id := range ids {
		if errs[i] != nil {
			continue
		}
		if _, ok := first[id]; ok {
			continue // named twice: settled below
		}
		first[id] = i
		switch {
		case u.locks[id] == nil && slices.Contains(u.held, id):
			errs[i] = fmt.Errorf("remove %s: %w", id, ErrHeld)
		case u.locks[id] == nil:
			errs[i] = fmt.Errorf("remove %s: %w", id, ErrInUse)
		default:
			locked = append(locked, id)
			at = append(at, i)
		}
	}
	// Every entry first, under one sync, then the files of those removed,
	// all through one trash emptied once, as gc does: not a sync of
	// images/, a staging directory and its lock file for each image.
	gone := s.removeEntries(ctx, locked)
	t := &trash{s: s}
	defer t.empty()
	removed := 0
	for j, id := range locked {
		err := gone[j]
		if err == nil {
			err = s.discardFiles(id, t)
		}
		if err != nil {
			errs[at[j]] = fmt.Errorf("remove %s: %w", id, err)
		}
		// An entry another process removed before this one locked it
		// leaves the lock file this one made.
		if err == nil || errors.Is(err, ErrNotFound) {
			u.locks[id].unlinkAndUnlock()
			delete(u.locks, id)
		}
		if err == nil {
			removed++
		}
	}
	t.empty()
	for i, id := range ids {
		// An ID named again: gone once the first removed it, else kept for
		// the same reason.
		if j, ok := first[id]; ok && j != i {
			if errs[i] = errs[j]; errs[j] == nil {
				errs[i] = fmt.Errorf("remove %s: %w", id, ErrNotFound)
			}
		}
	}
	if removed > 0 {
		if _, err := s.removeUnusedLayers(); err != nil {
			return errs, fmt.Errorf("remove: layers: %w", err)
		}
	}
	return errs, nil
}

// unusedLocks is what lockUnused took: the exclusive locks of the
// candidates no pod uses, and the candidates it left alone.
type unusedLocks struct {
	locks map[string]*lock
	held  []string // locked by another holder
	inUse []string // named by the in-use set
}

// lockUnused locks each of ids exclusively, without waiting, and only then
// asks inUse for the images pods use, once (see RemoveUnused); it keeps
// the locks of the images the set does not name. unlock releases those
// still kept.
func (s *Store) lockUnused(ids []string, inUse func() (map[string]bool, error)) (*unusedLocks, error) {
	u := &unusedLocks{locks: make(map[string]*lock, len(ids))}
	for _, id := range ids {
		if u.locks[id] != nil {
			continue // named twice
		}
		l, err := tryLock(s.lockPath(id), true)
		if err != nil {
			u.unlock()
			return nil, err
		}
		if l == nil {
			u.held = append(u.held, id)
			continue
		}
		u.locks[id] = l
	}
	if len(u.locks) == 0 {
		return u, nil
	}
	used, err := inUse()
	if err != nil {
		u.unlock()
		return nil, fmt.Errorf("listing images in use: %w", err)
	}
	for _, id := range ids {
		if l := u.locks[id]; l != nil && used[id] {
			l.unlock()
			delete(u.locks, id)
			u.inUse = append(u.inUse, id)
		}
	}
	return u, nil
}

func (u *unusedLocks) unlock() {
	for _, l := range u.locks {
		l.unlock()
	}
	clear(u.locks)
}

// Export writes the ACI file of id exactly as it was received, so that
// importing it again gives the same ID. An OCI image has no such file: it
// is written as an ACI of its rendered tree (gzip), which imports as an
// image of its own.
func (s *Store) Export(ctx context.Context, id string, w io.Writer) error {
	l, err := s.lockImage(ctx, id, false)
	if err != nil {
		return fmt.Errorf("export %s: %w", id, err)
	}
	defer l.unlock()
	img, err := s.read(id)
	if err != nil {
		return fmt.Errorf("export %s: %w", id, err)
	}
	if img.OCI != nil {
		// Its blob holds only the manifest: the ACI is its tree.
		if err := archive.Build(s.treeDir(id), w, archive.BuildOptions{Rendered: true}); err != nil {
			return fmt.Errorf("export %s: %w", id, err)
		}
		return nil
	}
	f, err := os.Open(s.blobPath(id))
	if err != nil {
		return fmt.Errorf("export %s: %w", id, err)
	}
	defer f.Close()
	if _, err := io.Copy(w, ctxReader{ctx, f}); err != nil {
		return fmt.Errorf("export %s: %w", id, err)
	}
	return nil
}

// ExtractTo extracts the image's own rootfs (no dependencies, no
// whitelist) from its stored ACI into dir, which must not exist or be
// empty. The stored ACI is re-hashed on the way. Run as non-root, owners are
// not restored and setuid/setgid bits are dropped.
func (s *Store) ExtractTo(ctx context.Context, id, dir string) error {
	l, err := s.lockImage(ctx, id, false)
	if err != nil {
		return fmt.Errorf("extract %s: %w", id, err)
	}
	defer l.unlock()
	img, err := s.read(id)
	if err != nil {
		return fmt.Errorf("extract %s: %w", id, err)
	}
	if err := prepareTarget(dir); err != nil {
		return fmt.Errorf("extract %s: %w", id, err)
	}
	if img.OCI != nil {
		// Its own files are its layers, composed.
		if err := s.renderOCI(ctx, img, dir); err != nil {
			return fmt.Errorf("extract %s to %s: %w", id, dir, err)
		}
		return nil
	}
	if _, _, err := s.extractBlob(ctx, id, dir, nil, false); err != nil {
		return fmt.Errorf("extract %s to %s: %w", id, dir, err)
	}
	return nil
}

// RenderTo copies the rendered tree of id (manifest and rootfs/) into dir,
// which must not exist or be empty. The copy shares nothing with the store.
func (s *Store) RenderTo(ctx context.Context, id, dir string) error {
	img, l, err := s.readSettled(ctx, id)
	if err != nil {
		return fmt.Errorf("render %s: %w", id, err)
	}
	defer l.unlock()
	if !img.Rendered {
		return fmt.Errorf("render %s: not rendered yet (its dependencies are missing)", id)
	}
	if err := prepareTarget(dir); err != nil {
		return fmt.Errorf("render %s: %w", id, err)
	}
	lim := s.opts.Limits
	lim.NoOwnership = os.Geteuid() != 0
	x, err := extract.New(dir, lim)
	if err != nil {
		return fmt.Errorf("render %s: %w", id, err)
	}
	defer x.Close()
	if err := copyTree(ctx, s.treeDir(id), x, false, nil); err != nil {
		return fmt.Errorf("render %s to %s: %w", id, dir, err)
	}
	if _, err := x.Finish(ctx); err != nil {
		return fmt.Errorf("render %s to %s: %w", id, dir, err)
	}
	return nil
}

// VerifyTree re-hashes the rendered tree of id and compares it with the hash
// recorded when it was rendered. A difference is reported as an error
// wrapping ErrTreeMismatch; RepairTree fixes it.
func (s *Store) VerifyTree(ctx context.Context, id string) error {
	l, err := s.lockImage(ctx, id, false)
	if err != nil {
		return fmt.Errorf("verify %s: %w", id, err)
	}
	defer l.unlock()
	img, err := s.read(id)
	if err != nil {
		return fmt.Errorf("verify %s: %w", id, err)
	}
	return s.verifyTreeLocked(ctx, img)
}

// verifyTreeLocked is VerifyTree with img's lock held.
func (s *Store) verifyTreeLocked(ctx context.Context, img *Image) error {
	id := img.ID
	if !img.Rendered {
		return fmt.Errorf("verify %s: not rendered yet", id)
	}
	h, err := TreeHash(ctx, s.treeDir(id))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("verify %s: %w: the tree is missing", id, ErrTreeMismatch)
		}
		return fmt.Errorf("verify %s: %w", id, err)
	}
	if h != img.TreeHash {
		return fmt.Errorf("verify %s: %w (recorded %s, found %s)", id, ErrTreeMismatch, img.TreeHash, h)
	}
	return nil
}

// RepairTree renders id again from the stored ACI files (re-hashing each
// one) and replaces its tree atomically. Pods already running on the old
// tree keep their mounts; it should not be used on an image in use.
func (s *Store) RepairTree(ctx context.Context, id string, resolve DepResolver) (*Image, error) {
	img, err := s.render(ctx, id, resolve, nil, true)
	if err != nil {
		return nil, fmt.Errorf("repair %s: %w", id, err)
	}
	return img, nil
}

// GCOptions say what GC may remove.
type GCOptions struct {
	// GracePeriod spares images imported or used more recently.
	GracePeriod time.Duration
	// InUse returns the IDs of the images that prepared or running pods
	// use (required). It is called after GC has locked its candidates, so
	// a pod prepared concurrently is either in the set or still holding
	// its image (Hold), which makes GC skip it.
	InUse func() (map[string]bool, error)
}

// GCResult says what GC did.
type GCResult struct {
	Removed []string // image IDs removed
	InUse   []string // candidates kept because a pod uses them
	Held    []string // candidates kept because a process holds them
	// Leftovers counts removed staging directories and unreferenced blobs,
	// trees and layers of imports that died.
	Leftovers int
}

// GC removes images not used for GracePeriod that no pod uses, stale
// staging, and leftovers of imports that died before becoming visible.
func (s *Store) GC(ctx context.Context, opts GCOptions) (*GCResult, error) {
	if opts.InUse == nil {
		return nil, errors.New("gc: no in-use set given")
	}
	res := &GCResult{}
	n, err := s.cleanStaging()
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	res.Leftovers += n
	imgs, err := s.List(Filter{})
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	start := time.Now()
	cutoff := start.Add(-opts.GracePeriod)
	var candidates []string
	for _, img := range imgs {
		last := img.ImportTime
		// A use is up to LastUsedResolution later than recorded, and
		// not later than now: without a grace period every image that
		// no pod uses goes, as before the resolution.
		if used := img.LastUsed.Add(LastUsedResolution); !img.LastUsed.IsZero() && used.After(last) {
			last = used
			if last.After(start) {
				last = start
			}
		}
		if last.After(cutoff) {
			continue
		}
		candidates = append(candidates, img.ID)
	}
	u, err := s.lockUnused(candidates, opts.InUse)
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	defer u.unlock()
	res.Held, res.InUse = u.held, u.inUse
	var locked []string
	for _, id := range candidates {
		if u.locks[id] != nil {
			locked = append(locked, id)
		}
	}
	gone := s.removeEntries(ctx, locked)
	t := &trash{s: s}
	defer t.empty()
	var first error
	for j, id := range locked {
		err := gone[j]
		switch {
		case errors.Is(err, ErrNotFound):
			// Removed by another process since List: not removed by
			// this one, but the lock file is this one's.
		case err != nil && err == ctx.Err():
			first = cmp.Or(first, err)
			continue
		case err != nil:
			first = cmp.Or(first, fmt.Errorf("gc: remove %s: %w", id, err))
			continue
		default:
			if err := s.discardFiles(id, t); err != nil {
				first = cmp.Or(first, fmt.Errorf("gc: remove %s: %w", id, err))
				continue
			}
			res.Removed = append(res.Removed, id)
		}
		u.locks[id].unlinkAndUnlock()
		delete(u.locks, id)
	}
	t.empty()
	if first != nil {
		return res, first
	}
	n, err = s.removeLeftovers(ctx)
	res.Leftovers += n
	if err == nil {
		n, err = s.removeUnusedLayers()
		res.Leftovers += n
	}
	if err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	u.unlock()
	if err := s.confirmSynced(ctx); err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	return res, nil
}

// rendered reports whether id's index entry says its tree is rendered.
func (s *Store) rendered(id string) bool {
	img, err := s.read(id)
	return err == nil && img.Rendered
}

// removeLeftovers removes blobs, trees and layers that have no index entry
// and whose image nobody has locked (a commit in progress holds the lock),
// and the own layer of an image whose entry says it is rendered (a render
// killed between writing the entry and discarding the layer leaves it, and
// nothing else ever would remove it).
func (s *Store) removeLeftovers(ctx context.Context) (int, error) {
	n := 0
	for _, sub := range []string{"blobs", "trees", "layers"} {
		ents, err := os.ReadDir(s.path(sub))
		if err != nil {
			return n, err
		}
		for _, e := range ents {
			id := e.Name()
			if checkID(id) != nil {
				continue
			}
			if _, err := os.Lstat(s.indexPath(id)); err == nil && !(sub == "layers" && s.rendered(id)) {
				continue
			}
			l, err := tryLock(s.lockPath(id), true)
			if err != nil || l == nil {
				continue
			}
			_, err = os.Lstat(s.indexPath(id))
			switch {
			case errors.Is(err, os.ErrNotExist):
				if err := s.discard(filepath.Join(s.path(sub), id)); err != nil {
					l.unlock()
					return n, err
				}
				n++
				l.unlinkAndUnlock()
				continue
			case err == nil && sub == "layers" && s.rendered(id):
				if err := s.discard(filepath.Join(s.path(sub), id)); err != nil {
					l.unlock()
					return n, err
				}
				n++
			}
			l.unlock()
		}
	}
	return n, ctx.Err()
}
