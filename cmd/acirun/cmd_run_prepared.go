package main

import "context"

func cmdRunPrepared() *command {
	return &command{
		name:    "run-prepared",
		usage:   "run-prepared UUID",
		summary: "Run a pod made by prepare",
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 1 {
				return usagef("run-prepared takes one UUID")
			}
			return c.host().RunPrepared(ctx, args[0], c.execStage1)
		},
	}
}
