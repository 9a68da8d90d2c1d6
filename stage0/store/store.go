// Package store is acirun's content-addressed image store: the ACI files as
// they were received, keyed by image ID (the sha512 of the uncompressed
// tar), their rendered trees (image plus dependencies, pathWhitelist applied,
// what a pod mounts read-only as its overlay lower layer), and a small JSON
// index entry per image.
//
// Layout under the store directory DIR (`--dir`, /var/lib/acirun):
//
//	blobs/ID            the ACI exactly as received (so export gives the same ID back)
//	images/ID.json      index entry; its existence is what makes an image visible
//	trees/ID/manifest   rendered tree: the image manifest ...
//	trees/ID/rootfs/    ... and the rendered root file system
//	layers/ID/          an image with dependencies: its own manifest and rootfs,
//	                    kept from import until Render has composed trees/ID
//	ocilayers/sha256-HEX/  one layer of OCI images (see oci_linux.go)
//	tmp/NAME/, NAME.lock  private staging of one import or render, flock-held
//	                    by its owner; anything unlocked there is removed on Open
//
// and under the lock directory (a parameter, e.g. /run/acirun/store):
//
//	ID.lock             flock: exclusive while an entry is created, changed or
//	                    removed, shared while it is read or held for a pod
//
// Every change becomes visible atomically: files are written in staging,
// moved into place with rename(2), and the index entry is written last with
// temp file + fsync + rename. A process killed at any point leaves either
// nothing visible or a complete entry; its staging is removed on the next
// Open and unreferenced leftovers by GC.
//
// Durability: what cannot be made again is on disk before an entry becomes
// visible (the blob is fdatasync'ed, the directories renamed into and the
// index entry fsync'ed); the tree, which the blob can make again, is not
// waited for. Syncing the thousands of files of a tree would cost a large
// import a third of its time, mostly waiting for the disk. Instead the
// entry records the boot in which its tree was written (Image.Unsynced):
// in that boot the tree is what was written, whether or not the kernel has
// written it back yet; in a later boot (after a crash, it may be partly
// lost) it is verified against its TreeHash before its first use and
// rendered again from the blob if it differs (see settle). GC syncs the
// store's file system and clears the record of the trees it covered, so
// that after a reboot only trees written since the last GC are verified.
//
// Decisions:
//
//   - Extraction is done by package extract (see its documentation for
//     names, links, devices, setuid bits, xattrs and limits); a whole ACI is
//     validated and hashed by archive.WalkArchive in the same pass.
//   - pathWhitelist (spec A14, A16) keeps listed paths, directories that
//     still hold something listed, and the image's own explicit
//     directories (as the appc reference renderer does); implicit parents
//     of removed files go. Rendering is recursive: a dependency's tree is
//     its own rendering, whitelist included, so every whitelist on the way
//     up applies to what lies below it (the reference applies only the
//     top-most ancestor's whitelist to a branch). Directories an upper image
//     only has as parents of its entries keep a lower layer's metadata.
//   - Rendered trees share file content with their dependencies' trees
//     (hard links); stage1 never writes into a tree. TreeHash covers names,
//     types, modes, owners, kept xattrs, symlink targets, file sizes, mtimes
//     and content (SHA-256), not directory times. An import takes it
//     without reading the tree back: the content is hashed as it is
//     written, and the extractor records each entry's stat once its
//     metadata is final (extract.Options.Record); a whitelist, which prunes
//     the tree, falls back to a walk. Render and verification walk.
//   - trees/, layers/ and tmp/ are mode 0700 so host users never reach the
//     setuid files of images.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/atomicfile"
	"github.com/acirun/acirun/internal/trace"
	"github.com/acirun/acirun/stage0/store/extract"
)

// ErrNotFound is returned (wrapped) when no image matches.
var ErrNotFound = errors.New("image not found")

// ErrTreeMismatch is returned (wrapped) by VerifyTree when a rendered tree no
// longer matches the hash recorded when it was rendered.
var ErrTreeMismatch = errors.New("rendered tree does not match its recorded hash")

