package main

import (
	"context"
	"flag"

	"github.com/acirun/acirun/stage0/host"
)

// treeFlags are the flags of the commands that write an image out as a
// directory (image extract, image render), rkt's.
type treeFlags host.TreeOptions

func (f *treeFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.RootfsOnly, "rootfs-only", false, "write only the rootfs' contents into DIR, without the manifest")
	fs.BoolVar(&f.Overwrite, "overwrite", false, "replace DIR if it exists and is not empty")
}

// imageRefHelp says how the image commands find a stored image.
const imageRefHelp = `IMAGE is a stored image's ID (or a unique prefix of one) or its name with optional
version and labels (example.com/hello:1.0,arch=amd64). A name must match one stored
image (version "latest" means the newest); otherwise the error lists the candidates'
IDs. Nothing is fetched: see "acirun fetch".`

func cmdImageExtract() *command {
	var tf treeFlags
	return &command{
		name:    "image extract",
		usage:   "image extract [--rootfs-only] [--overwrite] IMAGE DIR",
		summary: "Write a stored image's own files (manifest, rootfs) into a directory",
		help: `Writes DIR/manifest and DIR/rootfs/ as the image's ACI holds them, without its
dependencies (see "image render"); with --rootfs-only, the rootfs' contents. DIR must
not exist or be empty unless --overwrite; it appears only when complete.

` + imageRefHelp,
		flags: tf.register,
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 2 {
				return usagef("image extract takes IMAGE and DIR")
			}
			return c.host().ExtractImage(ctx, args[0], args[1], host.TreeOptions(tf))
		},
	}
}
