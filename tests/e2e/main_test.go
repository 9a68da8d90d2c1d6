// Package e2e holds end-to-end tests of acirun as a user drives it: the real
// binary, keys and signatures made with real gpg, images made with our
// builder and with plain tar, HTTPS servers with a test CA on loopback or in
// the test box's own network namespace, and pods run in a plain root shell
// and as systemd units in a box running a real systemd (tests/box).
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/acirun/acirun/internal/testenv"
	"github.com/acirun/acirun/tests/box"
)

// env is what every test of the package shares.
type env struct {
	repo    string // repository root
	acirun  string // the binary under test, in repo/bin so the box sees it
	testapp string // the static test program
}

var (
	shared box.Shared
	e      env
)

func TestMain(m *testing.M) {
	box.Reexec()
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	if err := shared.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	_, file, _, _ := runtime.Caller(0)
	e.repo = filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	dir := filepath.Join(e.repo, "bin", "e2e")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	e.acirun = filepath.Join(dir, "acirun")
	e.testapp = filepath.Join(dir, "testapp")
	if err := testenv.BuildAcirun(e.repo, dir); err != nil {
		return 0, err
	}
	if err := testenv.GoBuild(e.repo, e.testapp, "./tests/testapp"); err != nil {
		return 0, err
	}
	if d := testenv.CoverDir(); d != "" {
		// Every acirun the tests start on the host inherits it; the box
		// passes it to its commands and units (tests/box).
		os.Setenv("GOCOVERDIR", d)
	}
	return m.Run(), nil
}

// needRoot is testenv.NeedRoot with the reason of this package's tests.
func needRoot(t *testing.T) {
	t.Helper()
	testenv.NeedRoot(t, "namespaces, mounts")
}

// result is what one acirun invocation did.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// host is an acirun setup on the host: its own data and config dirs.
type host struct {
	t      *testing.T
	dir    string // scratch
	data   string
	local  string
	system string
	env    []string // extra environment (SSL_CERT_FILE, …)
	box    *box.Box // when set, acirun runs inside this box (see newBoxHost)
}

func newHost(t *testing.T) *host {
	dir := t.TempDir()
	return &host{t: t, dir: dir, data: filepath.Join(dir, "data"), local: filepath.Join(dir, "etc"), system: filepath.Join(dir, "usr")}
}

// newBoxHost is a host whose acirun runs inside the box b, with its
// directories under b.Dir() (the same path on both sides), removed when the
// test ends.
func newBoxHost(t *testing.T, b *box.Box) *host {
	dir, err := os.MkdirTemp(b.Dir(), "host-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return &host{t: t, dir: dir, data: filepath.Join(dir, "data"), local: filepath.Join(dir, "etc"), system: filepath.Join(dir, "usr"), box: b}
}

func (h *host) args(args ...string) []string {
	// --run-dir as --dir would default it, but given: stage0 then passes
	// it on, and stage1 keeps its host state (address leases, the
	// metadata key) there, not in the test machine's /run/acirun.
	return append([]string{"--dir=" + h.data, "--run-dir=" + filepath.Join(h.data, "run"), "--local-config=" + h.local, "--system-config=" + h.system}, args...)
}

// run runs acirun with h's directories.
func (h *host) run(args ...string) result {
	h.t.Helper()
	return h.runCtx(context.Background(), args...)
}

func (h *host) runCtx(ctx context.Context, args ...string) result {
	h.t.Helper()
	if h.box == nil {
		args = hostNetNone(args)
	}
	var cmd *exec.Cmd
	if h.box != nil {
		// env(1) carries h.env into the box, whose commands start with a
		// minimal environment.
		argv := append(append([]string{"env"}, h.env...), e.acirun)
		cmd = h.box.Command(ctx, append(argv, h.args(args...)...)...)
	} else {
		cmd = exec.CommandContext(ctx, e.acirun, h.args(args...)...)
		cmd.Env = append(os.Environ(), h.env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatalf("acirun %s: %v", strings.Join(args, " "), err)
	}
	return result{stdout.String(), stderr.String(), code}
}

// hostNetNone adds --net=none to a run or prepare that chooses no network:
// pods run on the test machine itself (not in the box) stay off its
// network, which the default network would change (a veth pair, an
// address, forwarding and NAT). The default network is tested in the box,
// which has a network namespace of its own.
func hostNetNone(args []string) []string {
	if len(args) == 0 || (args[0] != "run" && args[0] != "prepare") {
		return args
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "--net=") || a == "--net" {
			return args
		}
	}
	return append([]string{args[0], "--net=none"}, args[1:]...)
}

// ok runs acirun and fails the test unless it exits 0.
func (h *host) ok(args ...string) result {
	h.t.Helper()
	r := h.run(args...)
	if r.code != 0 {
		h.t.Fatalf("acirun %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// fails runs acirun, requires exit code 254 and every want in stderr.
func (h *host) fails(want []string, args ...string) result {
	h.t.Helper()
	r := h.run(args...)
	if r.code != 254 {
		h.t.Fatalf("acirun %s: want exit 254: %s", strings.Join(args, " "), r)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			h.t.Errorf("acirun %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, r.stderr)
		}
	}
	return r
}

// storeIDs lists the full IDs in the store.
func (h *host) storeIDs() []string {
	h.t.Helper()
	r := h.ok("image", "list", "--format=json", "--full")
	var ids []string
	for _, line := range strings.Split(r.stdout, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, `"id": "`) {
			ids = append(ids, strings.TrimSuffix(strings.TrimPrefix(line, `"id": "`), `",`))
		}
	}
	return ids
}
