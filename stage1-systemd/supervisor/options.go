package supervisor

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/internal/trace"
	stage1 "github.com/acirun/acirun/stage1-systemd"
)

// options are the flags of `stage1 run` (podcontract.ParseRunFlags), which
// it passes unchanged to the pod's PID 1, and what the start hands down.
type options struct {
	podcontract.RunOptions
	podDir string
	// trace is told the steps of the pod's start (ACIRUN_TRACE), or nil.
	trace *trace.Tracer
	// crashAt is told each step of the start (stage1.StartStep); nil but
	// in test builds.
	crashAt func(stage1.StartStep)
	// premade is the pod's thread made by the process that prepared the
	// pod (MainInProcess), or nil: runPod makes it.
	premade *podThread
}

// parseOptions parses the flags of `stage1 run`, followed by exactly one
// POD-DIR.
func parseOptions(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("stage1 run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ro, err := podcontract.ParseRunFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if fs.NArg() != 1 {
		return nil, fmt.Errorf("stage1 run: want exactly one POD-DIR, got %d arguments", fs.NArg())
	}
	return &options{RunOptions: *ro, podDir: fs.Arg(0)}, nil
}

// reached marks step for the crash hook (crashAt, set only in test
// builds); it does nothing otherwise.
func (o *options) reached(step stage1.StartStep) {
	if o.crashAt != nil {
		o.crashAt(step)
	}
}

// debugf prints a --debug line of `stage1 run`.
func debugf(o *options, format string, args ...any) {
	if o.Debug {
		fmt.Fprintf(os.Stderr, "acirun stage1 run: "+format+"\n", args...)
	}
}
