package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/atomicfile"
	"github.com/acirun/acirun/stage0/fetchcontract"
	"github.com/acirun/acirun/stage0/imagename"
	"github.com/acirun/acirun/stage0/imageref"
	"github.com/acirun/acirun/stage0/ociref"
	"github.com/acirun/acirun/stage0/pod"
	"github.com/acirun/acirun/stage0/store"
	"golang.org/x/sys/unix"
)

// Fetch brings each image reference into the store (a file, an http(s)
// URL, a name found by discovery, an OCI reference, or a stored image ID),
// verified and rendered, and returns the images in order. On an error it
// returns the images fetched before it. A signature file (opts.Signature)
// is for one image only. acirun-fetch does the work (hostfetch.Fetch),
// telling opts.Progress of its downloads.
func (h *Host) Fetch(ctx context.Context, opts FetchOptions, refs ...string) ([]*store.Image, error) {
	if opts.Signature != "" && len(refs) != 1 {
		return nil, fmt.Errorf("a signature file is for one image, and %d are named", len(refs))
	}
	ids, ferr := h.fetch(ctx, opts, refs...)
	if len(ids) == 0 {
		return nil, ferr
	}
	st, err := h.OpenStore()
	if err != nil {
		return nil, errors.Join(ferr, err)
	}
	imgs := make([]*store.Image, 0, len(ids))
	for _, id := range ids {
		img, err := st.Get(id)
		if err != nil {
			return imgs, errors.Join(ferr, err)
		}
		imgs = append(imgs, img)
	}
	return imgs, ferr
}

// fetch has acirun-fetch fetch refs, and returns the IDs of the images
// fetched, in order, also those before an error.
func (h *Host) fetch(ctx context.Context, opts FetchOptions, refs ...string) ([]string, error) {
	c := h.fetchClient()
	c.Progress = opts.Progress
	res, err := c.Do(ctx, &fetchcontract.Request{Config: h.contractConfig(), Fetch: &fetchcontract.FetchRequest{
		Refs: refs, Insecure: opts.Insecure, Policy: opts.Policy, MaxImageSize: opts.MaxImageSize, Signature: opts.Signature,
		StallTimeout: opts.StallTimeout}})
	if res == nil {
		return nil, err
	}
	return res.Images, err
}

// Images lists the images in the store.
func (h *Host) Images(ctx context.Context) ([]*store.Image, error) {
	st, err := h.OpenStore()
	if err != nil {
		return nil, err
	}
	return st.List(store.Filter{})
}

// storedImage opens the store and finds ref in it (see FindImage).
func (h *Host) storedImage(ref string) (*store.Store, *store.Image, error) {
	st, err := h.OpenStore()
	if err != nil {
		return nil, nil, err
	}
	img, err := h.storedImageIn(st, ref)
	if err != nil {
		return nil, nil, err
	}
	return st, img, nil
}

// storedImageIn finds the image ref in st (see storedImage).
func (h *Host) storedImageIn(st *store.Store, ref string) (*store.Image, error) {
	if ociref.IsSource(ref) {
		return h.findOCIImage(st, ref)
	}
	return findImage(st, ref)
}

// findOCIImage finds the stored image of an OCI reference (docker://…,
// oci:…): the one last fetched as that reference, or with its digest.
func (h *Host) findOCIImage(st *store.Store, ref string) (*store.Image, error) {
	cfg, err := h.OCIConfig()
	if err != nil {
		return nil, err
	}
	src, err := ociref.ParseSource(ref, cfg.DefaultRegistry)
	if err != nil {
		return nil, err
	}
	if src, err = src.AbsPath(); err != nil {
		return nil, err
	}
	img, err := imageref.StoredOCI(st, src.String())
	if err != nil {
		return nil, fmt.Errorf("%w (acirun image list --fields=name,source shows the stored images; acirun fetch %s brings it in)", err, ref)
	}
	return img, nil
}

// ErrAmbiguousImage is wrapped by the error of FindImage for a reference
// that matches several stored images.
var ErrAmbiguousImage = errors.New("ambiguous image reference")

// FindImage finds the stored image ref names, without fetching anything:
// an image ID or a unique prefix of one ("sha512-" may be left out), or a
// name with optional version and labels (example.com/hello:1.0,os=linux).
// A name must match exactly one stored image, except that version
// "latest" means the newest of those that match; otherwise the error wraps
// ErrAmbiguousImage and lists the candidates' IDs, so that the user can
// name one. A name that matches nothing wraps store.ErrNotFound. Every
// command that acts on a stored image (image rm, export, extract, render,
// cat-manifest, verify) finds it here.
func (h *Host) FindImage(ctx context.Context, ref string) (*store.Image, error) {
	_, img, err := h.storedImage(ref)
	return img, err
}

