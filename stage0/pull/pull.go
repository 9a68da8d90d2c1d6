// Package pull gets images into the store: it resolves an image reference
// (a file, an http(s) URL, a name found by appc discovery, or an image ID),
// downloads the image and its detached signature, and imports it in one
// pass in which the same bytes are verified against the trust store,
// decompressed, hashed and extracted. Nothing becomes visible in the store
// unless the hash, the manifest and the signature all check out.
//
// Dependencies are fetched the same way, by discovery on their names, and
// the rendered tree is composed at fetch time, so that running a pod later
// costs no extraction.
package pull

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/aci/archive"
	"github.com/acirun/acirun/stage0/discovery"
	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/imagename"
	"github.com/acirun/acirun/stage0/imageref"
	"github.com/acirun/acirun/stage0/store"
	"github.com/acirun/acirun/stage0/store/extract"
	"github.com/acirun/acirun/stage0/trust"
)

// maxSignatureSize bounds a detached signature: a few hundred bytes in
// practice; a server must not make us buffer more.
const maxSignatureSize = trust.MaxSignatureSize

// Puller brings images into a store under one policy.
type Puller struct {
	Store   *store.Store
	Trust   *trust.Store
	Fetcher *fetch.Fetcher
	// Policy says when the network is consulted (rkt's semantics): new
	// fetches only what the store lacks, update asks the server whether a
	// stored copy changed, never uses the store only.
	Policy fetch.PullPolicy
	// Insecure is the set of relaxations; InsecureImage skips signature
	// checks (and is reported on Warnings for every image).
	Insecure fetch.Insecure
	// Warnings receives one line per relaxation used; nil discards.
	Warnings io.Writer
	// PartialDir keeps interrupted downloads so that the next attempt
	// resumes them; "" disables resuming.
	PartialDir string
	// HostLabels are the os/arch labels discovery adds when the reference
	// does not give them; nil means imagename.HostLabels().
	HostLabels map[string]string
	// OCI says how OCI and Docker images are reached.
	OCI OCIConfig
}

// Pull resolves ref per the policy and returns the stored, rendered image.
// Its errors name ref, once.
func (p *Puller) Pull(ctx context.Context, ref string) (*store.Image, error) {
	return p.pullNamed(ctx, ref, "")
}

// PullSigned is Pull with the detached signature in the file sigFile in
// place of the one beside the image (FILE.asc, URL.asc) or found by
// discovery (rkt's fetch --signature). It checks the image that is
// fetched, not its dependencies, and not an image the policy takes from
// the store without fetching (it was checked when it came in); an image ID
// is refused, since nothing is fetched for it.
func (p *Puller) PullSigned(ctx context.Context, ref, sigFile string) (*store.Image, error) {
	if sigFile == "" {
		return nil, fmt.Errorf("image %s: empty signature file name", ref)
	}
	if imageref.Classify(ref) == imageref.KindID {
		return nil, fmt.Errorf("image %s: a signature file applies to an image that is fetched (a file, URL or name), not to an image ID already in the store", ref)
	}
	if p.Insecure.Has(fetch.InsecureImage) {
		return nil, fmt.Errorf("image %s: a signature file and --insecure-options=image contradict each other: drop one", ref)
	}
	return p.pullNamed(ctx, ref, sigFile)
}

// pullNamed is pull, with its errors naming ref, once.
func (p *Puller) pullNamed(ctx context.Context, ref, sigFile string) (*store.Image, error) {
	img, err := p.pull(ctx, ref, sigFile)
	if err != nil {
		return nil, nameOnce(ref, err)
	}
	return img, nil
}

// nameOnce makes err name the image reference ref: most errors of a pull
// already say which file, URL or name failed, and saying it again would
// only repeat it ("image x: image x: ...").
func nameOnce(ref string, err error) error {
	if strings.Contains(err.Error(), ref) {
		return err
	}
	return fmt.Errorf("image %s: %w", ref, err)
}

