package main

import (
	"errors"
	"flag"
	"net/netip"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/stage0/pod"
)

func intp(i int) *int { return &i }
func sharesp(n int) *aci.LinuxCPUShares {
	s := aci.LinuxCPUShares(n)
	return &s
}
func boolp(b bool) *bool { return &b }

func TestParseRunArgs(t *testing.T) {
	tests := []struct {
		name string
		args string // split on spaces; "_" stands for an empty argument
		want *pod.RunRequest
	}{
		{"one image", "example.com/hello", &pod.RunRequest{Apps: []pod.AppRequest{{Image: "example.com/hello"}}}},
		{"several images", "a b c", &pod.RunRequest{Apps: []pod.AppRequest{{Image: "a"}, {Image: "b"}, {Image: "c"}}}},
		{"args to the end", "a -- -x --exec y", &pod.RunRequest{Apps: []pod.AppRequest{{Image: "a", Args: []string{"-x", "--exec", "y"}}}}},
		{"args then next image", "a -- x --- b --exec /bin/b -- y z --- c",
			&pod.RunRequest{Apps: []pod.AppRequest{{Image: "a", Args: []string{"x"}}, {Image: "b", Exec: "/bin/b", Args: []string{"y", "z"}}, {Image: "c"}}}},
		{"empty arg list", "a -- --- b", &pod.RunRequest{Apps: []pod.AppRequest{{Image: "a", Args: []string{}}, {Image: "b"}}}},
		{"-- inside args is an arg", "a -- -- --", &pod.RunRequest{Apps: []pod.AppRequest{{Image: "a", Args: []string{"--", "--"}}}}},
		{"app flags bind to the preceding image", "--hostname h a --name one --user 1 b --name two --group=2 --readonly-rootfs",
			&pod.RunRequest{Hostname: "h", Apps: []pod.AppRequest{{Image: "a", Name: "one", User: "1"}, {Image: "b", Name: "two", Group: "2", ReadOnlyRootFS: true}}}},
		{"pod flag after images", "a --net=host b --dns 1.1.1.1 --dns=::1",
			&pod.RunRequest{Net: "host", DNS: []string{"1.1.1.1", "::1"}, Apps: []pod.AppRequest{{Image: "a"}, {Image: "b"}}}},
		{"single dash flags", "-net none a -name x", &pod.RunRequest{Net: "none", Apps: []pod.AppRequest{{Image: "a", Name: "x"}}}},
		{"ports", "--net=default --port http:8080 a --port=dns:192.0.2.1:53",
			&pod.RunRequest{Net: "default", Ports: []aci.ExposedPort{{Name: "http", HostPort: 8080}, {Name: "dns", HostPort: 53, HostIP: netip.MustParseAddr("192.0.2.1")}},
				Apps: []pod.AppRequest{{Image: "a"}}}},
		{"volumes and mounts", "--volume data,kind=host,source=/srv/d/,readOnly=true,recursive=false --volume tmp,kind=empty,mode=0700,uid=5,gid=6 --mount volume=tmp,target=/tmp a --mount volume=data,target=/data/",
			&pod.RunRequest{
				Volumes: []pod.VolumeFlag{
					{Name: "data", Kind: "host", Source: "/srv/d", ReadOnly: true, Recursive: boolp(false)},
					{Name: "tmp", Kind: "empty", Mode: "0700", UID: intp(5), GID: intp(6)},
				},
				Mounts: []pod.MountFlag{{Volume: "tmp", Target: "/tmp"}},
				Apps:   []pod.AppRequest{{Image: "a", Mounts: []pod.MountFlag{{Volume: "data", Target: "/data"}}}},
			}},
		{"an ID-mapped host volume", "--private-users --volume data,kind=host,source=/srv,idmap=true a",
			&pod.RunRequest{PrivateUsers: "auto", Volumes: []pod.VolumeFlag{{Name: "data", Kind: "host", Source: "/srv", IDMap: true}}, Apps: []pod.AppRequest{{Image: "a"}}}},
		{"user annotations and labels", "--user-annotation team=ops --user-label=env=prod a --user-annotation example.com/role=a=b --user-annotation team= --user-label tier=front b",
			&pod.RunRequest{UserAnnotations: map[string]string{"team": "ops"}, UserLabels: map[string]string{"env": "prod"},
				Apps: []pod.AppRequest{{Image: "a", UserAnnotations: map[string]string{"example.com/role": "a=b", "team": ""}, UserLabels: map[string]string{"tier": "front"}}, {Image: "b"}}}},
		{"env flags", "--set-env A=1 --set-env B= --set-env-file /e --inherit-env a --environment A=2 --environment C=x=y",
			&pod.RunRequest{SetEnv: []pod.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: ""}}, SetEnvFiles: []string{"/e"}, InheritEnv: true,
				Apps: []pod.AppRequest{{Image: "a", Environment: []pod.EnvVar{{Name: "A", Value: "2"}, {Name: "C", Value: "x=y"}}}}}},
		{"isolator flags", "a --memory 64M --cpu=500m --caps-retain net_admin,CAP_KILL,kill --seccomp mode=remove,errno=EPERM,mount,umount2 --oom-score-adj -500 --supplementary-gids 10,20 --working-dir /w",
			&pod.RunRequest{Apps: []pod.AppRequest{{Image: "a", Memory: "64M", CPU: "500m", CapsRetain: []string{"CAP_NET_ADMIN", "CAP_KILL"},
				Seccomp: &pod.SeccompFlag{Mode: "remove", Errno: "EPERM", Set: []string{"mount", "umount2"}}, OOMScoreAdj: intp(-500),
				SupplementaryGIDs: []int{10, 20}, WorkingDir: "/w"}}}},
		{"cpu-shares", "a --cpu-shares 2 b --cpu-shares=262144",
			&pod.RunRequest{Apps: []pod.AppRequest{{Image: "a", CPUShares: sharesp(2)}, {Image: "b", CPUShares: sharesp(262144)}}}},
		{"caps-remove and seccomp wildcard", "a --caps-remove CAP_MKNOD --seccomp mode=retain,@appc.io/all",
			&pod.RunRequest{Apps: []pod.AppRequest{{Image: "a", CapsRemove: []string{"CAP_MKNOD"}, Seccomp: &pod.SeccompFlag{Mode: "retain", Set: []string{"@appc.io/all"}}}}}},
		{"misc pod flags", "--uuid-file-save /u --pull-policy never --stop-timeout 3 --no-overlay=true --dns-search example.com --hosts-entry 10.0.0.1=db --hosts-entry host a",
			&pod.RunRequest{UUIDFileSave: "/u", PullPolicy: "never", StopTimeout: 3 * time.Second,
				NoOverlay: true, DNSSearch: []string{"example.com"}, HostsEntries: []pod.HostsEntry{{IP: "10.0.0.1", Name: "db"}}, HostsFromHost: true, Apps: []pod.AppRequest{{Image: "a"}}}},
		{"dns options and domain", "--dns 10.0.0.53 --dns-opt ndots:03 a --dns-opt=rotate --dns-domain corp.example",
			&pod.RunRequest{DNS: []string{"10.0.0.53"}, DNSOptions: []string{"ndots:3", "rotate"}, DNSDomain: "corp.example", Apps: []pod.AppRequest{{Image: "a"}}}},
		{"interactive", "--interactive a --exec /bin/sh", &pod.RunRequest{Interactive: true, Apps: []pod.AppRequest{{Image: "a", Exec: "/bin/sh"}}}},
		{"stop timeout duration", "--stop-timeout=1m30s a", &pod.RunRequest{StopTimeout: 90 * time.Second, Apps: []pod.AppRequest{{Image: "a"}}}},
		{"stall timeout", "--stall-timeout=30s a", &pod.RunRequest{StallTimeout: 30 * time.Second, Apps: []pod.AppRequest{{Image: "a"}}}},
		{"stall timeout never", "--stall-timeout 0 a", &pod.RunRequest{StallTimeout: -1, Apps: []pod.AppRequest{{Image: "a"}}}},
		{"named networks", "--net=web,db:IP=10.1.0.5 a", &pod.RunRequest{Net: "web,db:IP=10.1.0.5", Apps: []pod.AppRequest{{Image: "a"}}}},
		{"pod manifest", "--pod-manifest /p.json --net none", &pod.RunRequest{PodManifest: "/p.json", Net: "none"}},
		{"bare exec name", "a --exec sh -- -c", &pod.RunRequest{Apps: []pod.AppRequest{{Image: "a", Exec: "sh", Args: []string{"-c"}}}}},
		{"help inside args is an arg", "a -- --help", &pod.RunRequest{Apps: []pod.AppRequest{{Image: "a", Args: []string{"--help"}}}}},
		{"boolean false", "--inherit-env=false a --readonly-rootfs=false", &pod.RunRequest{Apps: []pod.AppRequest{{Image: "a"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRunArgs(split(tt.args), nil)
			if err != nil {
				t.Fatalf("parseRunArgs(%q): %v", tt.args, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseRunArgs(%q)\n got %+v\nwant %+v", tt.args, got, tt.want)
			}
		})
	}
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	f := strings.Split(s, " ")
	for i := range f {
		if f[i] == "_" {
			f[i] = ""
		}
	}
	return f
}

func TestParseRunArgsErrors(t *testing.T) {
	tests := []struct {
		args string
		want string // substring of the error
	}{
		{"", "no image given"},
		{"-- x", `"--": app arguments must follow an image`},
		{"a -- x --- -- y", `image a: only one "--" argument list per image`},
		{"a --- b", `"---" outside an argument list`},
		{"--exec /x a", "flag --exec must follow an image"},
		{"--name x a", "flag --name must follow an image"},
		{"a --bogus", "unknown flag --bogus"},
		{"a --user-annotation Team=x", `--user-annotation "Team=x": name "Team" is not an AC Identifier`},
		{"a --user-label x", `--user-label "x": not NAME=VALUE`},
		{"a --user-annotation created=yesterday", `is not an RFC 3339 date-time`},
		{"a --user-label =x", `--user-label "=x": name "" is not an AC Identifier`},
		{"a --user-annotation k=1 --user-annotation k=2", `--user-annotation "k=2": name k given twice`},
		{"a --user-annotation acirun.io/operator-capabilities=true", "--user-annotation acirun.io/operator-capabilities (image a): names under acirun.io/ are acirun's own"},
		{"--user-annotation acirun.io/x=1 a", "--user-annotation acirun.io/x: names under acirun.io/ are acirun's own"},
		{"--user-label k=1 --pod-manifest /p", "remove --user-label"},
		{"a --name", "flag --name needs a value"},
		{"a --name x --name y", "flag --name given twice for image a"},
		{"--hostname a --hostname b c", "flag --hostname given twice"},
		{"a --name Bad_Name", `--name "Bad_Name": "Bad_Name" is not an AC Name`},
		{"a --name x b --name x", "--name x: given to both a and b"},
		{"a --exec bin/sh", `--exec "bin/sh": exec "bin/sh" is a relative path`},
		{"a --exec ./sh", `is a relative path`},
		{"--volume data,kind=host a", `--volume "data,kind=host": kind=host needs source=PATH`},
		{"--volume data,kind=host,source=rel a", `source "rel" is not an absolute path`},
		{"--volume data,kind=host,source=/x,readonly=true a", `--volume "data,kind=host,source=/x,readonly=true": unknown key "readonly"`},
		{"--volume data,kind=host,source=/x,readOnly=yes a", `readOnly=yes: not a boolean`},
		{"--volume data,kind=host,source=/x,mode=0700 a", `key "mode" applies to kind=empty volumes only`},
		{"--volume data,kind=empty,source=/x a", `key "source" applies to kind=host volumes only`},
		{"--volume data,kind=empty,idmap=true a", `key "idmap" applies to kind=host volumes only`},
		{"--volume data,kind=host,source=/x,idmap=yes a", `idmap=yes: not a boolean`},
		{"--volume data,kind=empty,mode=999 a", `mode=999: not an octal file mode`},
		{"--volume data,kind=empty,uid=-1 a", `uid=-1: not a non-negative number`},
		{"--volume data,kind=nfs a", `kind=nfs: unknown kind`},
		{"--volume data a", `kind=host or kind=empty is required`},
		{"--volume Data,kind=empty a", `volume name: "Data" is not an AC Name`},
		{"--volume d,kind=empty,kind=host a", `key "kind" given twice`},
		{"--volume d,kind=empty,novalue a", `"novalue" is not KEY=VALUE`},
		{"--volume d,kind=empty --volume d,kind=empty a", "--volume d: volume name given twice"},
		{"a --mount volume=nope,target=/x", "--mount volume=nope,target=/x (image a): no --volume named nope"},
		{"--mount volume=nope,target=/x a", "--mount volume=nope,target=/x: no --volume named nope"},
		{"--volume v,kind=empty a --mount volume=v,target=/x --mount volume=v,target=/x/", "target mounted twice"},
		{"a --mount volume=v", "target=PATH is required"},
		{"a --mount target=/x", "volume=NAME is required"},
		{"a --mount volume=v,target=x", `target "x" is not an absolute path`},
		{"a --mount volume=v,target=/x,readOnly=true", `unknown key "readOnly"`},
		{"a --seccomp mount,umount", "mode=retain or mode=remove is required"},
		{"a --seccomp mode=retain,read,read", `system call "read" given twice`},
		{"a --seccomp mode=keep,mount", "mode=keep: mode is retain or remove"},
		{"a --seccomp mode=retain", "no system calls given"},
		{"a --seccomp mode=retain,errno=EWHAT,read", "errno=EWHAT: not an errno name"},
		{"a --seccomp mode=retain,Read", `"Read" is not a system call name`},
		{"a --seccomp mode=retain,mode=remove,read", `key "mode" given twice`},
		{"a --seccomp mode=retain,level=3,read", `unknown key "level"`},
		{"a --seccomp mode=retain,@appc.io/most", `"@appc.io/most" is not a system call name`},
		{"a --caps-retain CAP_FLY", `"CAP_FLY" is not a Linux capability`},
		{"a --caps-retain CAP_KILL --caps-remove CAP_KILL", "--caps-retain and --caps-remove exclude each other"},
		{"a --memory 16m", "too low; did you mean 16M?"},
		{"a --memory lots", `no digits`},
		{"a --memory 64MB", `unknown suffix`},
		{"a --memory 8Ei", `too large`},
		{"a --cpu 10E", `too large`},
		{"a --cpu 0", "at least 1m"},
		{"--cpu-shares 512 a", "flag --cpu-shares must follow an image"},
		{"a --cpu-shares 1", `--cpu-shares "1": not a CPU weight from 2 to 262144`},
		{"a --cpu-shares 262145", "not a CPU weight from 2 to 262144"},
		{"a --cpu-shares -5", "not a CPU weight"},
		{"a --cpu-shares 1k", "not a CPU weight"},
		{"a --cpu-shares 512 --cpu-shares 512", "flag --cpu-shares given twice for image a"},
		{"a --oom-score-adj 2000", "not a number from -1000 to 1000"},
		{"a --supplementary-gids 1,x", `"x" is not a group ID`},
		{"a --working-dir rel", "not an absolute path"},
		{"a --environment NOEQUALS", "not NAME=VALUE"},
		{"a --environment =x", `invalid variable name ""`},
		{"a --environment A=1 --environment A=2", "variable A already set"},
		{"--set-env A=1 --set-env A=2 a", "variable A already set"},
		{"--dns 1.2.3 a", "not an IP address, host or none"},
		{"--dns host --dns 1.1.1.1 a", "--dns host cannot be combined"},
		{"--hosts-entry 1.2.3.4 a", "not IP=NAME"},
		{"--hosts-entry x=db a", `"x" is not an IP address`},
		{"--hosts-entry 1.2.3.4=-db a", `"-db" is not a valid domain name`},
		{"--hostname my_host a", "not a valid host name"},
		{"--dns-search bad..domain a", "not a valid domain name"},
		{"--dns-search example.com. a", "not a valid domain name"},
		{"--dns-opt ndots:99 a", `--dns-opt "ndots:99": resolv.conf option ndots:99: want ndots:N, N from 0 to 15`},
		{"--dns-opt nodots a", `"nodots" is not a resolv.conf option (known: ndots:N`},
		{"--dns-domain bad_domain a", `--dns-domain "bad_domain": "bad_domain" is not a valid domain name`},
		{"--dns-domain a.example --dns-domain b.example a", "flag --dns-domain given twice"},
		{"--dns host --dns-domain a.example a", "--dns=host copies the host's /etc/resolv.conf as it is: --dns-domain would be ignored"},
		{"--dns none --dns-search a.example a", "--dns=none leaves the image's /etc/resolv.conf as it is: --dns-search would be ignored"},
		{"--interactive a b", "--interactive gives the terminal to one app, and the pod has 2"},
		{"--interactive=yes a", `--interactive "yes": not a boolean`},
		{"--pull-policy sometimes a", "valid: new, update, never"},
		{"--net bridge: a", "network bridge: nothing after ':'"},
		{"--net=default,web a", "network default is built in and cannot be listed with named networks: to be on a NAT'd network and another at once"},
		{"--port http a", "want NAME:[IP:]HOSTPORT"},
		{"--port :80 a", "want NAME:[IP:]HOSTPORT"},
		{"--port Http:80 a", `port name: "Http" is not an AC Name`},
		{"--port http:0 a", `host port "0": want 1-65535`},
		{"--port http:70000 a", `host port "70000": want 1-65535`},
		{"--port http:::1:80 a", `"::1" is not an IPv4 address`},
		{"--port http:localhost:80 a", `"localhost" is not an IPv4 address`},
		{"--port http:80 --port http:81 a", "port http is published twice"},
		{"--pod-manifest /p --port http:80", "remove --port"},
		{"--net=host --port http:80 a", "--port needs the default network, not --net=host"},
		{"--stop-timeout soon a", "not a duration"},
		{"--stop-timeout -1s a", "must be positive"},
		{"--stall-timeout 30 a", `stall timeout "30" is not a duration such as 30s or 2m (0: never)`},
		{"--stall-timeout 100ms a", `stall timeout "100ms" is less than 1s`},
		{"--inherit-env=maybe a", "not a boolean"},
		{"--pod-manifest /p a", "--pod-manifest /p: the pod manifest defines the apps and volumes; remove images"},
		{"--pod-manifest /p --set-env A=1 --inherit-env", "remove --set-env, --inherit-env"},
		{"_", "empty image name"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			got, err := parseRunArgs(split(tt.args), nil)
			if err == nil {
				t.Fatalf("parseRunArgs(%q) = %+v, want error containing %q", tt.args, got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseRunArgs(%q) error %q, want it to contain %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestParseRunArgsHelp(t *testing.T) {
	for _, args := range []string{"--help", "a -h", "--net none a -help"} {
		if _, err := parseRunArgs(split(args), nil); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("parseRunArgs(%q) error %v, want flag.ErrHelp", args, err)
		}
	}
}

func TestFlagsDescribeParser(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range runFlags() {
		if seen[f.Name] {
			t.Errorf("flag %s listed twice", f.Name)
		}
		seen[f.Name] = true
		if f.Help == "" {
			t.Errorf("flag %s has no help", f.Name)
		}
		// Every listed flag is known to the parser.
		args := []string{"a", "--" + f.Name}
		if f.Value != "" {
			args = append(args, "x")
		}
		if _, err := parseRunArgs(args, nil); err != nil && strings.Contains(err.Error(), "unknown flag") {
			t.Errorf("flag %s listed but not parsed: %v", f.Name, err)
		}
	}
	// A global flag is one of the globals, wherever it is given: no flag
	// of run may shadow one.
	globals := flag.NewFlagSet("", flag.ContinueOnError)
	new(Globals).register(globals)
	globals.VisitAll(func(g *flag.Flag) {
		if seen[g.Name] {
			t.Errorf("run flag --%s shadows the global flag", g.Name)
		}
	})
	for _, want := range []string{"volume", "hostname", "dns", "dns-search", "dns-opt", "dns-domain", "hosts-entry", "set-env", "set-env-file",
		"inherit-env", "uuid-file-save", "pull-policy", "stall-timeout", "net", "pod-manifest", "stop-timeout", "interactive", "no-overlay",
		"exec", "name", "user", "group", "supplementary-gids", "working-dir", "environment", "mount", "memory", "cpu",
		"cpu-shares", "caps-retain", "caps-remove", "seccomp", "readonly-rootfs", "oom-score-adj"} {
		if !seen[want] {
			t.Errorf("flag %s missing from runFlags()", want)
		}
	}
}

func FuzzParseRunArgs(f *testing.F) {
	f.Add("a -- x --- b --exec /y --volume v,kind=empty --mount volume=v,target=/v")
	f.Add("--seccomp mode=retain,errno=EPERM,read a")
	f.Add("--pod-manifest /p --dns 1.1.1.1")
	f.Add("--net=default --port http:8080 --port dns:192.0.2.1:53 a")
	f.Add("--user-annotation a=b a --user-label example.com/x=y")
	f.Fuzz(func(t *testing.T, s string) {
		req, err := parseRunArgs(strings.Fields(s), nil)
		if err != nil {
			if req != nil {
				t.Fatalf("both a request and an error: %v", err)
			}
			return
		}
		if req.PodManifest == "" && len(req.Apps) == 0 {
			t.Fatalf("accepted %q without an image", s)
		}
		for _, a := range req.Apps {
			for k := range a.UserAnnotations {
				if aci.ACIdentifier(k).Validate() != nil {
					t.Fatalf("user annotation name %q accepted", k)
				}
			}
			if a.Exec != "" && a.Exec[0] != '/' && strings.Contains(a.Exec, "/") {
				t.Fatalf("relative exec accepted: %q", a.Exec)
			}
		}
	})
}

func FuzzParseVolume(f *testing.F) {
	f.Add("data,kind=host,source=/srv,readOnly=true,recursive=false")
	f.Add("data,kind=host,source=/srv,idmap=true")
	f.Add("tmp,kind=empty,mode=0700,uid=1,gid=2")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseVolume(s)
		if err != nil {
			return
		}
		av := v.Volume()
		var errs []string
		if err := (&aci.PodManifest{ACKind: aci.ACKindPodManifest, Volumes: []aci.Volume{av}}).Validate(); err != nil {
			for _, e := range strings.Split(err.Error(), "\n") {
				if strings.Contains(e, "volumes") {
					errs = append(errs, e)
				}
			}
		}
		if len(errs) > 0 {
			t.Fatalf("parseVolume(%q) accepted a volume the pod manifest refuses: %v", s, errs)
		}
	})
}

func FuzzParseSeccomp(f *testing.F) {
	f.Add("mode=retain,errno=EPERM,read,write")
	f.Add("mode=remove,@appc.io/all")
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := parseSeccomp(s)
		if err != nil {
			return
		}
		if sc.Mode != "retain" && sc.Mode != "remove" || len(sc.Set) == 0 {
			t.Fatalf("parseSeccomp(%q) = %+v", s, sc)
		}
		var v aci.IsolatorValue = aci.LinuxSeccompRemoveSet{Set: sc.Set, Errno: sc.Errno}
		if err := (aci.Isolators{aci.NewIsolator(v)}).Validate(); err != nil {
			t.Fatalf("parseSeccomp(%q) accepted what the isolator refuses: %v", s, err)
		}
	})
}

func TestIsSyscallName(t *testing.T) {
	re := regexp.MustCompile(`^[a-z_][a-z0-9_]*$`) // the rule, as the spec of isSyscallName
	for _, s := range []string{
		"read", "_sysctl", "io_uring_setup", "a1", "_", "x9_",
		"", "Read", "1read", "9", "read-2", "@appc.io/all", "read\n", "rèad", "read ",
	} {
		if got, want := isSyscallName(s), re.MatchString(s); got != want {
			t.Errorf("isSyscallName(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestQuantityFlags: --memory and --cpu accept what aci.ParseQuantity
// accepts (what image manifests' isolators accept: stage0/pod's
// TestQuantityOptionsAgreeWithManifests), less limits too low to be meant: a
// memory limit under 4 KiB (16m is 16 millibytes, a typo of 16M) and a CPU
// limit under 1m. The request carries the value as given.
func TestQuantityFlags(t *testing.T) {
	for _, q := range []string{
		"1e9", "64M", "64Mi", "1G", "1.5Gi", ".5Gi", "+2G", "5.", "4Ki", "1E", "7Ei", "1e+6", "5e-1", "500m", "250m", "2", "1n",
		"8Ei", "10E", "1e40", "1K", "1g", "64MB", "-1G", "0x10", "1 G", "", "1e", "Gi", "16m", "4095", "4096", "0", "0.5m",
	} {
		for _, r := range []struct {
			flag string
			unit int64
			min  int64
			got  func(*pod.AppRequest) string
		}{
			{"--memory", 1, 4096, func(a *pod.AppRequest) string { return a.Memory }},
			{"--cpu", 1000, 1, func(a *pod.AppRequest) string { return a.CPU }},
		} {
			n, perr := aci.ParseQuantity(q, r.unit)
			want := perr == nil && n >= r.min
			req, err := parseRunArgs([]string{"a", r.flag, q}, nil)
			if (err == nil) != want {
				t.Errorf("%s %q: %v; aci.ParseQuantity: %d, %v", r.flag, q, err, n, perr)
				continue
			}
			if err == nil && r.got(&req.Apps[0]) != q {
				t.Errorf("%s %q: request carries %q", r.flag, q, r.got(&req.Apps[0]))
			}
		}
	}
}
