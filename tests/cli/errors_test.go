package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Usage errors say what is wrong and what to type instead (issue 16), exit 2.
func TestUsageErrorsSuggest(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string // fragments of stderr, in order
	}{
		{[]string{"stauts", "x"}, []string{`acirun: unknown command "stauts"; did you mean status?`}},
		{[]string{"image", "lsit"}, []string{`acirun: unknown command "image lsit"; did you mean image list?`}},
		{[]string{"rn", "x"}, []string{`did you mean rm or run?`}},
		{[]string{"frobnicate"}, []string{`acirun: unknown command "frobnicate"` + "\n"}},
		{[]string{"run-prepared", "--port=http:8080", "x"}, []string{
			"acirun: unknown flag --port for run-prepared: it is chosen when the pod is prepared (acirun prepare --port=",
			"usage: acirun run-prepared"}},
		{[]string{"run-prepared", "--set-env", "A=b", "x"}, []string{"unknown flag --set-env for run-prepared: it is chosen when the pod is prepared"}},
		{[]string{"run-prepared", "--exec=/bin/sh", "x"}, []string{"unknown flag --exec for run-prepared: it is chosen when the pod is prepared"}},
		{[]string{"fetch", "--hostname=h", "x"}, []string{"unknown flag --hostname for fetch: it is a flag of run and prepare"}},
		{[]string{"--version", "run"}, []string{"--version takes no command"}},
		{[]string{"run", "-d", "--no-unit", "x"}, []string{"acirun: --detach and --no-unit cannot be combined", "drop one of them", "usage: acirun run"}},
		{[]string{"run", "--no-unit", "x", "--detach"}, []string{"--detach and --no-unit cannot be combined"}},
		{[]string{"run", "--unit=web", "--no-unit", "x"}, []string{"acirun: --unit=web and --no-unit cannot be combined"}},
	} {
		r := acirun(t, tc.args...)
		if r.code != 2 {
			t.Errorf("acirun %s: exit %d, want 2; stderr %q", strings.Join(tc.args, " "), r.code, r.stderr)
		}
		rest := r.stderr
		for _, w := range tc.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("acirun %s: stderr %q lacks %q", strings.Join(tc.args, " "), r.stderr, w)
				break
			}
			rest = rest[i+len(w):]
		}
	}
}

// acirun --version prints what acirun version prints.
func TestVersionFlag(t *testing.T) {
	want := mustRun(t, "version").stdout
	for _, flag := range []string{"--version", "-version"} {
		if r := mustRun(t, flag); r.stdout != want || r.stderr != "" {
			t.Errorf("acirun %s: %q %q, want %q", flag, r.stdout, r.stderr, want)
		}
	}
}

// Every help lists every global flag, from the one definition: --run-dir
// was once missing from the hand-written list of the commands' help.
func TestHelpListsGlobalFlags(t *testing.T) {
	overview := mustRun(t, "help").stdout
	i := strings.Index(overview, "Global flags (accepted by every command):\n")
	if i < 0 {
		t.Fatalf("help has no global flags:\n%s", overview)
	}
	var globals []string
	for _, line := range strings.Split(overview[i:], "\n")[1:] {
		m := regexp.MustCompile(`^  (--[a-z-]+)`).FindStringSubmatch(line)
		if m == nil {
			break
		}
		globals = append(globals, m[1])
	}
	if !strings.Contains(" "+strings.Join(globals, " ")+" ", " --run-dir ") || len(globals) < 5 {
		t.Errorf("global flags in the overview: %v", globals)
	}
	for _, cmd := range [][]string{{"run"}, {"prepare"}, {"run-prepared"}, {"image", "gc"}, {"trust"}, {"fetch"}} {
		help := mustRun(t, append(cmd, "--help")...).stdout
		m := regexp.MustCompile(`\nGlobal flags, before or after the command name: (.*) \(see 'acirun help'\)\.\n`).FindStringSubmatch(help)
		if m == nil || m[1] != strings.Join(globals, ", ") {
			t.Errorf("acirun %s --help: global flags %q, want %q", strings.Join(cmd, " "), m, strings.Join(globals, ", "))
		}
	}
}

// The insecure options the help lists are the ones the parser takes, and
// ondisk (listed by the README once, never accepted: acirun has no
// per-run check of the store's trees to skip) is in neither.
func TestInsecureOptionsOneList(t *testing.T) {
	img := filepath.Join(t.TempDir(), "missing.aci")
	r := acirun(t, "run", "--dir", t.TempDir(), "--insecure-options=ondisk", img)
	m := regexp.MustCompile(`unknown insecure option "ondisk" \(valid: ([a-z, -]+)\)`).FindStringSubmatch(r.stderr)
	if r.code != 2 || m == nil {
		t.Fatalf("--insecure-options=ondisk: exit %d, %q", r.code, r.stderr)
	}
	valid := strings.Split(m[1], ", ")
	var line string
	for _, l := range strings.Split(mustRun(t, "help").stdout, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "--insecure-options=") {
			line = l
		}
	}
	listed := regexp.MustCompile(`[a-z]+(-[a-z]+)?`).FindAllString(line[strings.Index(line, "comma-separated:"):], -1)
	for _, w := range valid {
		if w != "none" && !slices.Contains(listed, w) {
			t.Errorf("the parser takes %s, the help does not list it: %s", w, line)
		}
	}
	if slices.Contains(listed, "ondisk") {
		t.Errorf("the help lists ondisk: %s", line)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(readme), "ondisk") {
		t.Error("the README lists ondisk")
	}
}