// pull is Pull, with sigFile ("" for none) in place of the image's own
// signature.
func (p *Puller) pull(ctx context.Context, ref, sigFile string) (*store.Image, error) {
	start := time.Now()
	var img *store.Image
	var err error
	switch imageref.Classify(ref) {
	case imageref.KindURL:
		img, err = p.pullURL(ctx, ref, sigFile)
	case imageref.KindFile:
		img, err = p.pullFile(ctx, strings.TrimPrefix(ref, "file://"), sigFile)
	case imageref.KindID:
		img, err = p.Store.Get(ref)
	case imageref.KindOCI:
		if sigFile != "" {
			return nil, fmt.Errorf("image %s: a signature file applies to an ACI; an OCI image is verified by its digest (@sha256:…)", ref)
		}
		img, err = p.pullOCI(ctx, ref)
	default:
		var app imagename.App
		app, err = imagename.ParseApp(ref)
		if err == nil {
			img, err = p.pullName(ctx, app, "", sigFile)
		}
	}
	if err != nil {
		return nil, err
	}
	rendered, err := p.render(ctx, img)
	if err != nil {
		// An image whose dependencies cannot be had is not usable: if
		// this pull brought it in, take it out again, so that a failed
		// fetch leaves nothing visible.
		if !img.ImportTime.Before(start) {
			if rerr := p.Store.Remove(context.WithoutCancel(ctx), img.ID); rerr != nil {
				err = errors.Join(err, fmt.Errorf("remove unrenderable image %s: %w", img.ID, rerr))
			}
		}
		return nil, err
	}
	p.warnUnsigned(rendered)
	return rendered, nil
}

// warnUnsigned is imageref.WarnUnsigned on the pull's warnings.
func (p *Puller) warnUnsigned(img *store.Image) {
	imageref.WarnUnsigned(p.Warnings, img, p.Insecure)
}

// render makes sure img's tree is composed, fetching missing dependencies.
func (p *Puller) render(ctx context.Context, img *store.Image) (*store.Image, error) {
	if img.Rendered {
		return img, nil
	}
	return p.Store.Render(ctx, img.ID, p.resolveDependency)
}

// resolveDependency finds or fetches one dependency (spec A13): by its image
// ID when the store has it, otherwise by discovery on its name and labels,
// with the signature checked for the dependency's own name.
func (p *Puller) resolveDependency(ctx context.Context, dep aci.Dependency) (string, error) {
	want := dep.ImageID.String()
	if want != "" {
		if img, err := p.Store.Get(want); err == nil {
			p.warnUnsigned(img)
			return img.ID, nil
		}
	}
	app := imagename.App{Name: string(dep.ImageName), Labels: map[string]string{}}
	for _, l := range dep.Labels {
		app.Labels[string(l.Name)] = l.Value
	}
	img, err := p.pullName(ctx, app, want, "")
	if err != nil {
		return "", fmt.Errorf("dependency %s: %w", app, err)
	}
	if want != "" && img.ID != want {
		return "", fmt.Errorf("dependency %s: image ID %s, the manifest asks for %s", app, img.ID, want)
	}
	return img.ID, nil
}

// pullFile imports a local ACI file; its signature is sigFile, or
// FILE.asc if that is "".
func (p *Puller) pullFile(ctx context.Context, path, sigFile string) (*store.Image, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("open image: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("image %s: not a regular file", path)
	}
	var sig []byte
	if !p.skipSignatures(path) {
		if sigFile == "" {
			sigFile = abs + ".asc"
		}
		sig, err = readSignatureFile(sigFile)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", path, err)
		}
	}
	img, err := p.importStream(ctx, f, importSpec{source: path, file: abs, sig: sig})
	if err != nil {
		return nil, err
	}
	return img, nil
}

func readSignatureFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no signature: %s does not exist (sign the image with gpg --armor --detach-sign, or skip the check with --insecure-options=image)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read signature: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSignatureSize+1))
	if err != nil {
		return nil, fmt.Errorf("read signature %s: %w", path, err)
	}
	if len(b) > maxSignatureSize {
		return nil, fmt.Errorf("signature %s is larger than %d bytes", path, maxSignatureSize)
	}
	return b, nil
}