// Options configure a Store.
type Options struct {
	// LockDir holds the lock files of images and sources. It should be on
	// a tmpfs such as /run/acirun/store; empty means DIR/locks.
	LockDir string
	// Limits bound what one image may extract to (entries, bytes of
	// content); zero fields take the extract package defaults.
	Limits extract.Options
	// NoSync skips the fsync/syncfs calls that make an entry durable
	// before it becomes visible. For tests and benchmarks only.
	NoSync bool
	// BootID names the running boot (see Image.Unsynced); empty means the
	// kernel's, /proc/sys/kernel/random/boot_id. Tests set it to play a
	// reboot.
	BootID string
	// Trace is told the steps of an import (ACIRUN_TRACE): where its
	// time goes after the last byte; nil traces nothing.
	Trace *trace.Tracer
	// crashAt, set only by this package's tests, is called at each
	// commitStep of an import (crashpoint.go).
	crashAt func(commitStep)
}

// Store is an open image store. Its methods are safe for concurrent use by
// goroutines and processes: coordination is through flock(2), not memory.
type Store struct {
	dir     string
	lockDir string
	opts    Options
}

// Origin is where an image came from and how fresh that knowledge is; the
// fetch pipeline uses it for --pull-policy=update (ETag, Cache-Control).
type Origin struct {
	// URL the ACI was downloaded from ("" for a local file).
	URL string `json:"url,omitempty"`
	// ETag of the HTTP response, for If-None-Match.
	ETag string `json:"etag,omitempty"`
	// MaxAge from Cache-Control: the image is fresh until FetchedAt+MaxAge.
	MaxAge time.Duration `json:"maxAge,omitempty"`
	// Signer is the fingerprint of the key whose signature was verified
	// ("" when verification was skipped by --insecure-options=image).
	Signer string `json:"signer,omitempty"`
	// Digest is the manifest digest an OCI image's reference pinned
	// ("sha256:HEX"): content verified by its digest, not a signature.
	Digest string `json:"digest,omitempty"`
}

// Image is the index entry of one stored image.
type Image struct {
	// ID is the full image ID, "sha512-" and 128 hex digits.
	ID     string      `json:"id"`
	Name   string      `json:"name"`
	Labels []aci.Label `json:"labels,omitempty"`
	Origin Origin      `json:"origin"`
	// FetchedAt is when Origin was last confirmed by the server (import,
	// or a 304 Not Modified recorded with UpdateOrigin).
	FetchedAt  time.Time `json:"fetchedAt"`
	ImportTime time.Time `json:"importTime"`
	// LastUsed is the last time Hold was called for it, to within
	// LastUsedResolution (zero: never).
	LastUsed time.Time `json:"lastUsed,omitzero"`
	// Size is the size of the ACI file as stored; TarSize the size of its
	// uncompressed tar.
	Size        int64  `json:"size"`
	TarSize     int64  `json:"tarSize"`
	Compression string `json:"compression"`
	// Rendered says trees/ID is complete; TreeHash is its hash taken at
	// render time (see VerifyTree).
	Rendered bool   `json:"rendered"`
	TreeHash string `json:"treeHash,omitempty"`
	// Unsynced, if set, says the tree (or, not rendered yet, the layer)
	// was written without waiting for the disk, in the boot it names; nil
	// means it is known to be on disk (see the package documentation).
	Unsynced *Unsynced `json:"unsynced,omitempty"`
	// Dependencies are the IDs the rendered tree was composed from, in
	// application order of the manifest's list.
	Dependencies []string `json:"dependencies,omitempty"`
	// SkippedDevices lists device nodes of the image that were not
	// created (see package extract).
	SkippedDevices []string `json:"skippedDevices,omitempty"`
	// OCI is set for an image fetched as an OCI or Docker image: its
	// tree is composed from the layers it names (see oci_linux.go) and
	// its blob holds only the manifest.
	OCI *OCIRecord `json:"oci,omitempty"`
	// Manifest is the image manifest as found in the ACI.
	Manifest json.RawMessage `json:"manifest"`
}

