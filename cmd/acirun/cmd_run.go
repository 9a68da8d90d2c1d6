package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/stage0/host"
	"github.com/acirun/acirun/stage0/pod"
	"github.com/acirun/acirun/stage1-systemd/supervisor"
)

// runHelp documents the grammar of run and prepare; the flag table is
// printed from the flag definitions so it always matches the parser.
const runHelp = `Runs a pod of one or more apps, each from an image: a file, an http(s) URL, a
name resolved by appc discovery, or an image ID. Images are fetched per
--pull-policy and run only if their signatures verify (see "acirun trust").

  acirun run [pod flags] IMAGE [app flags] [-- ARGS... [---]] [IMAGE ...]...

App flags apply to the image they follow; arguments after "--" run up to "---"
and are appended to the app's exec. acirun run exits with the pod's exit code:
that of the first app to fail, or 128+N for an app killed by signal N, or 0.

Where systemd is the init system the pod runs as the transient service
acirun-UUID.service, with this terminal as its standard input and output;
Ctrl-C stops it. Unless acirun already is a service's main process (as in
aci@.service), which then runs the pod itself. Flags of run alone:
  --unit=NAME      name the unit NAME.service instead
  --no-unit        run the pod in this process, without a unit of its own
  -d, --detach     return once the pod is ready, printing its UUID and unit;
                   its output goes to the journal (journalctl -u UNIT)`

func cmdRun() *command {
	return &command{
		name:         "run",
		usage:        "run [pod flags] IMAGE [app flags] [-- ARGS [---]] [IMAGE ...]",
		summary:      "Run a pod of apps from images, in their own namespaces",
		help:         runHelp,
		runFlagTable: true,
		rawArgs:      true,
		docFlags:     runFlagDocs,
		run: func(ctx context.Context, c *CLI, args []string) error {
			var u host.UnitOptions
			req, err := c.runRequestWith(args, func(fs *flag.FlagSet) { unitFlags(fs, &u) })
			if err != nil {
				return err
			}
			if err := c.checkUnitOptions(&u); err != nil {
				return err
			}
			if u.InPlace() && !u.Detach {
				// runStage1's; its PID 1 starts from acirun-pod beside
				// the acirun-stage1 the pod's command line names
				// (Stage1Command), and none without one (run fails).
				podExe := ""
				if stage1, err := podcontract.FindStage1(); err == nil {
					podExe = podcontract.PodExecutableBeside(stage1)
				}
				c.podThread = supervisor.StartPodThread(req.Net, podExe, c.Trace)
			}
			res, err := c.host().RunPod(ctx, req, c.prepareOptions(false), u, c.startStage1)
			return c.unitResult(u, res, err)
		},
	}
}

// unitFlags registers the flags of the pod's own unit, which run and
// run-prepared take: --unit, --no-unit, --detach (-d).
func unitFlags(fs *flag.FlagSet, u *host.UnitOptions) {
	fs.StringVar(&u.Name, "unit", "", "name the pod's transient unit `NAME`.service instead of acirun-UUID.service")
	fs.BoolVar(&u.NoUnit, "no-unit", false, "run the pod in this process, without a unit of its own")
	fs.BoolVar(&u.Detach, "detach", false, "return once the pod is ready, printing its UUID and unit; its output goes to the journal")
	fs.BoolVar(&u.Detach, "d", false, "short for --detach")
}

// checkUnitOptions refuses the contradictions of the unit flags before
// anything is prepared or started (a detached pod needs systemd to
// supervise it, and a pod run in this process has no unit to name), and
// completes u: the unit's name, and the streams to hand it.
func (c *CLI) checkUnitOptions(u *host.UnitOptions) error {
	switch {
	case u.NoUnit && u.Detach:
		return usageError{errors.New("--detach and --no-unit cannot be combined: a detached pod runs as a unit of systemd, while --no-unit runs it in this process until it ends; drop one of them")}
	case u.NoUnit && u.Name != "":
		return usageError{fmt.Errorf("--unit=%s and --no-unit cannot be combined: --no-unit runs the pod in this process, without a unit to name; drop one of them", u.Name)}
	}
	if u.Name != "" && !strings.Contains(u.Name, ".") {
		u.Name += ".service"
	}
	// The unit gets the streams when they are files (a terminal, a pipe);
	// tests that call Main with buffers get the journal.
	u.Stdin, _ = c.Stdin.(*os.File)
	u.Stdout, _ = c.Stdout.(*os.File)
	u.Stderr, _ = c.Stderr.(*os.File)
	return nil
}

