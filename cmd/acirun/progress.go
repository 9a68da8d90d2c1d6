package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/acirun/acirun/stage0/fetch"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// terminalProgress returns the fetch.Progress that draws a bar per
// transfer on w, or nil when w is not a terminal: a pipe or a log file
// gets no bar.
func terminalProgress(w io.Writer) fetch.Progress {
	if !isTerminal(w) {
		return nil
	}
	return func(label string, total, resumed int64) fetch.Transfer {
		return &bar{w: w, label: label, total: total, base: resumed, done: resumed, start: time.Now()}
	}
}

// bar draws a one-line progress bar: label, bytes done and total, rate and
// ETA.
type bar struct {
	w     io.Writer
	label string
	total int64 // -1 if unknown
	base  int64 // bytes that were already there (resumed), not counted in the rate
	start time.Time

	mu       sync.Mutex
	done     int64
	lastDraw time.Time
}

// drawInterval keeps the bar from costing more than the download.
const drawInterval = 200 * time.Millisecond

// Add implements fetch.Transfer.
func (b *bar) Add(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += int64(n)
	if now := time.Now(); now.Sub(b.lastDraw) >= drawInterval {
		b.lastDraw = now
		fmt.Fprint(b.w, "\r"+formatProgress(b.label, b.done, b.total, b.done-b.base, now.Sub(b.start))+"\x1b[K")
	}
}

// Done implements fetch.Transfer: it draws the final state and ends the
// line.
func (b *bar) Done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprint(b.w, "\r"+formatProgress(b.label, b.done, b.total, b.done-b.base, time.Since(b.start))+"\x1b[K\n")
}

// formatProgress renders the bar text: what, how much of how much, the rate
// of the bytes moved in this session and the time left at that rate.
func formatProgress(label string, done, total, moved int64, elapsed time.Duration) string {
	s := "Downloading " + label + ": " + formatSize(done, " ")
	if total >= 0 {
		pct := int64(100)
		if total > 0 {
			pct = done * 100 / total
		}
		s += fmt.Sprintf(" / %s (%d%%)", formatSize(total, " "), pct)
	}
	if elapsed <= 0 {
		return s
	}
	rate := float64(moved) / elapsed.Seconds()
	s += fmt.Sprintf("  %s/s", formatSize(int64(rate), " "))
	if total >= 0 && rate > 0 && done < total {
		eta := time.Duration(float64(total-done) / rate * float64(time.Second))
		s += "  ETA " + eta.Round(time.Second).String()
	}
	return s
}

// formatSize prints a byte count in binary units, the way ls -h does, with
// sep between the number and the unit ("1.5 MiB" in the progress bar,
// "1.5MiB" in the image table).
func formatSize(n int64, sep string) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d%sB", n, sep)
	}
	v, i := float64(n), -1
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f%s%ciB", v, sep, "KMGTPE"[i])
}
