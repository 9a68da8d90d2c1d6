// Package trace says where the milliseconds of a pod's start go, and those
// of an image's import. With ACIRUN_TRACE set in its environment (to
// anything but "" or "0"), every acirun process on the way from the command
// to the app's exec (the command, systemd's start of the pod's unit, `stage1
// run`, the pod's PID 1, the app's launcher) and the fetch helper
// (acirun-fetch, "fetch helper": an import's steps, store.Options.Trace)
// prints one line per step on its standard error:
//
//	acirun trace  41.236 ms  stage1 init[1]: go received (cpu 9.8 ms)
//
// The first figure is the time since the first acirun process of the run
// started tracing, read from CLOCK_MONOTONIC, which every process of the
// machine shares (across PID namespaces too), so lines of different
// processes line up; the name and PID say who printed it, the CPU time is
// the process's own so far (since its fork, over any exec). A gap before a
// process's first line, with a large CPU time on it, is the cost of
// starting the process (the kernel's exec and the Go runtime's and the
// packages' initialisation).
//
// The first process rewrites the variable to "@NANOSECONDS", its origin,
// for the processes it starts (ForChild), so that they measure from the
// same moment. This is the one trace mode of acirun: docs/pod-layout.md
// describes its steps.
package trace

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Var is the environment variable that turns tracing on.
const Var = "ACIRUN_TRACE"

// A Tracer prints the steps of one process. A nil Tracer prints nothing,
// so that code traces unconditionally.
type Tracer struct {
	w      io.Writer
	origin int64 // CLOCK_MONOTONIC nanoseconds of the first process's start
	who    string
	pid    int
}

// New returns the Tracer of process who ("acirun run", "stage1 init") for
// the value of Var in its environment, writing to w, or nil when value
// turns tracing off. A value "@N" is an origin handed down by the first
// process; any other is a user's and makes this process the first.
func New(who, value string, w io.Writer) *Tracer {
	if value == "" || value == "0" {
		return nil
	}
	t := &Tracer{w: w, who: who, pid: os.Getpid()}
	if n, ok := strings.CutPrefix(value, "@"); ok {
		if v, err := strconv.ParseInt(n, 10, 64); err == nil && v > 0 {
			t.origin = v
		}
	}
	if t.origin == 0 {
		t.origin = monotonic()
	}
	return t
}

// FromEnv is New for this process's environment, writing to its stderr.
func FromEnv(who string) *Tracer {
	return New(who, os.Getenv(Var), os.Stderr)
}

// On reports whether t prints anything.
func (t *Tracer) On() bool { return t != nil }

// ForChild is the Var=value entry of the environment of a process t's
// process starts, which measures from the same origin; "" when t is nil.
func (t *Tracer) ForChild() string {
	if t == nil {
		return ""
	}
	return Var + "=@" + strconv.FormatInt(t.origin, 10)
}

// Step prints one step, a short phrase ("pod locked", "exec /bin/app").
// It is one write, so that the lines of processes sharing a stream do not
// mix.
func (t *Tracer) Step(format string, args ...any) {
	if t == nil {
		return
	}
	now := monotonic()
	line := fmt.Sprintf("acirun trace %8.3f ms  %s[%d]: %s (cpu %.1f ms)\n",
		float64(now-t.origin)/1e6, t.who, t.pid, fmt.Sprintf(format, args...), float64(cpuTime())/1e6)
	_, _ = io.WriteString(t.w, line)
}
