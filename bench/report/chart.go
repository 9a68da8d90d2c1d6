package main

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// Chart geometry, in SVG user units (pixels).
const (
	chartWidth = 960
	labelWidth = 300 // the command names, left of the bars
	barMax     = 380 // the longest bar of a figure
	rowHeight  = 22
	barHeight  = 15
	titleSkip  = 26
)

// drawChart writes run's figures as an SVG bar chart: a block per figure,
// the subject's bar (acirun's, blue) first and each peer's (grey) below it,
// each labelled with its median, and each peer's with the subject's ratio
// to it ("acirun = 0.45× this"). Bars of a figure share one scale; figures do not (a start takes
// milliseconds, an import seconds). The heading says where the figures
// come from, and warns when the machine was loaded.
func drawChart(w io.Writer, run *Run) error {
	type row struct {
		label, value, ratio string
		v, top              float64
		subject             bool
	}
	type block struct {
		title string
		rows  []row
	}
	var blocks []block
	for _, s := range run.Scripts {
		for _, f := range s.Figures {
			subj := s.sample(f.Subject)
			if subj == nil {
				continue
			}
			b := block{title: fmt.Sprintf("%s (bench/%s.sh)", f.Title, s.Name)}
			top := subj.Median
			for _, p := range f.Peers {
				if x := s.sample(p); x != nil && x.Median > top {
					top = x.Median
				}
			}
			b.rows = append(b.rows, row{label: f.shown(f.Subject), value: value(subj), v: subj.Median, top: top, subject: true})
			for _, p := range f.Peers {
				x := s.sample(p)
				if x == nil {
					continue
				}
				r := row{label: f.shown(p), value: value(x), v: x.Median, top: top}
				if x.Median > 0 {
					r.ratio = fmt.Sprintf("%s = %.2f× this", f.Subject, subj.Median/x.Median)
				}
				b.rows = append(b.rows, r)
			}
			blocks = append(blocks, b)
		}
	}

	head := heading(run)
	height := 20 + len(head)*18 + 10 + 8 // and a margin below
	for _, b := range blocks {
		height += titleSkip + len(b.rows)*rowHeight
	}
	var sb strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&sb, format, a...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="13">`+"\n",
		chartWidth, height, chartWidth, height)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	y := 20
	for i, h := range head {
		attr := ""
		if i == 0 {
			attr = ` font-weight="bold" font-size="15"`
		}
		if strings.HasPrefix(h, "warning") {
			attr = ` fill="#b00000"`
		}
		p(`<text x="10" y="%d"%s>%s</text>`+"\n", y, attr, esc(h))
		y += 18
	}
	y += 10
	for _, b := range blocks {
		y += titleSkip - 8
		p(`<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y, esc(b.title))
		y += 8
		for _, r := range b.rows {
			wd := 0.0
			if r.top > 0 {
				wd = r.v / r.top * barMax
			}
			fill := "#9e9e9e"
			if r.subject {
				fill = "#1f5fa8"
			}
			p(`<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelWidth-8, y+barHeight-3, esc(r.label))
			p(`<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", labelWidth, y, wd, barHeight, fill)
			ratio := ""
			if r.ratio != "" {
				ratio = fmt.Sprintf(` <tspan fill="#555555">(%s)</tspan>`, esc(r.ratio))
			}
			p(`<text x="%.1f" y="%d">%s%s</text>`+"\n", float64(labelWidth)+wd+6, y+barHeight-3, esc(r.value), ratio)
			y += rowHeight
		}
	}
	p("</svg>\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

// heading is the chart's first lines: what, where, when, and how loaded.
func heading(run *Run) []string {
	m := run.Machine
	h := []string{
		fmt.Sprintf("acirun make bench, %s, commit %s", run.Date, run.Commit),
		"medians of alternated runs; beside each peer, the first bar's median over that peer's",
		fmt.Sprintf("%s, %d CPUs, %d MB, Linux %s; benchmarks on %s (journal: %s)", m.CPUModel, m.CPUs, m.MemoryMB, m.Kernel, m.FS.Type, m.FS.Journal),
	}
	load := fmt.Sprintf("load average at the start %s, at the end %s", loads(m.LoadStart), loads(m.LoadEnd))
	if loaded(run) {
		h = append(h, "warning: "+load+": a loaded machine, the figures are unreliable")
	} else {
		h = append(h, load)
	}
	return h
}

// loaded reports whether the load average (1 minute) was above half the
// CPUs before any script, as bench/lib.sh's warn_if_loaded 2 would warn.
func loaded(run *Run) bool {
	half := float64(run.Machine.CPUs) / 2
	if l := run.Machine.LoadStart; len(l) > 0 && l[0] > half {
		return true
	}
	for _, s := range run.Scripts {
		if len(s.LoadBefore) > 0 && s.LoadBefore[0] > half {
			return true
		}
	}
	return false
}

func loads(v []float64) string {
	if len(v) == 0 {
		return "unknown"
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(s, " ")
}

// value is a sample's median with its unit, to a sensible precision.
func value(s *Sample) string {
	switch {
	case s.Median >= 100:
		return fmt.Sprintf("%.0f %s", s.Median, s.Unit)
	case s.Median >= 10:
		return fmt.Sprintf("%.1f %s", s.Median, s.Unit)
	default:
		return fmt.Sprintf("%.3g %s", s.Median, s.Unit)
	}
}

func esc(s string) string { return html.EscapeString(s) }
