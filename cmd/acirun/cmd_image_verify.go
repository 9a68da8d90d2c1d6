package main

import (
	"context"
	"flag"
	"fmt"
)

func cmdImageVerify() *command {
	var repair bool
	return &command{
		name:    "image verify",
		usage:   "image verify [--repair] [IMAGE...]",
		summary: "Re-hash rendered trees against the hashes recorded at render time",
		help:    "Without IMAGE, every stored image is verified.\n\n" + imageRefHelp,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&repair, "repair", true, "render a damaged tree again from the stored image")
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			res, err := c.host().VerifyImages(ctx, args, repair)
			if err != nil {
				return err
			}
			bad := 0
			for _, r := range res {
				id := r.Image.ShortID()
				switch {
				case r.Damage == nil:
					fmt.Fprintf(c.Stdout, "%s: ok\n", id)
				case r.Repaired:
					fmt.Fprintf(c.Stdout, "%s: %v; repaired\n", id, r.Damage)
				case r.RepairErr != nil:
					fmt.Fprintf(c.Stdout, "%s: %v; repair failed: %v\n", id, r.Damage, r.RepairErr)
				default:
					fmt.Fprintf(c.Stdout, "%s: %v\n", id, r.Damage)
				}
				if !r.OK() {
					bad++
				}
			}
			if bad > 0 {
				return exitCodeError{code: exitFailure, msg: fmt.Sprintf("%d images damaged", bad)}
			}
			return nil
		},
	}
}
