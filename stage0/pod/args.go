// Package pod is the host side of a pod: the command-line model of
// `acirun run` and `acirun prepare`, the preparation of a pod directory
// (the reified pod manifest and everything else docs/pod-layout.md names),
// and the race-free reading of a pod's state for list, status and gc.
//
// The pod directory is the only thing shared with stage1; this package never
// runs a pod itself, it builds the command line (Stage1Command) that does.
package pod

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/podcontract"
)

// RunRequest is the parsed command line of `acirun run` or `acirun prepare`:
// the pod flags and, in order, the images with their app flags.
type RunRequest struct {
	// Apps are the images named on the command line, in order.
	Apps []AppRequest
	// Volumes are the --volume flags.
	Volumes []VolumeFlag
	// Mounts are --mount flags given before the first image; as in rkt
	// they apply to every app (an app's own --mount of the same target wins).
	Mounts []MountFlag

	Hostname        string            // --hostname; empty means "acirun-" + the UUID's first 8 characters
	DNS             []string          // --dns: IP addresses, or exactly one of "host" or "none"
	DNSSearch       []string          // --dns-search
	HostsEntries    []HostsEntry      // --hosts-entry IP=NAME
	HostsFromHost   bool              // --hosts-entry host: start from the host's /etc/hosts
	SetEnv          []EnvVar          // --set-env K=V, pod-wide
	SetEnvFiles     []string          // --set-env-file F, read at prepare time
	InheritEnv      bool              // --inherit-env
	UUIDFileSave    string            // --uuid-file-save F
	InsecureOptions []string          // --insecure-options, validated names
	PullPolicy      string            // --pull-policy: "", "new", "update" or "never"
	Net             string            // --net: "", "default", "host" or "none"; "" leaves the choice to stage1 (default)
	Ports           []aci.ExposedPort // --port NAME:[IP:]HOSTPORT, in the pod manifest's ports
	PodManifest     string            // --pod-manifest FILE, used instead of images
	StopTimeout     time.Duration
	NoOverlay       bool // --no-overlay
}

// AppRequest is one image on the command line and the app flags following it.
type AppRequest struct {
	// Image is the image reference exactly as given (name, path, URL or ID);
	// resolving it is the ImageResolver's job.
	Image string
	Name  string // --name; empty means the basename of the image name
	Exec  string // --exec; replaces the image's exec (absolute path or bare name)
	// Args are the arguments given between "--" and "---". As in rkt they
	// are appended to the exec (the image's, or --exec). Nil means none given.
	Args              []string
	User              string
	Group             string
	SupplementaryGIDs []int
	WorkingDir        string
	Environment       []EnvVar // --environment K=V, this app only
	Mounts            []MountFlag
	Memory            string // --memory, a resource quantity such as 64M
	CPU               string // --cpu, a resource quantity such as 500m
	CapsRetain        []string
	CapsRemove        []string
	Seccomp           *SeccompFlag
	ReadOnlyRootFS    bool
	OOMScoreAdj       *int
}

// VolumeFlag is one --volume, in appc's volume syntax.
type VolumeFlag struct {
	Name      string
	Kind      string // "host" or "empty"
	Source    string // host only: absolute, cleaned
	ReadOnly  bool
	Recursive *bool  // host only; nil means the default (true)
	Mode      string // empty only; "" means the default "0755"
	UID, GID  *int   // empty only; nil means 0
}

// MountFlag is one --mount volume=NAME,target=PATH.
type MountFlag struct {
	Volume string
	Target string
}

// HostsEntry is one --hosts-entry IP=NAME.
type HostsEntry struct {
	IP   string
	Name string
}

// EnvVar is one NAME=VALUE environment assignment.
type EnvVar struct {
	Name  string
	Value string
}

// SeccompFlag is one --seccomp mode=retain|remove[,errno=E],SYSCALL,...
type SeccompFlag struct {
	Mode  string // "retain" or "remove"
	Errno string // "" means the blocked call gets SIGSYS
	Set   []string
}