func findImage(st *store.Store, ref string) (*store.Image, error) {
	if strings.HasPrefix(ref, aci.ImageIDPrefix) {
		return st.Get(ref)
	}
	app, perr := imagename.ParseApp(ref)
	if perr != nil {
		if isHexPrefix(ref) {
			return st.Get(ref)
		}
		return nil, fmt.Errorf("image %q is neither an image ID (sha512-…) nor an image name: %w", ref, perr)
	}
	imgs, err := st.List(imageref.NameFilter(app))
	if err != nil {
		return nil, err
	}
	switch {
	case len(imgs) == 1, len(imgs) > 1 && app.Labels["version"] == imagename.DefaultVersion:
		return imgs[0], nil // List gives the newest first
	case len(imgs) == 0:
		// A bare hex string is an ID prefix with "sha512-" left out,
		// unless an image is called so.
		if isHexPrefix(ref) {
			return st.Get(ref)
		}
		return nil, fmt.Errorf("image %s: %w (acirun image list shows the stored images; acirun fetch %s brings it in)", ref, store.ErrNotFound, ref)
	}
	cands := make([]string, len(imgs))
	for i, img := range imgs {
		cands[i] = img.ShortID() + " (" + DisplayName(img) + ")"
	}
	return nil, fmt.Errorf("image name %s matches %d stored images: %s; name one by its ID, or by a version or labels that only it has: %w",
		ref, len(imgs), strings.Join(cands, ", "), ErrAmbiguousImage)
}

// isHexPrefix says whether s could be an image ID prefix without its
// "sha512-".
func isHexPrefix(s string) bool {
	_, err := aci.ParsePartialImageID(aci.ImageIDPrefix + s)
	return err == nil && !strings.HasSuffix(s, "...")
}

