package main

import (
	"context"
	"flag"
	"fmt"
	"time"
)

func cmdImageGC() *command {
	var grace time.Duration
	return &command{
		name:    "image gc",
		usage:   "image gc [--grace-period=DURATION]",
		summary: "Remove images no pod uses and not used within the grace period",
		help: `A pod's start records the use of its images to within a minute (so that starting
pods does not rewrite their index entries each time): an image counts as used
until a minute after its recorded last use, or until now if that is sooner, so
that it is never removed sooner than --grace-period after a use. With
--grace-period=0s every image that no pod uses goes.`,
		flags: func(fs *flag.FlagSet) {
			fs.DurationVar(&grace, "grace-period", 24*time.Hour, "keep images imported or used more recently than this")
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 0 {
				return usagef("image gc takes no arguments")
			}
			res, err := c.host().ImageGC(ctx, grace)
			if err != nil {
				return err
			}
			for _, id := range res.Removed {
				fmt.Fprintf(c.Stdout, "removed %s\n", id)
			}
			for _, id := range res.InUse {
				c.debugf("kept %s: used by a pod", id)
			}
			return nil
		},
	}
}
