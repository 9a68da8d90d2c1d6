package main

import (
	"context"
	"fmt"
)

func cmdPrepare() *command {
	return &command{
		name:         "prepare",
		usage:        "prepare [pod flags] IMAGE [app flags] [-- ARGS [---]] [IMAGE ...]",
		summary:      "Prepare a pod to run later with run-prepared; prints its UUID",
		help:         "Fetches the images and writes the pod, as run does, without starting it.",
		runFlagTable: true,
		rawArgs:      true,
		docFlags:     runFlagDocs,
		run: func(ctx context.Context, c *CLI, args []string) error {
			req, err := c.runRequest(args)
			if err != nil {
				return err
			}
			pd, err := c.host().Prepare(ctx, req, c.prepareOptions(true))
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Stdout, pd.UUID)
			return nil
		},
	}
}
