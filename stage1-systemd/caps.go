package stage1

import (
	"math/bits"
	"strings"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/podcontract"
)

// capSet is a set of Linux capabilities, bit N for the capability whose
// number is N (aci.LinuxCapability.Number, the kernel's numbering).
type capSet uint64

// defaultCaps returns the appc spec's default bounding set
// (aci.DefaultCapabilities, 14 capabilities) as a capSet.
func defaultCaps() capSet {
	s, err := parseCaps(aci.DefaultCapabilities())
	if err != nil {
		panic(err) // aci's own tests hold every default to a known capability
	}
	return s
}

// parseCaps parses capability names as aci.ParseLinuxCapability takes them:
// the CAP_ prefix and case are optional, as rkt accepted them.
func parseCaps[T ~string](names []T) (capSet, error) {
	var s capSet
	for _, name := range names {
		c, err := aci.ParseLinuxCapability(string(name))
		if err != nil {
			return 0, err
		}
		n, _ := c.Number() // known: ParseLinuxCapability returns only known names
		s |= 1 << n
	}
	return s, nil
}

// has reports whether capability number c is in s.
func (s capSet) has(c int) bool { return s&(1<<c) != 0 }

func (s capSet) String() string {
	var names []string
	for n, c := range aci.LinuxCapabilities() {
		if s.has(n) {
			names = append(names, string(c))
		}
	}
	return strings.Join(names, ",")
}

// count returns the number of capabilities in s.
func (s capSet) count() int { return bits.OnesCount64(uint64(s)) }

// capsDecision is the bounding set an app gets, and what to report about it.
type capsDecision struct {
	set    capSet
	extra  capSet // capabilities beyond the default the isolators asked for
	denied bool   // extra was asked for and refused (no --insecure-options=capabilities)
}

// capsGrant says who allows capabilities beyond the default.
type capsGrant int

const (
	grantNone     capsGrant = iota // nobody: the extra capabilities are refused
	grantOperator                  // the operator named them (--caps-retain)
	grantInsecure                  // --insecure-options=capabilities
)

// capsGrantFor is the grant of app's capability isolators: an operator's
// own sets (operatorCaps) are granted as they are; an image's beyond the
// default only with --insecure-options=capabilities.
func capsGrantFor(app *appSpec, insecure podcontract.Insecure) capsGrant {
	switch {
	case app.operatorCaps:
		return grantOperator
	case insecure.Has(podcontract.InsecureCapabilities):
		return grantInsecure
	}
	return grantNone
}

// decideCaps computes an app's bounding set from its isolators: retain means
// exactly the set, remove means the default minus the set (digest E9). A set
// beyond the default is granted only when the operator allowed it.
func decideCaps(retain, remove *capSet, allowExtra bool) capsDecision {
	def := defaultCaps()
	set := def
	switch {
	case retain != nil:
		set = *retain
	case remove != nil:
		set = def &^ *remove
	}
	if retain != nil && remove != nil {
		set &^= *remove
	}
	d := capsDecision{set: set, extra: set &^ def}
	if d.extra != 0 && !allowExtra {
		d.set &^= d.extra
		d.denied = true
	}
	return d
}
