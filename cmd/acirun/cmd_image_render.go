package main

import "context"

func cmdImageRender() *command {
	return &command{
		name:    "image render",
		usage:   "image render ID DIR",
		summary: "Copy a stored image's rendered tree (dependencies and whitelist applied) into a new directory",
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 2 {
				return usagef("image render takes ID and DIR")
			}
			return c.host().RenderImage(ctx, args[0], args[1])
		},
	}
}
