package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestReadmeListsRunFlags: the README's listing of the flags of run and
// prepare is what `acirun run --help` prints, line for line.
func TestReadmeListsRunFlags(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	readme, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "```\nPod flags:\n")
	if !ok {
		t.Fatal("README.md: no ``` block starting with \"Pod flags:\"")
	}
	block, _, _ = strings.Cut(block, "```")
	help := mustRun(t, "run", "--help").stdout
	_, listing, ok := strings.Cut(help, "\nPod flags:\n")
	if !ok {
		t.Fatalf("run --help has no \"Pod flags:\" section:\n%s", help)
	}
	listing, _, _ = strings.Cut(listing, "\n\nGlobal flags")
	if strings.TrimSpace(block) != strings.TrimSpace(listing) {
		t.Errorf("README.md's run flags differ from acirun run --help; README:\n%s\nhelp:\n%s", block, listing)
	}
}

// TestRunPreparedFlags: run-prepared takes rkt's pod flags of a start,
// checked against what prepare recorded before anything starts; the pod
// flags it does not take are named as chosen at prepare; --interactive is
// for one app.
func TestRunPreparedFlags(t *testing.T) {
	img := filepath.Join(t.TempDir(), "hello.aci")
	mustRun(t, "image", "build", imageDir(t, helloManifest), img)
	data := t.TempDir()
	uuid := strings.TrimSpace(mustRun(t, "--dir", data, "prepare", "--insecure-options=image", "--dns=10.0.0.1", "--dns-search=a.example", "--port=www:18080", img).stdout)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--volume=v,kind=empty"}, 2, "unknown flag --volume for run-prepared: it is chosen when the pod is prepared (acirun prepare --volume="},
		{[]string{"--port", "www:80"}, 2, "unknown flag --port for run-prepared: it is chosen when the pod is prepared (acirun prepare --port="},
		{[]string{"--dns=nope"}, 2, `invalid value "nope" for flag -dns: "nope" is not an IP address, host or none`},
		{[]string{"--dns=host", "--dns=10.0.0.9"}, 2, "--dns host cannot be combined"},
		{[]string{"--dns=host"}, 254, "with what prepare recorded (" + "--hostname=acirun-" + uuid[:8] + " --dns=10.0.0.1 --dns-search=a.example): --dns=host copies the host's /etc/resolv.conf as it is: --dns-search would be ignored"},
		{[]string{"--net=none"}, 254, "publishes ports (prepared with --port), which needs a network of its own, not --net=none"},
		{[]string{"--interactive", "--net=host"}, 254, "publishes ports (prepared with --port), which needs a network of its own, not --net=host"},
	} {
		r := acirun(t, append(append([]string{"--dir", data, "run-prepared"}, tc.args...), uuid)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("run-prepared %q: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
	if r := mustRun(t, "--dir", data, "list"); !strings.Contains(r.stdout, "prepared") {
		t.Errorf("the pod is not prepared any more after refused starts:\n%s", r.stdout)
	}
	// Accepted, said to do nothing, and the pod starts (its app, a
	// stand-in file, cannot be executed), off the host's network.
	uuid = strings.TrimSpace(mustRun(t, "--dir", data, "prepare", "--insecure-options=image", img).stdout)
	if r := acirun(t, "--dir", data, "run-prepared", "--mds-register", "--net=none", uuid); !strings.Contains(r.stderr, "--mds-register does nothing") || !strings.Contains(r.stderr, "exec /bin/hello") {
		t.Errorf("run-prepared --mds-register: exit %d, %q", r.code, r.stderr)
	}
	r := acirun(t, "--dir", data, "prepare", "--insecure-options=image", "--interactive", img, img, "--name=two")
	if r.code != 2 || !strings.Contains(r.stderr, "--interactive gives the terminal to one app, and the pod has 2") {
		t.Errorf("prepare --interactive of two apps: exit %d, %q", r.code, r.stderr)
	}
}
