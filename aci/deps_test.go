package aci

import (
	"strings"
	"testing"

	"github.com/acirun/acirun/internal/testenv"
)

// TestImportsNothingOfOurs: aci, the format, imports no package of
// acirun's but its own (the brief's map), so that anything may use it.
func TestImportsNothingOfOurs(t *testing.T) {
	for _, d := range testenv.OwnDeps(t, "./...") {
		if d != "aci" && !strings.HasPrefix(d, "aci/") {
			t.Errorf("aci imports %s", d)
		}
	}
}
