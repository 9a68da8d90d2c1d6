// Package fetchcontract is the one definition of what acirun asks its
// helper acirun-fetch and what the helper answers: the request and result
// types both processes import, the executable's name and how acirun finds
// it, and the two ends of the exchange (Client, Serve).
//
// Everything that talks to image sources or handles OpenPGP runs in
// acirun-fetch, as git runs git-remote-https and apt its methods: fetching
// (discovery, HTTP, the store's import of what was fetched), signature
// verification, the trust store's keys, OCI registry pulls. acirun itself
// then links none of those packages (nor runs their initialisation at
// every start: a run of a stored image needs none of them), and the code
// that parses untrusted network input (HTML, HTTP, TLS, registry JSON,
// OpenPGP packets) runs in a process of its own.
//
// The exchange is JSON, one value per line: acirun writes a Request on the
// helper's standard input, then an Answer to each Review the helper asks
// for; the helper writes Messages on its standard output (progress of
// downloads, discovered key URLs, a key to review) and last one with the
// Result. Its standard error is acirun's: warnings and --debug lines pass
// through as they are written.
package fetchcontract

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/store"
)

// Executable is the file name of the helper's binary, which acirun finds
// beside itself (Find).
const Executable = "acirun-fetch"

// Version is the version of the exchange. acirun sends it with every
// request and the helper refuses another: a helper from another build is
// named, with how to install the two together, instead of misunderstood.
const Version = 1

// Find returns the path of the acirun-fetch that goes with the running
// acirun: Executable in the directory of this executable (as os.Executable
// resolves it), where make build and make install put it, as
// podcontract.FindStage1 finds the pod side's binaries.
func Find() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the acirun binary: %w", err)
	}
	return findBeside(self)
}

// findBeside is Find for the acirun binary at self.
func findBeside(self string) (string, error) {
	p := filepath.Join(filepath.Dir(self), Executable)
	fi, err := os.Stat(p)
	if err == nil && (!fi.Mode().IsRegular() || fi.Mode()&0o111 == 0) {
		err = fmt.Errorf("not an executable file (mode %s)", fi.Mode())
	}
	if err != nil {
		return "", fmt.Errorf("the fetch helper %s beside %s: %w (it fetches, verifies and trusts images for acirun: make install puts acirun and %s in PREFIX/bin)",
			p, self, err, Executable)
	}
	return p, nil
}

// Config is where the helper finds the store and the configuration: the
// host's (host.Config), without what only acirun's own process has.
type Config struct {
	DataDir      string `json:"dataDir"`
	LocalConfig  string `json:"localConfig"`
	SystemConfig string `json:"systemConfig"`
	RunDir       string `json:"runDir,omitempty"`
	Debug        bool   `json:"debug,omitempty"`
}

// Request is one operation for the helper: exactly one of its operation
// fields is set.
type Request struct {
	Version int    `json:"version"`
	Config  Config `json:"config"`

	Fetch       *FetchRequest   `json:"fetch,omitempty"`
	Repair      *RepairRequest  `json:"repair,omitempty"`
	Trust       *TrustRequest   `json:"trust,omitempty"`
	TrustedKeys *struct{}       `json:"trustedKeys,omitempty"`
	Untrust     *UntrustRequest `json:"untrust,omitempty"`
}

// FetchRequest brings images into the store (host.Host.Fetch, and a pod's
// images that the store does not have: host.Resolver). The Result's Images
// are their IDs in order, also those fetched before an error.
type FetchRequest struct {
	Refs     []string         `json:"refs"`
	Insecure fetch.Insecure   `json:"insecure,omitempty"`
	Policy   fetch.PullPolicy `json:"policy,omitempty"`
	// Progress asks for a Progress message per download.
	Progress     bool          `json:"progress,omitempty"`
	MaxImageSize int64         `json:"maxImageSize,omitempty"`
	Signature    string        `json:"signature,omitempty"`
	StallTimeout time.Duration `json:"stallTimeout,omitempty"`
}

// RepairRequest renders a stored image's tree again, fetching the
// dependencies the store lacks (image verify --repair).
type RepairRequest struct {
	ImageID string `json:"imageID"`
}