// FlagInfo describes one flag of run/prepare so that the CLI can print help
// that always matches what ParseRunArgs accepts.
type FlagInfo struct {
	Name       string // without dashes
	Value      string // value syntax; empty for a boolean flag
	Help       string
	PerApp     bool // applies to the image it follows
	Repeatable bool
}

type flagDef struct {
	FlagInfo
	set func(p *parser, v string) error
}

// Flags lists the flags of run and prepare in the order help shows them:
// pod flags first, then app flags.
func Flags() []FlagInfo {
	defs := flagDefs()
	out := make([]FlagInfo, len(defs))
	for i, d := range defs {
		out[i] = d.FlagInfo
	}
	return out
}

func flagDefs() []flagDef {
	return []flagDef{
		{FlagInfo{"volume", "NAME,kind=host,source=PATH[,readOnly=true][,recursive=false] | NAME,kind=empty[,mode=0755][,uid=0][,gid=0][,readOnly=true]",
			"make a volume available to the pod's apps", false, true}, (*parser).setVolume},
		{FlagInfo{"hostname", "NAME", "the pod's hostname (default acirun- and the first 8 characters of the UUID)", false, false}, (*parser).setHostname},
		{FlagInfo{"dns", "IP|host|none", "name server for the pod's /etc/resolv.conf; host copies the host's file, none writes none", false, true}, (*parser).setDNS},
		{FlagInfo{"dns-search", "DOMAIN", "search domain for the pod's /etc/resolv.conf", false, true}, (*parser).setDNSSearch},
		{FlagInfo{"hosts-entry", "IP=NAME|host", "add a line to the pod's /etc/hosts; host copies the host's file", false, true}, (*parser).setHostsEntry},
		{FlagInfo{"set-env", "NAME=VALUE", "set an environment variable for every app (over the image's and --set-env-file)", false, true}, (*parser).setSetEnv},
		{FlagInfo{"set-env-file", "FILE", "read NAME=VALUE lines (# comments) for every app's environment", false, true}, (*parser).setSetEnvFile},
		{FlagInfo{"inherit-env", "", "pass the host's environment to the apps (lowest precedence)", false, false}, (*parser).setInheritEnv},
		{FlagInfo{"uuid-file-save", "FILE", "write the pod's UUID to FILE", false, false}, (*parser).setUUIDFileSave},
		{FlagInfo{"insecure-options", "OPT[,OPT...]", "turn off security features: image,tls,http,pubkey,capabilities,paths,seccomp,all-fetch,all-run,all (each use is reported)", false, true}, (*parser).setInsecure},
		{FlagInfo{"pull-policy", "new|update|never", "when to fetch an image: new (only if not in the store), update (always), never (store only)", false, false}, (*parser).setPullPolicy},
		{FlagInfo{"net", "default|host|none", "the pod's network: default (its own address, a veth pair to the host, NAT beyond), the host's, or loopback only", false, false}, (*parser).setNet},
		{FlagInfo{"port", "NAME:[IP:]HOSTPORT", "publish the app port NAME on the host at HOSTPORT, on IP or every address (default network; unasked, each app port is published on 127.0.0.1 under its own number)", false, true}, (*parser).setPort},
		{FlagInfo{"pod-manifest", "FILE", "run the apps of this pod manifest instead of images from the command line", false, false}, (*parser).setPodManifest},
		{FlagInfo{"stop-timeout", "DURATION", "time between SIGTERM and SIGKILL when the pod stops (e.g. 10s)", false, false}, (*parser).setStopTimeout},
		{FlagInfo{"no-overlay", "", "give each app a private copy of its image instead of an overlay", false, false}, (*parser).setNoOverlay},

		{FlagInfo{"exec", "CMD", "override the image's exec: an absolute path, or a name looked up in PATH in the app (arguments follow --)", true, false}, (*parser).setExec},
		{FlagInfo{"name", "NAME", "the app's name in the pod (default: the last part of the image name)", true, false}, (*parser).setName},
		{FlagInfo{"user", "USER", "user to run the app as: a name from the image, a number, or a path in the image", true, false}, (*parser).setUser},
		{FlagInfo{"group", "GROUP", "group to run the app as: a name from the image, a number, or a path in the image", true, false}, (*parser).setGroup},
		{FlagInfo{"supplementary-gids", "GID[,GID...]", "supplementary group IDs of the app", true, false}, (*parser).setGIDs},
		{FlagInfo{"working-dir", "PATH", "the app's working directory", true, false}, (*parser).setWorkingDir},
		{FlagInfo{"environment", "NAME=VALUE", "set an environment variable for this app (over --set-env)", true, true}, (*parser).setEnvironment},
		{FlagInfo{"mount", "volume=NAME,target=PATH", "mount a volume in the app (before any image: in every app)", true, true}, (*parser).setMount},
		{FlagInfo{"memory", "QUANTITY", "memory limit of the app (e.g. 64M, 1Gi)", true, false}, (*parser).setMemory},
		{FlagInfo{"cpu", "QUANTITY", "CPU limit of the app (e.g. 500m, 2)", true, false}, (*parser).setCPU},
		{FlagInfo{"caps-retain", "CAP[,CAP...]", "capability bounding set of the app: exactly these", true, false}, (*parser).setCapsRetain},
		{FlagInfo{"caps-remove", "CAP[,CAP...]", "remove these capabilities from the default bounding set", true, false}, (*parser).setCapsRemove},
		{FlagInfo{"seccomp", "mode=retain|remove[,errno=ERRNO],SYSCALL[,SYSCALL...]", "seccomp filter of the app", true, false}, (*parser).setSeccomp},
		{FlagInfo{"readonly-rootfs", "", "mount the app's root filesystem read-only", true, false}, (*parser).setReadOnlyRootFS},
		{FlagInfo{"oom-score-adj", "N", "the app's OOM score adjustment, -1000 to 1000", true, false}, (*parser).setOOMScoreAdj},
	}
}

