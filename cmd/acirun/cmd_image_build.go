package main

import (
	"context"
	"flag"

	"github.com/acirun/acirun/aci/archive"
)

func cmdImageBuild() *command {
	var (
		compression string
		overwrite   bool
	)
	return &command{
		name:    "image build",
		usage:   "image build [--compression=gzip|none|bzip2|xz] [--overwrite] DIR OUT.aci",
		summary: "Build an ACI from a directory holding manifest and rootfs/",
		help: `DIR must hold exactly a "manifest" file and a "rootfs" directory. The manifest is
validated before anything is written. Entries are written in a deterministic order
with their modes, owners, times and xattrs; hard links are kept as links. OUT.aci
appears only once it is complete; an existing OUT.aci is refused unless --overwrite.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&compression, "compression", "gzip", "compression of the written ACI: gzip, none, bzip2 or xz")
			fs.BoolVar(&overwrite, "overwrite", false, "replace OUT.aci if it exists")
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 2 {
				return usagef("image build takes DIR and OUT.aci, got %d arguments", len(args))
			}
			comp, err := archive.ParseCompression(compression)
			if err != nil {
				return usagef("--compression: %v", err)
			}
			opts := archive.BuildOptions{Compression: comp, Overwrite: overwrite}
			if err := archive.BuildFile(args[0], args[1], opts); err != nil {
				return err
			}
			c.debugf("wrote %s", args[1])
			return nil
		},
	}
}
