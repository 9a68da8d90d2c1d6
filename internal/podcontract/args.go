package podcontract

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/acirun/acirun/userns"
)

// The networks of a pod (--net).
const (
	NetDefault = "default" // a veth pair to the host, NAT beyond it
	NetHost    = "host"    // the host's network namespace
	NetNone    = "none"    // loopback only
	// NetDefaultRestricted is the default network for a pod that reaches
	// the host and nothing beyond it (rkt's default-restricted): no
	// forwarding of what it starts, only answers to what reaches it.
	NetDefaultRestricted = "default-restricted"
)

// OnDefaultNetwork says whether a pod on network net has a link to the host
// on the default network, restricted or not.
func OnDefaultNetwork(net string) bool {
	return net == NetDefault || net == NetDefaultRestricted
}

// Where the ports the apps declare are published on the host of a pod on
// the default network (--publish, the local configuration's publish; ports
// named by --port go where it says).
const (
	PublishAll      = "all"      // every host address, IPv4 and IPv6, loopback included
	PublishLoopback = "loopback" // 127.0.0.1 and ::1 only
	PublishNone     = "none"     // not at all: the pod answers at its own address
)

// CheckPublish accepts a value of --publish.
func CheckPublish(s string) error {
	switch s {
	case PublishAll, PublishLoopback, PublishNone:
		return nil
	}
	return fmt.Errorf("publish %q: want all (every host address), loopback (127.0.0.1 and ::1) or none", s)
}

// DefaultRunDir is where stage1 keeps the host's share of what its pods
// need beyond one pod, and that must not outlive a boot, unless --run-dir
// says otherwise: the pod networks' address leases (RUN-DIR/net) and the
// metadata service's signing key (RUN-DIR/metadata). One place per host,
// since addresses and pod identities are the host's.
const DefaultRunDir = "/run/acirun"

// DefaultStopTimeout is how long a stopping pod's apps get between SIGTERM
// and SIGKILL when --stop-timeout is not given (systemd's default as well).
const DefaultStopTimeout = 10 * time.Second

// RunOptions are the flags of `acirun stage1 run` (and of the pod's PID 1,
// `stage1 init`, which gets them unchanged). stage0 chooses most of them at
// prepare time and writes them into the pod directory (Stage1ArgsFile, as
// Args gives them); `run-prepared` and a systemd unit add the flags of
// their start (--run-dir); stage1 reads them back with ParseRunFlags. A
// RunOptions from ParseRunFlags has every default filled in, and Args
// leaves the defaults out, so that each is written in one place; one made
// to be written starts from DefaultRunOptions.
type RunOptions struct {
	Net           string        // NetDefault, NetDefaultRestricted, NetHost, NetNone, or named networks (ParseNet)
	Publish       string        // where declared ports are published: PublishAll, PublishLoopback or PublishNone
	RunDir        string        // the host's runtime state shared by pods (DefaultRunDir)
	NetConfigDir  string        // the named networks' CNI configurations (LOCAL-CONFIG/net.d), a flag of each start
	Hostname      string        // the pod's host name; "" for stage1's default (acirun-UUID8)
	DNS           []string      // nameserver IPs, or the single word DNSHost or DNSNone
	DNSSearch     []string      // search domains
	DNSOptions    []string      // options of resolv.conf (ParseDNSOption)
	DNSDomain     string        // the local domain of resolv.conf
	HostsEntries  []HostsEntry  // lines of the apps' /etc/hosts
	HostsFromHost bool          // --hosts-entry=host: start from the host's /etc/hosts
	StopTimeout   time.Duration // between SIGTERM and SIGKILL when stopping
	Insecure      Insecure      // only the run relaxations are acted on (and written)
	NoOverlay     bool          // a private copy of each app's tree instead of an overlay
	// Interactive gives the pod's one app the terminal of `stage1 run`'s
	// standard input (a pseudo-terminal relayed to it), or that standard
	// input itself when it is no terminal. Without it the apps' standard
	// input is /dev/null.
	Interactive bool
	MetadataURL string // the apps' AC_METADATA_URL when another service serves it
	Debug       bool   // each step on stderr
	// PrivateUsers gives the pod's apps a user namespace mapping their IDs
	// 0 to COUNT-1 to host IDs: "" for none (the host's IDs), userns.Auto
	// for a range stage1 leases, or UID:COUNT (userns.ParseRange).
	PrivateUsers string
	// Subnet and Subnet6 are the default network's subnets when the host's
	// configuration (network.d) sets them, flags of each start: "" for
	// netns's defaults, SubnetNone for no address of that family
	// (ParseSubnet).
	Subnet, Subnet6 string
	// TasksMax, when not 0, bounds the processes and threads of the pod's
	// PID 1 and apps, in a pids cgroup of the pod's own: a flag of each
	// start, which stage0 gives a pod it runs in its own process with no
	// unit to bound it (--no-unit, or no systemd), as unitgen.TasksMax
	// bounds a pod's unit.
	TasksMax int
}

