package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/acirun/acirun/stage0/pod"
)

func cmdList() *command {
	var (
		format         string
		full, noLegend bool
	)
	return &command{
		name:    "list",
		usage:   "list [--format=table|json] [--full] [--no-legend]",
		summary: "List pods and their states",
		help: `The table has a line per app: the pod's UUID (--full: whole, with each app's image
ID), the app, its image, the pod's state and when it was created.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&format, "format", "table", "output format: table or json")
			fs.BoolVar(&full, "full", false, "print whole UUIDs, and the apps' image IDs")
			fs.BoolVar(&noLegend, "no-legend", false, "print no header line")
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 0 {
				return usagef("list takes no arguments")
			}
			pods, err := c.host().Pods(ctx)
			if err != nil {
				return err
			}
			if format == "json" && noLegend {
				return usagef("--no-legend is for the table")
			}
			return printPods(c.Stdout, pods, format, full, noLegend)
		},
	}
}

// printPods prints pods as a table or as JSON.
func printPods(w io.Writer, pods []*pod.Pod, format string, full, noLegend bool) error {
	switch format {
	case "json":
		out := []podEntry{}
		for _, pd := range pods {
			out = append(out, podJSON(pd))
		}
		return printJSON(w, out)
	case "table":
		// tabwriter writes each cell of each line on its own: a thousand
		// pods were ten thousand write calls unbuffered.
		bw := bufio.NewWriter(w)
		tw := tabwriter.NewWriter(bw, 2, 8, 2, ' ', 0)
		// row prints one line; the image ID column is there with --full.
		row := func(uuid, app, image, imageID, state, created string) {
			cells := []string{uuid, app, image, imageID, state, created}
			if !full {
				cells = slices.Delete(cells, 3, 4)
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		if !noLegend {
			row("UUID", "APP", "IMAGE NAME", "IMAGE ID", "STATE", "CREATED")
		}
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
				row(uuid, "-", "-", "-", string(pd.State), created)
			}
			for i, a := range pd.Apps {
				if i > 0 {
					uuid, created = "", ""
				}
				row(uuid, a.Name, a.ImageName, a.ImageID.String(), string(pd.State), created)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		return bw.Flush()
	}
	return usagef("--format: %q is not table or json", format)
}

// podEntry is a pod in JSON (list and status).
type podEntry struct {
	UUID     string       `json:"uuid"`
	State    string       `json:"state"`
	PID      int          `json:"pid,omitempty"`
	Created  time.Time    `json:"created,omitzero"`
	Started  time.Time    `json:"started,omitzero"`
	Exited   time.Time    `json:"exited,omitzero"`
	ExitCode *int         `json:"exitCode,omitempty"`
	Network  *pod.Network `json:"network,omitempty"`
	Apps     []appEntry   `json:"apps"`
}

// appEntry is an app of a pod in JSON.
type appEntry struct {
	Name     string `json:"name"`
	Image    string `json:"imageName"`
	ImageID  string `json:"imageID"`
	ExitCode *int   `json:"exitCode,omitempty"`
	Signal   string `json:"signal,omitempty"`
}

func podJSON(pd *pod.Pod) podEntry {
	e := podEntry{UUID: pd.UUID, State: string(pd.State), PID: pd.PID, Created: pd.Created, Started: pd.Started, Exited: pd.Exited, ExitCode: pd.ExitCode, Network: pd.Network, Apps: []appEntry{}}
	for _, a := range pd.Apps {
		e.Apps = append(e.Apps, appEntry{a.Name, a.ImageName, a.ImageID.String(), a.ExitCode, a.Signal})
	}
	return e
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
