package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/acirun/acirun/stage0/pod"
)

func cmdList() *command {
	var (
		format string
		full   bool
	)
	return &command{
		name:    "list",
		usage:   "list [--format=table|json] [--full]",
		summary: "List pods and their states",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&format, "format", "table", "output format: table or json")
			fs.BoolVar(&full, "full", false, "print whole UUIDs and image IDs")
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 0 {
				return usagef("list takes no arguments")
			}
			pods, err := c.host().Pods(ctx)
			if err != nil {
				return err
			}
			return printPods(c.Stdout, pods, format, full)
		},
	}
}

// printPods prints pods as a table or as JSON.
func printPods(w io.Writer, pods []*pod.Pod, format string, full bool) error {
	switch format {
	case "json":
		type app struct {
			Name     string `json:"name"`
			Image    string `json:"imageName"`
			ImageID  string `json:"imageID"`
			ExitCode *int   `json:"exitCode,omitempty"`
			Signal   string `json:"signal,omitempty"`
		}
		type entry struct {
			UUID     string       `json:"uuid"`
			State    string       `json:"state"`
			PID      int          `json:"pid,omitempty"`
			Created  time.Time    `json:"created,omitzero"`
			Started  time.Time    `json:"started,omitzero"`
			Exited   time.Time    `json:"exited,omitzero"`
			ExitCode *int         `json:"exitCode,omitempty"`
			Network  *pod.Network `json:"network,omitempty"`
			Apps     []app        `json:"apps"`
		}
		out := []entry{}
		for _, pd := range pods {
			e := entry{UUID: pd.UUID, State: string(pd.State), PID: pd.PID, Created: pd.Created, Started: pd.Started, Exited: pd.Exited, ExitCode: pd.ExitCode, Network: pd.Network, Apps: []app{}}
			for _, a := range pd.Apps {
				e.Apps = append(e.Apps, app{a.Name, a.ImageName, a.ImageID.String(), a.ExitCode, a.Signal})
			}
			out = append(out, e)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "table":
		tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		fmt.Fprintf(tw, "UUID\tAPP\tIMAGE NAME\tSTATE\tCREATED\n")
		sort.SliceStable(pods, func(i, j int) bool { return pods[i].Created.Before(pods[j].Created) })
		for _, pd := range pods {
			uuid := pd.UUID
			if !full {
				uuid = uuid[:8]
			}
			created := ""
			if !pd.Created.IsZero() {
				created = pd.Created.Local().Format(time.DateTime)
			}
			if len(pd.Apps) == 0 {
				fmt.Fprintf(tw, "%s\t-\t-\t%s\t%s\n", uuid, pd.State, created)
			}
			for i, a := range pd.Apps {
				if i > 0 {
					uuid, created = "", ""
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", uuid, a.Name, a.ImageName, pd.State, created)
			}
		}
		return tw.Flush()
	}
	return usagef("--format: %q is not table or json", format)
}
