// Package hostfetch is the host's work that talks to image sources and
// handles OpenPGP keys: fetching images (discovery, HTTP, OCI registries,
// the store's import of what was fetched), verifying their signatures,
// and the trust store's keys. It runs in acirun-fetch (cmd/acirun-fetch),
// which serves host.Host's Fetch, TrustKeys, TrustedKeys, Untrust, the
// repair of image verify and the images a pod's prepare does not find in
// the store, through package fetchcontract: acirun itself links none of
// it. Its operations are those of package host's over the same Config.
package hostfetch

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"

	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/host"
	"github.com/acirun/acirun/stage0/imageref"
	"github.com/acirun/acirun/stage0/oci"
	"github.com/acirun/acirun/stage0/ociref"
	"github.com/acirun/acirun/stage0/pull"
	"github.com/acirun/acirun/stage0/store"
	"github.com/acirun/acirun/stage0/trust"
)

// TrustStore is the key store of h's configured directories. A key file
// it ignores (not named by its key's fingerprint, unreadable) is a
// warning.
func TrustStore(h *host.Host) *trust.Store {
	cfg := h.Config()
	s := trust.NewStore(filepath.Join(cfg.SystemConfig, "trustedkeys"), filepath.Join(cfg.LocalConfig, "trustedkeys"))
	s.Warnings = cfg.Warnings
	return s
}

// newFetcher builds the HTTP side with the credentials of h.Auth.
func newFetcher(h *host.Host, opts host.FetchOptions) (*fetch.Fetcher, error) {
	auth, err := h.Auth()
	if err != nil {
		return nil, err
	}
	stall, err := h.StallTimeout(opts.StallTimeout)
	if err != nil {
		return nil, err
	}
	return fetch.New(fetch.Options{Insecure: opts.Insecure, Auth: auth, Warnings: h.Config().Warnings, Progress: opts.Progress, StallTimeout: stall}), nil
}

// Puller builds the image pipeline over h's store, its trust store and
// the network.
func Puller(h *host.Host, opts host.FetchOptions) (*pull.Puller, error) {
	cfg := h.Config()
	// store.d is read once for both of its settings; the options win.
	sc, err := h.StoreConfig()
	if err != nil {
		return nil, err
	}
	if opts.MaxImageSize != 0 {
		sc.MaxImageSize = opts.MaxImageSize
	}
	if opts.StallTimeout != 0 {
		sc.StallTimeout = opts.StallTimeout
	}
	st, err := h.OpenStoreWith(sc.MaxImageSize)
	if err != nil {
		return nil, err
	}
	auth, err := h.Auth()
	if err != nil {
		return nil, err
	}
	f := fetch.New(fetch.Options{Insecure: opts.Insecure, Auth: auth, Warnings: cfg.Warnings, Progress: opts.Progress, StallTimeout: sc.StallTimeout})
	ociCfg, err := h.OCIConfig()
	if err != nil {
		return nil, err
	}
	dockerAuth, err := fetch.LoadDockerAuth(cfg.Warnings, filepath.Join(cfg.SystemConfig, "auth.d"), filepath.Join(cfg.LocalConfig, "auth.d"))
	if err != nil {
		return nil, err
	}
	return &pull.Puller{
		Store:      st,
		Trust:      TrustStore(h),
		Fetcher:    f,
		Policy:     opts.Policy,
		Insecure:   opts.Insecure,
		Warnings:   cfg.Warnings,
		PartialDir: filepath.Join(cfg.DataDir, "store", "partial"),
		OCI: pull.OCIConfig{
			DefaultRegistry: ociCfg.DefaultRegistry,
			Credentials:     registryCredentials(dockerAuth, auth),
		},
	}, nil
}

// registryCredentials gives a registry its credentials from auth.d, the
// same files as ACI fetches: rkt's dockerAuth files for the registry (for
// Docker Hub, under any of its names), else the basic credentials of an
// auth file for its host.
func registryCredentials(dockerAuth, auth fetch.Auth) func(string) (oci.Credentials, bool) {
	return func(registry string) (oci.Credentials, bool) {
		names := []string{registry}
		if ociref.IsDockerHub(registry) {
			names = ociref.DockerHubNames()
		}
		for _, n := range names {
			if c, ok := dockerAuth.For(&url.URL{Host: n}); ok {
				return oci.Credentials{User: c.User, Password: c.Password}, true
			}
		}
		c, ok := auth.For(&url.URL{Host: registry})
		if !ok || c.Type != "basic" {
			return oci.Credentials{}, false
		}
		return oci.Credentials{User: c.User, Password: c.Password}, true
	}
}

// Fetch is host.Host.Fetch's work: it brings each image reference into the
// store (a file, an http(s) URL, a name found by discovery, an OCI
// reference, or a stored image ID), verified and rendered, and returns the
// images in order. On an error it returns the images fetched before it. A
// signature file (opts.Signature) is for one image only.
func Fetch(ctx context.Context, h *host.Host, opts host.FetchOptions, refs ...string) ([]*store.Image, error) {
	if opts.Signature != "" && len(refs) != 1 {
		return nil, fmt.Errorf("a signature file is for one image, and %d are named", len(refs))
	}
	if opts.Policy != fetch.PullNever && slices.ContainsFunc(refs, func(ref string) bool {
		k := imageref.Classify(ref)
		return k == imageref.KindURL || k == imageref.KindName
	}) {
		fetch.WarmSystemRoots() // beside the set-up of the store and the pipeline
	}
	p, err := Puller(h, opts)
	if err != nil {
		return nil, err
	}
	var imgs []*store.Image
	for _, ref := range refs {
		var img *store.Image
		if opts.Signature != "" {
			img, err = p.PullSigned(ctx, ref, opts.Signature)
		} else {
			img, err = p.Pull(ctx, ref)
		}
		if err != nil {
			return imgs, err
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

// Repair renders the stored image id's tree again, fetching the
// dependencies the store lacks (image verify --repair).
func Repair(ctx context.Context, h *host.Host, id string) error {
	p, err := Puller(h, host.FetchOptions{})
	if err != nil {
		return err
	}
	_, err = p.Repair(ctx, id)
	return err
}