// skipSignatures reports whether --insecure-options=image is in force, and
// says so for what.
func (p *Puller) skipSignatures(what string) bool {
	if !p.Insecure.Has(fetch.InsecureImage) {
		return false
	}
	fetch.Warn(p.Warnings, fetch.InsecureImage, "signature of %s not checked", what)
	return true
}

// pullURL fetches an ACI from an http(s) URL; its signature is the file
// sigFile, or URL.asc if that is "".
func (p *Puller) pullURL(ctx context.Context, rawURL, sigFile string) (*store.Image, error) {
	since := time.Now()
	stored := imageref.StoredByURL(p.Store, rawURL)
	switch {
	case p.Policy == fetch.PullNever:
		if stored == nil {
			return nil, fmt.Errorf("image %s is not in the store and --pull-policy=never forbids fetching it", rawURL)
		}
		return stored, nil
	case p.Policy == fetch.PullNew && stored != nil:
		return stored, nil
	}
	return p.download(ctx, fetchSpec{aciURL: rawURL, sigURL: rawURL + ".asc", sigFile: sigFile, stored: stored, since: since})
}

// pullName resolves an image name by the store and by discovery; the
// signature is the discovered one, or the file sigFile if not "".
func (p *Puller) pullName(ctx context.Context, app imagename.App, expectedID, sigFile string) (*store.Image, error) {
	since := time.Now()
	stored := imageref.StoredByName(p.Store, app)
	switch {
	case p.Policy == fetch.PullNever:
		if stored == nil {
			return nil, fmt.Errorf("image %s is not in the store and --pull-policy=never forbids fetching it", app)
		}
		return stored, nil
	case p.Policy == fetch.PullNew && stored != nil:
		return stored, nil
	}
	hostLabels := p.HostLabels
	if hostLabels == nil {
		hostLabels = imagename.HostLabels()
	}
	full := app.WithDefaults(hostLabels)
	d := &discovery.Discoverer{Client: p.Fetcher.Client(), AllowHTTP: p.Insecure.Has(fetch.InsecureHTTP)}
	eps, err := d.Endpoints(ctx, full)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, ep := range eps {
		img, err := p.download(ctx, fetchSpec{aciURL: ep.ACI, sigURL: ep.Sig, sigFile: sigFile, app: &app, expectedID: expectedID, stored: stored, since: since})
		if err == nil {
			return img, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		if herr := unresolved(app, ep, err); herr != nil {
			return nil, herr
		}
		if ep.Simple {
			err = fmt.Errorf("%w (meta discovery found nothing: %s)", err, ep.Reason)
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("fetch %s: %w", app, errors.Join(errs...))
}

// UnresolvedError is an image name whose host does not resolve: meta
// discovery (https://HOST/…?ac-discovery=1) and the simple discovery's URL
// on the same host failed alike, so the name is most likely mistyped, or
// not a name at all.
type UnresolvedError struct {
	Name string // the image name, as asked
	Host string // the host that did not resolve
	Err  *net.DNSError
}

func (e *UnresolvedError) Error() string {
	return fmt.Sprintf("image %s: the host %s does not resolve (%s): check the image name, or give the image as a file (./IMAGE.aci) or an http(s) URL", e.Name, e.Host, e.Err.Err)
}

func (e *UnresolvedError) Unwrap() error { return e.Err }

// unresolved says whether err, the failure of ep, the simple discovery's
// endpoint of app, is the lookup of the name's own host failing: meta
// discovery asked that host first, and failed the same way. The nested
// errors of both say nothing more than that.
func unresolved(app imagename.App, ep discovery.Endpoint, err error) error {
	var dnsErr *net.DNSError
	if !ep.Simple || !errors.As(err, &dnsErr) {
		return nil
	}
	host, _, _ := strings.Cut(app.Name, "/")
	if !strings.EqualFold(strings.TrimSuffix(dnsErr.Name, "."), host) {
		return nil
	}
	return &UnresolvedError{Name: app.String(), Host: host, Err: dnsErr}
}

// fetchSpec is one image download.
type fetchSpec struct {
	aciURL, sigURL string
	// sigFile, if set, is read instead of fetching sigURL.
	sigFile string
	// app is what discovery was asked for; the manifest must match it.
	app        *imagename.App
	expectedID string
	// stored is the copy already in the store (for --pull-policy=update).
	stored *store.Image
	// since is when the pull looked in the store: an image another fetch
	// of aciURL stored after that is as new as this download would be.
	since time.Time
}

// errNotModified ends an import whose download found the stored copy current.
var errNotModified = errors.New("not modified")

// errImportEnded is what the download sees when the import stopped reading
// (it failed, or it had what it needed): the import's result decides then.
var errImportEnded = errors.New("import ended")

// download fetches the signature, then streams the image into the store.
func (p *Puller) download(ctx context.Context, fs fetchSpec) (*store.Image, error) {
	var cache *fetch.CacheInfo
	if fs.stored != nil && fs.stored.Origin.URL == fs.aciURL {
		cache = &fetch.CacheInfo{ETag: fs.stored.Origin.ETag, MaxAge: fs.stored.Origin.MaxAge, FetchedAt: fs.stored.FetchedAt}
		if cache.Fresh(time.Now()) {
			return fs.stored, nil
		}
	}
	// One download of a URL at a time, so that parallel fetches of one image
	// download it once: a fetch that finds, once it holds the lock, that
	// another fetched the URL since this pull looked in the store takes
	// what that one stored, if it passes this fetch's own checks.
	unlock, err := p.Store.LockSource(ctx, fs.aciURL)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if img := imageref.StoredByURL(p.Store, fs.aciURL); img != nil && !img.FetchedAt.Before(fs.since) && p.accepts(img, fs) {
		return img, nil
	}
	var sig []byte
	if !p.skipSignatures(fs.aciURL) {
		if fs.sigFile != "" {
			sig, err = readSignatureFile(fs.sigFile)
		} else {
			sig, err = p.fetchSignature(ctx, fs.sigURL)
		}
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", fs.aciURL, err)
		}
	}
	partial := ""
	if p.PartialDir != "" {
		if err := os.MkdirAll(p.PartialDir, 0o700); err != nil {
			return nil, fmt.Errorf("partial downloads: %w", err)
		}
		sum := sha256.Sum256([]byte(fs.aciURL))
		partial = filepath.Join(p.PartialDir, hex.EncodeToString(sum[:16])+".aci.part")
	}
	pr, pw := io.Pipe()
	type result struct {
		resp *fetch.Response
		err  error
	}
	done := make(chan result, 1)
	// The transfer starts once the import is ready for it; with a partial
	// file, that is when the store says where its stored copy of the image
	// goes: the complete download is moved there, not written again.
	started := false
	start := func(keepAs string) {
		started = true
		go func() {
			var resp *fetch.Response
			var err error
			if partial != "" {
				resp, err = p.Fetcher.Download(ctx, fs.aciURL, partial, pw, fetch.GetOptions{Label: "image", Cache: cache, KeepAs: keepAs})
			} else {
				resp, err = p.Fetcher.Get(ctx, fs.aciURL, fetch.GetOptions{Label: "image", Cache: cache})
				if err == nil && resp.Body != nil {
					_, err = io.Copy(pw, resp.Body)
					resp.Body.Close()
				}
			}
			if err == nil && resp.Outcome != fetch.Fetched {
				err = errNotModified
			}
			pw.CloseWithError(err)
			done <- result{resp, err}
		}()
	}
	origin := store.Origin{URL: fs.aciURL}
	spec := importSpec{source: fs.aciURL, sig: sig, app: fs.app, expectedID: fs.expectedID, origin: &origin, cache: func() *fetch.CacheInfo {
		r := <-done
		done <- r
		if r.resp == nil {
			return nil
		}
		return &r.resp.Cache
	}}
	if partial != "" {
		spec.blobAt = start
	} else {
		start("")
	}
	img, err := p.importStream(ctx, pr, spec)
	pr.CloseWithError(errImportEnded)
	if !started {
		return nil, err // the import failed before it read anything
	}
	r := <-done
	if errors.Is(r.err, errNotModified) && fs.stored != nil {
		o := fs.stored.Origin
		o.ETag, o.MaxAge = r.resp.Cache.ETag, r.resp.Cache.MaxAge
		if o.ETag == "" {
			o.ETag = fs.stored.Origin.ETag
		}
		if err := p.Store.UpdateOrigin(ctx, fs.stored.ID, o); err != nil {
			return nil, err
		}
		return fs.stored, nil
	}
	if err != nil {
		// The partial file holds bytes that failed a check (hash,
		// manifest, signature) or a transfer that broke for good: do not
		// resume from them.
		if partial != "" && (r.err == nil || errors.Is(r.err, errImportEnded)) {
			fetch.RemovePartial(partial)
		}
		// A broken transfer explains the import's failure (a short
		// stream), unless the transfer broke only because the import had
		// already failed and stopped reading. A stall says it all,
		// naming the URL, once.
		var stall *fetch.StallError
		if errors.As(r.err, &stall) {
			return nil, r.err
		}
		if r.err != nil && !errors.Is(err, r.err) && !errors.Is(r.err, errImportEnded) {
			return nil, fmt.Errorf("fetch %s: %w", fs.aciURL, r.err)
		}
		return nil, err
	}
	return img, nil
}

// accepts says whether img, stored by another fetch of fs.aciURL, passes
// the checks fs would have made: the image ID asked for, the name and labels
// asked for, and a signature unless --insecure-options=image (said as for a
// download).
func (p *Puller) accepts(img *store.Image, fs fetchSpec) bool {
	if fs.expectedID != "" && img.ID != fs.expectedID {
		return false
	}
	if fs.app != nil && matchApp(*fs.app, img.Name, img.Labels) != nil {
		return false
	}
	return img.Origin.Signer != "" || p.skipSignatures(fs.aciURL)
}

// matchApp is imagename.MatchManifest on a manifest's name and labels.
func matchApp(app imagename.App, name string, labels []aci.Label) error {
	m := make(map[string]string, len(labels))
	for _, l := range labels {
		m[string(l.Name)] = l.Value
	}
	return imagename.MatchManifest(app, name, m)
}

// fetchSignature downloads a detached signature.
func (p *Puller) fetchSignature(ctx context.Context, sigURL string) ([]byte, error) {
	resp, err := p.Fetcher.Get(ctx, sigURL, fetch.GetOptions{})
	if err != nil {
		var se *fetch.StatusError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("no signature at %s: %w (skip the check with --insecure-options=image)", sigURL, err)
		}
		return nil, fmt.Errorf("fetch signature: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxSignatureSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch signature %s: %w", sigURL, err)
	}
	if len(b) > maxSignatureSize {
		return nil, fmt.Errorf("signature %s is larger than %d bytes", sigURL, maxSignatureSize)
	}
	return b, nil
}

// importSpec is one import from a stream.
type importSpec struct {
	source string
	// file is the source's path when it is a local file, read again for
	// the image's name when the signer is refused before the manifest
	// arrives.
	file       string
	sig        []byte // nil: not checked (--insecure-options=image)
	app        *imagename.App
	expectedID string
	origin     *store.Origin
	// cache, when set, gives the caching data of the download once the
	// stream is complete.
	cache func() *fetch.CacheInfo
	// blobAt, when set, is store.ImportOptions.BlobAt: the stream's bytes
	// are kept in a file that is moved into the store.
	blobAt func(path string)
}

// importStream imports r into the store, teeing it into the signature
// check. The manifest's name selects the trusted keys; for a discovered
// image it must also match what was asked.
func (p *Puller) importStream(ctx context.Context, r io.Reader, is importSpec) (*store.Image, error) {
	var v *trust.Verifier
	if is.sig != nil {
		var err error
		if is.app != nil {
			v, err = p.Trust.NewVerifier(is.app.Name, is.sig)
		} else {
			v, err = p.Trust.NewDeferredVerifier(is.source, is.sig)
		}
		if err != nil {
			return nil, p.refusal(is, err)
		}
		r = io.TeeReader(r, v)
	}
	opts := store.ImportOptions{ExpectedID: is.expectedID, BlobAt: is.blobAt}
	if is.origin != nil {
		opts.Origin = *is.origin
	}
	opts.Verify = func(m *aci.ImageManifest, o *store.Origin) error {
		if is.app != nil {
			if err := matchApp(*is.app, string(m.Name), m.Labels); err != nil {
				return err
			}
		}
		if v != nil {
			signer, err := v.VerifyFor(string(m.Name))
			if err != nil {
				return err
			}
			o.Signer = signer.Fingerprint
		}
		if is.cache != nil {
			if c := is.cache(); c != nil {
				o.ETag, o.MaxAge = c.ETag, c.MaxAge
			}
		}
		return nil
	}
	start := time.Now()
	img, err := p.Store.Import(ctx, r, opts)
	if err == nil && !img.ImportTime.Before(start) {
		p.warnDevices(img)
	}
	var ve *trust.VerifyError
	if errors.As(err, &ve) {
		return nil, p.refusal(is, ve)
	}
	if errors.Is(err, extract.ErrTooLarge) {
		return nil, tooLarge(is.source, err)
	}
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", is.source, err)
	}
	return img, nil
}

