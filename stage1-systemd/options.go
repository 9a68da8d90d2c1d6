package stage1

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/acirun/acirun/internal/podcontract"
)

// defaultRunDir is where stage1 keeps the host's share of what its pods
// need beyond one pod, and that must not outlive a boot, unless --run-dir
// says otherwise: the pod networks' address leases (RUN-DIR/net) and the
// metadata service's signing key (RUN-DIR/metadata). One place per host,
// since addresses and pod identities are the host's.
const defaultRunDir = "/run/acirun"

// defaultStopTimeout is how long a stopping pod's apps get between SIGTERM and
// SIGKILL when --stop-timeout is not given (systemd's default as well).
const defaultStopTimeout = 10 * time.Second

// podOptions are the flags of `stage1 run`, passed unchanged to `stage1 init`.
type podOptions struct {
	net           string // "default", "host" or "none"
	runDir        string // the host's runtime state shared by pods (defaultRunDir)
	hostname      string
	dns           []string // nameserver IPs, or the single word "host" or "none"
	dnsSearch     []string
	hostsEntry    []podcontract.HostsEntry
	hostsFromHost bool // --hosts-entry=host: copy the host's /etc/hosts
	stopTimeout   time.Duration
	insecure      podcontract.Insecure // only the run relaxations matter here
	noOverlay     bool
	metadataURL   string // AC_METADATA_URL for the apps, if a metadata service serves the pod
	debug         bool
	podDir        string
	// controlFd (init only, set by run) is PID 1's end of a socket pair
	// with `stage1 run`: run sends one byte when PID 1 may go on (the pod
	// is registered, and in its final cgroup), PID 1 sends one when every
	// app has started. -1 when there is none.
	controlFd int
}

// listFlag collects a repeatable flag; each use may hold comma-separated values.
type listFlag struct {
	vals  *[]string
	comma bool
}

func (l listFlag) String() string {
	if l.vals == nil {
		return ""
	}
	return strings.Join(*l.vals, ",")
}

func (l listFlag) Set(v string) error {
	if l.comma {
		for _, w := range strings.Split(v, ",") {
			if w = strings.TrimSpace(w); w != "" {
				*l.vals = append(*l.vals, w)
			}
		}
		return nil
	}
	*l.vals = append(*l.vals, v)
	return nil
}

