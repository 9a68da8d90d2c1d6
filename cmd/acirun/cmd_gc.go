package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/acirun/acirun/stage0/host"
)

func cmdGC() *command {
	var opts host.GCOptions
	return &command{
		name:    "gc",
		usage:   "gc [--grace-period=DURATION] [--expire-prepared=DURATION] [--mark-only]",
		summary: "Remove exited and abandoned pods, and prepared pods never run",
		help: `Removes pods that exited longer than --grace-period ago, pods whose preparation died,
and pods prepared longer than --expire-prepared ago and never started (rkt's rule; 0
expires every prepared pod). Running pods and pods being prepared are never touched.

--mark-only removes nothing: it prints "garbage UUID" for each pod that gc would remove
now. (rkt's mark phase moved exited pods into a garbage directory, deleted a grace period
later; acirun has no such state: an exited pod is garbage once its grace period, counted
from its exit, has passed.)`,
		flags: func(fs *flag.FlagSet) {
			fs.DurationVar(&opts.Grace, "grace-period", 30*time.Minute, "keep pods that exited more recently than this")
			fs.DurationVar(&opts.ExpirePrepared, "expire-prepared", 24*time.Hour, "remove prepared pods older than this")
			fs.BoolVar(&opts.MarkOnly, "mark-only", false, "print the pods that are garbage, remove nothing")
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 0 {
				return usagef("gc takes no arguments")
			}
			if opts.Grace < 0 || opts.ExpirePrepared < 0 {
				return usagef("--grace-period and --expire-prepared take a duration of 0 or more")
			}
			res, err := c.host().GCPods(ctx, opts)
			if res != nil {
				verb := "removed"
				if opts.MarkOnly {
					verb = "garbage"
				}
				for _, uuid := range res.Removed {
					fmt.Fprintf(c.Stdout, "%s %s\n", verb, uuid)
				}
			}
			return err
		},
	}
}