type parser struct {
	req  *RunRequest
	seen map[string]bool // non-repeatable flags seen (per app for app flags)
}

func (p *parser) last() *AppRequest {
	if len(p.req.Apps) == 0 {
		return nil
	}
	return &p.req.Apps[len(p.req.Apps)-1]
}

// ParseRunArgs parses the arguments of `acirun run` or `acirun prepare`
// (without the subcommand) the way rkt did:
//
//	[pod flags] IMAGE [app flags] [-- ARGS... [---]] [IMAGE [app flags] [-- ARGS... [---]]]...
//
// Anything that is not a flag is an image. App flags apply to the image they
// follow. "--" starts the preceding image's arguments; they run up to a lone
// "---" or the end. Pod flags may appear anywhere outside argument lists.
// --mount before the first image applies to every app. Errors name the flag
// and the value; -h, -help or --help outside an argument list returns
// flag.ErrHelp.
func ParseRunArgs(args []string) (*RunRequest, error) {
	defs := flagDefs()
	byName := make(map[string]*flagDef, len(defs))
	for i := range defs {
		byName[defs[i].Name] = &defs[i]
	}
	p := &parser{req: &RunRequest{}, seen: map[string]bool{}}
	argsSeen := map[int]bool{}
	inArgs := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if inArgs {
			if a == "---" {
				inArgs = false
				continue
			}
			app := p.last()
			app.Args = append(app.Args, a)
			continue
		}
		switch {
		case a == "--":
			app := p.last()
			if app == nil {
				return nil, errors.New(`"--": app arguments must follow an image`)
			}
			if argsSeen[len(p.req.Apps)] {
				return nil, fmt.Errorf(`image %s: only one "--" argument list per image`, app.Image)
			}
			argsSeen[len(p.req.Apps)] = true
			app.Args = []string{}
			inArgs = true
		case a == "---":
			return nil, errors.New(`"---" outside an argument list: it only ends the arguments started by "--"`)
		case a == "-h" || a == "-help" || a == "--help":
			return nil, flag.ErrHelp
		case len(a) > 1 && a[0] == '-':
			name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
			value, hasValue := "", false
			if k, v, ok := strings.Cut(name, "="); ok {
				name, value, hasValue = k, v, true
			}
			d := byName[name]
			if d == nil {
				return nil, fmt.Errorf("unknown flag --%s", name)
			}
			if d.Value == "" { // boolean
				if !hasValue {
					value = "true"
				}
			} else if !hasValue {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("flag --%s needs a value: %s", name, d.Value)
				}
				i++
				value = args[i]
			}
			key := name
			if d.PerApp {
				app := p.last()
				if app == nil && name != "mount" {
					return nil, fmt.Errorf("flag --%s must follow an image", name)
				}
				key = fmt.Sprintf("%d/%s", len(p.req.Apps), name)
			}
			if !d.Repeatable && p.seen[key] {
				if d.PerApp {
					return nil, fmt.Errorf("flag --%s given twice for image %s", name, p.last().Image)
				}
				return nil, fmt.Errorf("flag --%s given twice", name)
			}
			p.seen[key] = true
			if err := d.set(p, value); err != nil {
				return nil, fmt.Errorf("--%s %q: %w", name, value, err)
			}
		default:
			if a == "" {
				return nil, errors.New("empty image name")
			}
			p.req.Apps = append(p.req.Apps, AppRequest{Image: a})
		}
	}
	if err := p.req.validate(); err != nil {
		return nil, err
	}
	return p.req, nil
}

