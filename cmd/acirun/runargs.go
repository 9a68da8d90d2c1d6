package main

// The command-line grammar of `acirun run` and `acirun prepare`, rkt's: pod
// flags, then images each followed by its app flags and arguments. It
// produces the library's pod.RunRequest; the flags' values are parsed in
// runflags.go. To add a flag, add its line to runFlagDefs and its setter:
// the parser, the help and TestFlagsDescribeParser follow.

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/acirun/acirun/stage0/pod"
)

// runFlag describes one flag of run/prepare so that the CLI can print help
// that always matches what parseRunArgs accepts.
type runFlag struct {
	Name       string // without dashes
	Value      string // value syntax; empty for a boolean flag
	Help       string
	PerApp     bool // applies to the image it follows
	Repeatable bool
}

type runFlagDef struct {
	runFlag
	set func(p *runParser, v string) error
}

// runFlags lists the flags of run and prepare in the order help shows them:
// pod flags first, then app flags.
func runFlags() []runFlag {
	defs := runFlagDefs()
	out := make([]runFlag, len(defs))
	for i, d := range defs {
		out[i] = d.runFlag
	}
	return out
}

func runFlagDefs() []runFlagDef {
	return []runFlagDef{
		{runFlag{"volume", "NAME,kind=host,source=PATH[,readOnly=true][,recursive=false][,idmap=true] | NAME,kind=empty[,mode=0755][,uid=0][,gid=0][,readOnly=true]",
			"make a volume available to the pod's apps (idmap=true, with --private-users: bound through an ID-mapped mount, the pod's IDs being the host's on it)", false, true}, (*runParser).setVolume},
		{runFlag{"hostname", "NAME", "the pod's hostname (default acirun- and the first 8 characters of the UUID)", false, false}, (*runParser).setHostname},
		{runFlag{"dns", "IP|host|none", "name server for the pod's /etc/resolv.conf; host copies the host's file, none writes none", false, true}, (*runParser).setDNS},
		{runFlag{"dns-search", "DOMAIN", "search domain for the pod's /etc/resolv.conf", false, true}, (*runParser).setDNSSearch},
		{runFlag{"dns-opt", "OPT", "option for the pod's /etc/resolv.conf, as resolv.conf(5) has them: ndots:N, timeout:N, attempts:N, rotate, edns0, ...", false, true}, (*runParser).setDNSOpt},
		{runFlag{"dns-domain", "DOMAIN", "local domain for the pod's /etc/resolv.conf (with --dns-search, the search list wins, as resolv.conf(5) says)", false, false}, (*runParser).setDNSDomain},
		{runFlag{"hosts-entry", "IP=NAME|host", "add a line to the pod's /etc/hosts; host copies the host's file", false, true}, (*runParser).setHostsEntry},
		{runFlag{"set-env", "NAME=VALUE", "set an environment variable for every app (over the image's and --set-env-file)", false, true}, (*runParser).setSetEnv},
		{runFlag{"set-env-file", "FILE", "read NAME=VALUE lines (# comments) for every app's environment", false, true}, (*runParser).setSetEnvFile},
		{runFlag{"inherit-env", "", "pass the host's environment to the apps (lowest precedence)", false, false}, (*runParser).setInheritEnv},
		{runFlag{"uuid-file-save", "FILE", "write the pod's UUID to FILE", false, false}, (*runParser).setUUIDFileSave},
		{runFlag{"pull-policy", "new|update|never", "when to fetch an image: new (only if not in the store), update (always), never (store only)", false, false}, (*runParser).setPullPolicy},
		{runFlag{"stall-timeout", "DURATION", stallTimeoutHelp, false, false}, (*runParser).setStallTimeout},
		{runFlag{"net", "default|default-restricted|host|none|NAME[:IP=ADDR][,NAME…]", "the pod's network: default (its own address, a veth pair to the host, NAT beyond), default-restricted (the same, reaching the host only), the host's, loopback only, or networks named in LOCAL-CONFIG/net.d (CNI configurations run through their plugins; IP= asks for an address, other ARG=VALUE;… are the plugins' CNI_ARGS)", false, false}, (*runParser).setNet},
		{runFlag{"port", "NAME:[IP:]HOSTPORT", "publish the app port NAME on the host at HOSTPORT, on IP or every address (default network; unasked, each app port is published under its own number on every host address, or where LOCAL-CONFIG/network.d's publish says: loopback or none)", false, true}, (*runParser).setPort},
		{runFlag{"pod-manifest", "FILE", "run the apps of this pod manifest instead of images from the command line", false, false}, (*runParser).setPodManifest},
		{runFlag{"stop-timeout", "DURATION", "time between SIGTERM and SIGKILL when the pod stops (e.g. 10s)", false, false}, (*runParser).setStopTimeout},
		{runFlag{"interactive", "", "give the pod's one app this terminal (a shell works: --exec /bin/sh), or this standard input when it is no terminal; without it the apps' standard input is /dev/null", false, false}, (*runParser).setInteractive},
		{runFlag{"no-overlay", "", "give each app a private copy of its image instead of an overlay", false, false}, (*runParser).setNoOverlay},
		{runFlag{"private-users", "", "[=auto|UID:COUNT]: run the apps in a user namespace of the pod's own, their IDs 0 to COUNT-1 mapped to a range of the host's IDs (auto: 65536 IDs no other running pod has); the image is shared read-only through an ID-mapped overlay", false, false}, (*runParser).setPrivateUsers},

		{runFlag{"exec", "CMD", "override the image's exec: an absolute path, or a name looked up in PATH in the app (arguments follow --)", true, false}, (*runParser).setExec},
		{runFlag{"name", "NAME", "the app's name in the pod (default: the last part of the image name)", true, false}, (*runParser).setName},
		{runFlag{"user", "USER", "user to run the app as: a name from the image, a number, or a path in the image", true, false}, (*runParser).setUser},
		{runFlag{"group", "GROUP", "group to run the app as: a name from the image, a number, or a path in the image", true, false}, (*runParser).setGroup},
		{runFlag{"supplementary-gids", "GID[,GID...]", "supplementary group IDs of the app", true, false}, (*runParser).setGIDs},
		{runFlag{"working-dir", "PATH", "the app's working directory", true, false}, (*runParser).setWorkingDir},
		{runFlag{"environment", "NAME=VALUE", "set an environment variable for this app (over --set-env)", true, true}, (*runParser).setEnvironment},
		{runFlag{"mount", "volume=NAME,target=PATH", "mount a volume in the app (before any image: in every app)", true, true}, (*runParser).setMount},
		{runFlag{"user-annotation", "NAME=VALUE", "add a user annotation to the app (its userAnnotations in the pod manifest; NAME an AC Identifier); the metadata service serves it among the app's annotations, over the image's of the same NAME (before any image: in every app)", true, true}, (*runParser).setUserAnnotation},
		{runFlag{"user-label", "NAME=VALUE", "add a user label to the app (its userLabels in the pod manifest, shown by cat-manifest; NAME an AC Identifier; never changes how the app runs) (before any image: in every app)", true, true}, (*runParser).setUserLabel},
		{runFlag{"memory", "QUANTITY", "memory limit of the app (e.g. 64M, 1Gi)", true, false}, (*runParser).setMemory},
		{runFlag{"cpu", "QUANTITY", "CPU limit of the app (e.g. 500m, 2)", true, false}, (*runParser).setCPU},
		{runFlag{"cpu-shares", "N", "the app's CPU weight against other processes, 2 to 262144 (1024 is a default process's; the cgroup's cpu.shares, or cpu.weight N*100/1024)", true, false}, (*runParser).setCPUShares},
		{runFlag{"caps-retain", "CAP[,CAP...]", "capability bounding set of the app: exactly these", true, false}, (*runParser).setCapsRetain},
		{runFlag{"caps-remove", "CAP[,CAP...]", "remove these capabilities from the default bounding set", true, false}, (*runParser).setCapsRemove},
		{runFlag{"seccomp", "mode=retain|remove[,errno=ERRNO],SYSCALL[,SYSCALL...]", "seccomp filter of the app", true, false}, (*runParser).setSeccomp},
		{runFlag{"readonly-rootfs", "", "mount the app's root filesystem read-only", true, false}, (*runParser).setReadOnlyRootFS},
		{runFlag{"oom-score-adj", "N", "the app's OOM score adjustment, -1000 to 1000", true, false}, (*runParser).setOOMScoreAdj},
	}
}

