package main

import (
	"context"
	"flag"
)

func cmdImageExport() *command {
	var overwrite bool
	return &command{
		name:    "image export",
		usage:   "image export [--overwrite] IMAGE OUT.aci",
		summary: "Write a stored image out as an ACI file (same image ID)",
		help:    imageRefHelp,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&overwrite, "overwrite", false, "replace OUT.aci if it exists")
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 2 {
				return usagef("image export takes IMAGE and OUT.aci")
			}
			return c.host().ExportImage(ctx, args[0], args[1], overwrite)
		},
	}
}
