package stage1

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/podcontract"
)

func TestPlanSeccomp(t *testing.T) {
	for _, tc := range []struct {
		name   string
		iso    *seccompIsolator
		insec  bool
		none   bool
		report string
		err    string
	}{
		{"default", nil, false, false, "default deny list", ""},
		{"insecure", nil, true, true, "no filter", ""},
		{"remove", &seccompIsolator{set: []string{"mkdir"}, errno: "EPERM"}, false, false, "remove set of 1 calls; plus the default deny list", ""},
		{"remove insecure", &seccompIsolator{set: []string{"mkdir"}}, true, false, "remove set of 1 calls", ""},
		{"retain", &seccompIsolator{retain: true, set: []string{"read", "mount"}}, false, false, "denied mount", ""},
		{"retain adds essentials", &seccompIsolator{retain: true, set: []string{"read"}}, false, false, "added execve", ""},
		{"retain all", &seccompIsolator{retain: true, set: []string{"@appc.io/all"}}, false, false, "retain @appc.io/all: default deny list", ""},
		{"remove all", &seccompIsolator{set: []string{"@appc.io/all"}}, false, false, "retain set of", ""},
		{"empty", &seccompIsolator{set: []string{"@appc.io/empty"}}, false, false, "remove set of 0 calls", ""},
		{"unknown call", &seccompIsolator{set: []string{"fly"}}, false, false, "", `unknown system call "fly"`},
		{"unknown errno", &seccompIsolator{set: []string{"read"}, errno: "EACCESS"}, false, false, "", `errno "EACCESS"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := planSeccomp(tc.iso, tc.insec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (plan.filter == nil) != tc.none || !strings.Contains(plan.report, tc.report) {
				t.Errorf("plan %q (filter %d instructions), want %q", plan.report, len(plan.filter), tc.report)
			}
		})
	}
}

func TestErrnoByName(t *testing.T) {
	for name, want := range map[string]unix.Errno{"EPERM": unix.EPERM, "ENOTSUP": unix.ENOTSUP, "EXDEV": unix.EXDEV} {
		if e, ok := errnoByName(name); !ok || e != want {
			t.Errorf("errnoByName(%s) = %v, %v", name, e, ok)
		}
	}
	if _, ok := errnoByName("EACCESS"); ok {
		t.Error("EACCESS (the spec example's typo) accepted")
	}
}

func TestParsePodOptions(t *testing.T) {
	o, err := parsePodOptions("run", []string{"--net=host", "--dns=1.1.1.1,8.8.8.8", "--dns-search=a.example",
		"--hosts-entry=10.0.0.1=db", "--hosts-entry=host", "--stop-timeout=3s", "--insecure-options=paths,image", "--no-overlay", "/pods/x"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if o.Net != "host" || len(o.DNS) != 2 || o.DNSSearch[0] != "a.example" || len(o.HostsEntries) != 1 || !o.HostsFromHost ||
		o.StopTimeout.Seconds() != 3 || !o.Insecure.Has(podcontract.InsecurePaths) || o.Insecure.Has(podcontract.InsecureSeccomp) || !o.NoOverlay || o.podDir != "/pods/x" {
		t.Errorf("parsed %+v", o)
	}
	// The defaults: the default network, its leases in /run/acirun/net;
	// only init has a control socket.
	if o, err := parsePodOptions("run", []string{"p"}, os.Stderr); err != nil || o.Net != "default" || o.RunDir != "/run/acirun" || o.controlFd != -1 {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	if o, err := parsePodOptions("init", []string{"--control-fd=3", "--run-dir=/r", "p"}, os.Stderr); err != nil || o.controlFd != 3 || o.RunDir != "/r" {
		t.Errorf("init flags: %+v, %v", o, err)
	}
	// What stage0 accepts and writes into stage1-args.json.
	if _, err := parsePodOptions("run", []string{"--hostname=" + strings.Repeat("a", 63), "--hosts-entry=::1=" + strings.Repeat("a", 63) + ".b",
		"--dns=host", "--insecure-options=all-run", "--insecure-options=Image", "p"}, os.Stderr); err != nil {
		t.Errorf("stage0's flags: %v", err)
	}
	for _, bad := range [][]string{
		{}, {"a", "b"}, {"--net=bridge", "p"}, {"--run-dir=run", "p"}, {"--control-fd=3", "p"}, {"--dns=host,1.1.1.1", "p"}, {"--dns=nope", "p"},
		{"--hosts-entry=1.2.3.4", "p"}, {"--hosts-entry=1.2.3.4=bad name", "p"}, {"--hosts-entry=x=y", "p"},
		{"--hostname=a\nb", "p"}, {"--insecure-options=everything", "p"}, {"--stop-timeout=-1s", "p"},
		{"--dns-search=a\nnameserver 6.6.6.6", "p"}, {"--insecure-options=ondisk", "p"},
		// stage0 refuses a host name sethostname(2) would: so does stage1.
		{"--hostname=" + strings.Repeat("a", 63) + ".b", "p"},
	} {
		if _, err := parsePodOptions("run", bad, devNull(t)); err == nil {
			t.Errorf("parsePodOptions(%q) accepted", bad)
		}
	}
}

func devNull(t *testing.T) *os.File {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func FuzzHostsEntry(f *testing.F) {
	f.Add("10.0.0.1=db.local")
	f.Add("::1=x")
	f.Fuzz(func(t *testing.T, s string) {
		e, err := podcontract.ParseHostsEntry(s)
		if err != nil {
			return
		}
		out := string(hostsFile("h", []podcontract.HostsEntry{e}))
		if strings.Count(out, "\n") != 4 || strings.ContainsAny(e.Name, " \t\r\n#") {
			t.Fatalf("entry %q rendered as %q", s, out)
		}
	})
}

// TestOverlayCheck runs the data directory check against overlayfs itself
// (refused, with the --no-overlay hint) and tmpfs (accepted).
func TestOverlayCheck(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	for _, d := range []string{"lower", "upper", "work", "merged", "tmp"} {
		must(t, os.Mkdir(filepath.Join(dir, d), 0o755))
	}
	merged := filepath.Join(dir, "merged")
	must(t, unix.Mount("overlay", merged, "overlay", 0, "lowerdir="+dir+"/lower,upperdir="+dir+"/upper,workdir="+dir+"/work"))
	defer unix.Unmount(merged, unix.MNT_DETACH)
	must(t, os.Mkdir(filepath.Join(merged, "apps"), 0o755))
	err := checkOverlaySupport(filepath.Join(merged, "apps"))
	if err == nil || !strings.Contains(err.Error(), "--no-overlay") || !strings.Contains(err.Error(), "overlayfs") {
		t.Errorf("overlayfs data directory: %v", err)
	}
	tmp := filepath.Join(dir, "tmp")
	must(t, unix.Mount("tmpfs", tmp, "tmpfs", 0, ""))
	defer unix.Unmount(tmp, unix.MNT_DETACH)
	must(t, os.Mkdir(filepath.Join(tmp, "apps"), 0o755))
	if err := checkOverlaySupport(filepath.Join(tmp, "apps")); err != nil {
		t.Errorf("tmpfs data directory: %v", err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 1 {
		t.Errorf("probe left something behind: %v", ents)
	}
}

// TestPodOnOverlay runs a pod whose pod directory is on overlayfs: refused
// before anything is mounted, and run with --no-overlay.
func TestPodOnOverlay(t *testing.T) {
	p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "write:/tmp/x"}}}, nil)
	base := filepath.Dir(filepath.Dir(p.dir))
	lower, upper, work := filepath.Join(t.TempDir(), "lower"), t.TempDir(), t.TempDir()
	// Move the pods directory under an overlay of itself.
	pods := filepath.Join(base, "pods")
	must(t, os.Rename(pods, lower))
	must(t, os.Mkdir(pods, 0o755))
	must(t, unix.Mount("overlay", pods, "overlay", 0, "lowerdir="+lower+",upperdir="+upper+",workdir="+work))
	t.Cleanup(func() { unix.Unmount(pods, unix.MNT_DETACH) })
	r := p.run(t, "--net=none")
	if r.code != exitCodeFailure || !strings.Contains(r.stderr, "--no-overlay") {
		t.Errorf("pod on overlayfs: exit %d", r.code)
	}
	if _, err := os.Stat(filepath.Join(p.dir, "pid")); err == nil {
		t.Error("the refused pod was started")
	}
	r = p.run(t, "--net=none", "--no-overlay")
	r.has(t, "write ok /tmp/x")
	out, _ := exec.Command("findmnt", "-rn", "-o", "TARGET").Output()
	if strings.Contains(string(out), p.uuid) {
		t.Errorf("pod mounts left:\n%s", out)
	}
}

// FuzzPodOptions: whatever the flags, parsing never panics, and what it
// accepts cannot inject lines into /etc/hosts or resolv.conf.
func FuzzPodOptions(f *testing.F) {
	f.Add("--dns=1.1.1.1", "--hosts-entry=10.0.0.1=db", "--hostname=web")
	f.Add("--dns-search=a.b", "--insecure-options=all", "--stop-timeout=1s")
	f.Add("--dns-opt=ndots:3", "--dns-domain=d.example", "--dns-opt=rotate")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		o, err := parsePodOptions("run", []string{a, b, c, "/pod"}, io.Discard)
		if err != nil {
			return
		}
		out := string(hostsFile(o.Hostname, o.HostsEntries)) + string(resolvConf(resolvSettingsOf(o)))
		lines := 3 + len(o.HostsEntries) + 1 + len(o.DNS)
		for _, some := range []bool{len(o.DNSSearch) > 0, len(o.DNSOptions) > 0, o.DNSDomain != ""} {
			if some {
				lines++
			}
		}
		if strings.Count(out, "\n") != lines {
			t.Fatalf("flags %q %q %q rendered %q", a, b, c, out)
		}
	})
}

// BenchmarkProtectExecutable compares the two ways of protecting the
// binary the pod runs from: a detached read-only bind mount and a sealed
// memfd copy (the fallback).
func BenchmarkProtectExecutable(b *testing.B) {
	needRoot(b)
	for name, open := range map[string]func() (*os.File, error){"bind": sealedExecutable, "memfd": memfdExecutable} {
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				f, err := open()
				if err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}
