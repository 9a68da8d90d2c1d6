package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/acirun/acirun/stage0/host"
	"github.com/acirun/acirun/stage0/store"
)

// imageRow is one image as image list shows it.
type imageRow struct {
	img    *store.Image
	latest bool
}

// imageField is a column of image list, named as rkt names it where rkt
// has it (--fields, --sort).
type imageField struct {
	name, header string
	// value is the cell; full asks for whole IDs, exact sizes and times.
	value func(r imageRow, full bool) string
	cmp   func(a, b imageRow) int
}

func timeCell(t time.Time, full bool) string {
	switch {
	case t.IsZero():
		return "never"
	case full:
		return t.Local().Format(time.RFC3339Nano)
	}
	return t.Local().Format(time.DateTime)
}

// imageFields are the columns, in the order the help lists them.
func imageFields() []imageField {
	return []imageField{
		{"id", "ID", func(r imageRow, full bool) string { return imageID(r.img, full) },
			func(a, b imageRow) int { return strings.Compare(a.img.ID, b.img.ID) }},
		{"name", "NAME", func(r imageRow, _ bool) string { return host.DisplayName(r.img) },
			func(a, b imageRow) int { return strings.Compare(host.DisplayName(a.img), host.DisplayName(b.img)) }},
		{"importtime", "IMPORT TIME", func(r imageRow, full bool) string { return timeCell(r.img.ImportTime, full) },
			func(a, b imageRow) int { return a.img.ImportTime.Compare(b.img.ImportTime) }},
		{"lastused", "LAST USED", func(r imageRow, full bool) string { return timeCell(r.img.LastUsed, full) },
			func(a, b imageRow) int { return a.img.LastUsed.Compare(b.img.LastUsed) }},
		{"size", "SIZE", func(r imageRow, full bool) string {
			if full {
				return strconv.FormatInt(r.img.Size, 10)
			}
			return formatSize(r.img.Size, "")
		}, func(a, b imageRow) int { return cmp.Compare(a.img.Size, b.img.Size) }},
		{"latest", "LATEST", func(r imageRow, _ bool) string { return strconv.FormatBool(r.latest) },
			func(a, b imageRow) int { return cmpBool(a.latest, b.latest) }},
		{"source", "SOURCE", func(r imageRow, _ bool) string { return cmp.Or(r.img.Origin.URL, "-") },
			func(a, b imageRow) int { return strings.Compare(a.img.Origin.URL, b.img.Origin.URL) }},
		{"signer", "SIGNER", func(r imageRow, _ bool) string { return cmp.Or(r.img.Origin.Signer, "-") },
			func(a, b imageRow) int { return strings.Compare(a.img.Origin.Signer, b.img.Origin.Signer) }},
		{"digest", "DIGEST", func(r imageRow, _ bool) string { return cmp.Or(ociDigest(r.img), "-") },
			func(a, b imageRow) int { return strings.Compare(ociDigest(a.img), ociDigest(b.img)) }},
	}
}

