package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/acirun/acirun/stage0/discovery"
	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/trust"
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
	Review func(k *trust.KeyInfo, source string) (bool, error)
}

// TrustedKey is a key TrustKeys added.
type TrustedKey struct {
	Source      string // the file or URL it came from
	Fingerprint string
	UserIDs     []string
	Path        string // where it is kept
}

// TrustKeys adds keys to the local trust store, after Review accepted all
// of them. It returns the keys added, also those added before an error in
// writing one.
func (h *Host) TrustKeys(ctx context.Context, opts TrustOptions) ([]TrustedKey, error) {
	switch {
	case (opts.Prefix == "") == !opts.Root:
		return nil, errors.New("trust: give exactly one of a prefix and root")
	case opts.Root && len(opts.Sources) == 0:
		return nil, errors.New("trust: a root key needs a key file or URL")
	case opts.Prefix != "":
		if err := trust.ValidatePrefix(opts.Prefix); err != nil {
			return nil, err
		}
	}
	keys, err := h.loadKeys(ctx, opts)
	if err != nil {
		return nil, err
	}
	// Every key is parsed and reviewed before the first is written: a key
	// declined is a refusal of the command (exit non-zero, as a script
	// running `acirun trust … && acirun fetch …` must not go on), and a
	// refused command leaves the trust store as it was.
	infos := make([]*trust.KeyInfo, len(keys))
	for i, k := range keys {
		info, err := trust.ParseKey(bytes.NewReader(k.data))
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k.source, err)
		}
		if opts.Review != nil {
			ok, err := opts.Review(info, k.source)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("key %s from %s not trusted (declined on review): no key written", info.Fingerprint, k.source)
			}
		}
		infos[i] = info
	}
	ts := h.TrustStore()
	var added []TrustedKey
	for i, k := range keys {
		info := infos[i]
		var fp, path string
		var err error
		if opts.Root {
			fp, path, err = ts.AddRootKey(bytes.NewReader(k.data))
		} else {
			fp, path, err = ts.AddKey(opts.Prefix, bytes.NewReader(k.data))
		}
		if err != nil {
			return added, fmt.Errorf("key %s: %w", k.source, err)
		}
		added = append(added, TrustedKey{Source: k.source, Fingerprint: fp, UserIDs: info.UserIDs, Path: path})
	}
	return added, nil
}

// keySource is one key to review, with where it came from.
type keySource struct {
	source string
	data   []byte
}

// loadKeys reads the keys of opts.Sources, or discovers them.
func (h *Host) loadKeys(ctx context.Context, opts TrustOptions) ([]keySource, error) {
	var fetcher *fetch.Fetcher
	client := func() (*fetch.Fetcher, error) {
		var err error
		if fetcher == nil {
			fetcher, err = h.fetcher(FetchOptions{Insecure: opts.Insecure})
		}
		return fetcher, err
	}
	sources := opts.Sources
	if len(sources) == 0 {
		f, err := client()
		if err != nil {
			return nil, err
		}
		d := &discovery.Discoverer{Client: f.Client(), AllowHTTP: opts.Insecure.Has(fetch.InsecureHTTP)}
		urls, err := d.PublicKeys(ctx, opts.Prefix)
		if err != nil {
			return nil, fmt.Errorf("discover the keys of %s: %w", opts.Prefix, err)
		}
		if opts.Discovered != nil {
			opts.Discovered(urls)
		}
		sources = urls
	}
	discovered := len(opts.Sources) == 0
	var keys []keySource
	for _, a := range sources {
		if !fetch.IsURL(a) {
			data, err := os.ReadFile(a)
			if err != nil {
				return nil, fmt.Errorf("read key: %w", err)
			}
			keys = append(keys, keySource{source: a, data: data})
			continue
		}
		f, err := client()
		if err != nil {
			return nil, err
		}
		resp, err := f.Get(ctx, a, fetch.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("fetch key: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, trust.MaxKeySize+1))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("fetch key %s: %w", a, err)
		}
		if len(data) > trust.MaxKeySize {
			return nil, fmt.Errorf("key %s is larger than %d bytes", a, trust.MaxKeySize)
		}
		src := a
		if discovered {
			if err := keyHostCheck(opts.Prefix, resp.URL); err != nil {
				if opts.Review == nil {
					return nil, fmt.Errorf("%w: review it on a terminal (without --skip-fingerprint-review), or name the key's URL after the prefix to trust it as it is", err)
				}
				src = fmt.Sprintf("%s (WARNING: %v)", a, err)
			}
		}
		keys = append(keys, keySource{source: src, data: data})
	}
	return keys, nil
}

// keyHostCheck says whether a key discovered for prefix came (after
// redirects) from another host than the prefix's own, its first segment.
// Discovery lets a page hand a prefix to a key anywhere, and a redirect on
// the way can do the same: someone should see that before such a key is
// trusted. With --skip-fingerprint-review nobody does, so TrustKeys
// refuses such a key then; naming the key's URL on the command line is the
// operator's own choice of host, and a review on a terminal shows the
// warning beside the fingerprint.
func keyHostCheck(prefix, keyURL string) error {
	want, _, _ := strings.Cut(prefix, "/")
	u, err := url.Parse(keyURL)
	if err != nil {
		return fmt.Errorf("key %s for prefix %s: %v", keyURL, prefix, err)
	}
	if !strings.EqualFold(u.Hostname(), want) {
		return fmt.Errorf("key %s for prefix %s comes from host %s, not %s", u.Redacted(), prefix, u.Hostname(), want)
	}
	return nil
}

// TrustedKeys lists the trusted keys, system and local, with their
// prefixes and the problems of files that are ignored.
func (h *Host) TrustedKeys(ctx context.Context) ([]trust.KeyInfo, error) {
	return h.TrustStore().List()
}

// Untrust stops trusting the key with fingerprint: its local files are
// removed (removed), a system key is masked by an empty local file
// (masked).
func (h *Host) Untrust(ctx context.Context, fingerprint string) (removed, masked []string, err error) {
	return h.TrustStore().Remove(fingerprint)
}