// copyBinaries copies the binaries of the build under test named by names
// (acirun, acirun-fetch, ...) into dir, as a partial install, and returns
// the path of the copy of acirun.
func copyBinaries(t *testing.T, dir string, names ...string) string {
	t.Helper()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(acirunBin), n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "acirun")
}

// TestNoStage1Binary: an acirun without acirun-stage1 beside it (a partial
// install) refuses to run or enter a pod, naming the binary it looks for
// and how to install it, before it prepares anything; acirun config names
// it too.
func TestNoStage1Binary(t *testing.T) {
	dir := t.TempDir()
	lone := copyBinaries(t, dir, "acirun", "acirun-fetch")
	data := filepath.Join(dir, "data")
	want := filepath.Join(dir, "acirun-stage1")
	for _, args := range [][]string{
		{"run", "--no-unit", "--insecure-options=image", "./no-such.aci"},
		{"run-prepared", "--no-unit", "00000000-0000-4000-8000-000000000000"},
		{"config"},
	} {
		cmd := exec.Command(lone, append([]string{"--dir=" + data, "--local-config=" + filepath.Join(dir, "etc"), "--system-config=" + filepath.Join(dir, "usr")}, args...)...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 254 || !strings.Contains(string(out), want) || !strings.Contains(string(out), "make install") {
			t.Errorf("acirun %s without acirun-stage1: %v, want exit 254 naming %s and make install:\n%s", args[0], err, want, out)
		}
	}
	if pods, _ := filepath.Glob(filepath.Join(data, "pods", "*")); len(pods) != 0 {
		t.Errorf("pods left by the refused runs: %q", pods)
	}
}

// TestNoFetchBinary: an acirun without acirun-fetch beside it (a partial
// install) refuses what needs the helper, fetching and the trust store,
// naming the binary it looks for and how to install it, and stores
// nothing; what needs no helper (the store's list) works.
func TestNoFetchBinary(t *testing.T) {
	dir := t.TempDir()
	lone := copyBinaries(t, dir, "acirun", "acirun-stage1", "acirun-pod")
	data := filepath.Join(dir, "data")
	want := filepath.Join(dir, "acirun-fetch")
	acirunLone := func(args ...string) ([]byte, error) {
		cmd := exec.Command(lone, append([]string{"--dir=" + data, "--local-config=" + filepath.Join(dir, "etc"), "--system-config=" + filepath.Join(dir, "usr")}, args...)...)
		return cmd.CombinedOutput()
	}
	for _, args := range [][]string{
		{"fetch", "--insecure-options=image", "./no-such.aci"},
		{"run", "--no-unit", "--insecure-options=image", "./no-such.aci"},
		{"trust", "--root", "--skip-fingerprint-review", "./no-such.gpg"},
		{"trust", "list"},
		{"trust", "rm", "0123456789abcdef0123456789abcdef01234567"},
		{"config"},
	} {
		out, err := acirunLone(args...)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 254 || !strings.Contains(string(out), want) || !strings.Contains(string(out), "make install") {
			t.Errorf("acirun %s without acirun-fetch: %v, want exit 254 naming %s and make install:\n%s", strings.Join(args, " "), err, want, out)
		}
	}
	if out, err := acirunLone("image", "list"); err != nil {
		t.Errorf("acirun image list without acirun-fetch: %v\n%s", err, out)
	}
	if pods, _ := filepath.Glob(filepath.Join(data, "pods", "[0-9a-f]*")); len(pods) != 0 {
		t.Errorf("pods left by the refused runs: %q", pods)
	}
}

// TestFetchHelperAlone: acirun-fetch run by hand, or by an acirun of
// another build (another version of the contract), refuses with exit 1,
// saying what it is and what to do; the version refusal is also its
// answer on standard output, for the acirun that asked.
func TestFetchHelperAlone(t *testing.T) {
	helper := filepath.Join(filepath.Dir(acirunBin), "acirun-fetch")
	for _, tc := range []struct {
		in, want string
	}{
		{"", "it is run by acirun, not by hand"},
		{"not json\n", "it is run by acirun, not by hand"},
		{`{"version": 999, "config": {}, "trustedKeys": {}}` + "\n", "asked in version 999: install acirun and acirun-fetch from one build (make install)"},
	} {
		cmd := exec.Command(helper)
		cmd.Stdin = strings.NewReader(tc.in)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "acirun-fetch: ") || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("acirun-fetch given %q: %v, want exit 1 saying %q:\n%s", tc.in, err, tc.want, stderr.String())
		}
		if !strings.Contains(stdout.String(), `"result"`) || !strings.Contains(stdout.String(), tc.want) {
			t.Errorf("acirun-fetch given %q answered %q, want a result saying %q", tc.in, stdout.String(), tc.want)
		}
	}
}
