package main

import (
	"context"
	"flag"
	"strings"
)

func cmdHelp() *command {
	var man bool
	return &command{
		name:    "help",
		usage:   "help [--man] [COMMAND]",
		summary: "Show the list of commands, or one command's help",
		help: `--man prints the manual page acirun(1) in roff instead, made from the same command
table and flag definitions (make man writes it to build/man/acirun.1; read it with
man -l).`,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&man, "man", false, "print the manual page acirun(1), in roff")
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			if man {
				if len(args) > 0 {
					return usagef("help --man prints the whole manual page; it takes no COMMAND")
				}
				writeManPage(c.Stdout)
				return nil
			}
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