// DisplayName is an image's name with its version, as the image commands
// show it: example.com/hello:1.0.
func DisplayName(img *store.Image) string {
	for _, l := range img.Labels {
		if l.Name == "version" {
			return img.Name + ":" + l.Value
		}
	}
	return img.Name
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

// ErrImageInUse is wrapped by the error of RemoveImages for an image that a
// prepared or running pod uses.
var ErrImageInUse = store.ErrInUse

// RemoveImages removes the images refs name (IDs or unique prefixes of
// one, names, OCI references) from the store, except those a pod that may
// still run uses (ErrImageInUse), or that another process holds. It
// returns, for each ref in order, the image removed or the error saying
// why not. The pods' in-use set is made once, after the images are locked
// (store.RemoveUnused, as gc), so that a pod prepared meanwhile keeps its
// image.
func (h *Host) RemoveImages(ctx context.Context, refs []string) ([]*store.Image, []error, error) {
	st, err := h.OpenStore()
	if err != nil {
		return nil, nil, err
	}
	imgs := make([]*store.Image, len(refs))
	errs := make([]error, len(refs))
	var ids []string
	var at []int // the ref of each of ids
	for i, ref := range refs {
		if imgs[i], errs[i] = h.storedImageIn(st, ref); errs[i] == nil {
			ids = append(ids, imgs[i].ID)
			at = append(at, i)
		}
	}
	if len(ids) == 0 {
		return imgs, errs, nil
	}
	removed, err := st.RemoveUnused(ctx, ids, func() (map[string]bool, error) {
		return inUseImages(h.cfg.DataDir, st)
	})
	if err != nil {
		return nil, nil, err
	}
	for j, err := range removed {
		i := at[j]
		switch {
		case errors.Is(err, ErrImageInUse):
			errs[i] = fmt.Errorf("image %s is %w: remove those pods first (acirun list, acirun rm)", refs[i], ErrImageInUse)
		case err != nil:
			errs[i] = fmt.Errorf("image %s: %w", refs[i], err)
		}
		if errs[i] != nil {
			imgs[i] = nil
		}
	}
	return imgs, errs, nil
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

// TreeOptions say what ExtractImage and RenderImage write into their
// directory and whether they may replace one (rkt's flags of the same
// names).
type TreeOptions struct {
	// RootfsOnly writes the rootfs' contents into the directory, without
	// the manifest beside them.
	RootfsOnly bool
	// Overwrite replaces an existing, non-empty directory.
	Overwrite bool
}

// ExtractImage writes the image's own files (no dependencies, no
// whitelist), as its ACI holds them, into dir: dir/manifest and
// dir/rootfs/, or with RootfsOnly the rootfs' contents. dir appears only
// when complete (see writeDirAtomic).
func (h *Host) ExtractImage(ctx context.Context, ref, dir string, opts TreeOptions) error {
	st, img, err := h.storedImage(ref)
	if err != nil {
		return err
	}
	return writeDirAtomic(dir, opts.Overwrite, func(out string) error {
		if opts.RootfsOnly {
			return st.ExtractTo(ctx, img.ID, out)
		}
		if err := os.Mkdir(out, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "manifest"), img.Manifest, 0o644); err != nil {
			return err
		}
		return st.ExtractTo(ctx, img.ID, filepath.Join(out, "rootfs"))
	})
}

// RenderImage writes the image's rendered tree (the rootfs with the
// dependencies and the whitelist applied, as a pod sees it) into dir:
// dir/manifest and dir/rootfs/, or with RootfsOnly the rootfs' contents.
// dir appears only when complete (see writeDirAtomic).
func (h *Host) RenderImage(ctx context.Context, ref, dir string, opts TreeOptions) error {
	st, img, err := h.storedImage(ref)
	if err != nil {
		return err
	}
	return writeDirAtomic(dir, opts.Overwrite, func(out string) error {
		if !opts.RootfsOnly {
			return st.RenderTo(ctx, img.ID, out)
		}
		whole := out + ".whole"
		if err := st.RenderTo(ctx, img.ID, whole); err != nil {
			return err
		}
		return os.Rename(filepath.Join(whole, "rootfs"), out)
	})
}

// writeDirAtomic makes the directory dir with fill, which is given a path
// that does not exist yet, in a hidden temporary directory beside dir, and
// puts it in place only when fill succeeded, so that a failure leaves no
// partial tree. dir may exist if it is an empty directory; a non-empty one
// is an error unless overwrite, and is then swapped for the new tree in one
// step (renameat2 RENAME_EXCHANGE) and removed.
func writeDirAtomic(dir string, overwrite bool, fill func(out string) error) error {
	notEmpty := fmt.Errorf("%s exists and is not empty (use --overwrite to replace it, or name a new directory)", dir)
	state := func() (exists, empty bool, err error) {
		fi, err := os.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return false, false, nil
		}
		if err != nil {
			return false, false, err
		}
		if !fi.IsDir() {
			return true, false, fmt.Errorf("%s exists and is not a directory", dir)
		}
		ents, err := os.ReadDir(dir)
		return true, len(ents) == 0, err
	}
	if exists, empty, err := state(); err != nil {
		return err
	} else if exists && !empty && !overwrite {
		return notEmpty // before doing the work
	}
	work, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	defer os.RemoveAll(work) // the new tree on failure; the old one after a swap
	out := filepath.Join(work, "tree")
	if err := fill(out); err != nil {
		return err
	}
	exists, empty, err := state()
	switch {
	case err != nil:
		return err
	case !exists || empty:
		// rename(2) replaces an empty directory, and fails if it is
		// not empty any more.
		err = unix.Rename(out, dir) // os.Rename refuses any directory
		if errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
			if !overwrite {
				return notEmpty
			}
			err = unix.Renameat2(unix.AT_FDCWD, out, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
		}
	case !overwrite:
		return notEmpty
	default:
		err = unix.Renameat2(unix.AT_FDCWD, out, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
	}
	if err != nil {
		return fmt.Errorf("put %s in place: %w", dir, err)
	}
	return nil
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
// dependencies it lacks (acirun-fetch: hostfetch.Repair).
func (h *Host) VerifyImages(ctx context.Context, refs []string, repair bool) ([]VerifyResult, error) {
	st, err := h.OpenStore()
	if err != nil {
		return nil, err
	}
	var imgs []*store.Image
	if len(refs) == 0 {
		if imgs, err = st.List(store.Filter{}); err != nil {
			return nil, err
		}
	}
	for _, ref := range refs {
		img, err := findImage(st, ref)
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, img)
	}
	var res []VerifyResult
	for _, img := range imgs {
		r := VerifyResult{Image: img, Damage: st.VerifyTree(ctx, img.ID)}
		if r.Damage != nil && repair {
			_, r.RepairErr = h.fetchClient().Do(ctx, &fetchcontract.Request{Config: h.contractConfig(), Repair: &fetchcontract.RepairRequest{ImageID: img.ID}})
			r.Repaired = r.RepairErr == nil
		}
		res = append(res, r)
	}
	return res, nil
}

// LatestImages says which of imgs are the newest import of their name:
// what NAME:latest finds (FindImage), rkt's "latest" column.
func LatestImages(imgs []*store.Image) map[string]bool {
	newest := map[string]*store.Image{}
	for _, img := range imgs {
		if n := newest[img.Name]; n == nil || img.ImportTime.After(n.ImportTime) || img.ImportTime.Equal(n.ImportTime) && img.ID < n.ID {
			newest[img.Name] = img
		}
	}
	latest := make(map[string]bool, len(newest))
	for _, img := range newest {
		latest[img.ID] = true
	}
	return latest
}