// unitResult is what run and run-prepared report of a pod they started:
// its UUID and unit when detached, else its exit code as theirs.
func (c *CLI) unitResult(u host.UnitOptions, res *host.UnitResult, err error) error {
	switch {
	case err != nil:
		return err
	case res == nil:
		return nil // stage1 runs the pod in this process (startStage1)
	case u.Detach:
		fmt.Fprintf(c.Stdout, "%s %s\n", res.UUID, res.Unit)
	case res.ExitCode != 0:
		return exitCodeError{code: res.ExitCode}
	}
	return nil
}

// runFlagsHelp is the table of the pod and app flags of run and prepare.
func runFlagsHelp() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nPod flags:\n")
	for _, f := range runFlags() {
		if !f.PerApp {
			printFlagInfo(&b, f)
		}
	}
	fmt.Fprintf(&b, "\nApp flags (after an IMAGE):\n")
	for _, f := range runFlags() {
		if f.PerApp {
			printFlagInfo(&b, f)
		}
	}
	return b.String()
}

// printFlagInfo prints a flag and, on the next line, what it does: the
// value syntaxes are too long for a table.
func printFlagInfo(w io.Writer, f runFlag) {
	arg := "--" + f.Name
	if f.Value != "" {
		arg += "=" + f.Value
	}
	rep := ""
	if f.Repeatable {
		rep = " (repeatable)"
	}
	fmt.Fprintf(w, "  %s\n        %s%s\n", arg, f.Help, rep)
}

// runRequest parses a run/prepare command line (parseRunArgs), the
// global flags among its pod flags included, and gives the request the
// global --insecure-options.
func (c *CLI) runRequest(args []string) (*pod.RunRequest, error) {
	return c.runRequestWith(args, nil)
}

// runRequestWith is runRequest with the flags more registers (run's own,
// which are not pod flags) taken like the global ones.
func (c *CLI) runRequestWith(args []string, more func(*flag.FlagSet)) (*pod.RunRequest, error) {
	globals := flag.NewFlagSet("acirun", flag.ContinueOnError)
	globals.SetOutput(io.Discard)
	c.Globals.registerCurrent(globals)
	if more != nil {
		more(globals)
	}
	req, err := parseRunArgs(args, globals)
	if err != nil {
		return nil, usageError{err}
	}
	if c.Insecure != 0 {
		req.InsecureOptions = strings.Split(c.Insecure.String(), ",")
	}
	return req, nil
}

// prepareOptions are the host's options for run (sync false: the pod runs
// at once) and prepare (sync true: it may run after a crash). The progress
// bar is drawn only with --debug: a pod's output should not follow one.
// Prepare's notes about the pod are printed on stderr.
func (c *CLI) prepareOptions(sync bool) host.PrepareOptions {
	o := host.PrepareOptions{Sync: sync, HostEnv: os.Environ(), Note: func(n string) {
		fmt.Fprintf(c.Stderr, "acirun: %s\n", n)
	}}
	if c.Debug {
		o.Progress = terminalProgress(c.Stderr)
	}
	return o
}

// startStage1 is the host.Starter of the CLI: the pod's stage1 supervisor
// (argv, pod.Stage1Command's `acirun-stage1 run … POD-DIR`) takes this
// process over once the command has returned (Main runs it: runStage1),
// so that the pod keeps this process's PID (a systemd unit's main process
// stays the same), its terminal and its exit code. By then everything the
// command opened is closed by its own defers, as an exec would have;
// running in place rather than exec'ing acirun-stage1 saves a start of a
// binary, the runtime's and its packages' initialisation (ACIRUN_TRACE).
func (c *CLI) startStage1(pd *pod.Pod, argv []string) error {
	if len(argv) < 2 || argv[1] != "run" {
		return fmt.Errorf("pod %s: %q is no stage1 run command line", pd.UUID, argv)
	}
	c.debugf("stage1 runs in this process: %s", strings.Join(argv, " "))
	c.stage1 = argv
	return nil
}
