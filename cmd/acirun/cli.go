package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/acirun/acirun/aci"
)

// Default locations; every one of them can be changed by a global flag, and
// the tests always do.
const (
	defaultDataDir      = "/var/lib/acirun"
	defaultLocalConfig  = "/etc/acirun"
	defaultSystemConfig = "/usr/lib/acirun"
	defaultRunDir       = "/run/acirun"
)

// Globals are the flags every command accepts, with rkt's names.
type Globals struct {
	// Dir is the data directory: the image store and the pods.
	Dir string
	// LocalConfig is the administrator's configuration (trusted keys
	// written by `acirun trust`, auth.d credentials).
	LocalConfig string
	// SystemConfig is the vendor's configuration, masked by LocalConfig.
	SystemConfig string
	// RunDir holds what must not outlive a boot: the lock files. ""
	// means /run/acirun, or DIR/run when Dir is not the default, so that
	// two stores never share their locks.
	RunDir string
	// Debug makes acirun say what it does on stderr.
	Debug bool
}

// runDir is RunDir with its default filled in.
func (g *Globals) runDir() string {
	switch {
	case g.RunDir != "":
		return g.RunDir
	case filepath.Clean(g.Dir) == defaultDataDir:
		return defaultRunDir
	}
	return filepath.Join(g.Dir, "run")
}

// register adds the global flags to fs with their defaults.
func (g *Globals) register(fs *flag.FlagSet) {
	*g = Globals{Dir: defaultDataDir, LocalConfig: defaultLocalConfig, SystemConfig: defaultSystemConfig}
	g.registerCurrent(fs)
}

// registerCurrent adds the global flags to fs with g's current values as
// defaults: a command's own flag set takes them again after the command
// name, and run takes them among its arguments.
func (g *Globals) registerCurrent(fs *flag.FlagSet) {
	fs.StringVar(&g.Dir, "dir", g.Dir, "data directory: image store and pods")
	fs.StringVar(&g.LocalConfig, "local-config", g.LocalConfig, "local configuration directory (trusted keys, auth.d)")
	fs.StringVar(&g.SystemConfig, "system-config", g.SystemConfig, "system configuration directory (vendor trusted keys)")
	fs.StringVar(&g.RunDir, "run-dir", g.RunDir, "runtime directory, for lock files (default "+defaultRunDir+", or DIR/run with --dir)")
	fs.BoolVar(&g.Debug, "debug", g.Debug, "print debugging information on stderr")
}

// CLI holds the streams and the global options of one invocation.
type CLI struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Globals

	// current is the command being run, for usage messages.
	current *command
}

// debugf prints on stderr when --debug is set.
func (c *CLI) debugf(format string, args ...any) {
	if c.Debug {
		fmt.Fprintf(c.Stderr, "acirun: debug: "+format+"\n", args...)
	}
}

// command is one verb of the CLI, possibly with a group word before it
// ("image build").
type command struct {
	name    string // words, space separated: "image build"
	usage   string // after "acirun ": "image build [flags] DIR OUT.aci"
	summary string // one line for the command list
	help    string // paragraphs printed by --help after the usage line
	hidden  bool
	// flags registers the command's own flags; the globals are added to the
	// same set.
	flags func(fs *flag.FlagSet)
	// rawArgs passes the arguments after the command name unparsed (for
	// commands such as run whose argument grammar is not flag's).
	rawArgs bool
	run     func(ctx context.Context, c *CLI, args []string) error
}

// commands lists every command. It is built by a function, not kept in a
// package variable, so that each invocation gets fresh flag bindings.
func commands() []*command {
	var cmds []*command
	cmds = append(cmds, helpCommands()...)
	cmds = append(cmds, imageCommands()...)
	cmds = append(cmds, trustCommands()...)
	cmds = append(cmds, storeCommands()...)
	cmds = append(cmds, podCommands()...)
	cmds = append(cmds, extraCommands()...)
	return cmds
}

// Run parses args and runs the command they name.
func (c *CLI) Run(ctx context.Context, args []string) error {
	// Global flags may come before the command name.
	pre := flag.NewFlagSet("acirun", flag.ContinueOnError)
	pre.SetOutput(io.Discard)
	c.Globals.register(pre)
	if err := pre.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c.printHelp(nil)
		}
		return usagef("%v", err)
	}
	args = pre.Args()
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
		return usagef("unknown command %q", strings.Join(firstWords(args, 2), " "))
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
		return usagef("%v", err)
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

func firstWords(args []string, n int) []string {
	if len(args) < n {
		return args
	}
	return args[:n]
}

func (c *CLI) printOverview(w io.Writer) {
	fmt.Fprintf(w, "acirun runs App Container Images (ACI) as pods under systemd.\n\nUsage: acirun [global flags] COMMAND [flags] [args]\n\nCommands:\n")
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
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	var g Globals
	g.register(fs)
	printFlags(w, fs)
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
	if cmd.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(cmd.help))
	}
	if cmd.flags != nil {
		fs := flag.NewFlagSet("", flag.ContinueOnError)
		cmd.flags(fs)
		if hasFlags(fs) {
			fmt.Fprintf(w, "\nFlags:\n")
			printFlags(w, fs)
		}
	}
	fmt.Fprintf(w, "\nGlobal flags: --dir, --local-config, --system-config, --debug (see 'acirun help').\n")
	return nil
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

func printFlags(w io.Writer, fs *flag.FlagSet) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		arg := "--" + f.Name
		if name != "" {
			arg += "=" + name
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(tw, "  %s\t%s%s\n", arg, usage, def)
	})
	tw.Flush()
}

func helpCommands() []*command {
	return []*command{
		{
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
		},
		{
			name:    "version",
			usage:   "version",
			summary: "Print acirun's version and the appc spec version it implements",
			run: func(ctx context.Context, c *CLI, args []string) error {
				if len(args) > 0 {
					return usagef("version takes no arguments")
				}
				fmt.Fprintf(c.Stdout, "acirun version %s\nappc version %s\n", version(), aci.SpecVersion)
				return nil
			},
		},
	}
}

// version is set at link time by the Makefile (-X main.buildVersion=...).
var buildVersion string

func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	return "dev"
}
