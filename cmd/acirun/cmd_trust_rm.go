package main

import (
	"context"
	"fmt"
)

func cmdTrustRm() *command {
	return &command{
		name:    "trust rm",
		usage:   "trust rm FINGERPRINT...",
		summary: "Stop trusting keys (local files removed, system keys masked)",
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) == 0 {
				return usagef("trust rm needs a FINGERPRINT")
			}
			h := c.host()
			for _, fp := range args {
				removed, masked, err := h.Untrust(ctx, fp)
				if err != nil {
					return err
				}
				for _, p := range removed {
					fmt.Fprintf(c.Stdout, "Removed %s\n", p)
				}
				for _, p := range masked {
					fmt.Fprintf(c.Stdout, "Masked system key with %s\n", p)
				}
			}
			return nil
		},
	}
}
