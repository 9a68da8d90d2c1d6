package main

import (
	"context"
	"flag"
)

func cmdCatManifest() *command {
	var uuidFile string
	return &command{
		name:    "cat-manifest",
		usage:   "cat-manifest [--uuid-file=FILE] UUID",
		summary: "Print a pod's reified pod manifest",
		help: `Prints the pod manifest the pod runs (or ran), as prepare wrote it: every app with its
image ID and its complete app, every command-line override applied, as indented JSON.`,
		flags: func(fs *flag.FlagSet) { uuidFileFlag(fs, &uuidFile) },
		run: func(ctx context.Context, c *CLI, args []string) error {
			uuid, err := oneUUID("cat-manifest", args, uuidFile)
			if err != nil {
				return err
			}
			b, err := c.host().PodManifest(ctx, uuid)
			if err != nil {
				return err
			}
			_, err = c.Stdout.Write(b)
			return err
		},
	}
}
