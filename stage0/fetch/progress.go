package fetch

import (
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal, the only place a progress bar
// is drawn.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress draws a one-line bar: label, bytes done and total, rate and ETA.
type progress struct {
	w     io.Writer
	label string
	total int64 // -1 if unknown
	base  int64 // bytes that were already there (resumed), not counted in the rate
	start time.Time

	mu       sync.Mutex
	done     int64
	lastDraw time.Time
	finished bool
}

// drawInterval keeps the bar from costing more than the download.
const drawInterval = 200 * time.Millisecond

// newProgress returns a bar for label, or nil if none is to be drawn.
func (f *Fetcher) newProgress(label string, total, base int64) *progress {
	if label == "" || f.opts.Quiet || f.opts.Progress == nil || !isTerminal(f.opts.Progress) {
		return nil
	}
	return &progress{w: f.opts.Progress, label: label, total: total, base: base, done: base, start: time.Now()}
}

func (p *progress) add(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += int64(n)
	if now := time.Now(); now.Sub(p.lastDraw) >= drawInterval {
		p.lastDraw = now
		fmt.Fprint(p.w, "\r"+formatProgress(p.label, p.done, p.total, p.done-p.base, now.Sub(p.start))+"\x1b[K")
	}
}

// finish draws the final state and ends the line.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.finished = true
	fmt.Fprint(p.w, "\r"+formatProgress(p.label, p.done, p.total, p.done-p.base, time.Since(p.start))+"\x1b[K\n")
}

// formatProgress renders the bar text: what, how much of how much, the rate
// of the bytes moved in this session and the time left at that rate.
func formatProgress(label string, done, total, moved int64, elapsed time.Duration) string {
	s := "Downloading " + label + ": " + formatBytes(done)
	if total >= 0 {
		pct := int64(100)
		if total > 0 {
			pct = done * 100 / total
		}
		s += fmt.Sprintf(" / %s (%d%%)", formatBytes(total), pct)
	}
	if elapsed <= 0 {
		return s
	}
	rate := float64(moved) / elapsed.Seconds()
	s += fmt.Sprintf("  %s/s", formatBytes(int64(rate)))
	if total >= 0 && rate > 0 && done < total {
		eta := time.Duration(float64(total-done) / rate * float64(time.Second))
		s += "  ETA " + eta.Round(time.Second).String()
	}
	return s
}

func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[i])
}

// progressReader counts what is read through it and ends the bar at EOF or
// Close.
type progressReader struct {
	rc io.ReadCloser
	p  *progress
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.rc.Read(b)
	r.p.add(n)
	if err == io.EOF {
		r.p.finish()
	}
	return n, err
}

func (r *progressReader) Close() error {
	r.p.finish()
	return r.rc.Close()
}
