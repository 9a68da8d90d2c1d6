package e2e

// `acirun run --interactive` through its transient unit: acirun's terminal
// is handed to the unit, whose stage1 relays it to the pod's own
// pseudo-terminal in raw mode; the terminal's settings are back as they
// were when acirun returns, even when stage1 was killed.

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/tests/testimage"
)

// readPty copies what the pty's master reads until it fails.
func readPty(ptm *os.File) *lockedOutput {
	out := &lockedOutput{}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := ptm.Read(b)
			out.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()
	return out
}

// waitOutput waits for out to match re.
func waitOutput(t *testing.T, out *lockedOutput, re *regexp.Regexp, what string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !re.MatchString(out.String()); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not reach the terminal in 30s:\n%q", what, out.String())
		}
	}
}

func termios(t *testing.T, f *os.File) unix.Termios {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatalf("TCGETS %s: %v", f.Name(), err)
	}
	return *tio
}

// TestTransientInteractive: a shell typed at through acirun's terminal
// (a pty of the box) and the unit: its output, its own terminal (a
// /dev/pts/N of the pod), its exit code; the terminal raw while the shell
// runs and restored afterwards. Then stage1 is killed with SIGKILL during
// the session: acirun returns 137 and the terminal is restored all the
// same (by acirun, which holds it throughout).
func TestTransientInteractive(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The host's dash as /bin/sh and its tty (which needs no library
	// dash does not).
	files := hostShell(t)
	files["/bin/tty"] = "/usr/bin/tty"
	img := p.image(podImage(t, podManifest(t, "example.com/interactive", nil, "sleep", "1h"), &testimage.Options{Copies: files}))
	start := func(name string) (ptm, pts *os.File, out *lockedOutput, wait func() int, before unix.Termios) {
		ptm, pts = p.pty()
		before = termios(t, pts)
		if before.Lflag&unix.ICANON == 0 || before.Lflag&unix.ECHO == 0 {
			t.Fatalf("a new pty is not in canonical mode with echo: %+v", before)
		}
		marker := "--uuid-file-save=" + filepath.Join(p.dir, "uuid-"+name)
		cmd := p.b.Command(ctx, p.acirun("run", "--insecure-options=image", "--net=none", "--interactive", marker, img, "--exec", "/bin/sh")...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		out = readPty(ptm)
		wait = func() int {
			t.Helper()
			select {
			case <-done:
			case <-time.After(40 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("acirun run --interactive (%s) did not end in 40s:\n%q", name, out.String())
			}
			return cmd.ProcessState.ExitCode()
		}
		return ptm, pts, out, wait, before
	}
	prompt := regexp.MustCompile(`# $`)
	ttyName := regexp.MustCompile(`(?m)^/dev/pts/[0-9]+\r?$`)

	t.Run("shell", func(t *testing.T) {
		ptm, pts, out, wait, before := start("shell")
		waitOutput(t, out, prompt, "the shell's prompt")
		// Typed as keys: a carriage return ends the line, as Enter does.
		if _, err := ptm.WriteString("echo hi; tty; exit 3\r"); err != nil {
			t.Fatal(err)
		}
		waitOutput(t, out, ttyName, "the shell's tty")
		if code := wait(); code != 3 {
			t.Errorf("acirun run --interactive --exec /bin/sh with exit 3 typed: exit %d, want 3:\n%q", code, out.String())
		}
		if !regexp.MustCompile(`(?m)^hi\r?$`).MatchString(out.String()) {
			t.Errorf("no line hi from echo hi:\n%q", out.String())
		}
		if after := termios(t, pts); after != before {
			t.Errorf("the terminal's settings after acirun returned:\n%+v\nwant as before:\n%+v", after, before)
		}
		if u := p.units(ctx, "acirun-*.service"); len(u) != 0 {
			t.Errorf("units left: %q", u)
		}
	})

	t.Run("stage1-killed", func(t *testing.T) {
		ptm, pts, out, wait, before := start("killed")
		waitOutput(t, out, prompt, "the shell's prompt")
		if _, err := ptm.WriteString("tty\r"); err != nil {
			t.Fatal(err)
		}
		waitOutput(t, out, ttyName, "the shell's tty")
		if raw := termios(t, pts); raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
			t.Errorf("the terminal during the session is not raw (ICANON, ECHO or ISIG set): %+v", raw)
		}
		b, err := os.ReadFile(filepath.Join(p.dir, "uuid-killed"))
		if err != nil {
			t.Fatalf("the pod's UUID (--uuid-file-save): %v", err)
		}
		uuid := strings.TrimSpace(string(b))
		pid, err := os.ReadFile(filepath.Join(p.data, "pods", uuid, "pid"))
		if err != nil {
			t.Fatal(err)
		}
		// The pid is the box's: kill in the box.
		if err := p.b.Exec(ctx, "kill", "-KILL", strings.TrimSpace(string(pid))); err != nil {
			t.Fatal(err)
		}
		if code := wait(); code != 137 {
			t.Errorf("acirun run --interactive with its stage1 killed: exit %d, want 137:\n%q", code, out.String())
		}
		if after := termios(t, pts); after != before {
			t.Errorf("the terminal's settings after stage1 was killed and acirun returned:\n%+v\nwant as before:\n%+v", after, before)
		}
		if r := p.runInBox(ctx, "gc", "--grace-period=0s"); r.code != 0 || !strings.Contains(r.stdout, "removed "+uuid) {
			t.Errorf("gc after stage1 was killed: %s", r)
		}
	})
}
