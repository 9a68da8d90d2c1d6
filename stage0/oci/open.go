// Package oci turns OCI and Docker images into what acirun's store takes:
// it opens the image references package ociref parses through
// go-containerregistry (the registry protocol with its auth challenges,
// image layouts, archives, manifests and indexes, the platform of an index
// chosen for the host), and maps an image's config onto an app, so that an
// OCI image becomes an image manifest and a list of layers for
// store.ImportOCI, and everything downstream (pods, units, image commands)
// treats it as any other image.
//
// Nothing here contacts a registry that the reference does not name or the
// local configuration does not set as the default; every blob is verified
// by the store against its digest while it streams.
package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/stage0/ociref"
	"github.com/acirun/acirun/stage0/store/extract"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Bounds on what is read into memory: an image manifest, index or config
// is a few kilobytes; the distribution spec lets registries refuse
// manifests over 4 MiB.
const (
	MaxManifestSize = 4 << 20
	MaxConfigSize   = 16 << 20
)

// Options say how sources are reached.
type Options struct {
	// Transport carries every request to a registry (the fetch policy:
	// TLS, plain http only when allowed, proxies); nil means
	// http.DefaultTransport.
	Transport http.RoundTripper
	// Keychain gives the credentials of a registry; nil means anonymous.
	Keychain authn.Keychain
	// InsecureHTTP lets a registry be reached over plain http when it does
	// not answer https (--insecure-options=http; Transport must allow it).
	InsecureHTTP bool
	// Platform is the one chosen from an index; the zero value means the
	// host's (HostPlatform).
	Platform v1.Platform
	// UserAgent is sent to registries.
	UserAgent string
	// TempDir holds an oci-archive's layout while it is read; "" means
	// os.TempDir().
	TempDir string
}

