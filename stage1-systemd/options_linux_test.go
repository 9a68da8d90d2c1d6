package stage1

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/acirun/acirun/internal/podcontract"
)

func TestParsePodOptions(t *testing.T) {
	o, err := parsePodOptions([]string{"--net=host", "--dns=1.1.1.1,8.8.8.8", "--dns-search=a.example",
		"--hosts-entry=10.0.0.1=db", "--hosts-entry=host", "--stop-timeout=3s", "--insecure-options=paths,image", "--no-overlay", "/pods/x"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if o.Net != "host" || len(o.DNS) != 2 || o.DNSSearch[0] != "a.example" || len(o.HostsEntries) != 1 || !o.HostsFromHost ||
		o.StopTimeout.Seconds() != 3 || !o.Insecure.Has(podcontract.InsecurePaths) || o.Insecure.Has(podcontract.InsecureSeccomp) || !o.NoOverlay || o.podDir != "/pods/x" {
		t.Errorf("parsed %+v", o)
	}
	// The defaults: the default network, its leases in /run/acirun/net,
	// no control socket.
	if o, err := parsePodOptions([]string{"p"}, os.Stderr); err != nil || o.Net != "default" || o.RunDir != "/run/acirun" || o.controlFd != -1 {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	if o, err := parsePodOptions([]string{"--control-fd=3", "--run-dir=/r", "p"}, os.Stderr); err != nil || o.controlFd != 3 || o.RunDir != "/r" {
		t.Errorf("init flags: %+v, %v", o, err)
	}
	if o, err := parsePodOptions([]string{"p"}, os.Stderr); err != nil || o.appsOOMScoreAdj != nil {
		t.Errorf("no --apps-oom-score-adj: %+v, %v", o, err)
	}
	if o, err := parsePodOptions([]string{"--apps-oom-score-adj=-1000", "p"}, os.Stderr); err != nil || o.appsOOMScoreAdj == nil || *o.appsOOMScoreAdj != -1000 {
		t.Errorf("--apps-oom-score-adj=-1000: %+v, %v", o, err)
	}
	// What stage0 accepts and writes into stage1-args.json.
	if _, err := parsePodOptions([]string{"--hostname=" + strings.Repeat("a", 63), "--hosts-entry=::1=" + strings.Repeat("a", 63) + ".b",
		"--dns=host", "--insecure-options=all-run", "--insecure-options=Image", "p"}, os.Stderr); err != nil {
		t.Errorf("stage0's flags: %v", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "want exactly one POD-DIR, got 0 arguments"}, {[]string{"a", "b"}, "want exactly one POD-DIR, got 2 arguments"},
		{[]string{"--net=bridge:", "p"}, "network bridge: nothing after ':'"},
		{[]string{"--net=none,bridge", "p"}, "network none cannot be listed with other networks: give --net=none alone"},
		{[]string{"--run-dir=run", "p"}, `--run-dir="run": want an absolute path`},
		{[]string{"--id-range=auto", "p"}, "want UID:COUNT"},
		{[]string{"--apps-oom-score-adj=1001", "p"}, "want -1000 to 1000"},
		{[]string{"--apps-oom-score-adj=-1001", "p"}, "want -1000 to 1000"},
		{[]string{"--apps-oom-score-adj=x", "p"}, `invalid value "x"`},
		{[]string{"--dns=host,1.1.1.1", "p"}, "--dns host cannot be combined with other --dns values"},
		{[]string{"--dns=nope", "p"}, `"nope" is not an IP address, host or none`},
		{[]string{"--hosts-entry=1.2.3.4", "p"}, `"1.2.3.4" is not IP=NAME`},
		{[]string{"--hosts-entry=1.2.3.4=bad name", "p"}, `"bad name" is not a valid domain name`},
		{[]string{"--hosts-entry=x=y", "p"}, `"x" is not an IP address`},
		{[]string{"--hostname=a\nb", "p"}, `"a\nb" is not a valid host name`},
		{[]string{"--insecure-options=everything", "p"}, `unknown insecure option "everything"`},
		{[]string{"--stop-timeout=-1s", "p"}, "--stop-timeout=-1s: must not be negative"},
		{[]string{"--dns-search=a\nnameserver 6.6.6.6", "p"}, `"a\nnameserver 6.6.6.6" is not a valid domain name`},
		{[]string{"--insecure-options=ondisk", "p"}, `unknown insecure option "ondisk"`},
		// stage0 refuses a host name sethostname(2) would: so does stage1.
		{[]string{"--hostname=" + strings.Repeat("a", 63) + ".b", "p"}, "a host name has 1 to 64 characters"},
	} {
		if _, err := parsePodOptions(tc.args, devNull(t)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parsePodOptions(%q) = %v, want an error saying %q", tc.args, err, tc.want)
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
		o, err := parsePodOptions([]string{a, b, c, "/pod"}, io.Discard)
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
