package main

import (
	"context"
	"fmt"
)

func cmdImageRm() *command {
	return &command{
		name:    "image rm",
		usage:   "image rm IMAGE...",
		summary: "Remove images from the store (not those a pod uses)",
		help:    imageRefHelp,
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) == 0 {
				return usagef("image rm needs at least one IMAGE")
			}
			// One decision for all: the pods' in-use set is made once.
			imgs, errs, err := c.host().RemoveImages(ctx, args)
			if err != nil {
				return err
			}
			i := 0
			return c.eachArg(args, func(string) error {
				defer func() { i++ }()
				if errs[i] == nil {
					fmt.Fprintf(c.Stdout, "removed %s\n", imgs[i].ShortID())
				}
				return errs[i]
			})
		},
	}
}

// eachArg runs do for every argument of a command that acts on several
// (rm, image rm): a failure is printed and the others are still done; the
// exit status says whether any failed.
func (c *CLI) eachArg(args []string, do func(arg string) error) error {
	failed := 0
	for _, a := range args {
		if err := do(a); err != nil {
			fmt.Fprintf(c.Stderr, "acirun: %v\n", err)
			failed++
		}
	}
	if failed > 0 {
		return exitCodeError{code: exitFailure}
	}
	return nil
}
