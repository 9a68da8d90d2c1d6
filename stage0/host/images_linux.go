package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/acirun/acirun/internal/atomicfile"
	"github.com/acirun/acirun/stage0/pod"
	"github.com/acirun/acirun/stage0/store"
)

// Fetch brings each image reference into the store (a file, an http(s)
// URL, a name found by discovery, or a stored image ID), verified and
// rendered, and returns the images in order. On an error it returns the
// images fetched before it.
func (h *Host) Fetch(ctx context.Context, opts FetchOptions, refs ...string) ([]*store.Image, error) {
	p, err := h.Puller(opts)
	if err != nil {
		return nil, err
	}
	var imgs []*store.Image
	for _, ref := range refs {
		img, err := p.Pull(ctx, ref)
		if err != nil {
			return imgs, err
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

// Images lists the images in the store.
func (h *Host) Images(ctx context.Context) ([]*store.Image, error) {
	st, err := h.OpenStore()
	if err != nil {
		return nil, err
	}
	return st.List(store.Filter{})
}

// storedImage opens the store and finds ref (an image ID or a unique prefix
// of one) in it.
func (h *Host) storedImage(ref string) (*store.Store, *store.Image, error) {
	st, err := h.OpenStore()
	if err != nil {
		return nil, nil, err
	}
	img, err := st.Get(ref)
	if err != nil {
		return nil, nil, err
	}
	return st, img, nil
}

// InUseImages is the set of image IDs that prepared or running pods use,
// with the dependencies their rendered trees were composed from,
// transitively: a repair of such a tree needs them. Neither RemoveImage nor
// ImageGC removes an image in this set.
func (h *Host) InUseImages(ctx context.Context) (map[string]bool, error) {
	st, err := h.OpenStore()
	if err != nil {
		return nil, err
	}
	return inUseImages(h.cfg.DataDir, st)
}

func inUseImages(dataDir string, st *store.Store) (map[string]bool, error) {
	ids, err := pod.InUseImages(dataDir)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(ids))
	var add func(id string)
	add = func(id string) {
		if set[id] {
			return
		}
		set[id] = true
		if img, err := st.Get(id); err == nil {
			for _, dep := range img.Dependencies {
				add(dep)
			}
		}
	}
	for _, id := range ids {
		add(id.String())
	}
	return set, nil
}

// ErrImageInUse is wrapped by the error of RemoveImage for an image that a
// prepared or running pod uses.
var ErrImageInUse = errors.New("used by a prepared or running pod")

// RemoveImage removes the image ref (an ID or a unique prefix of one) from
// the store, unless a pod that may still run uses it (ErrImageInUse).
func (h *Host) RemoveImage(ctx context.Context, ref string) (*store.Image, error) {
	st, img, err := h.storedImage(ref)
	if err != nil {
		return nil, err
	}
	inUse, err := inUseImages(h.cfg.DataDir, st)
	if err != nil {
		return nil, err
	}
	if inUse[img.ID] {
		return nil, fmt.Errorf("image %s is %w", ref, ErrImageInUse)
	}
	if err := st.Remove(ctx, img.ID); err != nil {
		return nil, err
	}
	return img, nil
}

// ImageGC removes the images that no pod uses (InUseImages) and that were
// neither imported nor used within grace, and what dead imports left.
func (h *Host) ImageGC(ctx context.Context, grace time.Duration) (*store.GCResult, error) {
	st, err := h.OpenStore()
	if err != nil {
		return nil, err
	}
	return st.GC(ctx, store.GCOptions{GracePeriod: grace, InUse: func() (map[string]bool, error) {
		return inUseImages(h.cfg.DataDir, st)
	}})
}

// ExportImage writes the stored ACI of ref to the file out, which appears
// only when complete. An existing out is refused unless overwrite.
func (h *Host) ExportImage(ctx context.Context, ref, out string, overwrite bool) error {
	st, img, err := h.storedImage(ref)
	if err != nil {
		return err
	}
	return writeFileAtomic(out, overwrite, func(w io.Writer) error {
		return st.Export(ctx, img.ID, w)
	})
}

// writeFileAtomic writes path through a temporary file beside it, put in
// place only when write succeeded; without overwrite, an existing path is
// an error, even one that appears meanwhile.
func writeFileAtomic(path string, overwrite bool, write func(io.Writer) error) error {
	exists := fmt.Errorf("%s exists (use --overwrite to replace it)", path)
	if _, err := os.Lstat(path); err == nil && !overwrite {
		return exists // before writing it all
	}
	err := atomicfile.Write(path, atomicfile.Options{NoReplace: !overwrite}, write)
	if errors.Is(err, fs.ErrExist) && !overwrite {
		return exists
	}
	return err
}

// ExtractImage copies the image's own rootfs into the new directory dir.
func (h *Host) ExtractImage(ctx context.Context, ref, dir string) error {
	st, img, err := h.storedImage(ref)
	if err != nil {
		return err
	}
	return st.ExtractTo(ctx, img.ID, dir)
}

// RenderImage copies the image's rendered tree (manifest and rootfs with
// the dependencies and the whitelist applied) into the new directory dir.
func (h *Host) RenderImage(ctx context.Context, ref, dir string) error {
	st, img, err := h.storedImage(ref)
	if err != nil {
		return err
	}
	return st.RenderTo(ctx, img.ID, dir)
}

// VerifyResult is the verdict on one image's rendered tree.
type VerifyResult struct {
	Image *store.Image
	// Damage says how the tree differs from its recorded hash; nil if it
	// does not.
	Damage error
	// Repaired says the damaged tree was rendered again; RepairErr why
	// that failed.
	Repaired  bool
	RepairErr error
}

// OK reports whether the image's tree is sound now: undamaged or repaired.
func (r VerifyResult) OK() bool { return r.Damage == nil || r.Repaired }

// VerifyImages re-hashes the rendered trees of refs (every stored image if
// none) against the hashes recorded when they were rendered and, with
// repair, renders a damaged one again from its stored ACI, fetching
// dependencies it lacks.
func (h *Host) VerifyImages(ctx context.Context, refs []string, repair bool) ([]VerifyResult, error) {
	p, err := h.Puller(FetchOptions{})
	if err != nil {
		return nil, err
	}
	st := p.Store
	var imgs []*store.Image
	if len(refs) == 0 {
		if imgs, err = st.List(store.Filter{}); err != nil {
			return nil, err
		}
	}
	for _, ref := range refs {
		img, err := st.Get(ref)
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, img)
	}
	var res []VerifyResult
	for _, img := range imgs {
		r := VerifyResult{Image: img, Damage: st.VerifyTree(ctx, img.ID)}
		if r.Damage != nil && repair {
			_, r.RepairErr = p.Repair(ctx, img.ID)
			r.Repaired = r.RepairErr == nil
		}
		res = append(res, r)
	}
	return res, nil
}
