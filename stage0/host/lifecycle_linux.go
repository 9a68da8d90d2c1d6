package host

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/stage0/pod"
)

// PodManifest returns the reified pod manifest of the pod ref (a UUID or a
// unique prefix of one), indented, as the pod runs it: every app with its
// image ID and its complete app, every override applied.
func (h *Host) PodManifest(ctx context.Context, ref string) ([]byte, error) {
	pd, err := pod.Load(h.cfg.DataDir, ref)
	if err != nil {
		return nil, err
	}
	switch pd.State {
	case pod.StatePreparing, pod.StateAbandoned:
		return nil, fmt.Errorf("pod %s is %s: it has no pod manifest yet", pd.UUID, pd.State)
	}
	b, err := os.ReadFile(filepath.Join(pd.Dir, podcontract.ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("pod %s: read its manifest: %w", pd.UUID, err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, fmt.Errorf("pod %s: its manifest is not JSON: %w", pd.UUID, err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
