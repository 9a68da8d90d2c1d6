package store

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/aci/archive"
	"github.com/acirun/acirun/internal/atomicfile"
	"github.com/acirun/acirun/stage0/store/extract"
)

// DepResolver maps a dependency of a manifest to the ID of an image already
// in the store. The fetch pipeline passes one that fetches the dependency
// (by discovery on its name and labels) when it is missing. When a
// dependency carries an imageID, the ID returned must match it.
type DepResolver func(ctx context.Context, dep aci.Dependency) (id string, err error)

// Render composes the rendered tree of id from its dependencies' rendered
// trees (spec A16): dependencies depth-first in list order (each
// dependency's tree is itself rendered the same way, recursively), then the
// image's own rootfs, a later layer replacing what an earlier one put at the
// same path (a directory over a directory merges; a symlink in a lower layer
// where a directory is needed is replaced, never followed), then the image's
// pathWhitelist removes every path not listed, except the image's own
// explicit directories and directories still holding something listed.
// Content is shared with the dependencies' trees by hard links.
//
// Each dependency is resolved by resolve (nil: every dependency must carry
// a full imageID of an image in the store); its name must equal the
// dependency's imageName, it must carry the requested labels, and a
// dependency cycle is an error. Render does nothing for an image already
// rendered, so it is safe to call after every Import.
func (s *Store) Render(ctx context.Context, id string, resolve DepResolver) (*Image, error) {
	img, err := s.render(ctx, id, resolve, nil, false)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", id, s.noSpace(err))
	}
	return img, nil
}

func (s *Store) render(ctx context.Context, id string, resolve DepResolver, stack []string, force bool) (*Image, error) {
	for i, a := range stack {
		if a == id {
			return nil, fmt.Errorf("dependency cycle: %s", strings.Join(append(stack[i:], id), " -> "))
		}
	}
	l, err := s.lockImage(ctx, id, true)
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	img, err := s.read(id)
	if err != nil {
		return nil, err
	}
	if s.needsSettle(img) {
		if err := s.settleLocked(ctx, img, stack); err != nil {
			return nil, err
		}
		if img, err = s.read(id); err != nil {
			return nil, err
		}
	}
	if img.Rendered && !force {
		if _, err := os.Stat(filepath.Join(s.treeDir(id), "rootfs")); err == nil {
			return img, nil
		}
	}
	return s.renderLocked(ctx, img, resolve, stack, force)
}

// renderLocked renders img, whose exclusive lock the caller holds. Without
// a resolver, an image rendered before is composed from the dependencies it
// was rendered from.
func (s *Store) renderLocked(ctx context.Context, img *Image, resolve DepResolver, stack []string, force bool) (*Image, error) {
	id := img.ID
	m, err := img.ImageManifest()
	if err != nil {
		return nil, err
	}

	st, err := s.newStaging("render")
	if err != nil {
		return nil, err
	}
	defer st.remove()
	tree := filepath.Join(st.dir, "tree")
	rootfs := filepath.Join(tree, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return nil, err
	}

	var depIDs []string
	if img.OCI != nil {
		if err := s.renderOCI(ctx, img, rootfs); err != nil {
			return nil, err
		}
	} else if len(m.Dependencies) == 0 {
		_, res, err := s.extractBlob(ctx, id, rootfs, m.PathWhitelist, false)
		if err != nil {
			return nil, err
		}
		img.SkippedDevices = res.SkippedDevices
	} else {
		for i, dep := range m.Dependencies {
			r := resolve
			if r == nil && len(img.Dependencies) == len(m.Dependencies) {
				// Rendered before: the same dependencies again.
				recorded := img.Dependencies[i]
				r = func(context.Context, aci.Dependency) (string, error) { return recorded, nil }
			}
			did, err := s.resolveDep(ctx, dep, r)
			if err != nil {
				return nil, err
			}
			for _, a := range append(stack, id) {
				if a == did {
					return nil, fmt.Errorf("dependency cycle: %s", strings.Join(append(append(stack, id), did), " -> "))
				}
			}
			depForce := false
			if force {
				// Repairing: repair a damaged dependency tree first.
				err := s.VerifyTree(ctx, did)
				depForce = errors.Is(err, ErrTreeMismatch)
			}
			if _, err := s.render(ctx, did, resolve, append(stack, id), depForce); err != nil {
				return nil, fmt.Errorf("dependency %s (%s): %w", dep.ImageName, did, err)
			}
			depIDs = append(depIDs, did)
		}
		if err := s.compose(ctx, id, st, rootfs, depIDs, m); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(tree, "manifest"), img.Manifest, 0o644); err != nil {
		return nil, err
	}
	h, err := TreeHash(ctx, tree)
	if err != nil {
		return nil, err
	}
	s.reached(stepRenderComposed)
	if err := s.discard(s.treeDir(id)); err != nil {
		return nil, err
	}
	if err := os.Rename(tree, s.treeDir(id)); err != nil {
		return nil, err
	}
	s.reached(stepRenderTreeRenamed)
	if !s.opts.NoSync {
		if err := atomicfile.SyncDir(s.path("trees")); err != nil {
			return nil, err
		}
	}
	img.Rendered, img.TreeHash, img.Dependencies = true, h, depIDs
	if img.Unsynced, err = s.unsynced(); err != nil {
		return nil, err
	}
	if err := s.write(img); err != nil {
		return nil, err
	}
	s.reached(stepRenderIndexWritten)
	// The own layer is no longer needed: the tree holds it, the blob can
	// recreate it.
	if err := s.discard(s.layerDir(id)); err != nil {
		return nil, err
	}
	s.reached(stepRenderLayerDiscarded)
	return img, nil
}

