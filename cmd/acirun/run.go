package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/pod"
	"github.com/acirun/acirun/stage0/pull"
	"github.com/acirun/acirun/stage0/store"
)

// runHelp documents the grammar of run and prepare; the flag table is
// printed from stage0/pod so it always matches the parser.
const runHelp = `Runs a pod of one or more apps, each from an image: a file, an http(s) URL, a
name resolved by appc discovery, or an image ID. Images are fetched per
--pull-policy and run only if their signatures verify (see "acirun trust").

  acirun run [pod flags] IMAGE [app flags] [-- ARGS... [---]] [IMAGE ...]...

App flags apply to the image they follow; arguments after "--" run up to "---"
and are appended to the app's exec. acirun run exits with the pod's exit code:
that of the first app to fail, or 128+N for an app killed by signal N, or 0.`

func runFlagsHelp() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nPod flags:\n")
	for _, f := range pod.Flags() {
		if !f.PerApp {
			printFlagInfo(&b, f)
		}
	}
	fmt.Fprintf(&b, "\nApp flags (after an IMAGE):\n")
	for _, f := range pod.Flags() {
		if f.PerApp {
			printFlagInfo(&b, f)
		}
	}
	return b.String()
}

// printFlagInfo prints a flag and, on the next line, what it does: the
// value syntaxes are too long for a table.
func printFlagInfo(w io.Writer, f pod.FlagInfo) {
	arg := "--" + f.Name
	if f.Value != "" {
		arg += "=" + f.Value
	}
	rep := ""
	if f.Repeatable {
		rep = " (repeatable)"
	}
	fmt.Fprintf(w, "  %s\n        %s%s\n", arg, f.Help, rep)
}

// takeGlobalFlags moves global flags out of a run/prepare argument list
// (they may only come before the first image) and applies them.
func (c *CLI) takeGlobalFlags(args []string) ([]string, error) {
	fs := flag.NewFlagSet("acirun", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Globals.registerCurrent(fs)
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			return append(rest, args[i:]...), nil
		}
		name := strings.TrimLeft(a, "-")
		name, _, hasValue := strings.Cut(name, "=")
		f := fs.Lookup(name)
		if f == nil {
			rest = append(rest, a)
			continue
		}
		fa := []string{a}
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); !hasValue && !(ok && bf.IsBoolFlag()) && i+1 < len(args) {
			i++
			fa = append(fa, args[i])
		}
		if err := fs.Parse(fa); err != nil {
			return nil, usagef("%v", err)
		}
	}
	return rest, nil
}

// resolver implements pod.ImageResolver over the image pipeline, for one
// prepare. An image named again (rkt's `run IMG --- IMG`) is not pulled a
// second time: importing it again would wait for an exclusive lock on the
// image that this very prepare holds shared until the pod is recorded.
type resolver struct {
	p    *pull.Puller
	seen map[string]string // reference → image ID already pulled
}

// image holds img in the store (so that gc cannot remove it before the pod
// that uses it is recorded; Prepare calls Release) and describes it.
func (r *resolver) image(ctx context.Context, img *store.Image) (*pod.Image, error) {
	held, release, err := r.p.Store.Hold(ctx, img.ID)
	if err != nil {
		return nil, err
	}
	m, err := held.ImageManifest()
	if err != nil {
		release()
		return nil, err
	}
	tree, err := r.p.Store.TreePath(held.ID)
	if err != nil {
		release()
		return nil, err
	}
	id, err := aci.ParseImageID(held.ID)
	if err != nil {
		release()
		return nil, err
	}
	return &pod.Image{ID: id, Manifest: m, Tree: tree, Release: release}, nil
}

func (r *resolver) ResolveImage(ctx context.Context, ref string) (*pod.Image, error) {
	key := ref
	if pull.Classify(ref) == pull.KindFile {
		// One file however it is spelled (t.aci, ./t.aci, a symlink).
		if p, err := filepath.Abs(strings.TrimPrefix(ref, "file://")); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				p = real
			}
			key = "file://" + p
		}
	}
	if id, ok := r.seen[key]; ok {
		return r.image(ctx, &store.Image{ID: id})
	}
	img, err := r.p.Pull(ctx, ref)
	if err != nil {
		return nil, err
	}
	if r.seen == nil {
		r.seen = map[string]string{}
	}
	r.seen[key] = img.ID
	return r.image(ctx, img)
}

