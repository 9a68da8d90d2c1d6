package stage1

import (
	"strings"
	"testing"

	"github.com/acirun/acirun/internal/testenv"
)

// TestImportsNoStage0: the pod side, the supervisor included, never
// imports stage0 (the brief's map): what it takes from the host side comes
// through the pod directory's contract (internal/podcontract).
func TestImportsNoStage0(t *testing.T) {
	for _, d := range testenv.OwnDeps(t, "./...") {
		if d == "stage0" || strings.HasPrefix(d, "stage0/") || strings.HasPrefix(d, "cmd/") {
			t.Errorf("stage1-systemd imports %s", d)
		}
	}
}