// DefaultRunOptions returns the options of a `stage1 run` given no flags.
func DefaultRunOptions() RunOptions {
	return RunOptions{Net: NetDefault, Publish: PublishAll, RunDir: DefaultRunDir, StopTimeout: DefaultStopTimeout}
}

// Args returns o as flags of `stage1 run`, each in --flag=value form,
// leaving out the defaults (and the fetch relaxations of Insecure).
func (o *RunOptions) Args() []string {
	def := DefaultRunOptions()
	a := []string{}
	if o.Net != "" && o.Net != def.Net {
		a = append(a, "--net="+o.Net)
	}
	if o.Publish != "" && o.Publish != def.Publish {
		a = append(a, "--publish="+o.Publish)
	}
	if o.Subnet != "" {
		a = append(a, "--subnet="+o.Subnet)
	}
	if o.Subnet6 != "" {
		a = append(a, "--subnet6="+o.Subnet6)
	}
	if o.RunDir != "" && o.RunDir != def.RunDir {
		a = append(a, "--run-dir="+o.RunDir)
	}
	if o.NetConfigDir != "" {
		a = append(a, "--net-config-dir="+o.NetConfigDir)
	}
	if o.Hostname != "" {
		a = append(a, "--hostname="+o.Hostname)
	}
	for _, d := range o.DNS {
		a = append(a, "--dns="+d)
	}
	for _, d := range o.DNSSearch {
		a = append(a, "--dns-search="+d)
	}
	for _, d := range o.DNSOptions {
		a = append(a, "--dns-opt="+d)
	}
	if o.DNSDomain != "" {
		a = append(a, "--dns-domain="+o.DNSDomain)
	}
	if o.HostsFromHost {
		a = append(a, "--hosts-entry="+HostsFromHost)
	}
	for _, h := range o.HostsEntries {
		a = append(a, "--hosts-entry="+h.String())
	}
	if o.StopTimeout != def.StopTimeout {
		a = append(a, "--stop-timeout="+o.StopTimeout.String())
	}
	if run := o.Insecure & InsecureAllRun; run != 0 {
		a = append(a, "--insecure-options="+strings.Join(run.singles(), ","))
	}
	if o.NoOverlay {
		a = append(a, "--no-overlay")
	}
	if o.Interactive {
		a = append(a, "--interactive")
	}
	if o.MetadataURL != "" {
		a = append(a, "--metadata-url="+o.MetadataURL)
	}
	if o.PrivateUsers != "" {
		a = append(a, "--private-users="+o.PrivateUsers)
	}
	if o.TasksMax != 0 {
		a = append(a, "--tasks-max="+strconv.Itoa(o.TasksMax))
	}
	if o.Debug {
		a = append(a, "--debug")
	}
	return a
}

