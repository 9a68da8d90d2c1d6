package main

import (
	"context"
	"flag"
	"fmt"
)

func cmdRm() *command {
	var uuidFile string
	return &command{
		name:    "rm",
		usage:   "rm [--uuid-file=FILE] UUID...",
		summary: "Remove pods that are not running",
		flags:   func(fs *flag.FlagSet) { uuidFileFlag(fs, &uuidFile) },
		run: func(ctx context.Context, c *CLI, args []string) error {
			args, err := withUUIDFile(args, uuidFile)
			if err != nil {
				return err
			}
			if len(args) == 0 {
				return usagef("rm needs a UUID")
			}
			h := c.host()
			return c.eachArg(args, func(ref string) error {
				pd, err := h.RemovePod(ctx, ref)
				if err == nil {
					fmt.Fprintf(c.Stdout, "removed %s\n", pd.UUID)
				}
				return err
			})
		},
	}
}
