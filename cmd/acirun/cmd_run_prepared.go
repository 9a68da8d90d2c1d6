package main

import (
	"context"
	"flag"
	"fmt"
	"slices"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/stage0/host"
	"github.com/acirun/acirun/stage0/pod"
)

// runPreparedFlags are the pod flags run-prepared takes, rkt's: each
// replaces what prepare recorded (pod.StartOptions). Their values are
// parsed by run's own setters.
var runPreparedFlags = []string{"net", "hostname", "dns", "dns-search", "dns-opt", "dns-domain", "interactive"}

func cmdRunPrepared() *command {
	p := &runParser{req: &pod.RunRequest{}, seen: map[string]bool{}}
	var (
		mdsRegister bool
		uuidFile    string
		u           host.UnitOptions
	)
	return &command{
		name:    "run-prepared",
		usage:   "run-prepared [--net=…] [--hostname=…] [--dns=…]… [--interactive] [--unit=NAME|--no-unit] [-d] [--uuid-file=FILE] UUID",
		summary: "Run a pod made by prepare",
		help: `Starts a pod that prepare made. The flags below replace what prepare recorded:
the value given here wins, and a repeatable flag (--dns, --dns-search,
--dns-opt) given here replaces prepare's whole list. The other pod flags
(volumes, ports, environment, ...) are chosen at prepare.

--mds-register is accepted for rkt's command lines and does nothing: each
pod's supervisor serves the pod's own metadata service; there is no
separate service to register with.

Like run, run-prepared starts the pod as the transient service
acirun-UUID.service where systemd is the init system, with this terminal as
its standard input and output, and exits with the pod's exit code; Ctrl-C
stops it. --unit=NAME names the unit, --no-unit runs the pod in this
process, -d (--detach) returns once it is ready, printing its UUID and unit.`,
		flags: func(fs *flag.FlagSet) {
			for _, d := range runFlagDefs() {
				if !slices.Contains(runPreparedFlags, d.Name) {
					continue
				}
				set := func(v string) error { return d.set(p, v) }
				help := d.Help + " (replaces prepare's)"
				if d.Value == "" {
					fs.BoolFunc(d.Name, help, set)
				} else {
					fs.Func(d.Name, fmt.Sprintf("`%s`: %s", d.Value, help), set)
				}
			}
			fs.BoolVar(&mdsRegister, "mds-register", false, "accepted for rkt's command lines; does nothing (each pod serves its own metadata)")
			unitFlags(fs, &u)
			uuidFileFlag(fs, &uuidFile)
		},
		run: func(ctx context.Context, c *CLI, args []string) error {
			uuid, err := oneUUID("run-prepared", args, uuidFile)
			if err != nil {
				return err
			}
			if err := c.checkUnitOptions(&u); err != nil {
				return err
			}
			if mdsRegister {
				fmt.Fprintln(c.Stderr, "acirun: --mds-register does nothing: the pod's supervisor serves its metadata service itself")
			}
			r := p.req
			if err := podcontract.CheckNameservers(r.DNS); err != nil {
				return usageError{err}
			}
			o := pod.StartOptions{Net: r.Net, Hostname: r.Hostname, DNS: r.DNS, DNSSearch: r.DNSSearch,
				DNSOptions: r.DNSOptions, DNSDomain: r.DNSDomain, Interactive: r.Interactive}
			res, err := c.host().RunPreparedPod(ctx, uuid, o, u, c.startStage1)
			return c.unitResult(u, res, err)
		},
	}
}