// warnDevices says once, when an image is imported, that its device nodes
// were left out of its tree (the pod's /dev is the executor's; see
// extract), naming how many and the first: an image that needs one would
// otherwise fail later without a clue.
func (p *Puller) warnDevices(img *store.Image) {
	n := len(img.SkippedDevices)
	if n == 0 || p.Warnings == nil {
		return
	}
	count := fmt.Sprintf("%d device nodes", n)
	switch {
	case n == 1:
		count = "1 device node"
	case n >= extract.MaxSkippedDevices:
		count = fmt.Sprintf("%d or more device nodes", n)
	}
	fmt.Fprintf(p.Warnings, "warning: image %s (%s): %s left out (the first is /%s): pods get /dev from acirun, never from an image\n", img.Name, img.ShortID(), count, img.SkippedDevices[0])
}

// tooLarge is the error for an image larger than the store takes
// (extract.ErrTooLarge), saying how to take it.
func tooLarge(source string, err error) error {
	return fmt.Errorf("fetch %s: %w; if the image is meant to be this large, raise maxImageSize in LOCAL-CONFIG/store.d or give fetch --max-image-size", source, err)
}

// refusal is the error for a signature the trust store refused, naming the
// image once. A signer that no key in the store knows is refused before
// the manifest is read, for an image known then only by its source: for a
// local file the name is read from it, so that the refusal can say which
// prefix a key would have to be trusted for.
func (p *Puller) refusal(is importSpec, err error) error {
	var ve *trust.VerifyError
	if !errors.As(err, &ve) {
		return fmt.Errorf("image %s: %w", is.source, err)
	}
	if ve.Image == is.source && is.file != "" && errors.Is(ve, trust.ErrUntrusted) {
		if m, _, merr := archive.OpenImage(is.file); merr == nil {
			named := *ve
			named.Image = string(m.Name)
			ve = &named
		}
	}
	if ve.Image == is.source {
		return ve
	}
	return fmt.Errorf("image %s: %w", is.source, ve)
}

// Repair renders id again from its stored ACI files (after VerifyTree found
// its tree damaged), fetching dependencies that are missing.
func (p *Puller) Repair(ctx context.Context, id string) (*store.Image, error) {
	return p.Store.RepairTree(ctx, id, p.resolveDependency)
}