// compose layers the dependencies' trees and the image's own rootfs into
// rootfs (in staging st) and applies the whitelist.
func (s *Store) compose(ctx context.Context, id string, st *staging, rootfs string, depIDs []string, m *aci.ImageManifest) error {
	lim := s.opts.Limits
	lim.Overwrite = true
	lim.NoOwnership = os.Geteuid() != 0
	x, err := extract.New(rootfs, lim)
	if err != nil {
		return err
	}
	defer x.Close()
	for _, did := range depIDs {
		dl, err := s.lockImage(ctx, did, false)
		if err != nil {
			return err
		}
		err = copyTree(ctx, filepath.Join(s.treeDir(did), "rootfs"), x, true, nil)
		dl.unlock()
		if err != nil {
			return fmt.Errorf("layer dependency %s: %w", did, err)
		}
	}
	layer := s.layerDir(id)
	own, err := readOwnDirs(filepath.Join(layer, ownDirsFile))
	if errors.Is(err, os.ErrNotExist) {
		// Rendered before (or the layer was lost): recreate it from the
		// blob, verifying the hash on the way.
		layer = filepath.Join(st.dir, "layer")
		if err := os.MkdirAll(filepath.Join(layer, "rootfs"), 0o755); err != nil {
			return err
		}
		own, _, err = s.extractBlob(ctx, id, filepath.Join(layer, "rootfs"), nil, false)
	}
	if err != nil {
		return err
	}
	if err := copyTree(ctx, filepath.Join(layer, "rootfs"), x, true, own); err != nil {
		return fmt.Errorf("layer image %s: %w", id, err)
	}
	if err := x.Prune(ctx, whitelist(m.PathWhitelist, own)); err != nil {
		return err
	}
	_, err = x.Finish(ctx)
	return err
}

// resolveDep finds the store ID for dep and checks it against the
// dependency's name, labels and imageID.
func (s *Store) resolveDep(ctx context.Context, dep aci.Dependency, resolve DepResolver) (string, error) {
	var did string
	switch {
	case resolve != nil:
		var err error
		if did, err = resolve(ctx, dep); err != nil {
			return "", fmt.Errorf("dependency %s: %w", dep.ImageName, err)
		}
	case dep.ImageID.IsFull():
		did = dep.ImageID.String()
	case !dep.ImageID.IsZero():
		img, err := s.Get(dep.ImageID.String())
		if err != nil {
			return "", fmt.Errorf("dependency %s: %w", dep.ImageName, err)
		}
		did = img.ID
	default:
		return "", fmt.Errorf("dependency %s has no imageID and there is no way to fetch it", dep.ImageName)
	}
	if !dep.ImageID.IsZero() && !dep.ImageID.Matches(mustID(did)) {
		return "", fmt.Errorf("dependency %s: image ID mismatch: got %s, the manifest requires %s", dep.ImageName, did, dep.ImageID)
	}
	dimg, err := s.read(did)
	if err != nil {
		return "", fmt.Errorf("dependency %s: %w", dep.ImageName, err)
	}
	if dimg.Name != string(dep.ImageName) {
		return "", fmt.Errorf("dependency %s: image %s is called %q", dep.ImageName, did, dimg.Name)
	}
	if !(Filter{Labels: dep.Labels}).match(dimg) {
		return "", fmt.Errorf("dependency %s: image %s lacks the labels %v", dep.ImageName, did, dep.Labels)
	}
	if dep.Size != 0 && dep.Size != uint64(dimg.TarSize) && dep.Size != uint64(dimg.Size) {
		return "", fmt.Errorf("dependency %s: image %s is %d bytes, the manifest says %d", dep.ImageName, did, dimg.TarSize, dep.Size)
	}
	return did, nil
}

func mustID(s string) aci.ImageID {
	id, _ := aci.ParseImageID(s)
	return id
}

// extractBlob extracts the rootfs of the stored ACI id into rootfs (an
// existing empty directory), checking that the blob still hashes to id,
// then applies pwl if given and finishes. It returns the image's explicit
// directories.
func (s *Store) extractBlob(ctx context.Context, id, rootfs string, pwl []string, noOwner bool) (map[string]bool, extract.Result, error) {
	f, err := os.Open(s.blobPath(id))
	if err != nil {
		return nil, extract.Result{}, err
	}
	defer f.Close()
	lim := s.opts.Limits
	lim.Overwrite = false
	lim.NoOwnership = noOwner || os.Geteuid() != 0
	lim.SpillDir = s.path("tmp")
	x, err := extract.New(rootfs, lim)
	if err != nil {
		return nil, extract.Result{}, err
	}
	defer x.Close()
	own := make(map[string]bool)
	info, err := archive.WalkArchiveIn(s.path("tmp"), ctxReader{ctx, f}, func(hdr *tar.Header, body io.Reader) error {
		h := rootfsHeader(hdr)
		if h.Typeflag == tar.TypeDir {
			own[h.Name] = true
		}
		return x.Add(ctx, h, body)
	})
	if err != nil {
		return nil, extract.Result{}, fmt.Errorf("stored image %s: %w", id, err)
	}
	if info.ID.String() != id {
		return nil, extract.Result{}, fmt.Errorf("stored image %s is corrupt: it now hashes to %s", id, info.ID)
	}
	if pwl != nil {
		if err := x.Prune(ctx, whitelist(pwl, own)); err != nil {
			return nil, extract.Result{}, err
		}
	}
	res, err := x.Finish(ctx)
	return own, res, err
}
