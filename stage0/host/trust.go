package host

import (
	"context"
	"errors"

	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/fetchcontract"
	"github.com/acirun/acirun/stage0/imagename"
)

// TrustOptions say which keys TrustKeys adds, and for what.
type TrustOptions struct {
	// Prefix is the image name prefix the keys are trusted for; Root
	// trusts them for every name instead. Exactly one is given.
	Prefix string
	Root   bool
	// Sources are key files and http(s) URLs. With none, the keys of
	// Prefix are found by appc discovery (ac-discovery-pubkeys).
	Sources []string
	// Insecure relaxes how keys are fetched: InsecureTLS, InsecureHTTP.
	Insecure fetch.Insecure
	// Discovered, if set, is told the key URLs discovery found, before
	// they are fetched.
	Discovered func(urls []string)
	// Review is asked about each key before it is added, with where the
	// key came from; a false answer refuses the command, and no key is
	// added. Nil adds every key without asking (--skip-fingerprint-review).
	Review func(k *fetchcontract.KeyInfo, source string) (bool, error)
}

// Check refuses options that name no scope, or two, or a root key
// without a source: acirun before it starts the helper, and the helper
// before it acts.
func (o TrustOptions) Check() error {
	switch {
	case (o.Prefix == "") == !o.Root:
		return errors.New("trust: give exactly one of a prefix and root")
	case o.Root && len(o.Sources) == 0:
		return errors.New("trust: a root key needs a key file or URL")
	case o.Prefix != "":
		return imagename.ValidatePrefix(o.Prefix)
	}
	return nil
}

// TrustKeys adds keys to the local trust store, after Review accepted all
// of them. It returns the keys added, also those added before an error in
// writing one. The keys are read, fetched, parsed and written by
// acirun-fetch (hostfetch.TrustKeys), which asks Review through the
// contract.
func (h *Host) TrustKeys(ctx context.Context, opts TrustOptions) ([]fetchcontract.TrustedKey, error) {
	if err := opts.Check(); err != nil {
		return nil, err
	}
	c := h.fetchClient()
	c.Discovered, c.Review = opts.Discovered, opts.Review
	res, err := c.Do(ctx, &fetchcontract.Request{Config: h.contractConfig(), Trust: &fetchcontract.TrustRequest{
		Prefix: opts.Prefix, Root: opts.Root, Sources: opts.Sources, Insecure: opts.Insecure}})
	if res == nil {
		return nil, err
	}
	return res.Added, err
}

// TrustedKeys lists the trusted keys, system and local, with their
// prefixes and the problems of files that are ignored (through
// acirun-fetch: hostfetch.TrustedKeys).
func (h *Host) TrustedKeys(ctx context.Context) ([]fetchcontract.KeyInfo, error) {
	res, err := h.fetchClient().Do(ctx, &fetchcontract.Request{Config: h.contractConfig(), TrustedKeys: &struct{}{}})
	if err != nil {
		return nil, err
	}
	return res.Keys, nil
}

// Untrust stops trusting the key with fingerprint: its local files are
// removed (removed), a system key is masked by an empty local file
// (masked). acirun-fetch does it (hostfetch.Untrust).
func (h *Host) Untrust(ctx context.Context, fingerprint string) (removed, masked []string, err error) {
	res, err := h.fetchClient().Do(ctx, &fetchcontract.Request{Config: h.contractConfig(), Untrust: &fetchcontract.UntrustRequest{Fingerprint: fingerprint}})
	if res == nil {
		return nil, nil, err
	}
	return res.Removed, res.Masked, err
}

// fetchClient runs acirun-fetch (Config.FetchExecutable) with the
// warnings on Config.Warnings.
func (h *Host) fetchClient() *fetchcontract.Client {
	return &fetchcontract.Client{Path: h.cfg.FetchExecutable, Stderr: h.cfg.Warnings, Trace: h.cfg.Trace.ForChild()}
}

// contractConfig is the Config as acirun-fetch is given it.
func (h *Host) contractConfig() fetchcontract.Config {
	return fetchcontract.Config{DataDir: h.cfg.DataDir, LocalConfig: h.cfg.LocalConfig, SystemConfig: h.cfg.SystemConfig,
		RunDir: h.cfg.RunDir, Debug: h.cfg.Debug}
}
