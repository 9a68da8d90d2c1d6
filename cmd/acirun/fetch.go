package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/acirun/acirun/internal/atomicfile"
	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/pod"
	"github.com/acirun/acirun/stage0/pull"
	"github.com/acirun/acirun/stage0/store"
)

// fetchFlags are the flags of every command that may fetch images.
type fetchFlags struct {
	insecure fetch.Insecure
	policy   fetch.PullPolicy
	quiet    bool
}

func (f *fetchFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.insecure, "insecure-options", "relax security checks, comma-separated: image (no signature check), tls, http, pubkey, all-fetch; each use is reported")
	fs.Var(&f.policy, "pull-policy", "when to fetch: new (only what the store lacks), update (ask the server whether it changed), never (store only)")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress bar")
}

// openStore opens the image store under --dir, with its lock files under
// --run-dir.
func (c *CLI) openStore() (*store.Store, error) {
	return store.Open(filepath.Join(c.Dir, "store"), store.Options{LockDir: filepath.Join(c.runDir(), "store")})
}

// loadAuth reads the per-host credentials of auth.d, system then local,
// warning on stderr of any file every user can read.
func (c *CLI) loadAuth() (fetch.Auth, error) {
	return fetch.LoadAuth(c.Stderr, filepath.Join(c.SystemConfig, "auth.d"), filepath.Join(c.LocalConfig, "auth.d"))
}

// puller builds the image pipeline with the command's fetch flags.
func (c *CLI) puller(f *fetchFlags) (*pull.Puller, error) {
	st, err := c.openStore()
	if err != nil {
		return nil, err
	}
	auth, err := c.loadAuth()
	if err != nil {
		return nil, err
	}
	opts := fetch.Options{Insecure: f.insecure, Auth: auth, Warnings: c.Stderr}
	if !f.quiet {
		opts.Progress = terminalProgress(c.Stderr)
	}
	fetcher := fetch.New(opts)
	return &pull.Puller{
		Store:      st,
		Trust:      c.trustStore(),
		Fetcher:    fetcher,
		Policy:     f.policy,
		Insecure:   f.insecure,
		Warnings:   c.Stderr,
		PartialDir: filepath.Join(c.Dir, "store", "partial"),
	}, nil
}

