package unitgen

import (
	"testing"

	"github.com/acirun/acirun/internal/testenv"
)

// TestImportsOnlyTheFormat: unitgen, pure, imports no package of
// acirun's but aci (the brief's map): nothing of the host's state, the
// store or the pod side.
func TestImportsOnlyTheFormat(t *testing.T) {
	for _, d := range testenv.OwnDeps(t, ".") {
		if d != "unitgen" && d != "aci" {
			t.Errorf("unitgen imports %s", d)
		}
	}
}
