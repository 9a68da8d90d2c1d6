package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/aci/archive"
)

func cmdImageValidate() *command {
	return &command{
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
	}
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
	info, err := archive.ValidateArchive(f)
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
