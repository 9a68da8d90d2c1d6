package main

import (
	"context"
	"encoding/json"
	"flag"
	"sort"

	"github.com/acirun/acirun/internal/podcontract"
)

// configEntry is one entry of `acirun config`, in the shape of rkt's
// configuration entries (rktKind, rktVersion). The auth entries are valid
// auth.d files as they stand (with --show-credentials), and the network
// entry a valid network.d file (less its source); paths, stage1 and
// trustedKey describe what acirun has instead of rkt's config files.
type configEntry struct {
	RktVersion string `json:"rktVersion"`
	RktKind    string `json:"rktKind"`

	// auth
	Domains     []string          `json:"domains,omitempty"`
	Type        string            `json:"type,omitempty"`
	Credentials map[string]string `json:"credentials,omitempty"`

	// paths
	Data         string `json:"data,omitempty"`
	LocalConfig  string `json:"local-config,omitempty"`
	SystemConfig string `json:"system-config,omitempty"`
	Run          string `json:"run,omitempty"`

	// stage1
	Name     string `json:"name,omitempty"`
	Version  string `json:"version,omitempty"`
	Location string `json:"location,omitempty"`

	// network: where declared ports are published, and the default
	// network's subnets (network.d, else the built-in ones).
	Publish string `json:"publish,omitempty"`
	Subnet  string `json:"subnet,omitempty"`
	Subnet6 string `json:"subnet6,omitempty"`

	// trustedKey: Prefix "" with Root for a key trusted for every name.
	Prefix      string   `json:"prefix,omitempty"`
	Root        bool     `json:"root,omitempty"`
	Fingerprint string   `json:"fingerprint,omitempty"`
	UserIDs     []string `json:"userIDs,omitempty"`
	Status      string   `json:"status,omitempty"`
	Problem     string   `json:"problem,omitempty"`

	// Source is the file an auth or trustedKey entry comes from.
	Source string `json:"source,omitempty"`
}

// redacted stands for a secret that --show-credentials would print.
const redacted = "REDACTED"

func cmdConfig() *command {
	var showCredentials bool
	return &command{
		name:    "config",
		usage:   "config [--show-credentials]",
		summary: "Print the effective configuration as JSON, as rkt config does",
		help: `Prints {"stage0": [...]}: one "auth" entry per domain of auth.d (system, then local,
which overrides it domain by domain), the "paths" in use (--dir, --local-config,
--system-config and the run directory), the "stage1" (the acirun-stage1 binary beside acirun), the
"network" settings of network.d (publish: where declared ports are published, and the
file that says so; subnet and subnet6: the default network's, or none), and one
"trustedKey" entry per file of the trust store, with its prefix ("root" for every name)
and whether it is used. The same code reads these for fetch and run.

Passwords and tokens are printed as "` + redacted + `" unless --show-credentials: the output
is then a set of valid auth.d entries, and as secret as those files.`,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&showCredentials, "show-credentials", false, "print auth.d passwords and tokens instead of "+redacted)
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 0 {
				return usagef("config takes no arguments")
			}
			h := c.host()
			auth, err := h.Auth()
			if err != nil {
				return err
			}
			keys, err := h.TrustedKeys(ctx)
			if err != nil {
				return err
			}
			var entries []configEntry
			domains := make([]string, 0, len(auth))
			for d := range auth {
				domains = append(domains, d)
			}
			sort.Strings(domains)
			secret := func(s string) string {
				if showCredentials {
					return s
				}
				return redacted
			}
			for _, d := range domains {
				cr := auth[d]
				e := configEntry{RktVersion: "v1", RktKind: "auth", Domains: []string{d}, Type: cr.Type, Source: cr.Source}
				if cr.Type == "basic" {
					e.Credentials = map[string]string{"user": cr.User, "password": secret(cr.Password)}
				} else {
					e.Credentials = map[string]string{"token": secret(cr.Token)}
				}
				entries = append(entries, e)
			}
			cfg := h.Config()
			entries = append(entries, configEntry{RktVersion: "v1", RktKind: "paths", Data: cfg.DataDir, LocalConfig: cfg.LocalConfig, SystemConfig: cfg.SystemConfig, Run: cfg.LockDir()})
			stage1, err := podcontract.FindStage1()
			if err != nil {
				return err
			}
			entries = append(entries, configEntry{RktVersion: "v1", RktKind: "stage1", Name: "github.com/acirun/acirun/stage1-systemd", Version: version(), Location: stage1})
			nc, err := h.NetworkConfig()
			if err != nil {
				return err
			}
			subnet, subnet6 := nc.Subnets()
			entries = append(entries, configEntry{RktVersion: "v1", RktKind: "network", Publish: nc.Publish, Subnet: subnet, Subnet6: subnet6, Source: nc.Source})
			for _, k := range keys {
				entries = append(entries, configEntry{RktVersion: "v1", RktKind: "trustedKey", Prefix: k.Prefix, Root: k.Root, Fingerprint: k.Fingerprint,
					UserIDs: k.UserIDs, Status: k.Status, Problem: k.Problem, Source: k.Path})
			}
			enc := json.NewEncoder(c.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string][]configEntry{"stage0": entries})
		},
	}
}
