package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/acirun/acirun/stage0/host"
	"github.com/acirun/acirun/stage0/imageref"
	"github.com/acirun/acirun/unitgen"
)

func cmdUnitGenerate() *command {
	return &command{
		name:    "unit generate",
		usage:   "unit generate [run flags] IMAGE [app flags] [-- ARGS [---]] [IMAGE ...]",
		summary: "Print a unit file that runs a pod as a persistent service",
		help: `Prints a complete systemd service that runs "acirun run" with these arguments at each
start (the images fetched if the store lacks them, a fresh pod each time), described by
unitgen as acirun's own pod units are: Type=notify (active once every app has started),
KillMode=mixed, Delegate, machine.slice, TimeoutStopSec from --stop-timeout, the apps'
output in the journal, WantedBy=multi-user.target. Save it and enable it:

  acirun unit generate --net=host example.com/web:1.0 > /etc/systemd/system/web.service
  systemctl daemon-reload && systemctl enable --now web.service

The arguments are those of "acirun run" (see acirun run --help) and are checked the same
way; global flags given before "unit generate" are kept, with paths made absolute. A
local image must be given by an absolute path: a unit does not run in this directory.`,
		rawArgs:  true,
		docFlags: runFlagDocs,
		run: func(ctx context.Context, c *CLI, args []string) error {
			globals, err := c.serviceGlobals()
			if err != nil {
				return err
			}
			req, err := c.runRequestWith(args, nil)
			if err != nil {
				return err
			}
			var images []string
			for _, a := range req.Apps {
				if imageref.Classify(a.Image) == imageref.KindFile && !filepath.IsAbs(strings.TrimPrefix(a.Image, "file://")) {
					return usagef("image %s is a relative path, and a unit does not run in this directory: give it as an absolute path", a.Image)
				}
				images = append(images, a.Image)
			}
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the acirun binary: %w", err)
			}
			cmdline := append(append(append([]string{self}, globals...), "run"), args...)
			u, err := unitgen.NewService(unitgen.Service{Images: images, Command: cmdline, StopTimeout: req.StopTimeout})
			if err != nil {
				return err
			}
			b, err := u.File()
			if err != nil {
				return err
			}
			_, err = c.Stdout.Write(b)
			return err
		},
	}
}

// serviceGlobals are the global flags of this invocation that differ from
// their defaults, as arguments for a unit's command line, paths absolute.
func (c *CLI) serviceGlobals() ([]string, error) {
	var out []string
	for _, g := range []struct{ name, value, def string }{
		{"dir", c.Dir, host.DefaultDataDir},
		{"local-config", c.LocalConfig, host.DefaultLocalConfig},
		{"system-config", c.SystemConfig, host.DefaultSystemConfig},
		{"run-dir", c.RunDir, ""},
	} {
		if g.value == g.def {
			continue
		}
		p, err := filepath.Abs(g.value)
		if err != nil {
			return nil, fmt.Errorf("--%s=%s: %w", g.name, g.value, err)
		}
		out = append(out, "--"+g.name+"="+p)
	}
	if c.Insecure != 0 {
		out = append(out, "--insecure-options="+c.Insecure.String())
	}
	if c.Debug {
		out = append(out, "--debug")
	}
	return out, nil
}

func cmdUnitName() *command {
	return &command{
		name:    "unit name",
		usage:   "unit name IMAGE",
		summary: "Print the name of the aci@ unit that runs an image",
		help: `Prints aci@INSTANCE.service, the instance being IMAGE escaped as systemd-escape
--template=aci@.service escapes it ('/' becomes '-', '-' and other bytes \xNN), so that
"systemctl start $(acirun unit name example.com/hello:1.0)" runs it.`,
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 1 || args[0] == "" {
				return usagef("unit name takes one IMAGE")
			}
			name := "aci@" + unit.UnitNameEscape(args[0]) + ".service"
			if len(name) > 255 {
				return fmt.Errorf("unit name of image %s: %d bytes escaped, and systemd allows unit names of at most 255", args[0], len(name))
			}
			fmt.Fprintln(c.Stdout, name)
			return nil
		},
	}
}
