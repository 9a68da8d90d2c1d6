package fetch

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/stage0/fetch/fetchtest"
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

// drain collects what the master side receives until the slave is closed.
func drain(master *os.File) <-chan string {
	ch := make(chan string, 1)
	go func() {
		var b bytes.Buffer
		io.Copy(&b, master) // ends with EIO once the slave is closed
		ch <- b.String()
	}()
	return ch
}

func TestProgressOnTerminalOnly(t *testing.T) {
	o := newObject(3<<20, `"c1"`)
	n := fetchtest.New(t)
	n.ServeTLS(t, o, "example.com")

	run := func(progress io.Writer, quiet bool, label string) {
		t.Helper()
		opts := baseOptions(n)
		opts.Progress, opts.Quiet = progress, quiet
		f := New(opts)
		var out bytes.Buffer
		if _, err := f.Download(context.Background(), objURL, filepath.Join(t.TempDir(), "p"), &out, GetOptions{Label: label}); err != nil {
			t.Fatal(err)
		}
		r, err := f.Get(context.Background(), objURL, GetOptions{Label: label})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}

	// A terminal gets the bar, ending at 100% with a newline, once per fetch.
	master, slave := openPTY(t)
	defer master.Close()
	got := drain(master)
	run(slave, false, "image")
	slave.Close()
	var text string
	select {
	case text = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no EOF from the pty")
	}
	if strings.Count(text, "Downloading image: 3.0 MiB / 3.0 MiB (100%)") != 2 || strings.Count(text, "\n") != 2 {
		t.Errorf("terminal output %q", text)
	}

	// Quiet on a terminal, no label, a pipe, a file: nothing.
	master, slave = openPTY(t)
	defer master.Close()
	got = drain(master)
	run(slave, true, "image")
	run(slave, false, "")
	slave.Close()
	if text := <-got; text != "" {
		t.Errorf("quiet terminal got %q", text)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	run(pw, false, "image")
	pw.Close()
	if b, _ := io.ReadAll(pr); len(b) != 0 {
		t.Errorf("pipe got %q", b)
	}
	var buf bytes.Buffer
	run(&buf, false, "image")
	if buf.Len() != 0 {
		t.Errorf("buffer got %q", buf.String())
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