type runParser struct {
	req  *pod.RunRequest
	seen map[string]bool // non-repeatable flags seen (per app for app flags)
}

func (p *runParser) last() *pod.AppRequest {
	if len(p.req.Apps) == 0 {
		return nil
	}
	return &p.req.Apps[len(p.req.Apps)-1]
}

// parseRunArgs parses the arguments of `acirun run` or `acirun prepare`
// (without the subcommand) the way rkt did:
//
//	[pod flags] IMAGE [app flags] [-- ARGS... [---]] [IMAGE [app flags] [-- ARGS... [---]]]...
//
// Anything that is not a flag is an image. App flags apply to the image they
// follow. "--" starts the preceding image's arguments; they run up to a lone
// "---" or the end. Pod flags, and the flags of globals (acirun's global
// flags, nil for none), may appear anywhere outside argument lists; a
// global flag is set on globals. --mount, --user-annotation and
// --user-label before the first image apply to every app. Errors name the flag and the value; -h, -help or --help
// outside an argument list returns flag.ErrHelp.
func parseRunArgs(args []string, globals *flag.FlagSet) (*pod.RunRequest, error) {
	defs := runFlagDefs()
	byName := make(map[string]*runFlagDef, len(defs))
	for i := range defs {
		byName[defs[i].Name] = &defs[i]
	}
	p := &runParser{req: &pod.RunRequest{}, seen: map[string]bool{}}
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
			var global *flag.Flag
			if d == nil && globals != nil {
				global = globals.Lookup(name)
			}
			if d == nil && global == nil {
				return nil, fmt.Errorf("unknown flag --%s", name)
			}
			syntax := ""
			if d != nil {
				syntax = d.Value
			} else if bf, ok := global.Value.(interface{ IsBoolFlag() bool }); !ok || !bf.IsBoolFlag() {
				syntax, _ = flag.UnquoteUsage(global)
			}
			if syntax == "" { // boolean
				if !hasValue {
					value = "true"
				}
			} else if !hasValue {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("flag --%s needs a value: %s", name, syntax)
				}
				i++
				value = args[i]
			}
			if global != nil {
				if err := globals.Set(name, value); err != nil {
					return nil, fmt.Errorf("--%s %q: %w", name, value, err)
				}
				continue
			}
			key := name
			if d.PerApp {
				app := p.last()
				if app == nil && !forEveryApp(name) {
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
			p.req.Apps = append(p.req.Apps, pod.AppRequest{Image: a})
		}
	}
	if err := p.req.Validate(); err != nil {
		return nil, err
	}
	return p.req, nil
}

// forEveryApp reports whether the app flag name may come before the first
// image, where it applies to every app.
func forEveryApp(name string) bool {
	switch name {
	case "mount", "user-annotation", "user-label":
		return true
	}
	return false
}

func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("not a boolean (true or false)")
	}
	return b, nil
}