func storeCommands() []*command {
	var (
		ff         fetchFlags
		full       bool
		format     string
		grace      time.Duration
		overwrite  bool
		repair     bool
		rootfsOnly bool
	)
	idOf := func(img *store.Image) string {
		if full {
			return img.ID
		}
		return img.ShortID()
	}
	return []*command{
		{
			name:    "fetch",
			usage:   "fetch [--insecure-options=…] [--pull-policy=new|update|never] [--full] IMAGE...",
			summary: "Fetch images into the store, checking their signatures",
			help: `IMAGE is a local file (signature FILE.asc beside it), an http(s) URL (signature at
URL.asc), an image name with optional version and labels resolved by appc discovery
(example.com/app:1.0,os=linux,arch=amd64), or an image ID (prefix) already stored.

The image is verified against the keys trusted for its name's prefix (see "acirun
trust"), hashed, and extracted in one pass; it appears in the store only if all of
it checks out. Dependencies are fetched the same way and the rendered tree is
composed now, so that running it later costs no extraction. Prints the image ID.`,
			flags: func(fs *flag.FlagSet) {
				ff.register(fs)
				fs.BoolVar(&full, "full", false, "print the whole image ID")
			},
			run: func(ctx context.Context, c *CLI, args []string) error {
				if len(args) == 0 {
					return usagef("fetch needs at least one IMAGE")
				}
				p, err := c.puller(&ff)
				if err != nil {
					return err
				}
				for _, ref := range args {
					img, err := p.Pull(ctx, ref)
					if err != nil {
						return err
					}
					fmt.Fprintln(c.Stdout, idOf(img))
				}
				return nil
			},
		},
		{
			name:    "image list",
			usage:   "image list [--format=table|json] [--full]",
			summary: "List the images in the store",
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&format, "format", "table", "output format: table or json")
				fs.BoolVar(&full, "full", false, "print whole image IDs")
			},
			run: func(ctx context.Context, c *CLI, args []string) error {
				if len(args) != 0 {
					return usagef("image list takes no arguments")
				}
				st, err := c.openStore()
				if err != nil {
					return err
				}
				imgs, err := st.List(store.Filter{})
				if err != nil {
					return err
				}
				switch format {
				case "json":
					type entry struct {
						ID         string            `json:"id"`
						Name       string            `json:"name"`
						Labels     map[string]string `json:"labels,omitempty"`
						ImportTime time.Time         `json:"importTime"`
						LastUsed   time.Time         `json:"lastUsed,omitzero"`
						Size       int64             `json:"size"`
						Source     string            `json:"source,omitempty"`
						Signer     string            `json:"signer,omitempty"`
					}
					out := []entry{}
					for _, img := range imgs {
						e := entry{ID: idOf(img), Name: img.Name, ImportTime: img.ImportTime, LastUsed: img.LastUsed, Size: img.Size, Source: img.Origin.URL, Signer: img.Origin.Signer}
						if len(img.Labels) > 0 {
							e.Labels = map[string]string{}
							for _, l := range img.Labels {
								e.Labels[string(l.Name)] = l.Value
							}
						}
						out = append(out, e)
					}
					enc := json.NewEncoder(c.Stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(out)
				case "table":
					tw := tabwriter.NewWriter(c.Stdout, 2, 8, 2, ' ', 0)
					fmt.Fprintf(tw, "ID\tNAME\tSIZE\tIMPORT TIME\tLAST USED\n")
					for _, img := range imgs {
						name := img.Name
						for _, l := range img.Labels {
							if l.Name == "version" {
								name += ":" + l.Value
							}
						}
						last := "never"
						if !img.LastUsed.IsZero() {
							last = img.LastUsed.Local().Format(time.DateTime)
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", idOf(img), name, formatSize(img.Size, ""), img.ImportTime.Local().Format(time.DateTime), last)
					}
					return tw.Flush()
				}
				return usagef("--format: %q is not table or json", format)
			},
		},
		{
			name:    "image rm",
			usage:   "image rm ID...",
			summary: "Remove images from the store (not those a pod uses)",
			run: func(ctx context.Context, c *CLI, args []string) error {
				if len(args) == 0 {
					return usagef("image rm needs an image ID")
				}
				st, err := c.openStore()
				if err != nil {
					return err
				}
				inUse, err := inUseImages(c.Dir, st)
				if err != nil {
					return err
				}
				failed := 0
				for _, ref := range args {
					img, err := st.Get(ref)
					if err == nil && inUse[img.ID] {
						err = fmt.Errorf("image %s is used by a prepared or running pod", ref)
					}
					if err == nil {
						err = st.Remove(ctx, img.ID)
					}
					if err != nil {
						fmt.Fprintf(c.Stderr, "acirun: %v\n", err)
						failed++
						continue
					}
					fmt.Fprintf(c.Stdout, "removed %s\n", idOf(img))
				}
				if failed > 0 {
					return exitCodeError{code: exitFailure}
				}
				return nil
			},
		},
		{
			name:    "image export",
			usage:   "image export [--overwrite] ID OUT.aci",
			summary: "Write a stored image out as an ACI file (same image ID)",
			flags: func(fs *flag.FlagSet) {
				fs.BoolVar(&overwrite, "overwrite", false, "replace OUT.aci if it exists")
			},
			run: func(ctx context.Context, c *CLI, args []string) error {
				if len(args) != 2 {
					return usagef("image export takes ID and OUT.aci")
				}
				st, img, err := c.storedImage(args[0])
				if err != nil {
					return err
				}
				return writeFileAtomic(args[1], overwrite, func(w io.Writer) error {
					return st.Export(ctx, img.ID, w)
				})
			},
		},
		{
			name:    "image extract",
			usage:   "image extract [--rootfs] ID DIR",
			summary: "Extract a stored image's own rootfs into a new directory",
			flags: func(fs *flag.FlagSet) {
				fs.BoolVar(&rootfsOnly, "rootfs", true, "extract only rootfs (always true: the manifest is printed by cat-manifest)")
			},
			run: func(ctx context.Context, c *CLI, args []string) error {
				if len(args) != 2 {
					return usagef("image extract takes ID and DIR")
				}
				st, img, err := c.storedImage(args[0])
				if err != nil {
					return err
				}
				return st.ExtractTo(ctx, img.ID, args[1])
			},
		},
		{
			name:    "image render",
			usage:   "image render ID DIR",
			summary: "Copy a stored image's rendered tree (dependencies and whitelist applied) into a new directory",
			run: func(ctx context.Context, c *CLI, args []string) error {
				if len(args) != 2 {
					return usagef("image render takes ID and DIR")
				}
				st, img, err := c.storedImage(args[0])
				if err != nil {
					return err
				}
				return st.RenderTo(ctx, img.ID, args[1])
			},
		},
		{
			name:    "image verify",
			usage:   "image verify [--repair] [ID...]",
			summary: "Re-hash rendered trees against the hashes recorded at render time",
			flags: func(fs *flag.FlagSet) {
				fs.BoolVar(&repair, "repair", true, "render a damaged tree again from the stored image")
			},
			run: func(ctx context.Context, c *CLI, args []string) error {
				p, err := c.puller(&ff)
				if err != nil {
					return err
				}
				st := p.Store
				var imgs []*store.Image
				if len(args) == 0 {
					if imgs, err = st.List(store.Filter{}); err != nil {
						return err
					}
				}
				for _, ref := range args {
					img, err := st.Get(ref)
					if err != nil {
						return err
					}
					imgs = append(imgs, img)
				}
				bad := 0
				for _, img := range imgs {
					err := st.VerifyTree(ctx, img.ID)
					switch {
					case err == nil:
						fmt.Fprintf(c.Stdout, "%s: ok\n", idOf(img))
					case repair:
						if _, rerr := p.Repair(ctx, img.ID); rerr != nil {
							fmt.Fprintf(c.Stdout, "%s: %v; repair failed: %v\n", idOf(img), err, rerr)
							bad++
						} else {
							fmt.Fprintf(c.Stdout, "%s: %v; repaired\n", idOf(img), err)
						}
					default:
						fmt.Fprintf(c.Stdout, "%s: %v\n", idOf(img), err)
						bad++
					}
				}
				if bad > 0 {
					return exitCodeError{code: exitFailure, msg: fmt.Sprintf("%d images damaged", bad)}
				}
				return nil
			},
		},
		{
			name:    "image gc",
			usage:   "image gc [--grace-period=DURATION]",
			summary: "Remove images no pod uses and not used within the grace period",
			flags: func(fs *flag.FlagSet) {
				fs.DurationVar(&grace, "grace-period", 24*time.Hour, "keep images imported or used more recently than this")
			},
			run: func(ctx context.Context, c *CLI, args []string) error {
				if len(args) != 0 {
					return usagef("image gc takes no arguments")
				}
				st, err := c.openStore()
				if err != nil {
					return err
				}
				res, err := st.GC(ctx, store.GCOptions{GracePeriod: grace, InUse: func() (map[string]bool, error) {
					return inUseImages(c.Dir, st)
				}})
				if err != nil {
					return err
				}
				for _, id := range res.Removed {
					fmt.Fprintf(c.Stdout, "removed %s\n", id)
				}
				for _, id := range res.InUse {
					c.debugf("kept %s: used by a pod", id)
				}
				return nil
			},
		},
	}
}

