package podcontract

import (
	"flag"
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func parseRun(args []string) (*RunOptions, []string, error) {
	fs := flag.NewFlagSet("stage1 run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o, err := ParseRunFlags(fs, args)
	return o, fs.Args(), err
}

func TestRunOptionsRoundTrip(t *testing.T) {
	for _, o := range []RunOptions{
		DefaultRunOptions(),
		{Net: NetNone, Publish: PublishLoopback, RunDir: "/tmp/r", Hostname: "acirun-12345678", DNS: []string{"9.9.9.9", "2001:db8::1"}, DNSSearch: []string{"example.com"},
			HostsEntries: []HostsEntry{{IP: netip.MustParseAddr("10.0.0.1"), Name: "db"}}, HostsFromHost: true,
			StopTimeout: 3 * time.Second, Insecure: InsecurePaths | InsecureSeccomp, NoOverlay: true, MetadataURL: "http://127.0.0.1:1/x", Debug: true},
		{Net: NetHost, RunDir: DefaultRunDir, DNS: []string{DNSHost}, StopTimeout: 0, Insecure: InsecureAllRun}, // SIGKILL at once
		{Net: NetDefaultRestricted, Publish: PublishNone, RunDir: DefaultRunDir, StopTimeout: DefaultStopTimeout},
		{Net: NetNone, Publish: PublishAll, RunDir: DefaultRunDir, StopTimeout: DefaultStopTimeout, PrivateUsers: "auto"},
		{Net: NetNone, Publish: PublishAll, RunDir: DefaultRunDir, StopTimeout: DefaultStopTimeout, PrivateUsers: "524288:65536"},
		{Net: NetNone, Publish: PublishAll, RunDir: DefaultRunDir, StopTimeout: DefaultStopTimeout, TasksMax: 4096},
	} {
		args := o.Args()
		got, rest, err := parseRun(append(args, "/pod"))
		if err != nil {
			t.Errorf("%q: %v", args, err)
			continue
		}
		if len(rest) != 1 || rest[0] != "/pod" {
			t.Errorf("%q: operands %q", args, rest)
		}
		if !reflect.DeepEqual(got.Args(), args) {
			t.Errorf("%q parsed, written again as %q", args, got.Args())
		}
		if o.Net == NetNone && !reflect.DeepEqual(*got, o) {
			t.Errorf("%q parsed as %+v, want %+v", args, *got, o)
		}
	}
	// --private-users: its values checked, and never beside --no-overlay.
	for args, want := range map[string]string{
		"--private-users=0:65536":           "UID 0",
		"--private-users=1:2":               "want at least 65536",
		"--private-users=x":                 "want auto or UID:COUNT",
		"--private-users=auto --no-overlay": "--private-users with --no-overlay",
		"--tasks-max=0":                     `"0": want a number of tasks, 1 or more`,
		"--tasks-max=lots":                  `"lots": want a number of tasks, 1 or more`,
	} {
		_, _, err := parseRun(append(strings.Fields(args), "/pod"))
		if want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want an error with %q", args, err, want)
		}
	}
	if o, _, err := parseRun([]string{"--private-users=", "/pod"}); err != nil || o.PrivateUsers != "auto" {
		t.Errorf("--private-users= (no value): %+v, %v; want auto", o, err)
	}
	// The fetch relaxations are stage0's: never written for stage1.
	o := DefaultRunOptions()
	o.Insecure = InsecureImage | InsecurePaths
	if a := o.Args(); !reflect.DeepEqual(a, []string{"--insecure-options=paths"}) {
		t.Errorf("Args() = %q", a)
	}
}

func TestParseRunFlags(t *testing.T) {
	o, _, err := parseRun([]string{"--net=host", "--dns=1.1.1.1,8.8.8.8", "--dns-search=a.example", "--dns-opt=ndots:02", "--dns-opt=rotate", "--dns-domain=corp.example",
		"--hosts-entry=10.0.0.1=db", "--hosts-entry=host", "--stop-timeout=3s", "--insecure-options=paths,image", "--no-overlay", "p"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Net != NetHost || len(o.DNS) != 2 || o.DNSSearch[0] != "a.example" || !reflect.DeepEqual(o.DNSOptions, []string{"ndots:2", "rotate"}) || o.DNSDomain != "corp.example" || len(o.HostsEntries) != 1 || !o.HostsFromHost ||
		o.StopTimeout != 3*time.Second || !o.Insecure.Has(InsecurePaths) || o.Insecure.Has(InsecureSeccomp) || !o.NoOverlay {
		t.Errorf("parsed %+v", o)
	}
	// Each refusal names the flag or value refused and why.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--net=bridge:"}, "network bridge: nothing after ':'"},
		{[]string{"--net=default,bridge"}, "network default is built in and cannot be listed with named networks"},
		{[]string{"--run-dir=run"}, `--run-dir="run": want an absolute path`},
		{[]string{"--dns=host,1.1.1.1"}, "--dns host cannot be combined with other --dns values"},
		{[]string{"--dns=nope"}, `"nope" is not an IP address, host or none`},
		{[]string{"--hosts-entry=1.2.3.4"}, `"1.2.3.4" is not IP=NAME`},
		{[]string{"--hosts-entry=1.2.3.4=bad name"}, `"bad name" is not a valid domain name`},
		{[]string{"--hostname=a\nb"}, `"a\nb" is not a valid host name`},
		{[]string{"--hostname=" + strings.Repeat("a", 65)}, "a host name has 1 to 64 characters"},
		{[]string{"--insecure-options=everything"}, `unknown insecure option "everything"`},
		{[]string{"--insecure-options=ondisk"}, `unknown insecure option "ondisk"`},
		{[]string{"--stop-timeout=-1s"}, "--stop-timeout=-1s: must not be negative"},
		{[]string{"--dns-search=a\nnameserver 6.6.6.6"}, `"a\nnameserver 6.6.6.6" is not a valid domain name`},
		{[]string{"--dns-opt=ndots:16"}, "resolv.conf option ndots:16: want ndots:N, N from 0 to 15"},
		{[]string{"--dns-opt=rotate\nnameserver 6.6.6.6"}, `"rotate\nnameserver 6.6.6.6" is not a resolv.conf option`},
		{[]string{"--dns-domain=a b"}, `"a b" is not a valid domain name`},
		{[]string{"--dns=host", "--dns-opt=rotate"}, "--dns-opt would be ignored"},
		{[]string{"--metadata-url=ftp://x/"}, `--metadata-url: "ftp://x/": want an http or https URL`},
		{[]string{"--metadata-url=http://x/ y"}, `--metadata-url: "http://x/ y": want an http or https URL`},
		{[]string{"--control-fd=3"}, "flag provided but not defined: -control-fd"},
		{[]string{"--publish=everywhere"}, `publish "everywhere": want all`},
		{[]string{"--publish="}, `publish "": want all`},
	} {
		if o, _, err := parseRun(append(tc.args, "p")); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRunFlags(%q) = %+v, %v; want an error saying %q", tc.args, o, err, tc.want)
		}
	}
}

func TestStage1ArgsFile(t *testing.T) {
	o := RunOptions{Net: NetNone, RunDir: DefaultRunDir, StopTimeout: DefaultStopTimeout, Hostname: "h", Debug: true}
	b := EncodeStage1Args(o.Args())
	if string(b) != `["--net=none","--hostname=h","--debug"]`+"\n" {
		t.Errorf("EncodeStage1Args = %q", b)
	}
	if args, err := ParseStage1Args(b); err != nil || !reflect.DeepEqual(args, o.Args()) {
		t.Errorf("ParseStage1Args(%q) = %q, %v", b, args, err)
	}
	if string(EncodeStage1Args(nil)) != "[]\n" {
		t.Error("no flags is not []")
	}
	for _, tc := range []struct{ in, want string }{
		{"", "unexpected end of JSON input"}, {"null", "not a JSON array of flags"}, {"{}", "cannot unmarshal object"},
		{`["--net=bridge:"]`, "network bridge: nothing after ':'"}, {`["/pod"]`, `argument 0 "/pod": not a flag`},
		{`["--bogus"]`, "flag provided but not defined: -bogus"}, {`[1]`, "cannot unmarshal number"},
	} {
		if args, err := ParseStage1Args([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseStage1Args(%q) = %q, %v; want an error saying %q", tc.in, args, err, tc.want)
		}
	}
}

// FuzzParseRunFlags checks that whatever stage1 accepts, written again by
// Args (as stage0 writes stage1-args.json), parses to the same options.
func FuzzParseRunFlags(f *testing.F) {
	f.Add("--net=none --hostname=h --dns=1.1.1.1 --hosts-entry=::1=a.b --insecure-options=all --stop-timeout=1m p")
	f.Add("--dns=host --dns-search=x,y --metadata-url=http://h/ --no-overlay --debug p")
	f.Add("--dns=1.1.1.1 --dns-search=x,y --dns-opt=ndots:2 --dns-opt=edns0 --dns-domain=d.example p")
	f.Fuzz(func(t *testing.T, s string) {
		o, _, err := parseRun(strings.Fields(s))
		if err != nil {
			return
		}
		args := o.Args()
		again, _, err := parseRun(args)
		if err != nil {
			t.Fatalf("%q parsed, written as %q, refused: %v", s, args, err)
		}
		o.Insecure &= InsecureAllRun
		if !reflect.DeepEqual(again, o) {
			t.Fatalf("%q parsed as %+v, written as %q, parsed as %+v", s, o, args, again)
		}
	})
}
