package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/acirun/acirun/stage0/pod"
)

func cmdStatus() *command {
	var format string
	return &command{
		name:    "status",
		usage:   "status [--format=table|json] UUID",
		summary: "Show a pod's state, apps and exit codes",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&format, "format", "table", "output format: table or json")
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 1 {
				return usagef("status takes one UUID")
			}
			pd, err := c.host().Pod(ctx, args[0])
			if err != nil {
				return err
			}
			if format == "json" {
				return printPods(c.Stdout, []*pod.Pod{pd}, format, true, false)
			}
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
			if n := pd.Network; n != nil {
				fmt.Fprintf(c.Stdout, "network=%s\nip=%s\n", n.Name, n.IP)
				for _, pp := range n.Ports {
					fmt.Fprintf(c.Stdout, "port-%s=%s/%s\n", pp.Name, pp.Host, pp.Protocol)
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
			return nil
		},
	}
}
