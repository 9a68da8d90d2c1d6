// Command unitstart measures how long `acirun run` of a trivial app takes
// through its transient unit, side by side with `systemd-run --wait --pipe
// -q /bin/true`, in a box where a real systemd is PID 1 (tests/box): this
// machine's own PID 1 is no systemd, so the target of issue 18 can only be
// measured there. It is what bench/unit.sh runs.
//
// Usage: unitstart BIN ACI
//
// BIN is the acirun binary, ACI an image whose app exits 0 at once. Both are
// copied into the box's directory; the image is fetched once (a warm store)
// and run by its ID with --net=none. The commands timed are
//
//	acirun    acirun run --net=none ID            (the pod a transient unit)
//	systemd   systemd-run --wait --pipe -q /bin/true
//	no-unit   acirun run --no-unit --net=none ID  (in-process, for context)
//	true      /bin/true                           (the fork+exec floor)
//
// The timing itself runs inside the box (this program re-executed there),
// so that entering the box is not part of any figure. Every round runs each
// command once, in an order shuffled per round, so that the load of a shared
// machine hits all of them alike; the first $WARMUP rounds (default 3) are
// not counted, then $RUNS rounds (default 30) are. Each command's standard
// input, output and error are /dev/null. Afterwards the pod directories
// prove which runs were units: every `acirun` run must have recorded its
// unit, no `no-unit` run may have.
//
// It prints each command's median with its interquartile range and the
// ratio of the medians, `acirun` over `systemd`, against the target
// (at most 2.5, aiming at 1.5). Exit status 0 on PASS, 1 on FAIL, 2 on usage
// errors, 254 if the benchmark could not run.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/stage0/fetchcontract"
	"github.com/acirun/acirun/tests/box"
)

// The target for acirun over systemd-run, and what it aims at.
const (
	maxRatio = 2.5
	aimRatio = 1.5
)

// measureArg marks the re-execution inside the box that times the commands.
const measureArg = "-measure-in-box"

// A command is one of those timed.
type command struct {
	Name  string // its key in the timer's output
	Label string // how it is shown
	Argv  []string
}

// plan is what the host side tells the timer in the box.
type plan struct {
	Commands []command // in the order they are reported
	Warmup   int
	Runs     int
}

func main() {
	box.Reexec()
	if len(os.Args) == 3 && os.Args[1] == measureArg {
		if err := measure(os.Args[2], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "unitstart (in the box):", err)
			os.Exit(254)
		}
		return
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: unitstart BIN ACI")
		os.Exit(2)
	}
	pass, err := run(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "unitstart:", err)
		os.Exit(254)
	}
	if !pass {
		os.Exit(1)
	}
}

// envInt reads a positive count from the environment.
func envInt(name string, def int) (int, error) {
	s := os.Getenv(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a positive number", name, s)
	}
	return n, nil
}

// run boots a box, has the timer measure the commands in it, and prints
// the figures; it reports whether the target is met.
func run(bin, aci string) (bool, error) {
	runs, err := envInt("RUNS", 30)
	if err != nil {
		return false, err
	}
	warmup, err := envInt("WARMUP", 3)
	if err != nil {
		return false, err
	}
	self, err := os.Executable()
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(runs+warmup)*time.Minute+box.BootTimeout)
	defer cancel()
	bootCtx, bootCancel := context.WithTimeout(ctx, box.BootTimeout)
	b, err := box.New(bootCtx, box.Options{})
	bootCancel()
	if err != nil {
		return false, err
	}
	defer func() {
		if err := b.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "unitstart:", err)
		}
	}()

	// The box's directory is bound at the same path inside it, on a real
	// file system (the data directory cannot lie on the box's overlay root).
	dir := b.Dir()
	// acirun-fetch (the image's fetch below), acirun-stage1 and acirun-pod
	// go beside acirun, where acirun finds them.
	files := map[string]string{bin: "acirun", aci: "image.aci", self: "unitstart"}
	for _, name := range []string{fetchcontract.Executable, podcontract.Stage1Executable, podcontract.PodExecutable} {
		files[filepath.Join(filepath.Dir(bin), name)] = name
	}
	for src, dst := range files {
		if err := copyFile(src, filepath.Join(dir, dst)); err != nil {
			return false, err
		}
	}
	acirun := []string{filepath.Join(dir, "acirun"), "--dir=" + filepath.Join(dir, "data"),
		"--local-config=" + filepath.Join(dir, "etc"), "--system-config=" + filepath.Join(dir, "usr")}
	out, err := b.Output(ctx, append(slices.Clone(acirun), "fetch", "--insecure-options=image", "--full", filepath.Join(dir, "image.aci"))...)
	if err != nil {
		return false, fmt.Errorf("fetch the image in the box: %w", err)
	}
	id := strings.TrimSpace(string(out))

	p := plan{
		Commands: []command{
			{"acirun", "acirun run --net=none ID (transient unit)", append(slices.Clone(acirun), "run", "--net=none", id)},
			{"systemd", "systemd-run --wait --pipe -q /bin/true", []string{"systemd-run", "--wait", "--pipe", "-q", "/bin/true"}},
			{"no-unit", "acirun run --no-unit --net=none ID", append(slices.Clone(acirun), "run", "--no-unit", "--net=none", id)},
			{"true", "/bin/true", []string{"/bin/true"}},
		},
		Warmup: warmup,
		Runs:   runs,
	}
	js, err := json.Marshal(p)
	if err != nil {
		return false, err
	}
	out, err = b.Output(ctx, filepath.Join(dir, "unitstart"), measureArg, string(js))
	if err != nil {
		return false, err
	}
	var samples map[string][]time.Duration
	if err := json.Unmarshal(out, &samples); err != nil {
		return false, fmt.Errorf("the timer's output %q: %w", out, err)
	}
	if err := checkUnits(filepath.Join(dir, "data"), runs+warmup); err != nil {
		return false, err
	}
	if _, err := b.Output(ctx, append(slices.Clone(acirun), "gc", "--grace-period=0s")...); err != nil {
		return false, err
	}

	fmt.Printf("in a box booted in %v; median of %d rounds after %d warm-ups, each round in shuffled order, timed inside the box\n",
		b.BootTime().Round(time.Millisecond), runs, warmup)
	med := map[string]float64{}
	for _, c := range p.Commands {
		m, q1, q3 := quartiles(samples[c.Name])
		med[c.Name] = m
		fmt.Printf("%-44s %7.1f ms  (IQR %.1f-%.1f)\n", c.Label, m, q1, q3)
	}
	if err := record(os.Getenv("BENCH_RECORD"), p.Commands, samples); err != nil {
		return false, err
	}
	r := med["acirun"] / med["systemd"]
	verdict := "PASS"
	if r > maxRatio {
		verdict = "FAIL"
	}
	fmt.Printf("%s transient unit start: acirun run %.1f ms = %.2f x systemd-run --wait --pipe %.1f ms (target <= %.1f, aim %.1f); --no-unit %.1f ms\n",
		verdict, med["acirun"], r, med["systemd"], maxRatio, aimRatio, med["no-unit"])
	return r <= maxRatio, nil
}