func (r *resolver) ResolveRuntimeImage(ctx context.Context, ri aci.RuntimeImage) (*pod.Image, error) {
	ref := ri.ID.String()
	if ref == "" {
		parts := []string{string(ri.Name)}
		for _, l := range ri.Labels {
			parts = append(parts, fmt.Sprintf("%s=%s", l.Name, l.Value))
		}
		ref = strings.Join(parts, ",")
	}
	return r.ResolveImage(ctx, ref)
}

// preparePod parses a run/prepare command line and prepares the pod.
// sync makes the pod directory durable before it is recorded as prepared
// (prepare: the pod may be run after a crash); run starts the pod at once
// and skips the cost.
func (c *CLI) preparePod(ctx context.Context, args []string, sync bool) (*pod.Pod, error) {
	args, err := c.takeGlobalFlags(args)
	if err != nil {
		return nil, err
	}
	req, err := pod.ParseRunArgs(args)
	if err != nil {
		return nil, usageError{err}
	}
	ff := fetchFlags{}
	if ff.insecure, err = fetch.ParseInsecure(strings.Join(req.InsecureOptions, ",")); err != nil {
		return nil, usagef("--insecure-options: %v", err)
	}
	if req.PullPolicy != "" {
		if ff.policy, err = fetch.ParsePullPolicy(req.PullPolicy); err != nil {
			return nil, usagef("--pull-policy: %v", err)
		}
	}
	ff.quiet = !c.Debug
	p, err := c.puller(&ff)
	if err != nil {
		return nil, err
	}
	cfg := pod.Config{DataDir: c.Dir, Resolver: &resolver{p: p}, HostEnv: os.Environ(), Debug: c.Debug, Sync: sync}
	pd, notes, err := pod.Prepare(ctx, cfg, req)
	if err != nil {
		return nil, err
	}
	for _, n := range notes {
		fmt.Fprintf(c.Stderr, "acirun: %s\n", n)
	}
	return pd, nil
}

// execStage1 replaces acirun with the pod's stage1 supervisor, so that the
// pod keeps this process's PID (a systemd unit's main process stays the
// same), its terminal and its exit code.
func (c *CLI) execStage1(pd *pod.Pod) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the acirun binary: %w", err)
	}
	var runFlags []string
	if c.RunDir != "" {
		// What stage1 keeps for the host (address leases, the metadata
		// key) is the host's, not a store's: it stays in /run/acirun
		// unless the run directory is given.
		runFlags = append(runFlags, "--run-dir="+c.RunDir)
	}
	argv := pod.Stage1Command(pd, self, runFlags...)
	c.debugf("exec %s", strings.Join(argv, " "))
	if err := syscall.Exec(argv[0], argv, os.Environ()); err != nil {
		return fmt.Errorf("exec stage1 for pod %s: %w", pd.UUID, err)
	}
	return nil
}

