package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"
)

func cmdImageList() *command {
	var (
		format string
		full   bool
	)
	return &command{
		name:    "image list",
		usage:   "image list [--format=table|json] [--full]",
		summary: "List the images in the store",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&format, "format", "table", "output format: table or json")
			fs.BoolVar(&full, "full", false, "print whole image IDs")
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 0 {
				return usagef("image list takes no arguments")
			}
			imgs, err := c.host().Images(ctx)
			if err != nil {
				return err
			}
			switch format {
			case "json":
				type entry struct {
					ID         string            `json:"id"`
					Name       string            `json:"name"`
					Labels     map[string]string `json:"labels,omitempty"`
					ImportTime time.Time         `json:"importTime"`
					LastUsed   time.Time         `json:"lastUsed,omitzero"`
					Size       int64             `json:"size"`
					Source     string            `json:"source,omitempty"`
					Signer     string            `json:"signer,omitempty"`
				}
				out := []entry{}
				for _, img := range imgs {
					e := entry{ID: imageID(img, full), Name: img.Name, ImportTime: img.ImportTime, LastUsed: img.LastUsed, Size: img.Size, Source: img.Origin.URL, Signer: img.Origin.Signer}
					if len(img.Labels) > 0 {
						e.Labels = map[string]string{}
						for _, l := range img.Labels {
							e.Labels[string(l.Name)] = l.Value
						}
					}
					out = append(out, e)
				}
				enc := json.NewEncoder(c.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			case "table":
				tw := tabwriter.NewWriter(c.Stdout, 2, 8, 2, ' ', 0)
				fmt.Fprintf(tw, "ID\tNAME\tSIZE\tIMPORT TIME\tLAST USED\n")
				for _, img := range imgs {
					name := img.Name
					for _, l := range img.Labels {
						if l.Name == "version" {
							name += ":" + l.Value
						}
					}
					last := "never"
					if !img.LastUsed.IsZero() {
						last = img.LastUsed.Local().Format(time.DateTime)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", imageID(img, full), name, formatSize(img.Size, ""), img.ImportTime.Local().Format(time.DateTime), last)
				}
				return tw.Flush()
			}
			return usagef("--format: %q is not table or json", format)
		},
	}
}
