package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns the master and the slave side of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	fd, _, errno := unix.Syscall(unix.SYS_IOCTL, m.Fd(), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY))
	if errno != 0 {
		t.Fatalf("TIOCGPTPEER: %v", errno)
	}
	return m, os.NewFile(fd, "pty-slave")
}

func TestProgressOnTerminalOnly(t *testing.T) {
	// A terminal gets the bar, ending at 100% with a newline.
	master, slave := openPTY(t)
	defer master.Close()
	got := make(chan string, 1)
	go func() {
		var b bytes.Buffer
		io.Copy(&b, master) // ends with EIO once the slave is closed
		got <- b.String()
	}()
	p := terminalProgress(slave)
	if p == nil {
		t.Fatal("no progress for a terminal")
	}
	tr := p("image", 3<<20, 0)
	tr.Add(1 << 20)
	tr.Add(2 << 20)
	tr.Done()
	slave.Close()
	var text string
	select {
	case text = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no EOF from the pty")
	}
	if !strings.Contains(text, "Downloading image: 3.0 MiB / 3.0 MiB (100%)") || strings.Count(text, "\n") != 1 {
		t.Errorf("terminal output %q", text)
	}

	// A pipe, a file, a buffer: no bar at all.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	f, err := os.Create(t.TempDir() + "/log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, w := range []io.Writer{pw, f, &bytes.Buffer{}} {
		if terminalProgress(w) != nil {
			t.Errorf("progress drawn on %T", w)
		}
	}
}

func TestFormatProgress(t *testing.T) {
	for _, tc := range []struct {
		done, total, moved int64
		elapsed            time.Duration
		want               string
	}{
		{0, 1000, 0, 0, "Downloading image: 0 B / 1000 B (0%)"},
		{512, 1024, 512, time.Second, "Downloading image: 512 B / 1.0 KiB (50%)  512 B/s  ETA 1s"},
		{10 << 20, 40 << 20, 10 << 20, 5 * time.Second, "Downloading image: 10.0 MiB / 40.0 MiB (25%)  2.0 MiB/s  ETA 15s"},
		// Resumed: the rate counts only what moved in this session.
		{30 << 20, 40 << 20, 10 << 20, 5 * time.Second, "Downloading image: 30.0 MiB / 40.0 MiB (75%)  2.0 MiB/s  ETA 5s"},
		{3 << 30, -1, 3 << 30, 3 * time.Second, "Downloading image: 3.0 GiB  1.0 GiB/s"},
		{40, 40, 40, time.Second, "Downloading image: 40 B / 40 B (100%)  40 B/s"},
		{0, 0, 0, time.Second, "Downloading image: 0 B / 0 B (100%)  0 B/s"},
	} {
		if got := formatProgress("image", tc.done, tc.total, tc.moved, tc.elapsed); got != tc.want {
			t.Errorf("formatProgress(%d, %d, %d, %v) = %q, want %q", tc.done, tc.total, tc.moved, tc.elapsed, got, tc.want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for _, tc := range []struct {
		n         int64
		sep, want string
	}{
		{0, "", "0B"},
		{1023, " ", "1023 B"},
		{1024, "", "1.0KiB"},
		{1536, " ", "1.5 KiB"},
		{5 << 30, "", "5.0GiB"},
		{1 << 62, " ", "4.0 EiB"},
	} {
		if got := formatSize(tc.n, tc.sep); got != tc.want {
			t.Errorf("formatSize(%d, %q) = %q, want %q", tc.n, tc.sep, got, tc.want)
		}
	}
}
