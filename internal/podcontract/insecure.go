package podcontract

import (
	"fmt"
	"strings"
)

// Insecure is a set of security checks the operator has switched off with
// --insecure-options. The zero value switches nothing off. Each relaxation is
// honoured only where it applies: stage0 acts on the fetch ones, stage1 on
// the run ones, and both read the one vocabulary parsed here, so that a word
// one side accepts the other does too (stage0 passes only the run
// relaxations on, as RunOptions.Insecure).
type Insecure uint

// The relaxations. The fetch ones are applied by stage0/fetch (TLS, HTTP) or
// by the image pipeline (Image, PubKey); the run ones by stage1.
const (
	// InsecureImage skips the signature check of images.
	InsecureImage Insecure = 1 << iota
	// InsecureTLS accepts TLS certificates that do not verify.
	InsecureTLS
	// InsecureHTTP allows plain http:// for images, signatures, keys and
	// discovery.
	InsecureHTTP
	// InsecurePubKey lets public keys be fetched over insecure
	// connections (plain http, or TLS that does not verify), as in rkt.
	InsecurePubKey
	// InsecureCapabilities runs apps with all capabilities.
	InsecureCapabilities
	// InsecurePaths leaves the paths that are normally masked or
	// read-only in /proc and /sys as they are.
	InsecurePaths
	// InsecureSeccomp runs apps without a seccomp filter.
	InsecureSeccomp

	// InsecureAllFetch is every fetch relaxation ("all-fetch").
	InsecureAllFetch = InsecureImage | InsecureTLS | InsecureHTTP | InsecurePubKey
	// InsecureAllRun is every run relaxation ("all-run").
	InsecureAllRun = InsecureCapabilities | InsecurePaths | InsecureSeccomp
	// InsecureAll is everything ("all").
	InsecureAll = InsecureAllFetch | InsecureAllRun
)

// insecureWord is one name of --insecure-options.
type insecureWord struct {
	word string
	bits Insecure
}

// insecureWords returns the names of --insecure-options, single relaxations
// in bit order first.
func insecureWords() []insecureWord {
	return []insecureWord{
		{"image", InsecureImage},
		{"tls", InsecureTLS},
		{"http", InsecureHTTP},
		{"pubkey", InsecurePubKey},
		{"capabilities", InsecureCapabilities},
		{"paths", InsecurePaths},
		{"seccomp", InsecureSeccomp},
		{"all-fetch", InsecureAllFetch},
		{"all-run", InsecureAllRun},
		{"all", InsecureAll},
		{"none", 0},
	}
}

// ParseInsecure parses the value of --insecure-options: a comma-separated
// list of image, tls, http, pubkey, capabilities, paths, seccomp, all-fetch,
// all-run, all and none. An unknown word is an error that names it.
func ParseInsecure(s string) (Insecure, error) {
	var o Insecure
	if strings.TrimSpace(s) == "" {
		return 0, nil
	}
	for _, w := range strings.Split(s, ",") {
		w = strings.ToLower(strings.TrimSpace(w))
		found := false
		for _, iw := range insecureWords() {
			if iw.word == w {
				o |= iw.bits
				found = true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown insecure option %q (valid: %s)", w, strings.Join(InsecureWords(), ", "))
		}
	}
	return o, nil
}

// Has reports whether every relaxation of x is in o.
func (o Insecure) Has(x Insecure) bool { return x != 0 && o&x == x }

// String lists the relaxations in o the way ParseInsecure reads them, using
// "all", "all-fetch" and "all-run" where they fit; "none" for the empty set.
func (o Insecure) String() string {
	if o == 0 {
		return "none"
	}
	var words []string
	rest := o
	for _, group := range []struct {
		word string
		bits Insecure
	}{{"all", InsecureAll}, {"all-fetch", InsecureAllFetch}, {"all-run", InsecureAllRun}} {
		if rest.Has(group.bits) {
			words = append(words, group.word)
			rest &^= group.bits
		}
	}
	return strings.Join(append(words, rest.singles()...), ",")
}

// singles lists the single relaxations in o, in bit order (no "all"
// words): the form stage1's arguments spell them out in.
func (o Insecure) singles() []string {
	var words []string
	for _, iw := range insecureWords()[:7] {
		if o.Has(iw.bits) {
			words = append(words, iw.word)
		}
	}
	return words
}

// Set implements flag.Value: each --insecure-options adds to the set.
func (o *Insecure) Set(s string) error {
	x, err := ParseInsecure(s)
	if err != nil {
		return err
	}
	*o |= x
	return nil
}

// InsecureWords lists the words --insecure-options takes, as ParseInsecure
// reads them: the single relaxations in bit order, then all-fetch, all-run,
// all and none. Help texts are made from it, so that they list what the
// parser takes.
func InsecureWords() []string {
	var out []string
	for _, iw := range insecureWords() {
		out = append(out, iw.word)
	}
	return out
}
