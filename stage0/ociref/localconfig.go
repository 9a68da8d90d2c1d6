package ociref

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ConfigFile is the file in the local (and system) configuration directory
// that says how OCI registries are reached:
//
//	{"defaultRegistry": "registry.example.com:5000"}
//
// defaultRegistry is the registry of docker://NAME references that name
// none (docker://debian:12). There is no built-in default: without it such
// a reference is refused, so that no registry is contacted that nobody
// chose.
const ConfigFile = "registries.json"

// LocalConfig is ConfigFile's content.
type LocalConfig struct {
	DefaultRegistry string `json:"defaultRegistry,omitempty"`
}

// LoadConfig reads ConfigFile in each of dirs (system then local), a
// later one's settings replacing an earlier one's; missing files are fine.
func LoadConfig(dirs ...string) (LocalConfig, error) {
	var out LocalConfig
	for _, d := range dirs {
		p := filepath.Join(d, ConfigFile)
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return LocalConfig{}, fmt.Errorf("read %s: %w", p, err)
		}
		c, err := ParseConfig(b)
		if err != nil {
			return LocalConfig{}, fmt.Errorf("%s: %w", p, err)
		}
		if c.DefaultRegistry != "" {
			out.DefaultRegistry = c.DefaultRegistry
		}
	}
	return out, nil
}

// ParseConfig parses ConfigFile's content strictly: an unknown key is an
// error (a misspelt setting must not be ignored silently).
func ParseConfig(b []byte) (LocalConfig, error) {
	var c LocalConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return LocalConfig{}, err
	}
	if dec.More() {
		return LocalConfig{}, errors.New("junk after the JSON object")
	}
	if c.DefaultRegistry != "" {
		if err := checkRegistry(c.DefaultRegistry); err != nil {
			return LocalConfig{}, fmt.Errorf("defaultRegistry: %w", err)
		}
		if !namesRegistry(c.DefaultRegistry) {
			return LocalConfig{}, fmt.Errorf("defaultRegistry %q: a registry is written with a '.' or a port, or is localhost", c.DefaultRegistry)
		}
	}
	return c, nil
}
