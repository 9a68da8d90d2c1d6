package main

import (
	"context"

	"github.com/acirun/acirun/stage0/host"
)

func cmdImageRender() *command {
	var tf treeFlags
	return &command{
		name:    "image render",
		usage:   "image render [--rootfs-only] [--overwrite] IMAGE DIR",
		summary: "Write a stored image's rendered tree (dependencies and whitelist applied) into a directory",
		help: `Writes DIR/manifest and DIR/rootfs/ as a pod sees the image: its dependencies, then
the image, then its pathWhitelist; with --rootfs-only, the rootfs' contents. The copy
shares nothing with the store, so "rm -rf DIR" removes it. DIR must not exist or be
empty unless --overwrite; it appears only when complete.

` + imageRefHelp,
		flags: tf.register,
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 2 {
				return usagef("image render takes IMAGE and DIR")
			}
			return c.host().RenderImage(ctx, args[0], args[1], host.TreeOptions(tf))
		},
	}
}