// record appends the samples, in ms, and the chart's figure to make
// bench's record of the run (the file named by BENCH_RECORD, in the format
// bench/lib.sh describes), if there is one.
func record(file string, cmds []command, samples map[string][]time.Duration) error {
	if file == "" {
		return nil
	}
	var b strings.Builder
	for _, c := range cmds {
		vals := make([]string, len(samples[c.Name]))
		for i, d := range samples[c.Name] {
			vals[i] = strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
		}
		fmt.Fprintf(&b, "sample\tunit\t%s\t%s\tms\t%s\n", c.Name, c.Label, strings.Join(vals, " "))
	}
	fmt.Fprintf(&b, "figure\tunit\ttransient unit start (target <= %.1fx systemd-run)\tacirun=acirun run (a transient unit)\tsystemd=systemd-run --wait --pipe /bin/true\tno-unit=acirun run --no-unit\ttrue=/bin/true\n", maxRatio)
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("record %s: %w", file, err)
	}
	return f.Close()
}

// checkUnits makes sure the figures are what they claim: n pods recorded
// their transient unit (the `acirun` runs) and n did not (`no-unit`).
func checkUnits(data string, n int) error {
	pods, err := filepath.Glob(filepath.Join(data, podcontract.PodsDir, "*-*-*-*-*"))
	if err != nil {
		return err
	}
	var units, none int
	for _, p := range pods {
		switch _, err := os.Stat(filepath.Join(p, podcontract.UnitFile)); {
		case err == nil:
			units++
		case errors.Is(err, os.ErrNotExist):
			none++
		default:
			return err
		}
	}
	if units != n || none != n {
		return fmt.Errorf("pods in %s: %d ran as a unit and %d in-process, want %d of each", data, units, none, n)
	}
	return nil
}

// quartiles returns the median and the first and third quartiles in ms.
func quartiles(d []time.Duration) (med, q1, q3 float64) {
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) float64 { // linear interpolation between ranks
		if len(s) == 0 {
			return 0
		}
		x := q * float64(len(s)-1)
		i := int(x)
		v := float64(s[i])
		if i+1 < len(s) {
			v += (x - float64(i)) * float64(s[i+1]-s[i])
		}
		return v / float64(time.Millisecond)
	}
	return at(0.5), at(0.25), at(0.75)
}

// measure is the timer, run inside the box: warm-up and counted rounds,
// each command once per round in a shuffled order; it writes the counted
// durations as JSON (name → nanoseconds).
func measure(planJSON string, w io.Writer) error {
	var p plan
	if err := json.Unmarshal([]byte(planJSON), &p); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	samples := map[string][]time.Duration{}
	for round := 0; round < p.Warmup+p.Runs; round++ {
		for _, i := range rand.Perm(len(p.Commands)) {
			c := p.Commands[i]
			argv := c.Argv
			cmd := exec.Command(argv[0], argv[1:]...)
			start := time.Now()
			err := cmd.Run()
			d := time.Since(start)
			if err != nil {
				return fmt.Errorf("round %d: %s: %w", round, strings.Join(argv, " "), err)
			}
			if round >= p.Warmup {
				samples[c.Name] = append(samples[c.Name], d)
			}
		}
	}
	return json.NewEncoder(w).Encode(samples)
}

// copyFile copies src to dst with src's permissions.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return out.Close()
}