func podCommands() []*command {
	var (
		format string
		full   bool
		grace  time.Duration
	)
	return []*command{
		{
			name:    "run",
			usage:   "run [pod flags] IMAGE [app flags] [-- ARGS [---]] [IMAGE ...]",
			summary: "Run a pod of apps from images, in their own namespaces",
			help:    runHelp + "\n" + runFlagsHelp(),
			rawArgs: true,
			run: func(ctx context.Context, c *CLI, args []string) error {
				pd, err := c.preparePod(ctx, args, false)
				if err != nil {
					return err
				}
				return c.execStage1(pd)
			},
		},
		{
			name:    "prepare",
			usage:   "prepare [pod flags] IMAGE [app flags] [-- ARGS [---]] [IMAGE ...]",
			summary: "Prepare a pod to run later with run-prepared; prints its UUID",
			help:    "Fetches the images and writes the pod, as run does, without starting it.\n" + runFlagsHelp(),
			rawArgs: true,
			run: func(ctx context.Context, c *CLI, args []string) error {
				pd, err := c.preparePod(ctx, args, true)
				if err != nil {
					return err
				}
				fmt.Fprintln(c.Stdout, pd.UUID)
				return nil
			},
		},
		{
			name:    "run-prepared",
			usage:   "run-prepared UUID",
			summary: "Run a pod made by prepare",
			run: func(ctx context.Context, c *CLI, args []string) error {
				if len(args) != 1 {
					return usagef("run-prepared takes one UUID")
				}
				pd, err := pod.Load(c.Dir, args[0])
				if err != nil {
					return err
				}
				if pd.State != pod.StatePrepared {
					return fmt.Errorf("pod %s is %s, not prepared", pd.UUID, pd.State)
				}
				if pd.Problem != "" {
					return fmt.Errorf("pod %s cannot run: %s", pd.UUID, pd.Problem)
				}
				if err := c.settleImages(ctx, pd); err != nil {
					return fmt.Errorf("pod %s: %w", pd.UUID, err)
				}
				return c.execStage1(pd)
			},
		},
		{
			name:    "list",
			usage:   "list [--format=table|json] [--full]",
			summary: "List pods and their states",
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&format, "format", "table", "output format: table or json")
				fs.BoolVar(&full, "full", false, "print whole UUIDs and image IDs")
			},
			run: func(ctx context.Context, c *CLI, args []string) error {
				if len(args) != 0 {
					return usagef("list takes no arguments")
				}
				pods, err := pod.List(c.Dir)
				if err != nil {
					return err
				}
				return printPods(c.Stdout, pods, format, full)
			},
		},
		{
			name:    "status",
			usage:   "status [--format=table|json] UUID",
			summary: "Show a pod's state, apps and exit codes",
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&format, "format", "table", "output format: table or json")
			},
			run: func(ctx context.Context, c *CLI, args []string) error {
				if len(args) != 1 {
					return usagef("status takes one UUID")
				}
				pd, err := pod.Load(c.Dir, args[0])
				if err != nil {
					return err
				}
				if format == "json" {
					return printPods(c.Stdout, []*pod.Pod{pd}, format, true)
				}
				fmt.Fprintf(c.Stdout, "uuid=%s\nstate=%s\n", pd.UUID, pd.State)
				if pd.PID != 0 {
					fmt.Fprintf(c.Stdout, "pid=%d\n", pd.PID)
				}
				if !pd.Created.IsZero() {
					fmt.Fprintf(c.Stdout, "created=%s\n", pd.Created.Format(time.RFC3339))
				}
				if !pd.Started.IsZero() {
					fmt.Fprintf(c.Stdout, "started=%s\n", pd.Started.Format(time.RFC3339))
				}
				if pd.ExitCode != nil {
					fmt.Fprintf(c.Stdout, "exit-code=%d\n", *pd.ExitCode)
				}
				if n := pd.Network; n != nil {
					fmt.Fprintf(c.Stdout, "network=%s\nip=%s\n", n.Name, n.IP)
					for _, pp := range n.Ports {
						fmt.Fprintf(c.Stdout, "port-%s=%s/%s\n", pp.Name, pp.Host, pp.Protocol)
					}
				}
				for _, a := range pd.Apps {
					line := fmt.Sprintf("app-%s=%s", a.Name, a.ImageID.Short())
					if a.ExitCode != nil {
						line += fmt.Sprintf(" exited=%d", *a.ExitCode)
					}
					if a.Signal != "" {
						line += " signal=" + a.Signal
					}
					fmt.Fprintln(c.Stdout, line)
				}
				return nil
			},
		},
		{
			name:    "rm",
			usage:   "rm UUID...",
			summary: "Remove pods that are not running",
			run: func(ctx context.Context, c *CLI, args []string) error {
				if len(args) == 0 {
					return usagef("rm needs a UUID")
				}
				failed := 0
				for _, ref := range args {
					pd, err := pod.Load(c.Dir, ref)
					if err == nil {
						err = pod.Remove(c.Dir, pd.UUID)
					}
					if err != nil {
						fmt.Fprintf(c.Stderr, "acirun: %v\n", err)
						failed++
						continue
					}
					fmt.Fprintf(c.Stdout, "removed %s\n", pd.UUID)
				}
				if failed > 0 {
					return exitCodeError{code: exitFailure}
				}
				return nil
			},
		},
		{
			name:    "gc",
			usage:   "gc [--grace-period=DURATION]",
			summary: "Remove exited and abandoned pods older than the grace period",
			flags: func(fs *flag.FlagSet) {
				fs.DurationVar(&grace, "grace-period", 30*time.Minute, "keep pods that exited more recently than this")
			},
			run: func(ctx context.Context, c *CLI, args []string) error {
				if len(args) != 0 {
					return usagef("gc takes no arguments")
				}
				if err := pod.RemoveStale(ctx, c.Dir); err != nil {
					return err
				}
				pods, err := pod.List(c.Dir)
				if err != nil {
					return err
				}
				cutoff := time.Now().Add(-grace)
				var errs []error
				for _, pd := range pods {
					switch pd.State {
					case pod.StateExited:
						if pd.Exited.After(cutoff) {
							continue
						}
					case pod.StateAbandoned:
					default:
						continue
					}
					if err := pod.Remove(c.Dir, pd.UUID); err != nil {
						errs = append(errs, err)
						continue
					}
					fmt.Fprintf(c.Stdout, "removed %s\n", pd.UUID)
				}
				return errors.Join(errs...)
			},
		},
	}
}

