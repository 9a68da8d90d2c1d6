package main

import (
	"context"
	"fmt"
)

func cmdRm() *command {
	return &command{
		name:    "rm",
		usage:   "rm UUID...",
		summary: "Remove pods that are not running",
		run: func(ctx context.Context, c *CLI, args []string) error {
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
