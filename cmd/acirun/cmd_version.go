package main

import (
	"context"
	"fmt"

	"github.com/acirun/acirun/aci"
)

func cmdVersion() *command {
	return &command{
		name:    "version",
		usage:   "version",
		summary: "Print acirun's version and the appc spec version it implements",
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) > 0 {
				return usagef("version takes no arguments")
			}
			fmt.Fprintf(c.Stdout, "acirun version %s\nappc version %s\n", version(), aci.SpecVersion)
			return nil
		},
	}
}

// version is set at link time by the Makefile (-X main.buildVersion=...).
var buildVersion string

func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	return "dev"
}
