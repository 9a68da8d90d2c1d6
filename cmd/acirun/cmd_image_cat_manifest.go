package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/aci/archive"
)

func cmdImageCatManifest() *command {
	pretty := true
	return &command{
		name:    "image cat-manifest",
		usage:   "image cat-manifest [--pretty-print=false] FILE|IMAGE",
		summary: "Print the manifest of an ACI file or of a stored image",
		help: `An argument that names an existing file is read as an ACI file (its manifest is
validated); anything else is a stored image, found as the other image commands find
it (write ./NAME to mean a file whose name looks like an image, or the image's ID
to mean a stored image whose name is also a path).

` + imageRefHelp,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&pretty, "pretty-print", true, "indent the JSON; false prints it on one line")
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 1 {
				return usagef("image cat-manifest takes one FILE or IMAGE")
			}
			raw, err := manifestOf(ctx, c, args[0])
			if err != nil {
				return err
			}
			var out bytes.Buffer
			if pretty {
				err = json.Indent(&out, raw, "", "  ")
			} else {
				err = json.Compact(&out, raw)
			}
			if err != nil {
				return fmt.Errorf("manifest of %s: %w", args[0], err)
			}
			fmt.Fprintf(c.Stdout, "%s\n", out.Bytes())
			return nil
		},
	}
}

// manifestOf is the manifest JSON of the ACI file ref if a file of that
// name exists, else of the stored image ref.
func manifestOf(ctx context.Context, c *CLI, ref string) (json.RawMessage, error) {
	if _, err := os.Stat(ref); err == nil {
		m, _, err := readACI(ref)
		if err != nil {
			return nil, err
		}
		return json.Marshal(m)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	img, err := c.host().FindImage(ctx, ref)
	if err != nil {
		return nil, err
	}
	m, err := img.ImageManifest()
	if err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// readACI reads an ACI file in one pass and returns its parsed manifest and
// archive facts (the image ID among them).
func readACI(path string) (*aci.ImageManifest, *archive.ArchiveInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	info, err := archive.ValidateArchive(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	m, err := aci.ParseImageManifest(info.ManifestJSON)
	if err != nil {
		return nil, info, fmt.Errorf("%s: manifest: %w", path, err)
	}
	return m, info, nil
}
