package main

import (
	"context"
	"flag"
)

func cmdImageExtract() *command {
	var rootfsOnly bool
	return &command{
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
			return c.host().ExtractImage(ctx, args[0], args[1])
		},
	}
}
