package pull

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/imageref"
	"github.com/acirun/acirun/stage0/oci"
	"github.com/acirun/acirun/stage0/ociref"
	"github.com/acirun/acirun/stage0/store"
	"github.com/acirun/acirun/stage0/store/extract"
)

// OCIConfig is how OCI and Docker images are reached.
type OCIConfig struct {
	// DefaultRegistry is the registry of a docker://NAME that names none;
	// "" refuses such references.
	DefaultRegistry string
	// Keychain lookup: the auth.d credentials of a registry (host:port or
	// host). Docker's own configuration is read besides.
	Credentials func(registry string) (oci.Credentials, bool)
}

// pullOCI fetches an OCI or Docker image (docker://, oci:, oci-archive:,
// docker-archive:) into the store. Its trust rule is the one of ACIs: a
// reference pinned by digest is verified content; anything else, having no
// signature acirun can check, needs --insecure-options=image and is
// printed as a warning.
func (p *Puller) pullOCI(ctx context.Context, ref string) (*store.Image, error) {
	src, err := ociref.ParseSource(ref, p.OCI.DefaultRegistry)
	if err != nil {
		return nil, err
	}
	if src, err = src.AbsPath(); err != nil {
		return nil, err
	}
	canonical := src.String()
	stored := p.storedByReference(canonical)
	switch {
	case p.Policy == fetch.PullNever:
		if stored == nil {
			return nil, fmt.Errorf("image %s is not in the store and --pull-policy=never forbids fetching it", canonical)
		}
		return stored, nil
	case p.Policy == fetch.PullNew && stored != nil:
		return stored, nil
	}
	if !src.Pinned() && !p.skipSignatures(canonical) {
		what := "pin it by digest (" + pinHint(src) + ")"
		return nil, fmt.Errorf("image %s is named by tag, not by digest, and has no signature acirun can check: %s, or accept it unverified with --insecure-options=image", canonical, what)
	}
	unlock, err := p.Store.LockSource(ctx, canonical)
	if err != nil {
		return nil, err
	}
	defer unlock()
	img, err := oci.Open(ctx, src, p.ociOptions())
	if err != nil {
		return nil, err
	}
	defer img.Close()
	// Another fetch of the same reference, or an earlier one, may have
	// stored this very manifest: nothing to fetch then.
	if s := p.storedByReference(canonical); s != nil && s.OCI.Digest == img.Digest {
		return s, nil
	}
	name, err := oci.Name(src)
	if err != nil {
		return nil, err
	}
	meta := oci.Meta{Name: name, Version: src.Tag, Reference: canonical, Digest: img.Digest, ConfigDigest: img.ConfigDigest}
	layers := make([]store.OCILayer, len(img.Layers))
	for i, l := range img.Layers {
		layers[i] = store.OCILayer{Digest: l.Digest, DiffID: l.DiffID, Size: l.Size, Open: p.progressLayer(l, i, len(img.Layers))}
	}
	origin := store.Origin{URL: canonical}
	if src.Pinned() {
		origin.Digest = src.Digest
	}
	imported, err := p.Store.ImportOCI(ctx, store.OCIImportOptions{
		Layers: layers,
		Record: store.OCIRecord{Reference: canonical, Digest: img.Digest, Config: img.ConfigDigest},
		Manifest: func(rootfs string) (*aci.ImageManifest, error) {
			return oci.Manifest(img.Config, meta, oci.PrimaryGroup(rootfs))
		},
		Origin: origin,
		Zstd:   oci.ZstdReader,
	})
	if errors.Is(err, extract.ErrTooLarge) {
		return nil, tooLarge(canonical, err)
	}
	return imported, err
}

// pinHint says how to find a reference's digest.
func pinHint(src ociref.Source) string {
	if src.Transport == ociref.Registry {
		return "docker://" + src.Registry + "/" + src.Repository + "@sha256:…; skopeo inspect shows the digest"
	}
	return "a local image has none: check it yourself"
}

// progressLayer reports a layer's transfer through the fetcher's progress,
// as an ACI download is.
func (p *Puller) progressLayer(l oci.Layer, i, n int) func(ctx context.Context) (io.ReadCloser, error) {
	return func(ctx context.Context) (io.ReadCloser, error) {
		rc, err := l.Open(ctx)
		if err != nil {
			return nil, err
		}
		return p.Fetcher.Track(rc, fmt.Sprintf("layer %d/%d", i+1, n), l.Size), nil
	}
}

// ociOptions are the registry options of the puller's policy: the
// fetcher's transport (TLS, plain http only with --insecure-options=http,
// proxies, auth.d credentials only over https and to their own host).
func (p *Puller) ociOptions() oci.Options {
	return oci.Options{
		Transport:    p.Fetcher.Client().Transport,
		Keychain:     oci.Keychain(p.OCI.Credentials),
		InsecureHTTP: p.Insecure.Has(fetch.InsecureHTTP),
		UserAgent:    "acirun",
		TempDir:      p.PartialDir,
	}
}

// storedByReference returns the stored OCI image most recently fetched as
// the canonical reference ref.
func (p *Puller) storedByReference(ref string) *store.Image {
	img, _ := imageref.StoredOCI(p.Store, ref)
	return img
}