// Unsynced records when a tree was written without waiting for the disk.
type Unsynced struct {
	// Boot is the boot ID of the kernel that wrote it.
	Boot string `json:"boot"`
	// At is when the tree was complete, on that boot's CLOCK_BOOTTIME: a
	// syncfs begun later covers it.
	At time.Duration `json:"at"`
}

// Open opens the store in dir, creating its directories as needed, and
// removes staging left behind by processes that died.
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("open store: no directory given")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	if opts.LockDir == "" {
		opts.LockDir = filepath.Join(dir, "locks")
	}
	if opts.BootID == "" {
		if opts.BootID, err = bootID(); err != nil {
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
	}
	s := &Store{dir: dir, lockDir: opts.LockDir, opts: opts}
	for _, d := range []string{dir, s.path("blobs"), s.path("images"), s.path("trees"), s.path("layers"), s.path("tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
	}
	// Trees hold images' setuid files with their owners: no host user may
	// reach them, whatever the mode of DIR itself.
	for _, d := range []string{s.path("trees"), s.path("layers"), s.path("tmp")} {
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
	}
	if err := os.MkdirAll(s.lockDir, 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: lock directory: %w", dir, err)
	}
	if _, err := s.cleanStaging(); err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	return s, nil
}

// Dir returns the store directory.
func (s *Store) Dir() string { return s.dir }

// noSpace names the store in an error of a write that found its
// filesystem full (ENOSPC, or EDQUOT over a quota) and says what to do:
// the bare "write: no space left on device" of a file deep in a staging
// tree names neither. What was staged is removed by then: nothing of the
// image is kept.
func (s *Store) noSpace(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("the store %s has no space left on its filesystem (free some there, e.g. acirun image gc; nothing of this image was kept): %w", s.dir, err)
	}
	return err
}

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.dir}, elem...)...)
}

func (s *Store) indexPath(id string) string { return s.path("images", id+".json") }
func (s *Store) blobPath(id string) string  { return s.path("blobs", id) }
func (s *Store) treeDir(id string) string   { return s.path("trees", id) }
func (s *Store) layerDir(id string) string  { return s.path("layers", id) }
func (s *Store) lockPath(id string) string  { return filepath.Join(s.lockDir, id+".lock") }

// TreePath returns the directory of id's rendered tree, holding "manifest"
// and "rootfs/". stage0/pod links apps/NAME/image to it; stage1 mounts
// rootfs/ read-only as an overlay lower layer. It fails if the image is not
// in the store or not rendered yet.
func (s *Store) TreePath(id string) (string, error) {
	img, err := s.read(id)
	if err != nil {
		return "", err
	}
	return s.Tree(img)
}

// Tree is TreePath of an index entry already read, such as Hold's: a pod's
// start holds its image and takes the tree from the entry Hold read under
// the image's lock, not from a second read of it.
func (s *Store) Tree(img *Image) (string, error) {
	if !img.Rendered {
		return "", fmt.Errorf("image %s: not rendered yet (its dependencies are missing)", img.ID)
	}
	return s.treeDir(img.ID), nil
}

// checkID makes sure id is a full image ID, so that it is safe as a file
// name.
func checkID(id string) error {
	p, err := aci.ParseImageID(id)
	if err != nil {
		return err
	}
	if !p.IsFull() {
		return fmt.Errorf("image ID %q is not a full ID", id)
	}
	return nil
}

// read loads the index entry of a full ID.
func (s *Store) read(id string) (*Image, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(s.indexPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("image %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", id, err)
	}
	var img Image
	if err := json.Unmarshal(b, &img); err != nil {
		return nil, fmt.Errorf("image %s: index entry %s: %w", id, s.indexPath(id), err)
	}
	if img.ID != id {
		return nil, fmt.Errorf("image %s: index entry %s names %q", id, s.indexPath(id), img.ID)
	}
	return &img, nil
}

// write replaces the index entry atomically.
func (s *Store) write(img *Image) error {
	return s.writeIndex(img, !s.opts.NoSync, nil)
}

