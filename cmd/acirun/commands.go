package main

import (
	"context"
	"flag"
)

// command is one verb of the CLI, possibly with a group word before it
// ("image build"). Each lives in a file of its own, cmd_WORDS.go
// (cmd_image_build.go), as a function returning a fresh *command: its flag
// variables are locals of that function, bound anew for each invocation.
type command struct {
	name    string // words, space separated: "image build"
	usage   string // after "acirun ": "image build [flags] DIR OUT.aci"
	summary string // one line for the command list
	help    string // paragraphs printed by --help after the usage line
	// runFlagTable: help goes on with the table of run's pod and app
	// flags (runFlagsHelp), made only when it is printed: made for every
	// command line, it was a fifth of the instructions of `acirun
	// version` (callgrind), paid by every start of acirun.
	runFlagTable bool
	hidden       bool
	// flags registers the command's own flags; the globals are added to the
	// same set.
	flags func(fs *flag.FlagSet)
	// rawArgs passes the arguments after the command name unparsed (for
	// commands such as run whose argument grammar is not flag's); such a
	// command describes its flags with docFlags, for the completions and
	// the man page.
	rawArgs  bool
	docFlags func() []flagDoc
	run      func(ctx context.Context, c *CLI, args []string) error
}

// helpText is the command's help as --help prints it: help, then run's
// flag table where runFlagTable asks for it.
func (cmd *command) helpText() string {
	if cmd.runFlagTable {
		return cmd.help + "\n" + runFlagsHelp()
	}
	return cmd.help
}

// commands lists every command. To add one, write its cmd_WORDS.go and
// name its function here; help, the command list and the dispatch follow.
func commands() []*command {
	return []*command{
		cmdHelp(),
		cmdVersion(),

		cmdFetch(),
		cmdImageBuild(),
		cmdImageValidate(),
		cmdImageCatManifest(),
		cmdImageList(),
		cmdImageRm(),
		cmdImageExport(),
		cmdImageExtract(),
		cmdImageRender(),
		cmdImageVerify(),
		cmdImageGC(),

		cmdTrust(),
		cmdTrustList(),
		cmdTrustRm(),

		cmdRun(),
		cmdPrepare(),
		cmdRunPrepared(),
		cmdList(),
		cmdStatus(),
		cmdStop(),
		cmdLogs(),
		cmdExport(),
		cmdCatManifest(),
		cmdEnter(),
		cmdRm(),
		cmdGC(),
		cmdUnitGenerate(),
		cmdUnitName(),

		cmdConfig(),
		cmdCompletion(),
	}
}
