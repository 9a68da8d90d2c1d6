package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/fetchcontract"
	"github.com/acirun/acirun/stage0/host"
	"github.com/acirun/acirun/stage0/imagename"
)

func cmdTrust() *command {
	var (
		opts       host.TrustOptions
		skipReview bool
		allowHTTP  bool
	)
	return &command{
		name:    "trust",
		usage:   "trust (--prefix=PREFIX | --root) [--skip-fingerprint-review] [KEYFILE|URL...]",
		summary: "Trust a public key for signatures of images under a name prefix",
		help: `Adds OpenPGP public keys (as exported by "gpg --export", binary or --armor) to the
local trust store, LOCAL-CONFIG/trustedkeys/prefix.d/PREFIX/FINGERPRINT, or root.d
with --root (trusted for every image name: use with care).

A prefix covers image names on whole path segments: a key trusted for
example.com/hello covers example.com/hello and example.com/hello/x, never
example.com/helloworld.

Keys come from files or https URLs. With --prefix and no KEYFILE, they are found by
appc discovery (the ac-discovery-pubkeys meta tag of https://PREFIX?ac-discovery=1).
Each key's fingerprint and user IDs are shown and must be confirmed on a terminal;
declining any key refuses the command (exit 254) and no key is written. Without a
terminal the command refuses unless --skip-fingerprint-review.
A discovered key served (after redirects) by another host than the prefix's first
segment is shown with a warning on review, and refused with --skip-fingerprint-review:
name its URL after the prefix to trust it anyway.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&opts.Prefix, "prefix", "", "image name prefix the keys are trusted for")
			fs.BoolVar(&opts.Root, "root", false, "trust the keys for every image name")
			fs.BoolVar(&skipReview, "skip-fingerprint-review", false, "add the keys without asking for confirmation")
			fs.BoolVar(&allowHTTP, "insecure-allow-http", false, "allow fetching keys over plain http")
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			if (opts.Prefix == "") == !opts.Root {
				return usagef("give exactly one of --prefix=PREFIX and --root")
			}
			if opts.Root && len(args) == 0 {
				return usagef("--root needs a KEYFILE or URL")
			}
			if opts.Prefix != "" {
				if err := imagename.ValidatePrefix(opts.Prefix); err != nil {
					return usagef("--prefix: %v", err)
				}
			}
			// Of the global --insecure-options, tls and http concern
			// fetching keys.
			opts.Insecure = c.Insecure
			if allowHTTP {
				opts.Insecure |= fetch.InsecureHTTP
			}
			opts.Sources = args
			opts.Discovered = func(urls []string) {
				fmt.Fprintf(c.Stderr, "Discovered %d key URL(s) for %s\n", len(urls), opts.Prefix)
			}
			if !skipReview {
				opts.Review = c.reviewKey(opts.Prefix, opts.Root)
			}
			added, err := c.host().TrustKeys(ctx, opts)
			scope := "prefix " + opts.Prefix
			if opts.Root {
				scope = "every image name (root key)"
			}
			for _, k := range added {
				fmt.Fprintf(c.Stdout, "Trusted key %s (%s) for %s: %s\n", k.Fingerprint, strings.Join(k.UserIDs, ", "), scope, k.Path)
			}
			return err
		},
	}
}

// reviewKey returns the question put to the operator on the terminal for
// each key: trust it for prefix (or every name)?
func (c *CLI) reviewKey(prefix string, root bool) func(info *fetchcontract.KeyInfo, source string) (bool, error) {
	return func(info *fetchcontract.KeyInfo, source string) (bool, error) {
		in, ok := c.Stdin.(*os.File)
		if !ok || !term.IsTerminal(int(in.Fd())) {
			return false, errors.New("not a terminal: cannot ask to review the key's fingerprint; check it another way and pass --skip-fingerprint-review")
		}
		scope := fmt.Sprintf("images under the prefix %q", prefix)
		if root {
			scope = "ALL images (root key)"
		}
		fmt.Fprintf(c.Stderr, "Key from %s\n  fingerprint: %s\n  algorithm:   %s\n", source, info.Fingerprint, info.Algorithm)
		for _, u := range info.UserIDs {
			fmt.Fprintf(c.Stderr, "  user ID:     %s\n", u)
		}
		fmt.Fprintf(c.Stderr, "Trust this key for %s? [y/N] ", scope)
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && err != io.EOF {
			return false, err
		}
		answer := strings.ToLower(strings.TrimSpace(line))
		// A decline is reported by TrustKeys' error, naming the key.
		return answer == "y" || answer == "yes", nil
	}
}
