package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

func cmdTrustList() *command {
	return &command{
		name:    "trust list",
		usage:   "trust list",
		summary: "List trusted keys, system and local, with their prefixes",
		run: func(ctx context.Context, c *CLI, args []string) error {
			if len(args) != 0 {
				return usagef("trust list takes no arguments")
			}
			keys, err := c.host().TrustedKeys(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.Stdout, 2, 8, 2, ' ', 0)
			fmt.Fprintf(tw, "PREFIX\tFINGERPRINT\tSTATUS\tWHERE\tUSER IDS\n")
			for _, k := range keys {
				scope := k.Prefix
				if k.Root {
					scope = "(root)"
				}
				where := "local"
				if k.System {
					where = "system"
				}
				status := k.Status
				if k.Problem != "" {
					status += ": " + k.Problem
				}
				fp := k.Fingerprint
				if fp == "" {
					fp = filepath.Base(k.Path)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", scope, fp, status, where, strings.Join(k.UserIDs, ", "))
			}
			return tw.Flush()
		},
	}
}