// ociDigest is the manifest digest of an OCI image, "" for an ACI.
func ociDigest(img *store.Image) string {
	if img.OCI == nil {
		return ""
	}
	return img.OCI.Digest
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

func imageFieldNames() string {
	var names []string
	for _, f := range imageFields() {
		names = append(names, f.name)
	}
	return strings.Join(names, ", ")
}

// parseImageFields parses a comma-separated list of field names (flag is
// the flag's name, for the error).
func parseImageFields(flag, list string) ([]imageField, error) {
	var out []imageField
	for _, name := range strings.Split(list, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		all := imageFields()
		i := slices.IndexFunc(all, func(f imageField) bool { return f.name == name })
		if i < 0 {
			return nil, usagef("--%s: unknown field %q; the fields are %s", flag, name, imageFieldNames())
		}
		out = append(out, all[i])
	}
	return out, nil
}

// sortImages orders rows by the fields in turn, then by ID so that the
// order is total.
func sortImages(rows []imageRow, by []imageField, desc bool) {
	slices.SortStableFunc(rows, func(a, b imageRow) int {
		for _, f := range by {
			if c := f.cmp(a, b); c != 0 {
				if desc {
					return -c
				}
				return c
			}
		}
		return strings.Compare(a.img.ID, b.img.ID)
	})
}

const defaultImageFields = "id,name,importtime,lastused,size,latest"

func cmdImageList() *command {
	var (
		format, fields, sortBy, order string
		full, noLegend                bool
	)
	return &command{
		name:    "image list",
		usage:   "image list [--fields=…] [--sort=…] [--order=asc|desc] [--no-legend] [--full] [--format=table|json]",
		summary: "List the images in the store",
		help: `The table's columns are chosen with --fields, comma-separated, among: ` + "\n" + imageFieldNames() + ` (rkt's names; source, signer and digest are acirun's:
source is the URL or OCI reference fetched, digest an OCI image's manifest digest).
latest is true for the newest import of each name, the image NAME:latest finds.
--sort orders by one or more of the same fields, --order says which way. --full
prints whole image IDs, sizes in bytes and times to the nanosecond. --format=json
prints every field of every image (in the order --sort gives); --fields and
--no-legend are for the table.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&fields, "fields", "", "comma-separated `FIELDS` to show (default "+defaultImageFields+")")
			fs.StringVar(&sortBy, "sort", "importtime", "comma-separated `FIELDS` to sort by")
			fs.StringVar(&order, "order", "asc", "sort order: asc or desc")
			fs.BoolVar(&noLegend, "no-legend", false, "print no header line")
			fs.BoolVar(&full, "full", false, "print whole image IDs, exact sizes and times")
			fs.StringVar(&format, "format", "table", "output format: table or json")
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 0 {
				return usagef("image list takes no arguments")
			}
			if format != "table" && format != "json" {
				return usagef("--format: %q is not table or json", format)
			}
			if format == "json" && (fields != "" || noLegend) {
				return usagef("--fields and --no-legend are for the table; --format=json prints every field")
			}
			cols, err := parseImageFields("fields", cmp.Or(fields, defaultImageFields))
			if err != nil {
				return err
			}
			by, err := parseImageFields("sort", sortBy)
			if err != nil {
				return err
			}
			if order != "asc" && order != "desc" {
				return usagef("--order: %q is not asc or desc", order)
			}
			imgs, err := c.host().Images(ctx)
			if err != nil {
				return err
			}
			latest := host.LatestImages(imgs)
			rows := make([]imageRow, len(imgs))
			for i, img := range imgs {
				rows[i] = imageRow{img, latest[img.ID]}
			}
			sortImages(rows, by, order == "desc")
			if format == "json" {
				return printImagesJSON(c.Stdout, rows, full)
			}
			tw := tabwriter.NewWriter(c.Stdout, 2, 8, 2, ' ', 0)
			cells := make([]string, len(cols))
			if !noLegend {
				for i, f := range cols {
					cells[i] = f.header
				}
				fmt.Fprintln(tw, strings.Join(cells, "\t"))
			}
			for _, r := range rows {
				for i, f := range cols {
					cells[i] = f.value(r, full)
				}
				fmt.Fprintln(tw, strings.Join(cells, "\t"))
			}
			return tw.Flush()
		},
	}
}

func printImagesJSON(w io.Writer, rows []imageRow, full bool) error {
	type entry struct {
		ID         string            `json:"id"`
		Name       string            `json:"name"`
		Labels     map[string]string `json:"labels,omitempty"`
		ImportTime time.Time         `json:"importTime"`
		LastUsed   time.Time         `json:"lastUsed,omitzero"`
		Size       int64             `json:"size"`
		Latest     bool              `json:"latest"`
		Source     string            `json:"source,omitempty"`
		Signer     string            `json:"signer,omitempty"`
	}
	out := []entry{}
	for _, r := range rows {
		img := r.img
		e := entry{ID: imageID(img, full), Name: img.Name, ImportTime: img.ImportTime, LastUsed: img.LastUsed, Size: img.Size, Latest: r.latest, Source: img.Origin.URL, Signer: img.Origin.Signer}
		if len(img.Labels) > 0 {
			e.Labels = map[string]string{}
			for _, l := range img.Labels {
				e.Labels[string(l.Name)] = l.Value
			}
		}
		out = append(out, e)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