// storedImage opens the store and finds the image ref (an ID or a unique
// prefix of one) in it.
func (c *CLI) storedImage(ref string) (*store.Store, *store.Image, error) {
	st, err := c.openStore()
	if err != nil {
		return nil, nil, err
	}
	img, err := st.Get(ref)
	if err != nil {
		return nil, nil, err
	}
	return st, img, nil
}

// writeFileAtomic writes path through a temporary file beside it, put in
// place only when write succeeded; without overwrite, an existing path is
// an error, even one that appears meanwhile.
func writeFileAtomic(path string, overwrite bool, write func(io.Writer) error) error {
	exists := fmt.Errorf("%s exists (use --overwrite to replace it)", path)
	if _, err := os.Lstat(path); err == nil && !overwrite {
		return exists // before writing it all
	}
	err := atomicfile.Write(path, atomicfile.Options{NoReplace: !overwrite}, write)
	if errors.Is(err, fs.ErrExist) && !overwrite {
		return exists
	}
	return err
}

// inUseImages is the set of image IDs that prepared or running pods use,
// with the dependencies their rendered trees were composed from (a repair
// of such a tree needs them).
func inUseImages(dataDir string, st *store.Store) (map[string]bool, error) {
	ids, err := pod.InUseImages(dataDir)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(ids))
	var add func(id string)
	add = func(id string) {
		if set[id] {
			return
		}
		set[id] = true
		if img, err := st.Get(id); err == nil {
			for _, dep := range img.Dependencies {
				add(dep)
			}
		}
	}
	for _, id := range ids {
		add(id.String())
	}
	return set, nil
}
