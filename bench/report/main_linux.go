// Command report writes a `make bench` run down: it turns the run's record
// (the facts the bench scripts and scripts/bench wrote, see bench/lib.sh)
// into one JSON file under bench/results/, named by date and commit, with
// the machine (CPU, memory, kernel, the file system and its journal mode,
// load averages), each peer's version, every sample of every command and
// the verdicts; and it draws the run's chart beside it, an SVG of acirun's
// figures beside its peers' with the ratios (see drawChart). Only Go's
// standard library and our internal/mountinfo (the one mountinfo reader):
// the bench needs no dependency of its own.
//
// Usage:
//
//	report run -record FILE -dir BENCH_DIR -bin ACIRUN -commit COMMIT -load "L1 L5 L15" -out DIR
//	report chart RUN.json OUT.svg   (draws the chart of a run written before)
//
// run prints the paths it wrote. Exit status 0, 1 on a bad record or a
// failed write, 2 on usage errors.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(os.Args[2:])
	case "chart":
		if len(os.Args) != 4 {
			usage()
		}
		err = chartCmd(os.Args[2], os.Args[3])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: report run -record FILE -dir BENCH_DIR -bin ACIRUN -commit COMMIT -load "L1 L5 L15" -out DIR
       report chart RUN.json OUT.svg`)
	os.Exit(2)
}

func runCmd(args []string) error {
	fl := flag.NewFlagSet("report run", flag.ExitOnError)
	record := fl.String("record", "", "the run's record (BENCH_RECORD)")
	dir := fl.String("dir", "/var/tmp/acirun-bench", "BENCH_DIR, whose file system is described")
	bin := fl.String("bin", "", "the acirun binary benchmarked")
	commit := fl.String("commit", "", "the source's commit")
	load := fl.String("load", "", "the load averages before the first script")
	out := fl.String("out", "", "the directory to write NAME.json and NAME.svg to")
	fl.Parse(args)
	if *record == "" || *bin == "" || *commit == "" || *out == "" || fl.NArg() != 0 {
		usage()
	}
	end := time.Now().UTC()
	run := &Run{
		Date:    end.Format(time.RFC3339),
		Commit:  *commit,
		Acirun:  version(*bin, "version"),
		Machine: machine(*dir),
		Peers:   peers(),
		Env:     map[string]string{},
	}
	run.Machine.LoadEnd = loadAverage()
	var err error
	if run.Machine.LoadStart, err = numbers(*load); err != nil {
		return fmt.Errorf("-load %q: %w", *load, err)
	}
	// The environment variables the bench scripts read: a run's figures
	// mean little without them.
	for _, k := range []string{"RUNS", "FORMAT_RUNS", "WARMUP", "PODS", "SECONDS_PER_RUN", "BENCH_DIR", "BENCH_STORE_DIR", "BENCH_TREE", "BENCH_TIMER"} {
		if v, ok := os.LookupEnv(k); ok {
			run.Env[k] = v
		}
	}
	f, err := os.Open(*record)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := readRecord(run, f); err != nil {
		return fmt.Errorf("%s: %w", *record, err)
	}
	if err := run.check(); err != nil {
		return fmt.Errorf("%s: %w", *record, err)
	}
	base := filepath.Join(*out, end.Format("2006-01-02T1504Z")+"-"+strings.ReplaceAll(*commit, "/", "_"))
	js, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := writeChart(base+".svg", run); err != nil {
		return err
	}
	fmt.Println(base + ".json")
	fmt.Println(base + ".svg")
	return nil
}

func chartCmd(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var run Run
	if err := json.Unmarshal(b, &run); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return writeChart(out, &run)
}

// writeChart draws run's chart into the file out.
func writeChart(out string, run *Run) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := drawChart(f, run); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	return f.Close()
}