// parsePodOptions parses the flags of `stage1 run` (and `stage1 init`),
// followed by exactly one POD-DIR.
func parsePodOptions(cmd string, args []string, stderr io.Writer) (*podOptions, error) {
	o := &podOptions{net: "default", runDir: defaultRunDir, stopTimeout: defaultStopTimeout, controlFd: -1}
	fs := flag.NewFlagSet("stage1 "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var hosts, insecure []string
	fs.StringVar(&o.net, "net", o.net, "network: default (a veth pair to the host, NAT beyond it), host (share the host's) or none (loopback only)")
	fs.StringVar(&o.runDir, "run-dir", o.runDir, "the host's runtime state shared by pods: address leases, the metadata signing key")
	fs.StringVar(&o.hostname, "hostname", "", "pod hostname (default acirun- and the UUID's first 8 characters)")
	fs.Var(listFlag{&o.dns, true}, "dns", "nameserver IP (repeatable), or host, or none")
	fs.Var(listFlag{&o.dnsSearch, true}, "dns-search", "DNS search domain (repeatable)")
	fs.Var(listFlag{&hosts, false}, "hosts-entry", "IP=NAME line for /etc/hosts (repeatable), or host")
	fs.DurationVar(&o.stopTimeout, "stop-timeout", o.stopTimeout, "time between SIGTERM and SIGKILL when stopping")
	fs.Var(listFlag{&insecure, true}, "insecure-options", "capabilities,paths,seccomp")
	fs.BoolVar(&o.noOverlay, "no-overlay", false, "give each app a private copy of its rendered tree instead of an overlay")
	fs.StringVar(&o.metadataURL, "metadata-url", "", "AC_METADATA_URL given to the apps")
	fs.BoolVar(&o.debug, "debug", false, "log each step to stderr")
	if cmd == "init" {
		fs.IntVar(&o.controlFd, "control-fd", -1, "descriptor of the socket to stage1 run (set by run)")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if u, err := url.Parse(o.metadataURL); o.metadataURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		return nil, fmt.Errorf("--metadata-url=%q: want an http or https URL", o.metadataURL)
	}
	if fs.NArg() != 1 {
		return nil, fmt.Errorf("stage1 %s: want exactly one POD-DIR, got %d arguments", cmd, fs.NArg())
	}
	o.podDir = fs.Arg(0)
	switch o.net {
	case "default", "host", "none":
	default:
		return nil, fmt.Errorf("--net=%s: this stage1 supports default, host and none", o.net)
	}
	if !filepath.IsAbs(o.runDir) {
		return nil, fmt.Errorf("--run-dir=%q: want an absolute path", o.runDir)
	}
	if o.stopTimeout < 0 {
		return nil, fmt.Errorf("--stop-timeout=%s: must not be negative", o.stopTimeout)
	}
	if o.hostname != "" {
		if err := podcontract.CheckHostname(o.hostname); err != nil {
			return nil, fmt.Errorf("--hostname: %w", err)
		}
	}
	if err := parseInsecure(insecure, &o.insecure); err != nil {
		return nil, err
	}
	for _, d := range o.dns {
		if _, err := podcontract.ParseNameserver(d); err != nil {
			return nil, fmt.Errorf("--dns: %w", err)
		}
	}
	if err := podcontract.CheckNameservers(o.dns); err != nil {
		return nil, err
	}
	for _, s := range o.dnsSearch {
		if err := podcontract.CheckDomain(s); err != nil {
			return nil, fmt.Errorf("--dns-search: %w", err)
		}
	}
	for _, h := range hosts {
		if h == podcontract.HostsFromHost {
			o.hostsFromHost = true
			continue
		}
		e, err := podcontract.ParseHostsEntry(h)
		if err != nil {
			return nil, fmt.Errorf("--hosts-entry: %w", err)
		}
		o.hostsEntry = append(o.hostsEntry, e)
	}
	return o, nil
}

// parseInsecure adds the --insecure-options values words to o.
func parseInsecure(words []string, o *podcontract.Insecure) error {
	for _, w := range words {
		if err := o.Set(w); err != nil {
			return fmt.Errorf("--insecure-options: %w", err)
		}
	}
	return nil
}

// appOptions are the flags of `stage1 app`.
type appOptions struct {
	phase       string // "main", "pre-start" or "post-stop"
	insecure    podcontract.Insecure
	metadataURL string
	// notifySocket is the app's NOTIFY_SOCKET, where PID 1 hears its
	// sd_notify messages; "" for an app whose image does not use them.
	notifySocket string
	cgroups      []string // cgroup directories to join before executing
	listenFds    int      // socket-activated fds passed as 3, 4, … (main phase only)
	debug        bool
	podDir       string
	name         string
}

func parseAppOptions(args []string, stderr io.Writer) (*appOptions, error) {
	o := &appOptions{}
	fs := flag.NewFlagSet("stage1 app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var insecure []string
	fs.StringVar(&o.phase, "phase", "main", "main, pre-start or post-stop")
	fs.Var(listFlag{&insecure, true}, "insecure-options", "capabilities,paths,seccomp")
	fs.Var(listFlag{&o.cgroups, false}, "cgroup", "cgroup directory to join (repeatable)")
	fs.StringVar(&o.metadataURL, "metadata-url", "", "AC_METADATA_URL")
	fs.StringVar(&o.notifySocket, "notify-socket", "", "NOTIFY_SOCKET of the app (an abstract socket of PID 1)")
	fs.IntVar(&o.listenFds, "listen-fds", 0, "number of socket-activated fds passed from fd 3 on")
	fs.BoolVar(&o.debug, "debug", false, "log each step to stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 2 {
		return nil, errors.New("stage1 app: want POD-DIR NAME")
	}
	switch o.phase {
	case "main", "pre-start", "post-stop":
	default:
		return nil, fmt.Errorf("stage1 app: --phase=%q: want main, pre-start or post-stop", o.phase)
	}
	if o.listenFds < 0 || (o.listenFds > 0 && o.phase != "main") {
		return nil, fmt.Errorf("stage1 app: --listen-fds=%d: want a count, for the main phase only", o.listenFds)
	}
	if err := parseInsecure(insecure, &o.insecure); err != nil {
		return nil, err
	}
	o.podDir, o.name = fs.Arg(0), fs.Arg(1)
	return o, nil
}
