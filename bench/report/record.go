package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Run is one `make bench` run as written to bench/results/: where it ran,
// against which peers, every sample of every command, and the verdicts.
type Run struct {
	Date    string            `json:"date"`   // RFC 3339, UTC, when the run ended
	Commit  string            `json:"commit"` // the source's commit, "-dirty" if changed
	Acirun  string            `json:"acirun"` // `acirun version`'s first line
	Machine Machine           `json:"machine"`
	Peers   map[string]string `json:"peers"` // program → its version line
	Env     map[string]string `json:"env"`   // the bench's knobs as set (RUNS, …)
	Scripts []*Script         `json:"scripts"`
}

// Machine is what the figures depend on besides acirun.
type Machine struct {
	CPUModel  string     `json:"cpu_model"`
	CPUs      int        `json:"cpus"`
	MemoryMB  int        `json:"memory_mb"`
	Kernel    string     `json:"kernel"`
	FS        FileSystem `json:"fs"`         // that of BENCH_DIR, where the stores go
	LoadStart []float64  `json:"load_start"` // 1, 5 and 15 minute load averages
	LoadEnd   []float64  `json:"load_end"`
}

// FileSystem describes the file system the benchmarks write to.
type FileSystem struct {
	Dir     string `json:"dir"`
	Type    string `json:"type"`
	Source  string `json:"source"`
	Options string `json:"options"`
	// Journal is "none" for ext4 without one (every import figure depends
	// on it: see bench/import.sh), else the journal's data mode, or
	// "unknown" where that cannot be told.
	Journal string `json:"journal"`
}

// Script is one bench script's part of the run.
type Script struct {
	Name       string    `json:"name"`        // bench/NAME.sh
	Status     string    `json:"status"`      // PASS, FAIL, or "could not run (exit N)"
	LoadBefore []float64 `json:"load_before"` // load averages as it started
	Verdicts   []string  `json:"verdicts"`    // its PASS and FAIL lines
	Samples    []*Sample `json:"samples"`
	Figures    []*Figure `json:"figures"`
}

// Sample is every counted run of one command.
type Sample struct {
	Name   string    `json:"name"`  // the script's name for it
	Label  string    `json:"label"` // the command line, or what it does
	Unit   string    `json:"unit"`  // ms, s, req/s, …
	Values []float64 `json:"values"`
	Median float64   `json:"median"`
}

// Figure is a row of the chart: a subject (acirun, mostly) beside its peers.
type Figure struct {
	Title   string            `json:"title"`
	Subject string            `json:"subject"` // a sample name of the same script
	Peers   []string          `json:"peers"`
	Shown   map[string]string `json:"shown,omitempty"` // name → how the chart labels it
}

// newFigure reads a figure's entries, each a sample name or NAME=SHOWN.
func newFigure(title string, entries []string) *Figure {
	f := &Figure{Title: title}
	for i, e := range entries {
		name, shown, ok := strings.Cut(e, "=")
		if ok {
			if f.Shown == nil {
				f.Shown = map[string]string{}
			}
			f.Shown[name] = shown
		}
		if i == 0 {
			f.Subject = name
		} else {
			f.Peers = append(f.Peers, name)
		}
	}
	return f
}

// shown is how the chart labels a sample of the figure.
func (f *Figure) shown(name string) string {
	if s, ok := f.Shown[name]; ok {
		return s
	}
	return name
}

// script returns the named script's entry, adding it if new.
func (r *Run) script(name string) *Script {
	for _, s := range r.Scripts {
		if s.Name == name {
			return s
		}
	}
	s := &Script{Name: name}
	r.Scripts = append(r.Scripts, s)
	return s
}

// sample returns the script's sample of that name, or nil.
func (s *Script) sample(name string) *Sample {
	for _, x := range s.Samples {
		if x.Name == name {
			return x
		}
	}
	return nil
}

// readRecord adds the facts of a record (see bench/lib.sh: one a line, tab
// separated, the kind first) to r. Kinds: sample, figure (written by the
// scripts), and load, verdict, status (written by scripts/bench).
func readRecord(r *Run, in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		if sc.Text() == "" {
			continue
		}
		if err := readFact(r, strings.Split(sc.Text(), "\t")); err != nil {
			return fmt.Errorf("record line %d: %w", n, err)
		}
	}
	return sc.Err()
}

func readFact(r *Run, f []string) error {
	want := map[string]int{"sample": 6, "figure": 5, "load": 3, "verdict": 3, "status": 3}
	nf, ok := want[f[0]]
	if !ok {
		return fmt.Errorf("unknown kind %q (want sample, figure, load, verdict or status)", f[0])
	}
	if len(f) < nf || (f[0] != "figure" && len(f) != nf) {
		return fmt.Errorf("%s: %d fields, want %d", f[0], len(f), nf)
	}
	if f[1] == "" {
		return fmt.Errorf("%s: no script name", f[0])
	}
	s := r.script(f[1])
	switch f[0] {
	case "sample":
		if f[2] == "" || s.sample(f[2]) != nil {
			return fmt.Errorf("sample %q of %s: empty or repeated name", f[2], f[1])
		}
		vals, err := numbers(f[5])
		if err != nil || len(vals) == 0 {
			return fmt.Errorf("sample %q of %s: values %q: want numbers", f[2], f[1], f[5])
		}
		s.Samples = append(s.Samples, &Sample{Name: f[2], Label: f[3], Unit: f[4], Values: vals, Median: median(vals)})
	case "figure":
		s.Figures = append(s.Figures, newFigure(f[2], f[3:]))
	case "load":
		vals, err := numbers(f[2])
		if err != nil {
			return fmt.Errorf("load of %s: %w", f[1], err)
		}
		s.LoadBefore = vals
	case "verdict":
		s.Verdicts = append(s.Verdicts, f[2])
	case "status":
		s.Status = f[2]
	}
	return nil
}

// numbers parses space-separated decimal numbers, finite ones only (JSON
// has no NaN or infinity).
func numbers(s string) ([]float64, error) {
	var out []float64
	for _, w := range strings.Fields(s) {
		v, err := strconv.ParseFloat(w, 64)
		if err != nil {
			return nil, err
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%q is not a finite number", w)
		}
		out = append(out, v)
	}
	return out, nil
}

// median of vals (the mean of the middle two for an even count), as
// bench/lib.sh's median computes it.
func median(vals []float64) float64 {
	if len(vals) == 0 {
		return 0
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// check makes sure every figure names samples its script recorded, so that
// a renamed command is an error at the end of a run, not a hole in the chart.
func (r *Run) check() error {
	for _, s := range r.Scripts {
		for _, f := range s.Figures {
			for _, name := range append([]string{f.Subject}, f.Peers...) {
				if s.sample(name) == nil {
					return fmt.Errorf("figure %q of %s: no sample %q", f.Title, s.Name, name)
				}
			}
		}
	}
	return nil
}
