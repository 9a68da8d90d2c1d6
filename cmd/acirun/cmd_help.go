package main

import (
	"context"
	"strings"
)

func cmdHelp() *command {
	return &command{
		name:    "help",
		usage:   "help [COMMAND]",
		summary: "Show the list of commands, or one command's help",
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) == 0 {
				return c.printHelp(nil)
			}
			cmd, rest := lookup(commands(), args)
			if cmd == nil || len(rest) > 0 {
				if g := groupOf(commands(), args[0]); g != "" && len(args) == 1 {
					c.printGroup(c.Stdout, g)
					return nil
				}
				return usagef("no such command %q", strings.Join(args, " "))
			}
			return c.printHelp(cmd)
		},
	}
}
