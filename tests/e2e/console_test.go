package e2e

// The pod's /dev/console when acirun runs on a terminal: the terminal's own
// node when the pod's mount namespace reaches it, else /dev/null — never
// the path /dev/pts/N resolved in another devpts instance, which names a
// different terminal or none.

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPty opens a new pseudo-terminal of the devpts instance whose ptmx is
// at ptmx (a host path) and returns its master, its slave and its number.
func openPty(t *testing.T, ptmx string) (master, slave *os.File, n int) {
	t.Helper()
	master, err := os.OpenFile(ptmx, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	// TIOCGPTPEER opens the slave through the master, whatever devpts
	// instance it belongs to and wherever that is mounted.
	fd, _, errno := unix.Syscall(unix.SYS_IOCTL, master.Fd(), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		t.Fatalf("TIOCGPTPEER: %v", errno)
	}
	if n, err = unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN); err != nil {
		t.Fatal(err)
	}
	slave = os.NewFile(fd, fmt.Sprintf("pty %s %d", ptmx, n))
	t.Cleanup(func() { slave.Close() })
	return master, slave, n
}

// copyOut copies what reaches master into a buffer, until master is closed.
func copyOut(master *os.File) *lockedOutput {
	out := &lockedOutput{}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			out.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()
	return out
}

// TestConsoleOtherDevpts: acirun run (through its unit) on a pty of the
// box's own devpts gives the pod that terminal as /dev/console; on a pty of
// the host's devpts, which the box does not mount, the pod still runs, its
// output reaches the terminal through its descriptors, and its console is
// /dev/null — not the box's pty of the same number (a decoy held open
// here), and no failure to mount /dev/pts/N as before.
func TestConsoleOtherDevpts(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const mark = "through-dev-console"
	img := p.image(podImage(t, podManifest(t, "example.com/console", nil,
		"write", "/dev/console", mark+"\n", "+", "hostname"), nil))
	boxPtmx, err := p.b.Path("/dev/pts/ptmx")
	if err != nil {
		t.Fatal(err)
	}
	run := func(pts *os.File, out *lockedOutput) {
		t.Helper()
		cmd := p.b.Command(ctx, p.acirun("run", "--insecure-options=image", "--net=none", img)...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
		if err := cmd.Run(); err != nil {
			t.Fatalf("acirun run on %s: %v\n%s", pts.Name(), err, out.String())
		}
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "hostname=acirun-"); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("acirun run on %s: the pod's output did not reach the terminal:\n%s", pts.Name(), out.String())
			}
		}
	}

	// The box's own devpts: the console is the terminal.
	m, s, _ := openPty(t, boxPtmx)
	out := copyOut(m)
	run(s, out)
	if !strings.Contains(out.String(), mark) {
		t.Errorf("on a pty of the box's devpts, what the app wrote to /dev/console did not reach it:\n%s", out.String())
	}

	// The host's devpts. The box's ptys up to the host pty's number are
	// held open, so that /dev/pts/N names one of ours in the box.
	hm, hs, n := openPty(t, "/dev/ptmx")
	hout := copyOut(hm)
	var decoy *lockedOutput
	for i := 0; decoy == nil; i++ {
		dm, _, dn := openPty(t, boxPtmx)
		switch {
		case dn == n:
			decoy = copyOut(dm)
		case dn > n || i > 1024:
			t.Fatalf("the box gave pty %d before %d, the host pty's number: cannot hold its /dev/pts/%d", dn, n, n)
		}
	}
	run(hs, hout)
	if strings.Contains(hout.String(), mark) {
		t.Errorf("on a pty of the host's devpts, /dev/console reached it, want /dev/null:\n%s", hout.String())
	}
	time.Sleep(100 * time.Millisecond)
	if d := decoy.String(); d != "" {
		t.Errorf("the box's /dev/pts/%d, another terminal than acirun's, got the pod's console output: %q", n, d)
	}
}
