package main

import "context"

func cmdCompletion() *command {
	return &command{
		name:    "completion",
		usage:   "completion bash|zsh",
		summary: "Print a shell completion script for bash or zsh",
		help: `The script is generated from acirun's command table and flag definitions, so it
completes every command, subcommand and flag of this binary. make install installs
both; to try one: source <(acirun completion bash), or for zsh put the output of
"acirun completion zsh" in a file _acirun in a directory of $fpath.`,
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 1 {
				return usagef("completion takes the shell's name: bash or zsh")
			}
			switch args[0] {
			case "bash":
				writeBashCompletion(c.Stdout)
			case "zsh":
				writeZshCompletion(c.Stdout)
			default:
				return usagef("completion: %q is not bash or zsh", args[0])
			}
			return nil
		},
	}
}
