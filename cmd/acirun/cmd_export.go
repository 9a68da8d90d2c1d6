package main

import (
	"context"
	"flag"
)

func cmdExport() *command {
	var (
		app       string
		overwrite bool
		uuidFile  string
	)
	return &command{
		name:    "export",
		usage:   "export [--app=NAME] [--overwrite] [--uuid-file=FILE] UUID OUT.aci",
		summary: "Write an app's root, with the pod's changes, as an ACI",
		help: `Writes the root of an app of a pod that is not running as an ACI, like rkt export: the
app's image with the changes the pod made applied (files it created, changed and deleted),
under the image's manifest. --app names the app in a pod of several. The ACI is written
whole or not at all; an existing OUT.aci is replaced only with --overwrite.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&app, "app", "", "export the app `NAME` (needed in a pod of several apps)")
			fs.BoolVar(&overwrite, "overwrite", false, "replace OUT.aci if it exists")
			uuidFileFlag(fs, &uuidFile)
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			args, err := withUUIDFile(args, uuidFile)
			if err != nil {
				return err
			}
			if len(args) != 2 {
				return usagef("export takes a UUID and the ACI file to write")
			}
			return c.host().ExportPod(ctx, args[0], app, args[1], overwrite)
		},
	}
}
