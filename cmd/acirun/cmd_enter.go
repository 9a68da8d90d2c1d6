package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

const enterHelp = `Runs CMD (default /bin/sh) in an app of a running pod, as one more process of
that app: in its mount, PID, UTS, IPC, network and cgroup namespaces, in its
cgroups, as its user and groups, with its capability bounding set, seccomp
filter, no_new_privs, environment and working directory, and no descriptor
of acirun's but the terminal's. A pod of several apps needs --app. acirun
enter exits with CMD's exit code (128+N if a signal N killed it), 254 when
it could not enter.

Flags end at UUID (or, with --uuid-file, at the first argument): what follows
is the command and its arguments. Put "--" before a command that takes -h or
--help.`

func cmdEnter() *command {
	var app, uuidFile string
	flags := func(fs *flag.FlagSet) {
		fs.StringVar(&app, "app", "", "the app to enter (needed when the pod has several)")
		uuidFileFlag(fs, &uuidFile)
	}
	return &command{
		name:     "enter",
		usage:    "enter [--app=NAME] UUID|--uuid-file=FILE [CMD [ARGS...]]",
		summary:  "Run a command in a running pod's app, confined as the app is",
		help:     enterHelp,
		rawArgs:  true,
		docFlags: func() []flagDoc { return flagSetDocs(flags) },
		run: func(ctx context.Context, c *CLI, args []string) error {
			// Flags stop at UUID: the command's own flags are its own.
			fs := flag.NewFlagSet("acirun enter", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			flags(fs)
			c.Globals.registerCurrent(fs)
			if err := fs.Parse(args); err != nil {
				return usagef("%v", err)
			}
			rest, err := withUUIDFile(fs.Args(), uuidFile)
			if err != nil {
				return err
			}
			if len(rest) == 0 {
				return usagef("enter takes a pod UUID")
			}
			uuid, cmd := rest[0], rest[1:]
			if len(cmd) > 0 && cmd[0] == "--" {
				cmd = cmd[1:]
			}
			argv, err := c.host().EnterCommand(ctx, uuid, app, cmd)
			if err != nil {
				return err
			}
			c.debugf("exec %s", strings.Join(argv, " "))
			if err := syscall.Exec(argv[0], argv, os.Environ()); err != nil {
				return fmt.Errorf("exec stage1 enter: %w", err)
			}
			return nil
		},
	}
}
