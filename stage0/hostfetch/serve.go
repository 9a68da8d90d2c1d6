package hostfetch

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/acirun/acirun/internal/trace"
	"github.com/acirun/acirun/stage0/fetchcontract"
	"github.com/acirun/acirun/stage0/host"
)

// Serve answers one request of acirun's, read from in, on out: the whole
// of acirun-fetch's work. Warnings go to warnings (the helper's standard
// error, which is acirun's). It returns an error only when it could not
// answer at all; the operation's own error is in the Result it wrote.
func Serve(ctx context.Context, in io.Reader, out, warnings io.Writer) error {
	conn, req, err := fetchcontract.ReadRequest(in, out)
	if err != nil {
		// A request of another version is answered, so that acirun
		// says which helper it found and what to do.
		if ferr := conn.Finish(nil, err); ferr != nil {
			return errors.Join(err, ferr)
		}
		return err
	}
	c := req.Config
	tr := trace.New("fetch helper", os.Getenv(trace.Var), warnings)
	h := host.New(host.Config{DataDir: c.DataDir, LocalConfig: c.LocalConfig, SystemConfig: c.SystemConfig, RunDir: c.RunDir,
		Debug: c.Debug, Warnings: warnings, Trace: tr})
	res, err := do(ctx, h, conn, req)
	err = conn.Finish(res, err)
	tr.Step("answered")
	return err
}

// do runs the operation req names.
func do(ctx context.Context, h *host.Host, conn *fetchcontract.Conn, req *fetchcontract.Request) (*fetchcontract.Result, error) {
	switch {
	case req.Fetch != nil:
		f := req.Fetch
		opts := host.FetchOptions{Insecure: f.Insecure, Policy: f.Policy, MaxImageSize: f.MaxImageSize, Signature: f.Signature,
			StallTimeout: f.StallTimeout}
		if f.Progress {
			opts.Progress = conn.Progress()
		}
		imgs, err := Fetch(ctx, h, opts, f.Refs...)
		res := &fetchcontract.Result{}
		for _, img := range imgs {
			res.Images = append(res.Images, img.ID)
		}
		return res, err
	case req.Repair != nil:
		return nil, Repair(ctx, h, req.Repair.ImageID)
	case req.Trust != nil:
		t := req.Trust
		opts := host.TrustOptions{Prefix: t.Prefix, Root: t.Root, Sources: t.Sources, Insecure: t.Insecure, Discovered: conn.Discovered}
		if t.Review {
			opts.Review = func(k *fetchcontract.KeyInfo, source string) (bool, error) {
				return conn.Review(ctx, *k, source)
			}
		}
		added, err := TrustKeys(ctx, h, opts)
		return &fetchcontract.Result{Added: added}, err
	case req.TrustedKeys != nil:
		keys, err := TrustedKeys(h)
		return &fetchcontract.Result{Keys: keys}, err
	case req.Untrust != nil:
		removed, masked, err := Untrust(h, req.Untrust.Fingerprint)
		return &fetchcontract.Result{Removed: removed, Masked: masked}, err
	}
	return nil, errors.New("acirun-fetch: the request names no operation: install acirun and acirun-fetch from one build (make install)")
}
