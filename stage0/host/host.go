// Package host is what acirun does on the host, as plain functions over one
// configuration: fetch images, prepare and start pods, list, inspect and
// remove pods and images, collect garbage, manage the trusted keys. It holds
// the policy that ties the lower packages together (which images a pod
// keeps in use, how an image reference on a command line becomes a held,
// rendered image, what is re-checked before a prepared pod starts), so that
// every front end applies the same rules: the command line (cmd/acirun)
// today, a Kubernetes CRI server later.
//
// It prints nothing to a terminal and reads nothing from one. Warnings go to
// Config.Warnings, the progress of downloads to FetchOptions.Progress, and
// questions (may this key be trusted?) to callbacks; results are returned
// as values for the front end to show.
package host

import (
	"io"
	"net/url"
	"path/filepath"
	"time"

	"github.com/acirun/acirun/internal/trace"
	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/oci"
	"github.com/acirun/acirun/stage0/ociref"
	"github.com/acirun/acirun/stage0/pull"
	"github.com/acirun/acirun/stage0/store"
	"github.com/acirun/acirun/stage0/store/extract"
	"github.com/acirun/acirun/stage0/trust"
)

// The default locations, rkt's. Every one of them can be changed in Config
// (the CLI's global flags), and the tests always do.
const (
	DefaultDataDir      = "/var/lib/acirun"
	DefaultLocalConfig  = "/etc/acirun"
	DefaultSystemConfig = "/usr/lib/acirun"
	DefaultRunDir       = "/run/acirun"
)

// Config says where a Host keeps its state and where it says what it does.
type Config struct {
	// DataDir is the data directory: the image store (DataDir/store) and
	// the pods (DataDir/pods).
	DataDir string
	// LocalConfig is the administrator's configuration (trusted keys
	// written by TrustKeys, auth.d credentials).
	LocalConfig string
	// SystemConfig is the vendor's configuration, masked by LocalConfig.
	SystemConfig string
	// RunDir holds what must not outlive a boot. "" means DefaultRunDir,
	// or DataDir/run when DataDir is not the default, so that two stores
	// never share their locks (see LockDir).
	RunDir string
	// Debug makes the pods' stage1 say what it does.
	Debug bool
	// Warnings receives one line per warning: a relaxed security check
	// that was used, an image in the store without a verified signature,
	// a credentials file every user can read. Nil discards them.
	Warnings io.Writer
	// Trace is told the steps of a pod's start (ACIRUN_TRACE); nil
	// traces nothing.
	Trace *trace.Tracer
}

// Host runs the host-side operations under one Config. It keeps no state
// besides its Config: every call opens what it needs, so that a Host is
// safe for concurrent use and sees what other processes did meanwhile.
type Host struct {
	cfg Config
}

// New returns a Host for cfg.
func New(cfg Config) *Host {
	return &Host{cfg: cfg}
}

// Config returns the configuration the Host was made with.
func (h *Host) Config() Config { return h.cfg }

// LockDir is the directory of what must not outlive a boot: RunDir, or its
// default.
func (c Config) LockDir() string {
	switch {
	case c.RunDir != "":
		return c.RunDir
	case filepath.Clean(c.DataDir) == DefaultDataDir:
		return DefaultRunDir
	}
	return filepath.Join(c.DataDir, "run")
}

// OpenStore opens the image store under DataDir, with its lock files under
// LockDir and the settings of StoreConfig.
func (h *Host) OpenStore() (*store.Store, error) {
	return h.openStore(0)
}

// openStore is OpenStore with one image's content bounded by maxImageSize
// bytes instead of the setting of store.d, unless it is 0.
func (h *Host) openStore(maxImageSize int64) (*store.Store, error) {
	if maxImageSize == 0 {
		sc, err := h.StoreConfig()
		if err != nil {
			return nil, err
		}
		maxImageSize = sc.MaxImageSize
	}
	return store.Open(filepath.Join(h.cfg.DataDir, "store"), store.Options{
		LockDir: filepath.Join(h.cfg.LockDir(), "store"),
		Limits:  extract.Options{MaxBytes: maxImageSize},
	})
}

// TrustStore is the key store of the configured directories. A key file it
// ignores (not named by its key's fingerprint, unreadable) is a warning.
func (h *Host) TrustStore() *trust.Store {
	s := trust.NewStore(filepath.Join(h.cfg.SystemConfig, "trustedkeys"), filepath.Join(h.cfg.LocalConfig, "trustedkeys"))
	s.Warnings = h.cfg.Warnings
	return s
}

