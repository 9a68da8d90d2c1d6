package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/acirun/acirun/internal/trace"
	"github.com/acirun/acirun/stage0/host"
	"github.com/acirun/acirun/stage1-systemd/supervisor"
)

// CLI holds the streams and the global options of one invocation.
type CLI struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Globals
	// Trace, when ACIRUN_TRACE is set, prints where the time of a pod's
	// start goes (internal/trace); nil otherwise.
	Trace *trace.Tracer

	// stage1, set by startStage1, is the `acirun-stage1 run …` command
	// line that runs the pod in this process once the command has
	// returned.
	stage1 []string
	// podThread, made by run when the pod will run in this process, is
	// the pod's thread (supervisor.StartPodThread), which runStage1
	// hands the supervisor, or Main closes.
	podThread *supervisor.PodThread
	// current is the command being run, for usage messages.
	current *command
}

// host is the host side under the global flags; warnings go to stderr.
func (c *CLI) host() *host.Host {
	cfg := c.Globals.hostConfig()
	cfg.Warnings = c.Stderr
	cfg.Trace = c.Trace
	return host.New(cfg)
}

// debugf prints on stderr when --debug is set.
func (c *CLI) debugf(format string, args ...any) {
	if c.Debug {
		fmt.Fprintf(c.Stderr, "acirun: debug: "+format+"\n", args...)
	}
}

// Run parses args and runs the command they name.
func (c *CLI) Run(ctx context.Context, args []string) error {
	// Global flags may come before the command name.
	pre := flag.NewFlagSet("acirun", flag.ContinueOnError)
	pre.SetOutput(io.Discard)
	c.Globals.register(pre)
	showVersion := pre.Bool("version", false, "print the version, as `acirun version` does")
	if err := pre.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c.printHelp(nil)
		}
		return c.flagError(nil, err)
	}
	args = pre.Args()
	if *showVersion {
		if len(args) > 0 {
			return usagef("--version takes no command")
		}
		return cmdVersion().run(ctx, c, nil)
	}
	if len(args) == 0 {
		c.printOverview(c.Stderr)
		return usageError{errors.New("no command given")}
	}
	cmd, rest := lookup(commands(), args)
	if cmd == nil {
		if g := groupOf(commands(), args[0]); g != "" && (len(args) == 1 || strings.HasPrefix(args[1], "-")) {
			c.printGroup(c.Stderr, g)
			return usagef("%q needs a subcommand", g)
		}
		return unknownCommand(commands(), args)
	}
	c.current = cmd
	if cmd.rawArgs {
		for _, a := range rest {
			if a == "--help" || a == "-h" {
				return c.printHelp(cmd)
			}
			if a == "--" {
				break
			}
		}
		return cmd.run(ctx, c, rest)
	}
	fs := flag.NewFlagSet("acirun "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	// Register the globals on the command's set too, with the values parsed
	// so far as defaults, so both positions work.
	c.Globals.registerCurrent(fs)
	pos, err := parseInterspersed(fs, rest)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c.printHelp(cmd)
		}
		return c.flagError(cmd, err)
	}
	return cmd.run(ctx, c, pos)
}

// parseInterspersed parses flags wherever they appear among the positional
// arguments (as rkt's command line did), up to a "--", after which
// everything is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		// flag stops at "--" (consumed) or at the first non-flag.
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// lookup finds the command named by the longest prefix of args.
func lookup(cmds []*command, args []string) (*command, []string) {
	var best *command
	bestLen := 0
	for _, cmd := range cmds {
		words := strings.Fields(cmd.name)
		if len(words) > len(args) || len(words) <= bestLen {
			continue
		}
		match := true
		for i, w := range words {
			if args[i] != w {
				match = false
				break
			}
		}
		if match {
			best, bestLen = cmd, len(words)
		}
	}
	if best == nil {
		return nil, nil
	}
	return best, args[bestLen:]
}

// groupOf returns word if it is the first word of a multi-word command.
func groupOf(cmds []*command, word string) string {
	for _, cmd := range cmds {
		if strings.HasPrefix(cmd.name, word+" ") {
			return word
		}
	}
	return ""
}

func (c *CLI) printOverview(w io.Writer) {
	fmt.Fprintf(w, "acirun runs App Container Images (ACI) as pods under systemd.\n\nUsage: acirun [global flags] COMMAND [flags] [args]\n       acirun --version\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	cmds := commands()
	sort.SliceStable(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	for _, cmd := range cmds {
		if !cmd.hidden {
			fmt.Fprintf(tw, "  %s\t%s\n", cmd.name, cmd.summary)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\nGlobal flags (accepted by every command):\n")
	printFlags(w, globalFlagDocs())
	fmt.Fprintf(w, "\nExit status: 0 success, 2 usage error, 254 failure; `run` exits with the pod's code.\nRun 'acirun COMMAND --help' for a command's flags.\n")
}

func (c *CLI) printGroup(w io.Writer, group string) {
	fmt.Fprintf(w, "Commands under %q:\n", group)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, cmd := range commands() {
		if strings.HasPrefix(cmd.name, group+" ") && !cmd.hidden {
			fmt.Fprintf(tw, "  %s\t%s\n", cmd.name, cmd.summary)
		}
	}
	tw.Flush()
}

// printHelp prints a command's help on stdout (help that was asked for is
// output, not an error).
func (c *CLI) printHelp(cmd *command) error {
	w := c.Stdout
	if cmd == nil {
		c.printOverview(w)
		return nil
	}
	fmt.Fprintf(w, "Usage: acirun %s\n\n%s\n", cmd.usage, cmd.summary)
	if help := cmd.helpText(); help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(help))
	}
	if docs := cmd.flagDocs(); cmd.flags != nil && len(docs) > 0 { // run's grammar prints its own
		fmt.Fprintf(w, "\nFlags:\n")
		printFlags(w, docs)
	}
	fmt.Fprintf(w, "\nGlobal flags, before or after the command name: %s (see 'acirun help').\n", globalFlagNames())
	return nil
}

// printFlags lists flags as --NAME=VALUE and their help, the value named
// as the man page names it (both are made from the same flagDocs).
func printFlags(w io.Writer, docs []flagDoc) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, d := range docs {
		arg := "--" + d.Name
		if d.Value != "" {
			arg += "=" + d.Value
		}
		def := ""
		if d.Default != "" {
			def = fmt.Sprintf(" (default %s)", d.Default)
		}
		fmt.Fprintf(tw, "  %s\t%s%s\n", arg, d.Help, def)
	}
	tw.Flush()
}
