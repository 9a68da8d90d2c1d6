// Package imageref says how an image reference on a command line is
// understood (Classify) and which stored image it stands for without asking
// the network (InStore and the Stored functions). The image pipeline
// (package pull, in acirun-fetch) and the host's resolution of a pod's
// images (acirun, which links no fetching, discovery or OpenPGP code) both
// take these answers from here, so that a stored image is found by the
// same rules whichever process looks.
package imageref

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/imagename"
	"github.com/acirun/acirun/stage0/ociref"
	"github.com/acirun/acirun/stage0/store"
)

// Kind says how a reference was understood.
type Kind int

// The kinds of image reference.
const (
	KindFile Kind = iota
	KindURL
	KindID
	KindName
	// KindOCI is an OCI or Docker image: docker://, oci:, oci-archive:,
	// docker-archive: (see package ociref).
	KindOCI
)

func (k Kind) String() string {
	return [...]string{"file", "URL", "image ID", "name", "OCI image"}[k]
}

// Classify says how ref will be resolved: an http(s) URL; "sha512-…" (an
// image ID or ID prefix in the store); a path to an existing file, or
// anything that looks like a path (starts with /, ./ or ../, or ends in
// .aci); an OCI or Docker image reference (docker://…, oci:…,
// oci-archive:…, docker-archive:…); otherwise an image name with optional version and labels
// (example.com/app:1.0,os=linux).
func Classify(ref string) Kind {
	switch {
	case ociref.IsSource(ref):
		return KindOCI
	case fetch.IsURL(ref):
		return KindURL
	case strings.HasPrefix(ref, "file://"):
		return KindFile
	case strings.HasPrefix(ref, aci.ImageIDPrefix):
		return KindID
	case strings.HasPrefix(ref, "/"), strings.HasPrefix(ref, "./"), strings.HasPrefix(ref, "../"), strings.HasSuffix(ref, ".aci"):
		return KindFile
	}
	if fi, err := os.Stat(ref); err == nil && fi.Mode().IsRegular() {
		return KindFile
	}
	return KindName
}

// InStore returns the stored image ref stands for when policy takes it
// from the store without asking the network, as the image pipeline
// (pull.Puller) does: an image ID (or ID prefix) always; a name, URL or
// OCI reference under PullNew or PullNever when the store has one. It
// returns nil when the pipeline would go further: a file is imported every
// time, --pull-policy=update asks the server, and what is missing is
// fetched (or, under PullNever, refused with the pipeline's own error).
// defaultRegistry is the registry of a docker://NAME naming none
// (ociref.LocalConfig).
func InStore(st *store.Store, ref string, policy fetch.PullPolicy, defaultRegistry string) *store.Image {
	kind := Classify(ref)
	if kind == KindID {
		img, err := st.Get(ref)
		if err != nil {
			return nil
		}
		return img
	}
	if policy != fetch.PullNew && policy != fetch.PullNever {
		return nil
	}
	switch kind {
	case KindURL:
		return StoredByURL(st, ref)
	case KindName:
		app, err := imagename.ParseApp(ref)
		if err != nil {
			return nil
		}
		return StoredByName(st, app)
	case KindOCI:
		src, err := ociref.ParseSource(ref, defaultRegistry)
		if err != nil {
			return nil
		}
		if src, err = src.AbsPath(); err != nil {
			return nil
		}
		img, _ := StoredOCI(st, src.String())
		return img
	}
	return nil
}

// StoredByURL returns the stored image most recently fetched from rawURL.
// That is the latest FetchedAt, not the latest import: an image fetched
// again from rawURL keeps its import time but records the new fetch (and
// caching data) in its origin, and it, not a newer import whose content the
// server no longer serves, is what rawURL stands for now.
func StoredByURL(st *store.Store, rawURL string) *store.Image {
	imgs, err := st.List(store.Filter{})
	if err != nil {
		return nil
	}
	var best *store.Image
	for _, img := range imgs {
		if img.Origin.URL == rawURL && (best == nil || img.FetchedAt.After(best.FetchedAt)) {
			best = img
		}
	}
	return best
}

// StoredByName finds the newest stored image with app's name and labels.
func StoredByName(st *store.Store, app imagename.App) *store.Image {
	f := NameFilter(app)
	img, err := st.GetByName(f.Name, f.Labels)
	if err != nil {
		return nil
	}
	return img
}

// NameFilter is the store filter for the images an image name stands for:
// its name and its labels, in a stable order. Version "latest" is not a
// label to match but the newest of them, as in discovery, so it is left out.
func NameFilter(app imagename.App) store.Filter {
	keys := make([]string, 0, len(app.Labels))
	for k := range app.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	f := store.Filter{Name: app.Name}
	for _, k := range keys {
		if k == "version" && app.Labels[k] == imagename.DefaultVersion {
			continue
		}
		f.Labels = append(f.Labels, aci.Label{Name: aci.ACIdentifier(k), Value: app.Labels[k]})
	}
	return f
}

// StoredOCI finds the stored image an OCI reference (in its canonical
// form, ociref.Source.String) stands for: the one most recently fetched as
// that reference, or, for a reference pinned by digest, any image with
// that manifest digest. None is an error wrapping store.ErrNotFound.
func StoredOCI(st *store.Store, ref string) (*store.Image, error) {
	imgs, err := st.List(store.Filter{})
	if err != nil {
		return nil, err
	}
	digest := ""
	if i := strings.LastIndex(ref, "@sha256:"); i >= 0 && strings.HasPrefix(ref, "docker://") {
		digest = ref[i+1:]
	}
	var best *store.Image
	for _, img := range imgs {
		if img.OCI == nil || img.OCI.Reference != ref && (digest == "" || img.OCI.Digest != digest) {
			continue
		}
		if best == nil || img.FetchedAt.After(best.FetchedAt) {
			best = img
		}
	}
	if best == nil {
		return nil, fmt.Errorf("image %s: %w", ref, store.ErrNotFound)
	}
	return best, nil
}

// WarnUnsigned says so on w when an image that went into the store without
// a signature check (a fetch with --insecure-options=image) is used by an
// operation that did not relax that check (insecure): the relaxation
// outlives the command that gave it, and the operator should see where.
func WarnUnsigned(w io.Writer, img *store.Image, insecure fetch.Insecure) {
	if img.Origin.Signer != "" || img.Origin.Digest != "" || insecure.Has(fetch.InsecureImage) || w == nil {
		return
	}
	fmt.Fprintf(w, "warning: image %s (%s) is in the store without a verified signature: it was fetched with --insecure-options=image\n", img.Name, img.ShortID())
}
