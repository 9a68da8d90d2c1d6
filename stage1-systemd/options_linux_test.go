package stage1

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/acirun/acirun/internal/podcontract"
)

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
		{}, {"a", "b"}, {"--net=bridge:", "p"}, {"--net=none,bridge", "p"}, {"--run-dir=run", "p"}, {"--control-fd=3", "p"}, {"--dns=host,1.1.1.1", "p"}, {"--dns=nope", "p"},
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
