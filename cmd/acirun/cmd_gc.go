package main

import (
	"context"
	"flag"
	"fmt"
	"time"
)

func cmdGC() *command {
	var grace time.Duration
	return &command{
		name:    "gc",
		usage:   "gc [--grace-period=DURATION]",
		summary: "Remove exited and abandoned pods older than the grace period",
		flags: func(fs *flag.FlagSet) {
			fs.DurationVar(&grace, "grace-period", 30*time.Minute, "keep pods that exited more recently than this")
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 0 {
				return usagef("gc takes no arguments")
			}
			removed, err := c.host().GCPods(ctx, grace)
			for _, uuid := range removed {
				fmt.Fprintf(c.Stdout, "removed %s\n", uuid)
			}
			return err
		},
	}
}
