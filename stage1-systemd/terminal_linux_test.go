package stage1

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// hostPrograms copies host programs into rootfs at the same paths, with
// the shared libraries and the loader they need, so that a test pod can
// run a real shell.
func hostPrograms(t testing.TB, rootfs string, progs ...string) {
	t.Helper()
	libDirs := []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/lib", "/usr/lib"}
	seen := map[string]bool{}
	var copyOne func(p string)
	copyOne = func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		real, err := filepath.EvalSymlinks(p)
		must(t, err)
		must(t, os.MkdirAll(filepath.Join(rootfs, filepath.Dir(p)), 0o755))
		copyFileT(t, real, filepath.Join(rootfs, p), 0o755)
		f, err := elf.Open(real)
		must(t, err)
		defer f.Close()
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				b := make([]byte, prog.Filesz)
				_, err := prog.ReadAt(b, 0)
				must(t, err)
				copyOne(strings.TrimRight(string(b), "\x00"))
			}
		}
		libs, err := f.ImportedLibraries()
		must(t, err)
		for _, l := range libs {
			found := false
			for _, d := range libDirs {
				if _, err := os.Stat(filepath.Join(d, l)); err == nil {
					copyOne(filepath.Join(d, l))
					found = true
					break
				}
			}
			if !found {
				t.Fatalf("%s needs %s, found in none of %s", p, l, libDirs)
			}
		}
	}
	for _, p := range progs {
		copyOne(p)
	}
}

// openPTY returns a new pseudo-terminal pair of the host's /dev/pts: the
// terminal a user would run acirun from (the peer) and its other end,
// non-blocking so that reads of it take deadlines.
func openPTY(t *testing.T) (master, peer *os.File) {
	t.Helper()
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	must(t, err)
	must(t, unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0))
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(m), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		t.Fatalf("TIOCGPTPEER: %v", errno)
	}
	master, peer = os.NewFile(uintptr(m), "ptmx"), os.NewFile(r, "pts")
	t.Cleanup(func() { master.Close(); peer.Close() })
	return master, peer
}

// readUntil reads from f into out until it holds want or timeout passes.
func readUntil(f *os.File, out *bytes.Buffer, want string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	b := make([]byte, 4096)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			return false
		}
		_ = f.SetReadDeadline(deadline)
		n, err := f.Read(b)
		out.Write(b[:n])
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return strings.Contains(out.String(), want)
		}
	}
	return true
}

// TestPodInteractiveTerminal: run from a terminal with --interactive, the
// app is a shell with a terminal of its own pod as its controlling
// terminal: what is typed reaches it, tty names its terminal, job control
// is on, its exit code is the pod's, and the terminal acirun ran from is
// raw while the pod runs and as it was afterwards. The app holds no
// descriptor but its terminal's. The same in a --private-users pod, whose
// app PID 1 forks into a user namespace of its own (the terminal is the
// app's user's on the host's side: the range's first ID).
//
// With a socket-activated port, the app is started by the app launcher
// (launchHereRefused), which takes the terminal itself (takeTerminal): in a
// --private-users pod, from inside the app's user namespace.
func TestPodInteractiveTerminal(t *testing.T) {
	const activated = `{"name":"www","protocol":"tcp","port":8080,"socketActivated":true}`
	for _, c := range []struct {
		name  string
		flags []string
		ports []string
	}{
		{"plain", nil, nil},
		{"private-users", []string{"--private-users=3200000:65536"}, nil},
		{"launcher", []string{"--net=none"}, []string{activated}},
		{"private-users-launcher", []string{"--net=none", "--private-users=3200000:65536"}, []string{activated}},
	} {
		t.Run(c.name, func(t *testing.T) { testPodInteractiveTerminal(t, c.flags, c.ports) })
	}
}

func testPodInteractiveTerminal(t *testing.T, flags, ports []string) {
	p := newPod(t, []testApp{{name: "sh", exec: []string{"/bin/sh", "-i"}, ports: ports, rootfs: func(t testing.TB, dir string) {
		hostPrograms(t, dir, "/bin/sh", "/usr/bin/tty")
	}}}, nil)
	master, peer := openPTY(t)
	before, err := unix.IoctlGetTermios(int(master.Fd()), unix.TCGETS)
	must(t, err)
	cmd := p.command(append([]string{"--interactive"}, flags...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = peer, peer, peer
	// As from a login shell: a session whose controlling terminal it is.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	must(t, cmd.Start())
	peer.Close()

	var out bytes.Buffer
	if !readUntil(master, &out, "# ", 20*time.Second) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("no shell prompt; output:\n%s", out.String())
	}
	raw, err := unix.IoctlGetTermios(int(master.Fd()), unix.TCGETS)
	must(t, err)
	if raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
		t.Errorf("the terminal is not raw while the pod runs: lflag %#x", raw.Lflag)
	}
	_, err = master.Write([]byte("echo hi; tty; case $- in *m*) echo jobcontrol;; esac; /probe fds stat:/dev/pts/0; exit 3\n"))
	must(t, err)
	readUntil(master, &out, "\x00never", 20*time.Second) // to the end: EIO
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("stage1 run: %v, want exit code 3", err)
	}
	got := strings.ReplaceAll(out.String(), "\r\n", "\n")
	t.Logf("terminal:\n%s", got)
	// The app's user's, in the tty group as the pod numbers it.
	for _, want := range []string{"\nhi\n", "\n/dev/pts/0\n", "\njobcontrol\n", "\nstat /dev/pts/0 Dcrw--w---- owner 0:5\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("terminal output lacks %q", want)
		}
	}
	// The probe, a child of the shell, inherits what the shell has (its
	// own descriptor of /proc/self/fd is gone when it reads the links).
	for _, l := range strings.Split(got, "\n") {
		if !strings.HasPrefix(l, "fds ") {
			continue
		}
		for _, fd := range strings.Fields(l)[1:] {
			n, target, _ := strings.Cut(fd, "=")
			if n == "3" && len(ports) > 0 && strings.HasPrefix(target, "socket:") {
				continue // the socket-activated port
			}
			if target != "/dev/pts/0" && target != "" {
				t.Errorf("the app holds fd %s -> %s", n, target)
			}
		}
	}
	after, err := unix.IoctlGetTermios(int(master.Fd()), unix.TCGETS)
	must(t, err)
	if *after != *before {
		t.Errorf("the terminal is not restored: %+v, was %+v", after, before)
	}
}

// TestPodInteractiveStdin: with --interactive and no terminal, the app
// reads stage1 run's standard input; without it, /dev/null.
func TestPodInteractiveStdin(t *testing.T) {
	for _, interactive := range []bool{true, false} {
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "cat:/dev/stdin", "fds"}}}, nil)
		var flags []string
		if interactive {
			flags = append(flags, "--interactive")
		}
		cmd := p.command(flags...)
		cmd.Stdin = strings.NewReader("typed line\n")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		r := p.result(t, cmd, cmd.Run(), &out, &errb)
		if interactive {
			r.has(t, "cat /dev/stdin\ntyped line\n")
		} else {
			r.has(t, "cat /dev/stdin\n\n", "fds 0=/dev/null ")
			r.lacks(t, "typed line")
		}
	}
	// One terminal, one app.
	p := newPod(t, []testApp{{name: "a", exec: []string{"/probe"}}, {name: "b", exec: []string{"/probe"}}}, nil)
	r := p.run(t, "--interactive")
	if r.code != ExitCodeFailure || !strings.Contains(r.stderr, "--interactive gives the terminal to one app, and the pod has 2") {
		t.Errorf("--interactive with two apps: exit %d, %s", r.code, r.stderr)
	}
}
