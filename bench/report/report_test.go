package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"slices"
	"strings"
	"testing"
)

func TestReadRecord(t *testing.T) {
	tests := []struct {
		name, record string
		err          string // a part of the error, "" for none
	}{
		{"good", "sample\tstart\tacirun\tacirun run\tms\t3 1 2\nsample\tstart\trunc\trunc run\tms\t4 6\n" +
			"figure\tstart\twarm start\tacirun=acirun run\trunc\nload\tstart\t0.5 0.4 0.3\nverdict\tstart\tPASS x\nstatus\tstart\tPASS\n", ""},
		{"unknown kind", "samples\tstart\ta\tb\tms\t1\n", `unknown kind "samples"`},
		{"too few fields", "sample\tstart\ta\tb\tms\n", "sample: 5 fields, want 6"},
		{"too many fields", "status\tstart\tPASS\textra\n", "status: 4 fields, want 3"},
		{"no script", "status\t\tPASS\n", "no script name"},
		{"not a number", "sample\tstart\ta\tb\tms\t1 x\n", `values "1 x"`},
		{"not finite", "sample\tstart\ta\tb\tms\t1 NaN\n", `values "1 NaN"`},
		{"no values", "sample\tstart\ta\tb\tms\t\n", "want numbers"},
		{"repeated sample", "sample\ts\ta\tb\tms\t1\nsample\ts\ta\tb\tms\t2\n", `sample "a" of s: empty or repeated`},
		{"figure of a missing sample", "sample\ts\ta\tb\tms\t1\nfigure\ts\tt\ta\tb\n", `figure "t" of s: no sample "b"`},
		{"bad load", "load\ts\t1 two 3\n", "load of s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := &Run{}
			err := readRecord(run, strings.NewReader(tt.record))
			if err == nil {
				err = run.check()
			}
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want one containing %q", err, tt.err)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{5}, 5}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// The chart is well-formed SVG with a bar per sample of each figure, the
// subject's median and each peer's ratio, and warns when the machine was loaded.
func TestDrawChart(t *testing.T) {
	run := &Run{Date: "2026-12-06T20:00:00Z", Commit: "abc1234", Machine: Machine{CPUs: 2, LoadStart: []float64{0.2, 0.1, 0.1}}}
	rec := "load\tstart\t1.5 0.5 0.5\nsample\tstart\tacirun\tacirun run\tms\t10 12 11\nsample\tstart\trunc\trunc run\tms\t20 22 24\n" +
		"sample\tstart\tfloor\tunshare\tms\t4\nfigure\tstart\twarm start <fast>\tacirun=acirun run\trunc=runc run\tfloor\n"
	if err := readRecord(run, strings.NewReader(rec)); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := drawChart(&b, run); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	dec := xml.NewDecoder(strings.NewReader(svg))
	rects := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("not well-formed XML: %v\n%s", err, svg)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	if rects != 4 { // the background and three bars
		t.Errorf("%d rects, want 4:\n%s", rects, svg)
	}
	for _, want := range []string{"warm start &lt;fast&gt; (bench/start.sh)", ">acirun run<", "11.0 ms", `22.0 ms <tspan fill="#555555">(acirun = 0.50× this)</tspan>`, ">floor<", "(acirun = 2.75× this)", "warning: load average", "unreliable"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the chart lacks %q:\n%s", want, svg)
		}
	}
}

func TestFileSystemOfRoot(t *testing.T) {
	fs := fileSystem("/")
	if fs.Type == "unknown" || fs.Source == "" || fs.Journal == "unknown" && fs.Type != "ext4" {
		t.Errorf("fileSystem(/) = %+v: want its type, source and journal mode", fs)
	}
}

// FuzzReadRecord: any record is read without a panic, and what is read
// holds its invariants: every sample has values and a median among them.
func FuzzReadRecord(f *testing.F) {
	f.Add("sample\tstart\tacirun\tacirun run\tms\t3 1 2\nfigure\tstart\tt\tacirun=x\n")
	f.Add("load\ts\t1 2 3\nverdict\ts\tPASS\nstatus\ts\tFAIL\n")
	f.Add("sample\ts\ta\tb\tms\t1e309 -0 NaN\n")
	f.Fuzz(func(t *testing.T, rec string) {
		run := &Run{}
		if err := readRecord(run, strings.NewReader(rec)); err != nil {
			return
		}
		for _, s := range run.Scripts {
			for _, x := range s.Samples {
				if len(x.Values) == 0 {
					t.Fatalf("sample %q of %s has no values", x.Name, s.Name)
				}
				if !slices.Contains(x.Values, x.Median) && len(x.Values)%2 == 1 {
					t.Fatalf("sample %q of %s: median %v not among %v", x.Name, s.Name, x.Median, x.Values)
				}
			}
		}
		if _, err := json.Marshal(run); err != nil {
			t.Fatalf("a run read without error cannot be written: %v", err)
		}
	})
}