// Layer is one layer of an opened image.
type Layer struct {
	// Digest and Size are the blob's, DiffID the uncompressed tar's
	// ("sha256:HEX").
	Digest string
	DiffID string
	Size   int64
	// Open returns the blob's bytes, unverified: the store verifies them.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Image is an opened OCI image: what the store needs to import it.
type Image struct {
	Source ociref.Source
	// Digest is the image manifest's ("sha256:HEX"), ConfigDigest the
	// config's.
	Digest       string
	ConfigDigest string
	Config       *v1.ConfigFile
	Layers       []Layer

	cleanup func() error
}

// Close releases what reading the image needs (an oci-archive's unpacked
// layout); its layers cannot be opened afterwards.
func (img *Image) Close() error {
	if img.cleanup == nil {
		return nil
	}
	err := img.cleanup()
	img.cleanup = nil
	return err
}

// Resolve asks where src's tag points now, without fetching the image: the
// manifest digest (of the index, for a multi-platform image). It is how
// --pull-policy=update tells whether a stored image is current.
func Resolve(ctx context.Context, src ociref.Source, opts Options) (string, error) {
	if src.Transport != ociref.Registry {
		return "", fmt.Errorf("%s: only registry images are resolved", src)
	}
	ref, err := reference(src, opts)
	if err != nil {
		return "", err
	}
	d, err := remote.Head(ref, opts.remote(ctx, src.Registry)...)
	if err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	return d.Digest.String(), nil
}

// Open reads src's manifest (choosing the platform from an index) and
// config, and returns the image with its layers still to be fetched. The
// manifest and the config are checked against their digests here; the
// layers are checked by whoever reads them.
func Open(ctx context.Context, src ociref.Source, opts Options) (*Image, error) {
	img, err := open(ctx, src, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	return img, nil
}

func open(ctx context.Context, src ociref.Source, opts Options) (*Image, error) {
	var vimg v1.Image
	var err error
	switch src.Transport {
	case ociref.Registry:
		vimg, err = openRemote(ctx, src, opts)
	case ociref.Layout:
		vimg, err = openLayout(src.Path, src.Tag, opts.platform())
	case ociref.Archive:
		dir, err := unpackArchive(ctx, src.Path, opts.TempDir)
		if err != nil {
			return nil, err
		}
		img, err := func() (*Image, error) {
			vimg, err := openLayout(dir, src.Tag, opts.platform())
			if err != nil {
				return nil, err
			}
			return describe(src, vimg, false)
		}()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		img.cleanup = func() error { return os.RemoveAll(dir) }
		return img, nil
	case ociref.DockerArchive:
		return openDockerArchive(src)
	default:
		return nil, fmt.Errorf("unknown transport %q", src.Transport)
	}
	if err != nil {
		return nil, err
	}
	return describe(src, vimg, false)
}

// openRemote fetches the manifest (or index) of a registry image.
func openRemote(ctx context.Context, src ociref.Source, opts Options) (v1.Image, error) {
	ref, err := reference(src, opts)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(ref, opts.remote(ctx, src.Registry)...)
	if err != nil {
		return nil, err
	}
	if desc.Size > MaxManifestSize || len(desc.Manifest) > MaxManifestSize {
		return nil, fmt.Errorf("manifest %s is %d bytes, more than the %d a manifest may have", desc.Digest, len(desc.Manifest), MaxManifestSize)
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		d, err := choosePlatform(im.Manifests, opts.platform())
		if err != nil {
			return nil, err
		}
		return idx.Image(d.Digest)
	}
	if desc.MediaType == types.DockerManifestSchema1 || desc.MediaType == types.DockerManifestSchema1Signed {
		return nil, fmt.Errorf("manifest %s is Docker schema 1, which is not supported: push the image again with a current tool", desc.Digest)
	}
	return desc.Image()
}

// reference is src as go-containerregistry names it.
func reference(src ociref.Source, opts Options) (name.Reference, error) {
	nopts := []name.Option{name.StrictValidation}
	if opts.InsecureHTTP {
		nopts = append(nopts, name.Insecure)
	}
	s := src.Registry + "/" + src.Repository
	if src.Digest != "" {
		return name.NewDigest(s+"@"+src.Digest, nopts...)
	}
	return name.NewTag(s+":"+src.Tag, nopts...)
}

func (opts Options) remote(ctx context.Context, registry string) []remote.Option {
	t := opts.Transport
	if t == nil {
		t = http.DefaultTransport
	}
	ro := []remote.Option{remote.WithContext(ctx), remote.WithPlatform(opts.platform()),
		remote.WithTransport(blobResume{manifestLimit{credentialGuard{registry: registry, inner: t}}})}
	if opts.Keychain != nil {
		ro = append(ro, remote.WithAuthFromKeychain(opts.Keychain))
	}
	if opts.UserAgent != "" {
		ro = append(ro, remote.WithUserAgent(opts.UserAgent))
	}
	return ro
}

func (opts Options) platform() v1.Platform {
	if opts.Platform.OS == "" {
		return HostPlatform()
	}
	return opts.Platform
}

// openLayout finds the image tagged tag (annotation
// org.opencontainers.image.ref.name) in the layout dir, or its only image
// when no tag is given.
func openLayout(dir, tag string, p v1.Platform) (v1.Image, error) {
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("not an OCI image layout: %w", err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	var cand []v1.Descriptor
	var tags []string
	for _, d := range im.Manifests {
		t := d.Annotations["org.opencontainers.image.ref.name"]
		if t != "" {
			tags = append(tags, t)
		}
		if tag == "" || t == tag {
			cand = append(cand, d)
		}
	}
	var d v1.Descriptor
	switch {
	case len(cand) == 1:
		d = cand[0]
	case len(cand) == 0 && tag != "":
		sort.Strings(tags)
		return nil, fmt.Errorf("no image tagged %q in the layout (its tags: %s)", tag, listOrNone(tags))
	case len(cand) == 0:
		return nil, errors.New("the layout holds no image")
	case tag == "":
		sort.Strings(tags)
		return nil, fmt.Errorf("the layout holds %d images: name one as oci:%s:TAG (its tags: %s)", len(cand), dir, listOrNone(tags))
	default:
		return nil, fmt.Errorf("%d images are tagged %q in the layout", len(cand), tag)
	}
	if d.Size > MaxManifestSize {
		return nil, fmt.Errorf("manifest %s is %d bytes, more than the %d a manifest may have", d.Digest, d.Size, MaxManifestSize)
	}
	if d.MediaType.IsIndex() {
		sub, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, err
		}
		sm, err := sub.IndexManifest()
		if err != nil {
			return nil, err
		}
		if d, err = choosePlatform(sm.Manifests, p); err != nil {
			return nil, err
		}
		if d.Size > MaxManifestSize {
			return nil, fmt.Errorf("manifest %s is %d bytes, more than the %d a manifest may have", d.Digest, d.Size, MaxManifestSize)
		}
		return sub.Image(d.Digest)
	}
	return idx.Image(d.Digest)
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// unpackArchive extracts an oci-archive (a tar of an OCI image layout)
// into a new directory below tmp, with the extractor that unpacks images
// (the archive is as untrusted as one), and returns it.
func unpackArchive(ctx context.Context, file, tmp string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if tmp != "" {
		if err := os.MkdirAll(tmp, 0o700); err != nil {
			return "", err
		}
	}
	dir, err := os.MkdirTemp(tmp, "oci-archive-")
	if err != nil {
		return "", err
	}
	if _, err := extract.Tar(ctx, f, dir, extract.Options{NoOwnership: true}); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("not an oci-archive (a tar of an OCI image layout): %w", err)
	}
	return dir, nil
}

// openDockerArchive reads what docker save writes: its layers are plain
// tars (or, from Docker 25 on, OCI blobs), read uncompressed, so each is
// its own digest.
func openDockerArchive(src ociref.Source) (*Image, error) {
	if _, err := os.Stat(src.Path); err != nil {
		return nil, err
	}
	vimg, err := tarball.ImageFromPath(src.Path, nil)
	if err != nil {
		return nil, fmt.Errorf("not a docker-archive (docker save): %w", err)
	}
	return describe(src, vimg, true)
}

// describe checks the manifest and config against their digests and lists
// the layers. With uncompressed, layers are read as plain tars whose digest
// is their diffID.
func describe(src ociref.Source, vimg v1.Image, uncompressed bool) (*Image, error) {
	raw, err := vimg.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if len(raw) > MaxManifestSize {
		return nil, fmt.Errorf("the manifest is %d bytes, more than the %d a manifest may have", len(raw), MaxManifestSize)
	}
	digest, err := vimg.Digest()
	if err != nil {
		return nil, err
	}
	if got := sha256Digest(raw); digest.Algorithm != "sha256" || got != digest.String() {
		return nil, fmt.Errorf("manifest digest mismatch: the manifest hashes to %s, it is named %s", got, digest)
	}
	m, err := vimg.Manifest()
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", digest, err)
	}
	if m.Config.Size > MaxConfigSize {
		return nil, fmt.Errorf("config %s is %d bytes, more than the %d a config may have", m.Config.Digest, m.Config.Size, MaxConfigSize)
	}
	rawCfg, err := vimg.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if got := sha256Digest(rawCfg); got != m.Config.Digest.String() {
		return nil, fmt.Errorf("config digest mismatch: the config hashes to %s, the manifest says %s", got, m.Config.Digest)
	}
	cfg, err := v1.ParseConfigFile(strings.NewReader(string(rawCfg)))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if cfg.RootFS.Type != "" && cfg.RootFS.Type != "layers" {
		return nil, fmt.Errorf("config %s: rootfs type %q (want layers)", m.Config.Digest, cfg.RootFS.Type)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("config %s lists %d layers (rootfs.diff_ids), the manifest %d", m.Config.Digest, len(cfg.RootFS.DiffIDs), len(m.Layers))
	}
	img := &Image{Source: src, Digest: digest.String(), ConfigDigest: m.Config.Digest.String(), Config: cfg}
	for i, ld := range m.Layers {
		switch {
		case ld.MediaType.IsLayer(), ld.MediaType == "":
		case ld.MediaType == types.DockerForeignLayer || ld.MediaType == types.OCIRestrictedLayer || ld.MediaType == types.OCIUncompressedRestrictedLayer:
			return nil, fmt.Errorf("layer %s is a foreign layer (%s), which is not fetched", ld.Digest, ld.MediaType)
		default:
			return nil, fmt.Errorf("layer %s has media type %s, not a layer", ld.Digest, ld.MediaType)
		}
		diffID := cfg.RootFS.DiffIDs[i]
		l, err := vimg.LayerByDigest(ld.Digest)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", ld.Digest, err)
		}
		layer := Layer{Digest: ld.Digest.String(), DiffID: diffID.String(), Size: ld.Size}
		if uncompressed {
			layer.Digest, layer.Size = diffID.String(), 0
			layer.Open = func(context.Context) (io.ReadCloser, error) { return l.Uncompressed() }
		} else {
			layer.Open = func(context.Context) (io.ReadCloser, error) { return l.Compressed() }
		}
		img.Layers = append(img.Layers, layer)
	}
	return img, nil
}

func sha256Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// Name is the image name an OCI image is stored under: for a registry
// image REGISTRY/REPOSITORY (a port written host-port, as an AC identifier
// cannot hold ':'), for a layout or archive the base name of its path; tag
// is the version label.
func Name(src ociref.Source) (aci.ACIdentifier, error) {
	var s string
	switch src.Transport {
	case ociref.Registry:
		s = strings.NewReplacer(":", "-", "[", "", "]", "").Replace(src.Registry) + "/" + src.Repository
	default:
		base := src.Path
		base = strings.TrimRight(base, "/")
		if i := strings.LastIndexByte(base, '/'); i >= 0 {
			base = base[i+1:]
		}
		for _, ext := range []string{".tar.gz", ".tgz", ".tar", ".oci"} {
			base = strings.TrimSuffix(base, ext)
		}
		s = base
	}
	n := SanitizeIdentifier(s)
	if n == "" {
		return "", fmt.Errorf("%s: no image name can be made of %q", src, s)
	}
	if err := n.Validate(); err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	return n, nil
}