// ParseRunFlags parses args, the flags of `stage1 run` and then its
// operands, with fs (on which the caller may have defined flags of its
// own, as `stage1 init` does --control-fd), and checks every value with
// the parsers of this package. It returns the options, defaults filled in;
// fs.Args() are the operands.
func ParseRunFlags(fs *flag.FlagSet, args []string) (*RunOptions, error) {
	o := DefaultRunOptions()
	fs.StringVar(&o.Net, "net", o.Net, "network: default (a veth pair to the host, NAT beyond it), default-restricted (the same, reaching the host only), host (share the host's), none (loopback only), or NAME[:ARG=VALUE;...][,NAME...] of net-config-dir")
	fs.StringVar(&o.NetConfigDir, "net-config-dir", "", "the CNI configurations of the named networks (LOCAL-CONFIG/net.d)")
	fs.Func("publish", "where the ports the apps declare are published on the host: all, loopback or none", func(s string) error {
		o.Publish = s
		return CheckPublish(s)
	})
	fs.Func("subnet", "the default network's IPv4 subnet (CIDR), or none", func(s string) error {
		o.Subnet = s
		_, err := ParseSubnet(s, false)
		return err
	})
	fs.Func("subnet6", "the default network's IPv6 subnet (CIDR), or none", func(s string) error {
		o.Subnet6 = s
		_, err := ParseSubnet(s, true)
		return err
	})
	fs.StringVar(&o.RunDir, "run-dir", o.RunDir, "the host's runtime state shared by pods: address leases, the metadata signing key")
	fs.Func("hostname", "pod hostname (default acirun- and the UUID's first 8 characters)", func(s string) error {
		o.Hostname = s
		return CheckHostname(s)
	})
	fs.Func("dns", "nameserver IP (repeatable, or comma-separated), or host, or none", func(s string) error {
		for _, w := range commaList(s) {
			d, err := ParseNameserver(w)
			if err != nil {
				return err
			}
			o.DNS = append(o.DNS, d)
		}
		return nil
	})
	fs.Func("dns-search", "DNS search domain (repeatable, or comma-separated)", func(s string) error {
		for _, w := range commaList(s) {
			if err := CheckDomain(w); err != nil {
				return err
			}
			o.DNSSearch = append(o.DNSSearch, w)
		}
		return nil
	})
	fs.Func("dns-opt", "resolv.conf option, NAME or NAME:N (repeatable)", func(s string) error {
		opt, err := ParseDNSOption(s)
		o.DNSOptions = append(o.DNSOptions, opt)
		return err
	})
	fs.Func("dns-domain", "the local domain of resolv.conf", func(s string) error {
		o.DNSDomain = s
		return CheckDomain(s)
	})
	fs.Func("hosts-entry", "IP=NAME line for /etc/hosts (repeatable), or host", func(s string) error {
		if s == HostsFromHost {
			o.HostsFromHost = true
			return nil
		}
		e, err := ParseHostsEntry(s)
		o.HostsEntries = append(o.HostsEntries, e)
		return err
	})
	fs.DurationVar(&o.StopTimeout, "stop-timeout", o.StopTimeout, "time between SIGTERM and SIGKILL when stopping")
	fs.Var(&o.Insecure, "insecure-options", "capabilities,paths,seccomp")
	fs.BoolVar(&o.NoOverlay, "no-overlay", false, "give each app a private copy of its rendered tree instead of an overlay")
	fs.BoolVar(&o.Interactive, "interactive", false, "give the one app the terminal (or the standard input) of stage1 run")
	fs.StringVar(&o.MetadataURL, "metadata-url", "", "AC_METADATA_URL given to the apps")
	fs.Func("private-users", "a user namespace for the apps: auto, or UID:COUNT of the host's IDs", func(s string) error {
		if s == "" {
			s = userns.Auto
		}
		o.PrivateUsers = s
		_, err := userns.ParseRange(s)
		return err
	})
	fs.Func("tasks-max", "bound the pod's processes and threads to N in a pids cgroup of its own", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fmt.Errorf("%q: want a number of tasks, 1 or more", s)
		}
		o.TasksMax = n
		return nil
	})
	fs.BoolVar(&o.Debug, "debug", false, "log each step to stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	return &o, nil
}

