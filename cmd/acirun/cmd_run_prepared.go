package main

import (
	"context"
	"flag"
)

func cmdRunPrepared() *command {
	var uuidFile string
	return &command{
		name:    "run-prepared",
		usage:   "run-prepared [--uuid-file=FILE] UUID",
		summary: "Run a pod made by prepare",
		flags:   func(fs *flag.FlagSet) { uuidFileFlag(fs, &uuidFile) },
		run: func(ctx context.Context, c *CLI, args []string) error {
			args, err := withUUIDFile(args, uuidFile)
			if err != nil {
				return err
			}
			if len(args) != 1 {
				return usagef("run-prepared takes one UUID")
			}
			return c.host().RunPrepared(ctx, args[0], c.execStage1)
		},
	}
}
