package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/acirun/acirun/stage0/host"
	"github.com/acirun/acirun/stage0/journal"
)

func cmdLogs() *command {
	var (
		follow   bool
		app      string
		lines    int
		since    string
		format   string
		uuidFile string
	)
	return &command{
		name:    "logs",
		usage:   "logs [-f] [--app=NAME] [-n N] [--since=TIME] [--format=text|json] [--uuid-file=FILE] UUID",
		summary: "Print a pod's output from the journal",
		help: `Prints the lines the pod's apps wrote, read from the journal: every entry with the pod's
UUID in the field ACIRUN_POD_UUID (journalctl ACIRUN_POD_UUID=UUID). In a pod of several
apps each line starts with its app's name. A pod that logged nothing prints nothing.

-f follows the journal until the pod has exited (or Ctrl-C); -n N prints only the last N
lines; --since keeps lines from a time on: a duration before now (10m) or what journalctl
--since takes ("2026-01-02 15:04:05", today, -1h); --app=NAME only that app's lines (the
field ACIRUN_APP). --format=json prints each entry's fields as journalctl -o json does,
one object a line.`,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&follow, "f", false, "follow new lines until the pod has exited")
			fs.BoolVar(&follow, "follow", false, "the same as -f")
			fs.StringVar(&app, "app", "", "only the lines of the app `NAME`")
			fs.IntVar(&lines, "n", -1, "only the last `N` lines")
			fs.StringVar(&since, "since", "", "only lines from `TIME` on (a duration before now, or a journalctl time)")
			fs.StringVar(&format, "format", "text", "output format: text or json")
			uuidFileFlag(fs, &uuidFile)
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			uuid, err := oneUUID("logs", args, uuidFile)
			if err != nil {
				return err
			}
			if format != "text" && format != "json" {
				return usagef("--format: %q is not text or json", format)
			}
			if lines < -1 {
				return usagef("-n: %d is not a number of lines", lines)
			}
			h := c.host()
			pd, err := h.Pod(ctx, uuid)
			if err != nil {
				return err
			}
			// Like docker compose logs: the app's name, padded, before each
			// line when the pod has several apps.
			width := 0
			if len(pd.Apps) > 1 {
				for _, a := range pd.Apps {
					width = max(width, len(a.Name))
				}
			}
			w := bufio.NewWriter(c.Stdout)
			err = h.Logs(ctx, pd, host.LogsOptions{App: app, Lines: lines, Since: since, Follow: follow}, func(e *journal.Entry) error {
				if format == "json" {
					b, err := json.Marshal(e)
					if err != nil {
						return err
					}
					w.Write(b)
					w.WriteByte('\n')
				} else if msg, ok := e.Get("MESSAGE"); ok {
					if name, ok := e.Get(host.JournalFieldApp); ok && width > 0 {
						fmt.Fprintf(w, "%-*s | ", width, name)
					}
					w.Write(msg)
					w.WriteByte('\n')
				}
				if follow {
					return w.Flush()
				}
				return nil
			})
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			return err
		},
	}
}
