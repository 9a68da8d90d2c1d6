package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/acirun/acirun/stage0/trust"
)

// trustStore opens the key store of the configured directories.
func (c *CLI) trustStore() *trust.Store {
	return trust.NewStore(filepath.Join(c.SystemConfig, "trustedkeys"), filepath.Join(c.LocalConfig, "trustedkeys"))
}

func trustCommands() []*command {
	var (
		prefix     string
		root       bool
		skipReview bool
		allowHTTP  bool
		insecure   string
	)
	return []*command{
		{
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
without a terminal the command refuses unless --skip-fingerprint-review.`,
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&prefix, "prefix", "", "image name prefix the keys are trusted for")
				fs.BoolVar(&root, "root", false, "trust the keys for every image name")
				fs.BoolVar(&skipReview, "skip-fingerprint-review", false, "add the keys without asking for confirmation")
				fs.BoolVar(&allowHTTP, "insecure-allow-http", false, "allow fetching keys over plain http")
				fs.StringVar(&insecure, "insecure-options", "", "relax checks: tls (accept any certificate)")
			},
			run: func(ctx context.Context, c *CLI, args []string) error {
				if (prefix == "") == !root {
					return usagef("give exactly one of --prefix=PREFIX and --root")
				}
				if root && len(args) == 0 {
					return usagef("--root needs a KEYFILE or URL")
				}
				if prefix != "" {
					if err := trust.ValidatePrefix(prefix); err != nil {
						return usagef("--prefix: %v", err)
					}
				}
				keys, err := c.loadKeys(ctx, prefix, args, allowHTTP, insecure)
				if err != nil {
					return err
				}
				store := c.trustStore()
				for _, k := range keys {
					info, err := trust.ParseKey(bytes.NewReader(k.data))
					if err != nil {
						return fmt.Errorf("key %s: %w", k.source, err)
					}
					if !skipReview {
						ok, err := c.reviewKey(info, k.source, prefix, root)
						if err != nil {
							return err
						}
						if !ok {
							fmt.Fprintf(c.Stderr, "Key %s from %s not trusted.\n", info.Fingerprint, k.source)
							continue
						}
					}
					var fp, path string
					if root {
						fp, path, err = store.AddRootKey(bytes.NewReader(k.data))
					} else {
						fp, path, err = store.AddKey(prefix, bytes.NewReader(k.data))
					}
					if err != nil {
						return fmt.Errorf("key %s: %w", k.source, err)
					}
					scope := "prefix " + prefix
					if root {
						scope = "every image name (root key)"
					}
					fmt.Fprintf(c.Stdout, "Trusted key %s (%s) for %s: %s\n", fp, strings.Join(info.UserIDs, ", "), scope, path)
				}
				return nil
			},
		},
		{
			name:    "trust list",
			usage:   "trust list",
			summary: "List trusted keys, system and local, with their prefixes",
			run: func(ctx context.Context, c *CLI, args []string) error {
				if len(args) != 0 {
					return usagef("trust list takes no arguments")
				}
				keys, err := c.trustStore().List()
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(c.Stdout, 2, 8, 2, ' ', 0)
				fmt.Fprintf(tw, "PREFIX\tFINGERPRINT\tSTATUS\tWHERE\tUSER IDS\n")
				for _, k := range keys {
					scope := k.Prefix
					if k.Root {
						scope = "(root)"
					}
					where := "local"
					if k.System {
						where = "system"
					}
					status := k.Status.String()
					if k.Problem != "" {
						status += ": " + k.Problem
					}
					fp := k.Fingerprint
					if fp == "" {
						fp = filepath.Base(k.Path)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", scope, fp, status, where, strings.Join(k.UserIDs, ", "))
				}
				return tw.Flush()
			},
		},
		{
			name:    "trust rm",
			usage:   "trust rm FINGERPRINT...",
			summary: "Stop trusting keys (local files removed, system keys masked)",
			run: func(ctx context.Context, c *CLI, args []string) error {
				if len(args) == 0 {
					return usagef("trust rm needs a FINGERPRINT")
				}
				store := c.trustStore()
				for _, fp := range args {
					removed, masked, err := store.Remove(fp)
					if err != nil {
						return err
					}
					for _, p := range removed {
						fmt.Fprintf(c.Stdout, "Removed %s\n", p)
					}
					for _, p := range masked {
						fmt.Fprintf(c.Stdout, "Masked system key with %s\n", p)
					}
				}
				return nil
			},
		},
	}
}

// keySource is one key to review, with where it came from.
type keySource struct {
	source string
	data   []byte
}

// reviewKey shows a key and asks the operator to confirm it on the terminal.
func (c *CLI) reviewKey(info *trust.KeyInfo, source, prefix string, root bool) (bool, error) {
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
	return answer == "y" || answer == "yes", nil
}