// validate checks what no single flag can: references between flags and
// flags that exclude each other.
func (r *RunRequest) validate() error {
	if r.PodManifest != "" {
		var conflict []string
		if len(r.Apps) > 0 {
			conflict = append(conflict, "images")
		}
		if len(r.Volumes) > 0 {
			conflict = append(conflict, "--volume")
		}
		if len(r.Mounts) > 0 {
			conflict = append(conflict, "--mount")
		}
		if len(r.SetEnv) > 0 {
			conflict = append(conflict, "--set-env")
		}
		if len(r.SetEnvFiles) > 0 {
			conflict = append(conflict, "--set-env-file")
		}
		if r.InheritEnv {
			conflict = append(conflict, "--inherit-env")
		}
		if len(r.Ports) > 0 {
			conflict = append(conflict, "--port")
		}
		if len(conflict) > 0 {
			return fmt.Errorf("--pod-manifest %s: the pod manifest defines the apps and volumes; remove %s", r.PodManifest, strings.Join(conflict, ", "))
		}
	} else if len(r.Apps) == 0 {
		return errors.New("no image given (and no --pod-manifest)")
	}
	if len(r.Ports) > 0 && (r.Net == "host" || r.Net == "none") {
		return fmt.Errorf("--port needs the default network, not --net=%s", r.Net)
	}

	vols := map[string]bool{}
	for _, v := range r.Volumes {
		if vols[v.Name] {
			return fmt.Errorf("--volume %s: volume name given twice", v.Name)
		}
		vols[v.Name] = true
	}
	checkMounts := func(ms []MountFlag, where string) error {
		targets := map[string]bool{}
		for _, m := range ms {
			if !vols[m.Volume] {
				return fmt.Errorf("--mount volume=%s,target=%s%s: no --volume named %s", m.Volume, m.Target, where, m.Volume)
			}
			if targets[m.Target] {
				return fmt.Errorf("--mount volume=%s,target=%s%s: target mounted twice", m.Volume, m.Target, where)
			}
			targets[m.Target] = true
		}
		return nil
	}
	if err := checkMounts(r.Mounts, ""); err != nil {
		return err
	}
	names := map[string]string{}
	for _, a := range r.Apps {
		if err := checkMounts(a.Mounts, " (image "+a.Image+")"); err != nil {
			return err
		}
		if a.Name != "" {
			if other, ok := names[a.Name]; ok {
				return fmt.Errorf("--name %s: given to both %s and %s", a.Name, other, a.Image)
			}
			names[a.Name] = a.Image
		}
	}
	return podcontract.CheckNameservers(r.DNS)
}

func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("not a boolean (true or false)")
	}
	return b, nil
}
