package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/host"
	"github.com/acirun/acirun/stage0/store"
)

// fetchFlags are the flags of a command that fetches images (besides the
// global --insecure-options).
type fetchFlags struct {
	policy fetch.PullPolicy
	quiet  bool
	stall  stallFlag
}

func (f *fetchFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.policy, "pull-policy", "when to fetch: new (only what the store lacks), update (ask the server whether it changed), never (store only)")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress bar")
	fs.Var(&f.stall, "stall-timeout", stallTimeoutHelp)
}

// stallTimeoutHelp is the help of --stall-timeout, a flag of fetch, run
// and prepare.
const stallTimeoutHelp = "give up on a server that sends less than 1 KiB in this long (a download resumes where it can), as a duration (30s, 2m); 0 waits for ever; default: stallTimeout in LOCAL-CONFIG/store.d, else 1m"

// stallFlag is --stall-timeout: unset (0) leaves the choice to store.d.
type stallFlag time.Duration

func (s *stallFlag) String() string {
	if s == nil || *s == 0 {
		return ""
	}
	if *s < 0 {
		return "0"
	}
	return time.Duration(*s).String()
}

func (s *stallFlag) Set(v string) error {
	d, err := parseStallTimeout(v)
	if err != nil {
		return err
	}
	*s = stallFlag(d)
	return nil
}

// parseStallTimeout reads a --stall-timeout value as store.d's
// stallTimeout is read, "0" (never) becoming a negative duration, as
// host.FetchOptions has it.
func parseStallTimeout(v string) (time.Duration, error) {
	d, err := host.ParseStallTimeout(v)
	if err != nil {
		return 0, err
	}
	if d == 0 {
		d = -1
	}
	return d, nil
}

// options are the host's fetch options; the progress bar is drawn on
// stderr when it is a terminal, unless --quiet.
func (f *fetchFlags) options(c *CLI) host.FetchOptions {
	o := host.FetchOptions{Insecure: c.Insecure, Policy: f.policy, StallTimeout: time.Duration(f.stall)}
	if !f.quiet {
		o.Progress = terminalProgress(c.Stderr)
	}
	return o
}

// imageID is an image's ID as the image commands print it: short, or all
// 128 hex digits with --full.
func imageID(img *store.Image, full bool) string {
	if full {
		return img.ID
	}
	return img.ShortID()
}

func cmdFetch() *command {
	var (
		ff      fetchFlags
		full    bool
		sig     string
		maxSize string
	)
	return &command{
		name:    "fetch",
		usage:   "fetch [--insecure-options=…] [--pull-policy=new|update|never] [--full] [--signature=FILE] [--max-image-size=SIZE] IMAGE...",
		summary: "Fetch images into the store, checking their signatures",
		help: `IMAGE is a local file (signature FILE.asc beside it), an http(s) URL (signature at
URL.asc), an image name with optional version and labels resolved by appc discovery
(example.com/app:1.0,os=linux,arch=amd64), or an image ID (prefix) already stored.

The image is verified against the keys trusted for its name's prefix (see "acirun
trust"), hashed, and extracted in one pass; it appears in the store only if all of
it checks out. Dependencies are fetched the same way and the rendered tree is
composed now, so that running it later costs no extraction. Prints the image ID.

--signature=FILE checks the one IMAGE named against the detached signature in FILE
instead of the one beside it or discovered with it. It applies to an image that is
fetched: not to an image ID, nor to a name the store already has under
--pull-policy=new (that image was checked when it came in).

--max-image-size bounds what one image may expand to (the content of its files), for
this command, instead of the store's setting: maxImageSize in LOCAL-CONFIG/store.d/*.json
({"rktKind": "store", "rktVersion": "v1", "maxImageSize": "16Gi"}), 8Gi by default. An
image announcing more is refused before its content is written, leaving nothing behind.`,
		flags: func(fs *flag.FlagSet) {
			ff.register(fs)
			fs.BoolVar(&full, "full", false, "print the whole image ID")
			fs.StringVar(&sig, "signature", "", "check the image against the detached signature in this `FILE` (one IMAGE only)")
			fs.StringVar(&maxSize, "max-image-size", "", "most bytes one image may expand to, as a quantity (16Gi), instead of the store's maxImageSize (`SIZE`)")
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) == 0 {
				return usagef("fetch needs at least one IMAGE")
			}
			if sig != "" && len(args) > 1 {
				return usagef("--signature is the signature of one image, and %d are named: fetch them one at a time", len(args))
			}
			opts := ff.options(c)
			opts.Signature = sig
			if maxSize != "" {
				n, err := host.ParseImageSize(maxSize)
				if err != nil {
					return usagef("--max-image-size: %v", err)
				}
				opts.MaxImageSize = n
			}
			imgs, err := c.host().Fetch(ctx, opts, args...)
			for _, img := range imgs {
				fmt.Fprintln(c.Stdout, imageID(img, full))
			}
			return err
		},
	}
}