// FetchOptions are the relaxations and the policy of one operation that
// may fetch images or keys.
type FetchOptions struct {
	// Insecure is the set of relaxed checks (--insecure-options).
	Insecure fetch.Insecure
	// Policy says when the network is consulted (--pull-policy).
	Policy fetch.PullPolicy
	// Progress is told of every download; nil reports none.
	Progress fetch.Progress
	// MaxImageSize, if not 0, bounds the content one image may expand to
	// instead of StoreConfig's MaxImageSize (fetch --max-image-size).
	MaxImageSize int64
	// Signature, if set, is a file holding the detached signature of the
	// one image fetched, in place of the one beside it or discovered with
	// it (pull.Puller.PullSigned; rkt's fetch --signature).
	Signature string
	// StallTimeout is fetch.Options.StallTimeout (--stall-timeout): 0
	// means StoreConfig's StallTimeout (store.d's stallTimeout, else
	// fetch.DefaultStallTimeout), negative never.
	StallTimeout time.Duration
}

// Auth reads the per-host credentials of auth.d, system then local (a
// local file overrides the system's domain by domain): those every fetch
// sends, and those `acirun config` shows.
func (h *Host) Auth() (fetch.Auth, error) {
	return fetch.LoadAuth(h.cfg.Warnings, filepath.Join(h.cfg.SystemConfig, "auth.d"), filepath.Join(h.cfg.LocalConfig, "auth.d"))
}

// fetcher builds the HTTP side with the credentials of Auth.
func (h *Host) fetcher(opts FetchOptions) (*fetch.Fetcher, error) {
	auth, err := h.Auth()
	if err != nil {
		return nil, err
	}
	stall, err := h.stallTimeout(opts.StallTimeout)
	if err != nil {
		return nil, err
	}
	return fetch.New(fetch.Options{Insecure: opts.Insecure, Auth: auth, Warnings: h.cfg.Warnings, Progress: opts.Progress, StallTimeout: stall}), nil
}

// stallTimeout is the stall timeout of an operation that asked for d
// (FetchOptions.StallTimeout): d itself unless 0, else store.d's.
func (h *Host) stallTimeout(d time.Duration) (time.Duration, error) {
	if d != 0 {
		return d, nil
	}
	sc, err := h.StoreConfig()
	if err != nil {
		return 0, err
	}
	return sc.StallTimeout, nil
}

// Puller builds the image pipeline over the store, the trust store and the
// network.
func (h *Host) Puller(opts FetchOptions) (*pull.Puller, error) {
	// store.d is read once for both of its settings; the options win.
	sc, err := h.StoreConfig()
	if err != nil {
		return nil, err
	}
	if opts.MaxImageSize != 0 {
		sc.MaxImageSize = opts.MaxImageSize
	}
	if opts.StallTimeout != 0 {
		sc.StallTimeout = opts.StallTimeout
	}
	st, err := h.openStore(sc.MaxImageSize)
	if err != nil {
		return nil, err
	}
	auth, err := h.Auth()
	if err != nil {
		return nil, err
	}
	f := fetch.New(fetch.Options{Insecure: opts.Insecure, Auth: auth, Warnings: h.cfg.Warnings, Progress: opts.Progress, StallTimeout: sc.StallTimeout})
	ociCfg, err := h.OCIConfig()
	if err != nil {
		return nil, err
	}
	dockerAuth, err := fetch.LoadDockerAuth(h.cfg.Warnings, filepath.Join(h.cfg.SystemConfig, "auth.d"), filepath.Join(h.cfg.LocalConfig, "auth.d"))
	if err != nil {
		return nil, err
	}
	return &pull.Puller{
		Store:      st,
		Trust:      h.TrustStore(),
		Fetcher:    f,
		Policy:     opts.Policy,
		Insecure:   opts.Insecure,
		Warnings:   h.cfg.Warnings,
		PartialDir: filepath.Join(h.cfg.DataDir, "store", "partial"),
		OCI: pull.OCIConfig{
			DefaultRegistry: ociCfg.DefaultRegistry,
			Credentials:     registryCredentials(dockerAuth, auth),
		},
	}, nil
}

// OCIConfig reads how registries are reached (ociref.ConfigFile), system
// then local.
func (h *Host) OCIConfig() (ociref.LocalConfig, error) {
	return ociref.LoadConfig(h.cfg.SystemConfig, h.cfg.LocalConfig)
}

// registryCredentials gives a registry its credentials from auth.d, the
// same files as ACI fetches: rkt's dockerAuth files for the registry (for
// Docker Hub, under any of its names), else the basic credentials of an
// auth file for its host.
func registryCredentials(dockerAuth, auth fetch.Auth) func(string) (oci.Credentials, bool) {
	return func(registry string) (oci.Credentials, bool) {
		names := []string{registry}
		if ociref.IsDockerHub(registry) {
			names = ociref.DockerHubNames()
		}
		for _, n := range names {
			if c, ok := dockerAuth.For(&url.URL{Host: n}); ok {
				return oci.Credentials{User: c.User, Password: c.Password}, true
			}
		}
		c, ok := auth.For(&url.URL{Host: registry})
		if !ok || c.Type != "basic" {
			return oci.Credentials{}, false
		}
		return oci.Credentials{User: c.User, Password: c.Password}, true
	}
}