// TrustRequest adds keys to the local trust store (host.TrustOptions). The
// Result's Added are the keys written, also those before an error.
type TrustRequest struct {
	Prefix   string         `json:"prefix,omitempty"`
	Root     bool           `json:"root,omitempty"`
	Sources  []string       `json:"sources,omitempty"`
	Insecure fetch.Insecure `json:"insecure,omitempty"`
	// Review asks for a Review message per key, answered before any key
	// is written; without it every key is added.
	Review bool `json:"review,omitempty"`
}

// UntrustRequest stops trusting a key. The Result's Removed and Masked
// are the files removed and the masks written.
type UntrustRequest struct {
	Fingerprint string `json:"fingerprint"`
}

// Message is one line of the helper's: exactly one field is set, and the
// one with Result is the last.
type Message struct {
	Progress   *Progress `json:"progress,omitempty"`
	Discovered []string  `json:"discovered,omitempty"`
	Review     *Review   `json:"review,omitempty"`
	Result     *Result   `json:"result,omitempty"`
}

// Progress is an event of one download (fetch.Progress): its start (with
// Label, Total and Resumed), bytes that arrived (Add) or its end (Done).
type Progress struct {
	ID      int    `json:"id"`
	Label   string `json:"label,omitempty"`
	Total   int64  `json:"total,omitempty"`
	Resumed int64  `json:"resumed,omitempty"`
	Add     int64  `json:"add,omitempty"`
	Done    bool   `json:"done,omitempty"`
}

// Review asks whether Key, from Source, may be trusted; acirun answers
// with an Answer.
type Review struct {
	Key    KeyInfo `json:"key"`
	Source string  `json:"source"`
}

// Answer is acirun's answer to a Review: Trust, or Err when it could not
// ask (no terminal).
type Answer struct {
	Trust bool   `json:"trust"`
	Err   string `json:"err,omitempty"`
}

// Result is the outcome of a Request: what it did, and Err when it failed.
type Result struct {
	Images  []string     `json:"images,omitempty"`
	Added   []TrustedKey `json:"added,omitempty"`
	Keys    []KeyInfo    `json:"keys,omitempty"`
	Removed []string     `json:"removed,omitempty"`
	Masked  []string     `json:"masked,omitempty"`
	Err     *Error       `json:"err,omitempty"`
}

// KeyInfo describes a public key: for review, and as the trust store lists
// it (trust.KeyInfo without the parsed key).
type KeyInfo struct {
	Fingerprint string    `json:"fingerprint,omitempty"`
	KeyID       string    `json:"keyID,omitempty"`
	UserIDs     []string  `json:"userIDs,omitempty"`
	Algorithm   string    `json:"algorithm,omitempty"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
	Revoked     bool      `json:"revoked,omitempty"`
	// Set for the keys the trust store lists:
	Path   string `json:"path,omitempty"`
	System bool   `json:"system,omitempty"`
	Root   bool   `json:"root,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	// Status is trusted, masked, mask or ignored (trust.Status); Problem
	// says why a file is ignored.
	Status  string `json:"status,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// TrustedKey is a key a TrustRequest added.
type TrustedKey struct {
	Source      string   `json:"source"`
	Fingerprint string   `json:"fingerprint"`
	UserIDs     []string `json:"userIDs,omitempty"`
	Path        string   `json:"path"`
}

// Error is an error of the helper's, as acirun returns it: its message as
// the helper wrote it, and what it is (Is) for errors.Is.
type Error struct {
	Msg string `json:"msg"`
	// Is names the sentinel the error wraps, if one of those of
	// sentinels.
	Is string `json:"is,omitempty"`
}

func (e *Error) Error() string { return e.Msg }

// Unwrap is the sentinel Is names, so that errors.Is sees through the
// process boundary as it did within one process.
func (e *Error) Unwrap() error {
	for _, s := range sentinels {
		if s.name == e.Is {
			return s.err
		}
	}
	return nil
}

// sentinels are the errors an Error can wrap, by name: a fixed list.
var sentinels = [...]struct {
	name string
	err  error
}{
	{"canceled", context.Canceled},
	{"deadlineExceeded", context.DeadlineExceeded},
	{"notFound", store.ErrNotFound},
}

// ErrorOf is err as an Error, or nil.
func ErrorOf(err error) *Error {
	if err == nil {
		return nil
	}
	e := &Error{Msg: err.Error()}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			e.Is = s.name
			break
		}
	}
	return e
}
