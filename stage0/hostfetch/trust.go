package hostfetch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/acirun/acirun/stage0/discovery"
	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/fetchcontract"
	"github.com/acirun/acirun/stage0/host"
	"github.com/acirun/acirun/stage0/trust"
)

// TrustKeys is host.Host.TrustKeys' work: it adds keys to the local trust
// store, after Review accepted all of them. It returns the keys added, also
// those added before an error in writing one.
func TrustKeys(ctx context.Context, h *host.Host, opts host.TrustOptions) ([]fetchcontract.TrustedKey, error) {
	if err := opts.Check(); err != nil {
		return nil, err
	}
	keys, err := loadKeys(ctx, h, opts)
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
			ki := keyInfo(info)
			ok, err := opts.Review(&ki, k.source)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("key %s from %s not trusted (declined on review): no key written", info.Fingerprint, k.source)
			}
		}
		infos[i] = info
	}
	ts := TrustStore(h)
	var added []fetchcontract.TrustedKey
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
		added = append(added, fetchcontract.TrustedKey{Source: k.source, Fingerprint: fp, UserIDs: info.UserIDs, Path: path})
	}
	return added, nil
}

// keySource is one key to review, with where it came from.
type keySource struct {
	source string
	data   []byte
}

// loadKeys reads the keys of opts.Sources, or discovers them.
func loadKeys(ctx context.Context, h *host.Host, opts host.TrustOptions) ([]keySource, error) {
	var fetcher *fetch.Fetcher
	client := func() (*fetch.Fetcher, error) {
		var err error
		if fetcher == nil {
			fetcher, err = newFetcher(h, host.FetchOptions{Insecure: opts.Insecure})
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

// TrustedKeys is host.Host.TrustedKeys' work: the trusted keys, system
// and local, with their prefixes and the problems of files that are
// ignored.
func TrustedKeys(h *host.Host) ([]fetchcontract.KeyInfo, error) {
	keys, err := TrustStore(h).List()
	if err != nil {
		return nil, err
	}
	out := make([]fetchcontract.KeyInfo, len(keys))
	for i := range keys {
		out[i] = keyInfo(&keys[i])
	}
	return out, nil
}

// Untrust is host.Host.Untrust's work: it stops trusting the key with
// fingerprint; its local files are removed (removed), a system key is
// masked by an empty local file (masked).
func Untrust(h *host.Host, fingerprint string) (removed, masked []string, err error) {
	return TrustStore(h).Remove(fingerprint)
}

// keyInfo is k as the contract carries it: without the parsed key.
func keyInfo(k *trust.KeyInfo) fetchcontract.KeyInfo {
	return fetchcontract.KeyInfo{Fingerprint: k.Fingerprint, KeyID: k.KeyID, UserIDs: k.UserIDs, Algorithm: k.Algorithm,
		Created: k.Created, Expires: k.Expires, Revoked: k.Revoked, Path: k.Path, System: k.System, Root: k.Root,
		Prefix: k.Prefix, Status: k.Status.String(), Problem: k.Problem}
}
