package fetch

import "fmt"

// PullPolicy says when a remote image is fetched rather than taken from the
// store (--pull-policy), with rkt's meaning.
type PullPolicy int

const (
	// PullNew fetches only if the store has no image for the reference;
	// an image already in the store is used without asking the network.
	// It is the default, as in rkt.
	PullNew PullPolicy = iota
	// PullUpdate asks the remote side every time: the stored copy's ETag
	// is sent with If-None-Match (and a copy still within its Cache-Control
	// max-age is used without a request); the image is fetched again only
	// if it changed.
	PullUpdate
	// PullNever uses the store only and fails if the image is not there.
	PullNever
)

// ParsePullPolicy parses "new", "update" or "never".
func ParsePullPolicy(s string) (PullPolicy, error) {
	switch s {
	case "new":
		return PullNew, nil
	case "update":
		return PullUpdate, nil
	case "never":
		return PullNever, nil
	}
	return 0, fmt.Errorf("unknown pull policy %q (valid: new, update, never)", s)
}

// String returns the name ParsePullPolicy reads.
func (p PullPolicy) String() string {
	switch p {
	case PullNew:
		return "new"
	case PullUpdate:
		return "update"
	case PullNever:
		return "never"
	}
	return fmt.Sprintf("PullPolicy(%d)", int(p))
}

// Set implements flag.Value.
func (p *PullPolicy) Set(s string) error {
	x, err := ParsePullPolicy(s)
	if err != nil {
		return err
	}
	*p = x
	return nil
}
