// Package ocitest builds OCI images for tests: layers from a list of tar
// entries written as given (whiteouts, hostile names and all), images of
// those layers with a config, written as OCI image layouts, docker save
// archives or pushed to a registry, with go-containerregistry doing the
// formats. It makes the images; it fakes nothing that reads them.
package ocitest

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
)

// Entry is one tar entry of a layer. A regular file unless Type says
// otherwise; Mode 0 means 0644 for files and 0755 for directories.
type Entry struct {
	Name     string
	Type     byte // tar.TypeReg (default), TypeDir, TypeSymlink, TypeLink, ...
	Body     string
	Mode     int64
	Linkname string
	Uid, Gid int
}

// Dir, File, Symlink and Whiteout are short ways to write entries.
func Dir(name string) Entry         { return Entry{Name: name, Type: tar.TypeDir} }
func File(name, body string) Entry  { return Entry{Name: name, Body: body} }
func Symlink(name, to string) Entry { return Entry{Name: name, Type: tar.TypeSymlink, Linkname: to} }
func Exec(name, body string) Entry  { return Entry{Name: name, Body: body, Mode: 0o755} }
func Whiteout(dir, n string) Entry  { return File(join(dir, ".wh."+n), "") }
func Opaque(dir string) Entry       { return File(join(dir, ".wh..wh..opq"), "") }
func join(dir, n string) string {
	if dir == "" {
		return n
	}
	return dir + "/" + n
}

// Tar writes entries as an uncompressed tar, in order, with a fixed time.
func Tar(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Linkname: e.Linkname, Uid: e.Uid, Gid: e.Gid, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.WriteString(tw, e.Body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Compression of a layer blob.
type Compression int

// The layer compressions.
const (
	Gzip Compression = iota
	Zstd
	None
)

// Layer makes a layer of entries with the given compression.
func Layer(t testing.TB, c Compression, entries ...Entry) v1.Layer {
	t.Helper()
	return LayerOfTar(t, c, Tar(t, entries...))
}

// LayerOfTar makes a layer of an uncompressed tar.
func LayerOfTar(t testing.TB, c Compression, raw []byte) v1.Layer {
	t.Helper()
	opener := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	var l v1.Layer
	var err error
	switch c {
	case Gzip:
		l, err = tarball.LayerFromOpener(opener)
	case Zstd:
		var zb bytes.Buffer
		zw, zerr := zstd.NewWriter(&zb)
		if zerr != nil {
			t.Fatal(zerr)
		}
		zw.Write(raw)
		zw.Close()
		blob := zb.Bytes()
		l, err = tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil },
			tarball.WithMediaType(types.OCILayerZStd))
	case None:
		l, err = tarball.LayerFromOpener(opener, tarball.WithMediaType(types.OCIUncompressedLayer), tarball.WithCompressedCaching)
		if err == nil {
			l = uncompressed{l, raw}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// uncompressed is a layer whose blob is its tar.
type uncompressed struct {
	v1.Layer
	raw []byte
}

func (u uncompressed) Digest() (v1.Hash, error) { return u.Layer.DiffID() }
func (u uncompressed) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(u.raw)), nil
}
func (u uncompressed) Size() (int64, error)                { return int64(len(u.raw)), nil }
func (u uncompressed) MediaType() (types.MediaType, error) { return types.OCIUncompressedLayer, nil }

// Image makes an OCI image (OCI media types) of layers, lowest first, with
// cfg as its config's runtime settings, for linux/GOARCH of p (the host's
// when p is zero).
func Image(t testing.TB, p v1.Platform, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	var adds []mutate.Addendum
	for _, l := range layers {
		mt, err := l.MediaType()
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.Addendum{Layer: l, MediaType: mt})
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config = cfg
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: time.Unix(1700000000, 0).UTC()}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// ForPlatform is an image of an index and the platform it is listed under.
type ForPlatform struct {
	Platform v1.Platform
	Image    v1.Image
}

// Index makes an image index of images, each under its platform.
func Index(t testing.TB, imgs ...ForPlatform) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, fp := range imgs {
		p := fp.Platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: fp.Image, Descriptor: v1.Descriptor{Platform: &p}})
	}
	return idx
}

// WriteLayout writes img (a v1.Image or v1.ImageIndex) into an OCI image
// layout at dir, tagged tag (the org.opencontainers.image.ref.name
// annotation) unless tag is "".
func WriteLayout(t testing.TB, dir, tag string, img any) {
	t.Helper()
	lp, err := layout.FromPath(dir)
	if err != nil {
		if lp, err = layout.Write(dir, empty.Index); err != nil {
			t.Fatal(err)
		}
	}
	var opts []layout.Option
	if tag != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag}))
	}
	switch x := img.(type) {
	case v1.Image:
		err = lp.AppendImage(x, opts...)
	case v1.ImageIndex:
		err = lp.AppendIndex(x, opts...)
	default:
		t.Fatalf("WriteLayout: %T is not an image or index", img)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// WriteDockerArchive writes img as docker save does, tagged ref
// (REPO:TAG).
func WriteDockerArchive(t testing.TB, file, ref string, img v1.Image) {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(file, tag, img); err != nil {
		t.Fatal(err)
	}
}
