package fetch

import (
	"fmt"
	"io"

	"github.com/acirun/acirun/internal/podcontract"
)

// Insecure is the set of relaxations of --insecure-options, defined with
// its parser in podcontract because stage1 reads the same words.
type Insecure = podcontract.Insecure

// The relaxations (see podcontract).
const (
	InsecureImage        = podcontract.InsecureImage
	InsecureTLS          = podcontract.InsecureTLS
	InsecureHTTP         = podcontract.InsecureHTTP
	InsecurePubKey       = podcontract.InsecurePubKey
	InsecureCapabilities = podcontract.InsecureCapabilities
	InsecurePaths        = podcontract.InsecurePaths
	InsecureSeccomp      = podcontract.InsecureSeccomp
	InsecureAllFetch     = podcontract.InsecureAllFetch
	InsecureAllRun       = podcontract.InsecureAllRun
	InsecureAll          = podcontract.InsecureAll
)

// ParseInsecure parses the value of --insecure-options (podcontract.ParseInsecure).
func ParseInsecure(s string) (Insecure, error) { return podcontract.ParseInsecure(s) }

// Warn prints the standard warning for a use of the relaxation x: the option
// that allowed it and what it let through. Every relaxation that is actually
// used should be reported this way, so that the operator sees in the log what
// was not checked. A nil w prints nothing.
func Warn(w io.Writer, x Insecure, format string, args ...any) {
	if w == nil {
		return
	}
	fmt.Fprintf(w, "warning: --insecure-options=%s: %s\n", x, fmt.Sprintf(format, args...))
}
