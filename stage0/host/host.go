// Package host is what acirun does on the host, as plain functions over one
// configuration: fetch images, prepare and start pods, list, inspect and
// remove pods and images, collect garbage, manage the trusted keys. It holds
// the policy that ties the lower packages together (which images a pod
// keeps in use, how an image reference on a command line becomes a held,
// rendered image, what is re-checked before a prepared pod starts), so that
// every front end applies the same rules: the command line (cmd/acirun)
// today, a Kubernetes CRI server later.
//
// What talks to image sources or handles OpenPGP keys (fetching, signature
// checks, the trust store) is not done in this process: Fetch, TrustKeys,
// TrustedKeys, Untrust, the repair of VerifyImages and a prepare's images
// that the store does not have are done by the helper acirun-fetch
// (package hostfetch), through package fetchcontract, so that a process
// that runs pods links none of that code. A stored image is found here by
// the rules the helper applies (package imageref).
//
// It prints nothing to a terminal and reads nothing from one. Warnings go to
// Config.Warnings, the progress of downloads to FetchOptions.Progress, and
// questions (may this key be trusted?) to callbacks; results are returned
// as values for the front end to show.
package host

import (
	"io"
	"path/filepath"
	"time"

	"github.com/acirun/acirun/internal/trace"
	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/ociref"
	"github.com/acirun/acirun/stage0/store"
	"github.com/acirun/acirun/stage0/store/extract"
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
	// FetchExecutable is the helper that fetches, verifies and trusts
	// (acirun-fetch, see package fetchcontract); "" means the one beside
	// the running executable (fetchcontract.Find).
	FetchExecutable string
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
	return h.OpenStoreWith(0)
}

// OpenStoreWith is OpenStore with one image's content bounded by
// maxImageSize bytes instead of the setting of store.d, unless it is 0
// (fetch --max-image-size).
func (h *Host) OpenStoreWith(maxImageSize int64) (*store.Store, error) {
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
		Trace:   h.cfg.Trace,
	})
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

// StallTimeout is the stall timeout of an operation that asked for d
// (FetchOptions.StallTimeout): d itself unless 0, else store.d's.
func (h *Host) StallTimeout(d time.Duration) (time.Duration, error) {
	if d != 0 {
		return d, nil
	}
	sc, err := h.StoreConfig()
	if err != nil {
		return 0, err
	}
	return sc.StallTimeout, nil
}

// OCIConfig reads how registries are reached (ociref.ConfigFile), system
// then local.
func (h *Host) OCIConfig() (ociref.LocalConfig, error) {
	return ociref.LoadConfig(h.cfg.SystemConfig, h.cfg.LocalConfig)
}
