package main

import (
	"context"
	"flag"
	"fmt"
)

func cmdStop() *command {
	var (
		force    bool
		uuidFile string
	)
	return &command{
		name:    "stop",
		usage:   "stop [--force] [--uuid-file=FILE] UUID...",
		summary: "Stop running pods",
		help: `Stops each pod gracefully and waits until it has stopped: its apps get SIGTERM, and
SIGKILL after the pod's --stop-timeout (10s unless prepare was given one); post-stop
handlers run, the pod's network is taken down, and its exit is recorded (143 for apps
ended by SIGTERM). A pod that a systemd service runs (acirun run's acirun-UUID.service,
aci@.service, systemd-run) is stopped through its unit, as systemctl stop does; any other
pod by signalling its stage1, killed if it has not ended after the stop timeout and 20s.

--force kills the pod at once: SIGKILL to its PID 1, which ends every process of the pod
together; stage1 still records the exit (137) and cleans up, and the pod's unit ends
with it.

A pod that is not running is an error for that UUID (exit 254); the others are
stopped all the same.`,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&force, "force", false, "kill the pods at once (SIGKILL) instead of stopping them gracefully")
			uuidFileFlag(fs, &uuidFile)
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			args, err := withUUIDFile(args, uuidFile)
			if err != nil {
				return err
			}
			if len(args) == 0 {
				return usagef("stop needs a UUID")
			}
			h := c.host()
			return c.eachArg(args, func(ref string) error {
				res, err := h.StopPod(ctx, ref, force)
				if err != nil {
					return err
				}
				how := "stopped"
				if res.Killed {
					how = "killed"
				}
				if res.Unit != "" {
					how += " (unit " + res.Unit + ")"
				}
				fmt.Fprintf(c.Stdout, "%s %s\n", how, res.Pod.UUID)
				return nil
			})
		},
	}
}
