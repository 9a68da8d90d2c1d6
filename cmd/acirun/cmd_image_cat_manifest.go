package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/acirun/acirun/aci"
)

func cmdImageCatManifest() *command {
	return &command{
		name:    "image cat-manifest",
		usage:   "image cat-manifest FILE",
		summary: "Print the manifest of an ACI file as indented JSON",
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 1 {
				return usagef("image cat-manifest takes one FILE")
			}
			m, _, err := readACI(args[0])
			if err != nil {
				return err
			}
			out, err := json.MarshalIndent(m, "", "  ")
			if err != nil {
				return fmt.Errorf("encode manifest of %s: %w", args[0], err)
			}
			fmt.Fprintf(c.Stdout, "%s\n", out)
			return nil
		},
	}
}

// readACI reads an ACI file in one pass and returns its parsed manifest and
// archive facts (the image ID among them).
func readACI(path string) (*aci.ImageManifest, *aci.ArchiveInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	info, err := aci.ValidateArchive(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	m, err := aci.ParseImageManifest(info.ManifestJSON)
	if err != nil {
		return nil, info, fmt.Errorf("%s: manifest: %w", path, err)
	}
	return m, info, nil
}
