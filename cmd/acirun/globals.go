package main

import (
	"flag"
	"strings"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/host"
)

// Globals are the flags every command accepts, with rkt's names. They are
// defined here once: the parser of every position (before the command name,
// after it, and among run's and prepare's pod flags) and every help text
// take them from register.
type Globals struct {
	// Dir is the data directory: the image store and the pods.
	Dir string
	// LocalConfig is the administrator's configuration (trusted keys
	// written by `acirun trust`, auth.d credentials).
	LocalConfig string
	// SystemConfig is the vendor's configuration, masked by LocalConfig.
	SystemConfig string
	// RunDir holds what must not outlive a boot; "" means the default
	// of host.Config.LockDir.
	RunDir string
	// Debug makes acirun say what it does on stderr.
	Debug bool
	// Insecure are the security checks --insecure-options switches off. As
	// in rkt it is a global flag, so that `acirun --insecure-options=image
	// run IMAGE` works; each command acts on the relaxations that concern
	// it (fetching: image, tls, http, pubkey; running: capabilities, paths,
	// seccomp) and reports each use. Repeated, the sets add up.
	Insecure fetch.Insecure
}

// register adds the global flags to fs with their defaults.
func (g *Globals) register(fs *flag.FlagSet) {
	*g = Globals{Dir: host.DefaultDataDir, LocalConfig: host.DefaultLocalConfig, SystemConfig: host.DefaultSystemConfig}
	g.registerCurrent(fs)
}

// globalFlags is a flag set of the global flags alone, with their
// defaults, for help texts.
func globalFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	var g Globals
	g.register(fs)
	return fs
}

// registerCurrent adds the global flags to fs with g's current values as
// defaults: a command's own flag set takes them again after the command
// name, and run takes them among its arguments.
func (g *Globals) registerCurrent(fs *flag.FlagSet) {
	fs.StringVar(&g.Dir, "dir", g.Dir, "data directory: image store and pods")
	fs.StringVar(&g.LocalConfig, "local-config", g.LocalConfig, "local configuration directory (trusted keys, auth.d)")
	fs.StringVar(&g.SystemConfig, "system-config", g.SystemConfig, "system configuration directory (vendor trusted keys)")
	fs.StringVar(&g.RunDir, "run-dir", g.RunDir, "runtime directory, for lock files (default "+host.DefaultRunDir+", or DIR/run with --dir)")
	fs.BoolVar(&g.Debug, "debug", g.Debug, "print debugging information on stderr")
	fs.Var(&g.Insecure, "insecure-options", "switch security checks off, comma-separated: "+insecureWords(fetch.InsecureAllFetch)+
		" (fetching: image is no signature check); "+insecureWords(fetch.InsecureAllRun)+" (running); all; each use is reported")
}

// globalFlagNames lists the global flags as help texts name them:
// "--dir, --local-config, ...".
func globalFlagNames() string {
	var names []string
	globalFlags().VisitAll(func(f *flag.Flag) { names = append(names, "--"+f.Name) })
	return strings.Join(names, ", ")
}

// hostConfig is the host-side configuration the globals describe.
func (g *Globals) hostConfig() host.Config {
	return host.Config{DataDir: g.Dir, LocalConfig: g.LocalConfig, SystemConfig: g.SystemConfig, RunDir: g.RunDir, Debug: g.Debug}
}

// insecureWords lists the --insecure-options words that relax only checks
// of within (fetch.InsecureAllFetch for fetch, fetch.InsecureAll for run),
// from the parser's own list.
func insecureWords(within fetch.Insecure) string {
	var out []string
	for _, w := range podcontract.InsecureWords() {
		if x, err := fetch.ParseInsecure(w); err == nil && x != 0 && within.Has(x) {
			out = append(out, w)
		}
	}
	return strings.Join(out, ",")
}
