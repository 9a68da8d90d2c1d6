// Command acirun runs App Container Images (appc ACIs) as pods under systemd.
//
// This package is only the command line, a shell over stage0/host: one
// file per command (cmd_WORDS.go: cmd_run.go, cmd_image_gc.go), each
// parsing its flags, calling one host-side function, printing the result
// and mapping errors to exit codes; commands.go lists them. Terminal
// matters live here too: the help text, the progress bar (progress.go),
// the review of a key's fingerprint. The binary is also stage1
// (stage1.go), the one place the pod side is reached.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/acirun/acirun/internal/trace"
)

// Exit codes of the whole CLI. `run` exits with the pod's own code instead.
const (
	exitOK      = 0
	exitUsage   = 2
	exitFailure = 254
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Main runs the command line args and returns the process exit code. It is a
// function of its arguments and streams so that tests can call it directly.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// ACIRUN_TRACE: this process is the origin of the run's trace, which
	// the processes it starts (stage1, through exec or a unit) inherit.
	tr := trace.New("acirun", os.Getenv(trace.Var), stderr)
	if tr.On() {
		k, v, _ := strings.Cut(tr.ForChild(), "=")
		os.Setenv(k, v)
		tr.Step("main")
	}
	// SIGHUP too: a terminal that goes away ends a foreground command as
	// Ctrl-C does (run stops its pod's unit rather than dying and leaving
	// the unit running).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	cli := &CLI{Stdin: stdin, Stdout: stdout, Stderr: stderr, Trace: tr}
	err := cli.Run(ctx, args)
	if err == nil && cli.stage1 != nil {
		// The pod's supervisor takes this process over (startStage1),
		// with signals of its own.
		stop()
		tr.Step("stage1 run in this process")
		return runStage1(cli.stage1, cli.podThread)
	}
	cli.podThread.Close()
	code := cli.exitCode(err)
	tr.Step("exit %d", code)
	return code
}

// usageError marks an error in how acirun was called (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitCodeError carries an exit code chosen by the command (the pod's own
// code for `run`, or 254 after the command already printed its failures).
type exitCodeError struct {
	code int
	// msg, when set, is printed; an empty msg means the command already said
	// what went wrong.
	msg string
}

func (e exitCodeError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return fmt.Sprintf("exit status %d", e.code)
}

func (c *CLI) exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ue usageError
	var ec exitCodeError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(c.Stderr, "acirun: %v\n", err)
		if c.current != nil {
			fmt.Fprintf(c.Stderr, "usage: acirun %s\nRun 'acirun %s --help' for details.\n", c.current.usage, c.current.name)
		} else {
			fmt.Fprintln(c.Stderr, "Run 'acirun help' for the list of commands.")
		}
		return exitUsage
	case errors.As(err, &ec):
		if ec.msg != "" {
			fmt.Fprintf(c.Stderr, "acirun: %s\n", ec.msg)
		}
		return ec.code
	}
	fmt.Fprintf(c.Stderr, "acirun: %v\n", err)
	return exitFailure
}
