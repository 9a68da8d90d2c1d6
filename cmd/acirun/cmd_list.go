package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/acirun/acirun/internal/jsonstr"
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
		return writePodsJSON(w, pods)
	case "table":
		// tabwriter writes each cell of each line on its own: a thousand
		// pods were ten thousand write calls unbuffered.
		bw := bufio.NewWriter(w)
		tw := tabwriter.NewWriter(bw, 2, 8, 2, ' ', 0)
		// row prints one line; the image ID column is there with --full.
		var line []byte
		row := func(uuid, app, image, imageID, state, created string) {
			line = append(line[:0], uuid...)
			line = append(append(line, '\t'), app...)
			line = append(append(line, '\t'), image...)
			if full {
				line = append(append(line, '\t'), imageID...)
			}
			line = append(append(line, '\t'), state...)
			line = append(append(line, '\t'), created...)
			tw.Write(append(line, '\n'))
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

// writePodsJSON writes pods as printJSON writes the []podEntry of their
// podJSON, byte for byte (TestPodsJSON, FuzzPodsJSON), but by hand: for a
// thousand pods, encoding/json's second pass that indents what it encoded
// and its reflection were most of list --format=json's own time. A pod's
// network, rare and nested, still goes through encoding/json.
func writePodsJSON(w io.Writer, pods []*pod.Pod) error {
	if len(pods) == 0 {
		return printJSON(w, []podEntry{})
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	b := []byte("[\n")
	for i, pd := range pods {
		var err error
		if b, err = appendPodJSON(b, pd); err != nil {
			return err
		}
		if i < len(pods)-1 {
			b = append(b, ',')
		}
		b = append(b, '\n')
		if _, err := bw.Write(b); err != nil {
			return err
		}
		b = b[:0]
	}
	if _, err := bw.WriteString("]\n"); err != nil {
		return err
	}
	return bw.Flush()
}

// appendPodJSON appends pd as an element of writePodsJSON's array, without
// the comma and newline after it.
func appendPodJSON(b []byte, pd *pod.Pod) ([]byte, error) {
	const in = "\n    " // a field of the pod
	b = append(b, "  {"+in+`"uuid": `...)
	b = jsonstr.Append(b, pd.UUID)
	b = append(b, ","+in+`"state": `...)
	b = jsonstr.Append(b, string(pd.State))
	if pd.PID != 0 {
		b = append(b, ","+in+`"pid": `...)
		b = strconv.AppendInt(b, int64(pd.PID), 10)
	}
	for _, t := range []struct {
		name string
		t    time.Time
	}{{"created", pd.Created}, {"started", pd.Started}, {"exited", pd.Exited}} {
		if !t.t.IsZero() {
			b = append(b, ","+in+`"`...)
			b = append(b, t.name...)
			b = append(b, `": `...)
			// What time.Time's MarshalJSON writes for a year 0 to 9999.
			b = t.t.AppendFormat(b, `"`+time.RFC3339Nano+`"`)
		}
	}
	if pd.ExitCode != nil {
		b = append(b, ","+in+`"exitCode": `...)
		b = strconv.AppendInt(b, int64(*pd.ExitCode), 10)
	}
	if pd.Network != nil {
		n, err := json.MarshalIndent(pd.Network, "    ", "  ")
		if err != nil {
			return nil, err
		}
		b = append(b, ","+in+`"network": `...)
		b = append(b, n...)
	}
	b = append(b, ","+in+`"apps": [`...)
	const ain = "\n        " // a field of an app
	for i, a := range pd.Apps {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n      {"+ain+`"name": `...)
		b = jsonstr.Append(b, a.Name)
		b = append(b, ","+ain+`"imageName": `...)
		b = jsonstr.Append(b, a.ImageName)
		b = append(b, ","+ain+`"imageID": `...)
		b = jsonstr.Append(b, a.ImageID.String())
		if a.ExitCode != nil {
			b = append(b, ","+ain+`"exitCode": `...)
			b = strconv.AppendInt(b, int64(*a.ExitCode), 10)
		}
		if a.Signal != "" {
			b = append(b, ","+ain+`"signal": `...)
			b = jsonstr.Append(b, a.Signal)
		}
		b = append(b, "\n      }"...)
	}
	if len(pd.Apps) > 0 {
		b = append(b, "\n    "...)
	}
	return append(b, "]\n  }"...), nil
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
