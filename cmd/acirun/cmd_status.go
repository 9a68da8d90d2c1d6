package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/acirun/acirun/stage0/host"
	"github.com/acirun/acirun/stage0/pod"
)

func cmdStatus() *command {
	var (
		format          string
		uuidFile        string
		wait, waitReady waitFlag
	)
	return &command{
		name:    "status",
		usage:   "status [--format=table|json] [--wait[=DURATION]] [--wait-ready[=DURATION]] [--uuid-file=FILE] UUID",
		summary: "Show a pod's state, apps, exit codes and systemd unit",
		help: `Prints the pod's state, its apps and their exit codes, its network, and the systemd
unit that runs it, if any: its name, ActiveState, SubState and Result (unit=, unit-state=,
unit-sub-state=, unit-result=; in JSON, "unit").

--wait waits until the pod has exited (a prepared pod through its run) before printing;
--wait-ready until it runs and is ready: its unit active (a pod's unit is Type=notify,
active once every app has started), or for a pod without a unit, the same moment as
stage1 records it. Alone they wait without limit; --wait=30s gives up after 30s with an
error (exit 254) saying what the pod is doing. A pod that exits before it is ready fails
--wait-ready.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&format, "format", "table", "output format: table or json")
			fs.Var(&wait, "wait", "wait until the pod has exited, at most `DURATION` when given")
			fs.Var(&waitReady, "wait-ready", "wait until the pod is running and ready, at most `DURATION` when given")
			uuidFileFlag(fs, &uuidFile)
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			uuid, err := oneUUID("status", args, uuidFile)
			if err != nil {
				return err
			}
			if format != "table" && format != "json" {
				return usagef("--format: %q is not table or json", format)
			}
			h := c.host()
			var pd *pod.Pod
			if waitReady.on {
				wctx, cancel := waitReady.context(ctx, "--wait-ready")
				pd, _, err = h.WaitReady(wctx, uuid)
				cancel()
				if err != nil {
					return err
				}
			}
			if wait.on {
				wctx, cancel := wait.context(ctx, "--wait")
				pd, err = h.WaitExited(wctx, uuid)
				cancel()
				if err != nil {
					return err
				}
			}
			if pd == nil {
				if pd, err = h.Pod(ctx, uuid); err != nil {
					return err
				}
			}
			unit, err := h.PodUnit(ctx, pd)
			if err != nil {
				// The pod's own state is known: say it, and why the
				// unit's is not.
				fmt.Fprintf(c.Stderr, "acirun: warning: %v\n", err)
			}
			if format == "json" {
				type unitEntry struct {
					Name        string `json:"name"`
					ActiveState string `json:"activeState"`
					SubState    string `json:"subState"`
					Result      string `json:"result,omitempty"`
					MainPID     int    `json:"mainPID,omitempty"`
				}
				type statusEntry struct {
					podEntry
					Unit *unitEntry `json:"unit,omitempty"`
				}
				e := statusEntry{podEntry: podJSON(pd)}
				if unit != nil {
					e.Unit = &unitEntry{unit.Name, unit.ActiveState, unit.SubState, unit.Result, unit.MainPID}
				}
				return printJSON(c.Stdout, []statusEntry{e})
			}
			printStatus(c, pd, unit)
			return nil
		},
	}
}

func printStatus(c *CLI, pd *pod.Pod, unit *host.UnitState) {
	fmt.Fprintf(c.Stdout, "uuid=%s\nstate=%s\n", pd.UUID, pd.State)
	if pd.PID != 0 {
		fmt.Fprintf(c.Stdout, "pid=%d\n", pd.PID)
	}
	if !pd.Created.IsZero() {
		fmt.Fprintf(c.Stdout, "created=%s\n", pd.Created.Format(time.RFC3339))
	}
	if !pd.Started.IsZero() {
		fmt.Fprintf(c.Stdout, "started=%s\n", pd.Started.Format(time.RFC3339))
	}
	if pd.ExitCode != nil {
		fmt.Fprintf(c.Stdout, "exit-code=%d\n", *pd.ExitCode)
	}
	if unit != nil {
		fmt.Fprintf(c.Stdout, "unit=%s\nunit-state=%s\nunit-sub-state=%s\n", unit.Name, unit.ActiveState, unit.SubState)
		if unit.Result != "" {
			fmt.Fprintf(c.Stdout, "unit-result=%s\n", unit.Result)
		}
	}
	if n := pd.Network; n != nil {
		fmt.Fprintf(c.Stdout, "network=%s\n", n.Name)
		if n.IP != "" {
			fmt.Fprintf(c.Stdout, "ip=%s\n", n.IP)
		}
		if n.IP6 != "" {
			fmt.Fprintf(c.Stdout, "ip6=%s\n", n.IP6)
		}
		for _, pp := range n.Ports {
			fmt.Fprintf(c.Stdout, "port-%s=%s/%s\n", pp.Name, pp.Host, pp.Protocol)
		}
		// A pod on named networks: its interface and addresses on each.
		for _, a := range n.Networks {
			fmt.Fprintf(c.Stdout, "network-%s=%s\n", a.Name, strings.Join(append([]string{a.Interface}, a.IPs...), " "))
		}
	}
	for _, a := range pd.Apps {
		line := fmt.Sprintf("app-%s=%s", a.Name, a.ImageID.Short())
		if a.ExitCode != nil {
			line += fmt.Sprintf(" exited=%d", *a.ExitCode)
		}
		if a.Signal != "" {
			line += " signal=" + a.Signal
		}
		fmt.Fprintln(c.Stdout, line)
	}
}

// waitFlag is a flag that may be given alone (--wait: without limit) or
// with a duration (--wait=30s: at most that long), as rkt's status took it;
// --wait=false and --wait=0 turn it off.
type waitFlag struct {
	on      bool
	timeout time.Duration // 0: no limit
}

func (w *waitFlag) IsBoolFlag() bool { return true }

func (w *waitFlag) String() string {
	switch {
	case w == nil || !w.on:
		return ""
	case w.timeout == 0:
		return "true"
	}
	return w.timeout.String()
}

func (w *waitFlag) Set(s string) error {
	if b, err := strconv.ParseBool(s); err == nil {
		*w = waitFlag{on: b}
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("%q is neither a duration (such as 30s or 2m) nor true or false", s)
	}
	*w = waitFlag{on: d > 0, timeout: d}
	return nil
}

// context is ctx bounded by the flag's timeout, whose expiry reads as
// "--wait=30s elapsed".
func (w *waitFlag) context(ctx context.Context, name string) (context.Context, context.CancelFunc) {
	if w.timeout == 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, w.timeout, errors.New(name+"="+w.timeout.String()+" elapsed"))
}