// check checks what the flags' own parsers cannot: the values that depend
// on each other, and those of plain string and duration flags.
func (o *RunOptions) check() error {
	switch o.Net {
	case NetDefault, NetDefaultRestricted, NetHost, NetNone:
	default:
		if IsBuiltinNet(o.Net) {
			return fmt.Errorf("--net=%s: this stage1 supports default, default-restricted, host, none and named networks", o.Net)
		}
		if _, err := ParseNet(o.Net); err != nil {
			return fmt.Errorf("--net=%s: %w", o.Net, err)
		}
	}
	if o.NetConfigDir != "" && !filepath.IsAbs(o.NetConfigDir) {
		return fmt.Errorf("--net-config-dir=%q: want an absolute path", o.NetConfigDir)
	}
	if o.Subnet == SubnetNone && o.Subnet6 == SubnetNone {
		return fmt.Errorf("--subnet=%s and --subnet6=%s: the default network needs IPv4, IPv6 or both", SubnetNone, SubnetNone)
	}
	if !filepath.IsAbs(o.RunDir) {
		return fmt.Errorf("--run-dir=%q: want an absolute path", o.RunDir)
	}
	if o.StopTimeout < 0 {
		return fmt.Errorf("--stop-timeout=%s: must not be negative", o.StopTimeout)
	}
	if o.PrivateUsers != "" && o.NoOverlay {
		return errors.New("--private-users with --no-overlay: a private copy would be owned by the host's IDs; drop --no-overlay (the image is shared read-only through an ID-mapped overlay)")
	}
	if o.MetadataURL != "" {
		if err := CheckMetadataURL(o.MetadataURL); err != nil {
			return fmt.Errorf("--metadata-url: %w", err)
		}
	}
	return CheckResolv(o.DNS, o.DNSSearch, o.DNSOptions, o.DNSDomain)
}

// CheckInteractive refuses --interactive for a pod of apps apps other than
// one, as rkt did: a terminal has one reader, and job control one session.
func CheckInteractive(apps int) error {
	if apps != 1 {
		return fmt.Errorf("--interactive gives the terminal to one app, and the pod has %d: run the app that needs the terminal in a pod of its own", apps)
	}
	return nil
}

// CheckMetadataURL accepts the URL of a metadata service: http or https,
// with a host, and nothing (space, control characters) that could not be
// passed on as one word.
func CheckMetadataURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("%q: want an http or https URL", s)
	}
	return nil
}

// commaList splits a comma-separated flag value, dropping empty words.
func commaList(s string) []string {
	var out []string
	for _, w := range strings.Split(s, ",") {
		if w = strings.TrimSpace(w); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// EncodeStage1Args is the content of Stage1ArgsFile: the flags as a JSON
// array of strings, then a newline.
func EncodeStage1Args(args []string) []byte {
	if args == nil {
		args = []string{}
	}
	b, _ := json.Marshal(args) // a []string always encodes
	return append(b, '\n')
}

// ParseRecordedFlags parses flags of `stage1 run` alone, as stage0 records
// them (RunOptions.Args) or is about to hand them over: no operand and no
// flag of stage1's own. It is ParseRunFlags on a flag set of its own.
func ParseRecordedFlags(args []string) (*RunOptions, error) {
	fs := flag.NewFlagSet("stage1 run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return ParseRunFlags(fs, args)
}

// ParseStage1Args reads Stage1ArgsFile's content and checks that its flags
// are ones `stage1 run` takes, so that a damaged file is found when the pod
// is listed, not when it is started.
func ParseStage1Args(b []byte) ([]string, error) {
	var args []string
	if err := json.Unmarshal(b, &args); err != nil {
		return nil, err
	}
	if args == nil {
		return nil, errors.New("not a JSON array of flags")
	}
	for i, a := range args {
		if !strings.HasPrefix(a, "--") {
			return nil, fmt.Errorf("argument %d %s: not a flag", i, strconv.Quote(a))
		}
	}
	if _, err := ParseRecordedFlags(args); err != nil {
		return nil, err
	}
	return args, nil
}