// printPods prints pods as a table or as JSON.
func printPods(w io.Writer, pods []*pod.Pod, format string, full bool) error {
	switch format {
	case "json":
		type app struct {
			Name     string `json:"name"`
			Image    string `json:"imageName"`
			ImageID  string `json:"imageID"`
			ExitCode *int   `json:"exitCode,omitempty"`
			Signal   string `json:"signal,omitempty"`
		}
		type entry struct {
			UUID     string       `json:"uuid"`
			State    string       `json:"state"`
			PID      int          `json:"pid,omitempty"`
			Created  time.Time    `json:"created,omitzero"`
			Started  time.Time    `json:"started,omitzero"`
			Exited   time.Time    `json:"exited,omitzero"`
			ExitCode *int         `json:"exitCode,omitempty"`
			Network  *pod.Network `json:"network,omitempty"`
			Apps     []app        `json:"apps"`
		}
		out := []entry{}
		for _, pd := range pods {
			e := entry{UUID: pd.UUID, State: string(pd.State), PID: pd.PID, Created: pd.Created, Started: pd.Started, Exited: pd.Exited, ExitCode: pd.ExitCode, Network: pd.Network, Apps: []app{}}
			for _, a := range pd.Apps {
				e.Apps = append(e.Apps, app{a.Name, a.ImageName, a.ImageID.String(), a.ExitCode, a.Signal})
			}
			out = append(out, e)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "table":
		tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		fmt.Fprintf(tw, "UUID\tAPP\tIMAGE NAME\tSTATE\tCREATED\n")
		sort.SliceStable(pods, func(i, j int) bool { return pods[i].Created.Before(pods[j].Created) })
		for _, pd := range pods {
			uuid := pd.UUID
			if !full {
				uuid = uuid[:8]
			}
			created := ""
			if !pd.Created.IsZero() {
				created = pd.Created.Local().Format(time.DateTime)
			}
			if len(pd.Apps) == 0 {
				fmt.Fprintf(tw, "%s\t-\t-\t%s\t%s\n", uuid, pd.State, created)
			}
			for i, a := range pd.Apps {
				if i > 0 {
					uuid, created = "", ""
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", uuid, a.Name, a.ImageName, pd.State, created)
			}
		}
		return tw.Flush()
	}
	return usagef("--format: %q is not table or json", format)
}

// settleImages holds each image of a prepared pod for a moment: a pod
// prepared in an earlier boot may use trees that boot never wrote to disk,
// which Hold verifies (and renders again if damaged) before the pod mounts
// them.
func (c *CLI) settleImages(ctx context.Context, pd *pod.Pod) error {
	st, err := c.openStore()
	if err != nil {
		return err
	}
	for _, a := range pd.Apps {
		_, release, err := st.Hold(ctx, a.ImageID.String())
		if err != nil {
			return err
		}
		release()
	}
	return nil
}
