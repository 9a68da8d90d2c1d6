package netns

import (
	"strings"
	"testing"

	"github.com/acirun/acirun/internal/testenv"
)

// TestIsALeaf: netns, the pod network, imports no package of acirun's but
// its own and the small shared ones of internal/ (the brief's map): the
// supervisor uses it, never the other way.
func TestIsALeaf(t *testing.T) {
	for _, d := range testenv.OwnDeps(t, "./...") {
		if d != "netns" && !strings.HasPrefix(d, "netns/") && !strings.HasPrefix(d, "internal/") {
			t.Errorf("netns imports %s", d)
		}
	}
}
