package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/acirun/acirun/aci"
)

func imageCommands() []*command {
	var (
		compression string
		overwrite   bool
	)
	return []*command{
		{
			name:    "image build",
			usage:   "image build [--compression=gzip|none|bzip2|xz] [--overwrite] DIR OUT.aci",
			summary: "Build an ACI from a directory holding manifest and rootfs/",
			help: `DIR must hold exactly a "manifest" file and a "rootfs" directory. The manifest is
validated before anything is written. Entries are written in a deterministic order
with their modes, owners, times and xattrs; hard links are kept as links. OUT.aci
appears only once it is complete; an existing OUT.aci is refused unless --overwrite.`,
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&compression, "compression", "gzip", "compression of the written ACI: gzip, none, bzip2 or xz")
				fs.BoolVar(&overwrite, "overwrite", false, "replace OUT.aci if it exists")
			},
			run: func(ctx context.Context, c *CLI, args []string) error {
				if len(args) != 2 {
					return usagef("image build takes DIR and OUT.aci, got %d arguments", len(args))
				}
				comp, err := aci.ParseCompression(compression)
				if err != nil {
					return usagef("--compression: %v", err)
				}
				opts := aci.BuildOptions{Compression: comp, Overwrite: overwrite}
				if err := aci.BuildFile(args[0], args[1], opts); err != nil {
					return err
				}
				c.debugf("wrote %s", args[1])
				return nil
			},
		},
		{
			name:    "image validate",
			usage:   "image validate FILE...",
			summary: "Check ACI files and bare image or pod manifests",
			help: `Each FILE is an ACI (plain tar, gzip, bzip2 or xz, recognised by its magic bytes)
or a bare ImageManifest or PodManifest JSON file. Prints "FILE: ok" with the image
ID for an ACI, or every error found, each naming the JSON path or archive entry and
the bad value. Exits 0 only if every file is valid.`,
			run: func(ctx context.Context, c *CLI, args []string) error {
				if len(args) == 0 {
					return usagef("image validate needs at least one FILE")
				}
				failed := 0
				for _, path := range args {
					if !validateOne(c, path) {
						failed++
					}
				}
				if failed > 0 {
					return exitCodeError{code: exitFailure, msg: fmt.Sprintf("%d of %d files invalid", failed, len(args))}
				}
				return nil
			},
		},
		{
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

// validateOne checks one file and prints the verdict; it reports whether the
// file is valid.
func validateOne(c *CLI, path string) bool {
	fail := func(err error) bool {
		var list aci.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				fmt.Fprintf(c.Stdout, "%s: %v\n", path, e)
			}
			return false
		}
		fmt.Fprintf(c.Stdout, "%s: %v\n", path, err)
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return fail(err)
	}
	head = head[:n]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return validateJSON(c, path, f, fail)
	}
	info, err := aci.ValidateArchive(f)
	if err != nil {
		return fail(err)
	}
	m, err := aci.ParseImageManifest(info.ManifestJSON)
	if err != nil {
		var list aci.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				fmt.Fprintf(c.Stdout, "%s: manifest: %v\n", path, e)
			}
			return false
		}
		return fail(fmt.Errorf("manifest: %w", err))
	}
	fmt.Fprintf(c.Stdout, "%s: ok %s\n", path, info.ID)
	c.debugf("%s: %s %s, %d entries, %s", path, m.Name, info.Compression, info.Entries, "valid")
	return true
}

// validateJSON checks a bare ImageManifest or PodManifest.
func validateJSON(c *CLI, path string, f *os.File, fail func(error) bool) bool {
	data, err := io.ReadAll(io.LimitReader(f, aci.MaxManifestSize+1))
	if err != nil {
		return fail(err)
	}
	m, err := aci.ParseManifest(data)
	if err != nil {
		return fail(err)
	}
	switch m := m.(type) {
	case *aci.PodManifest:
		if err := m.ValidateReified(nil); err != nil {
			fmt.Fprintf(c.Stdout, "%s: ok PodManifest (a template, not reified: %v)\n", path, strings.ReplaceAll(err.Error(), "\n", "; "))
			return true
		}
		fmt.Fprintf(c.Stdout, "%s: ok PodManifest\n", path)
	case *aci.ImageManifest:
		fmt.Fprintf(c.Stdout, "%s: ok ImageManifest %s\n", path, m.Name)
	}
	return true
}