// writeIndex writes img's index entry atomically; sync makes it durable
// first. Only a record that may be lost in a crash without harm (the last
// use of an image) is written without. ready, if not nil, is waited for
// before the entry appears (atomicfile.Options.Ready).
func (s *Store) writeIndex(img *Image, sync bool, ready func() error) error {
	b, err := json.MarshalIndent(img, "", "\t")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(s.indexPath(img.ID), append(b, '\n'), atomicfile.Options{NoSync: !sync, Ready: ready})
}

// Filter selects images in List. Empty fields match everything.
type Filter struct {
	// IDPrefix matches IDs starting with it ("sha512-" optional).
	IDPrefix string
	// Name matches the image name exactly.
	Name string
	// Labels must all be present with these values.
	Labels []aci.Label
}

func (f Filter) match(img *Image) bool {
	if f.IDPrefix != "" && !strings.HasPrefix(img.ID, normPrefix(f.IDPrefix)) {
		return false
	}
	if f.Name != "" && img.Name != f.Name {
		return false
	}
	for _, want := range f.Labels {
		ok := false
		for _, l := range img.Labels {
			if l.Name == want.Name && l.Value == want.Value {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func normPrefix(p string) string {
	if !strings.HasPrefix(p, aci.ImageIDPrefix) {
		return aci.ImageIDPrefix + p
	}
	return p
}

// List returns the images matching f, newest import first.
func (s *Store) List(f Filter) ([]*Image, error) {
	ents, err := os.ReadDir(s.path("images"))
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []*Image
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(id, ".") || checkID(id) != nil {
			continue
		}
		img, err := s.read(id)
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("list images: %w", err)
		}
		if f.match(img) {
			out = append(out, img)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].ImportTime.Equal(out[j].ImportTime) {
			return out[i].ImportTime.After(out[j].ImportTime)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Get returns the image with the full ID ref, or the only one whose ID
// starts with ref ("sha512-" may be left out). An ambiguous prefix is an
// error that lists the candidates.
func (s *Store) Get(ref string) (*Image, error) {
	if ref == "" {
		return nil, errors.New("get image: empty ID")
	}
	p := normPrefix(ref)
	if checkID(p) == nil {
		return s.read(p)
	}
	if _, err := aci.ParsePartialImageID(p); err != nil || strings.HasSuffix(p, "...") {
		return nil, fmt.Errorf("get image %q: not an image ID or ID prefix", ref)
	}
	imgs, err := s.List(Filter{IDPrefix: p})
	if err != nil {
		return nil, err
	}
	switch len(imgs) {
	case 0:
		return nil, fmt.Errorf("image %s: %w", ref, ErrNotFound)
	case 1:
		return imgs[0], nil
	}
	var ids []string
	for _, img := range imgs {
		ids = append(ids, img.ID[:min(len(img.ID), aci.ShortImageIDLen+8)]+"…")
	}
	return nil, fmt.Errorf("image ID prefix %q is ambiguous: it matches %d images: %s", ref, len(imgs), strings.Join(ids, ", "))
}

// GetByName returns the most recently imported image called name that
// carries all the given labels.
func (s *Store) GetByName(name string, labels []aci.Label) (*Image, error) {
	imgs, err := s.List(Filter{Name: name, Labels: labels})
	if err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		var b strings.Builder
		b.WriteString(name)
		for _, l := range labels {
			fmt.Fprintf(&b, ",%s=%s", l.Name, l.Value)
		}
		return nil, fmt.Errorf("image %s: %w", b.String(), ErrNotFound)
	}
	return imgs[0], nil
}

// ShortID returns the image ID in its display form, "sha512-" and the first
// 32 hex digits (as aci.ImageID.Short).
func (img *Image) ShortID() string { return img.ID[:min(len(img.ID), aci.ShortImageIDLen)] }

// ImageManifest parses the stored manifest of img.
func (img *Image) ImageManifest() (*aci.ImageManifest, error) {
	m, err := aci.ParseImageManifest(img.Manifest)
	if err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", img.ID, err)
	}
	return m, nil
}
