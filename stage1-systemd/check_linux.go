package stage1

import (
	"fmt"
	"path/filepath"

	"github.com/acirun/acirun/internal/podcontract"
)

// CheckedPod is what the pod's supervisor (`stage1 run`, package
// supervisor) takes of the pod it is to run, once CheckPod has read and
// checked it the way PID 1 will.
type CheckedPod struct {
	UUID string
	// Apps are the apps' names, in the pod manifest's order (the order of
	// PID 1's --app-stdio-fd descriptors).
	Apps []string
	// Ports are every app's ports, as the pod publishes them on the host.
	Ports []Port
}

// CheckPod reads the prepared pod in podDir and checks everything about it
// that can be checked before anything is started, for a start with the
// flags o, so that bad input leaves nothing behind: the pod manifest (as
// PID 1 reads it), its sysctls against the network, an interactive pod's
// one app, and that the apps' overlays can be mounted on the pod's file
// system (unless --no-overlay).
func CheckPod(podDir string, o *podcontract.RunOptions) (*CheckedPod, error) {
	spec, err := loadPodSpec(podDir)
	if err != nil {
		return nil, err
	}
	if err := checkSysctlNet(spec.sysctls, o.Net); err != nil {
		return nil, fmt.Errorf("pod %s: %w", podDir, err)
	}
	if o.Interactive {
		if err := podcontract.CheckInteractive(len(spec.apps)); err != nil {
			return nil, fmt.Errorf("pod %s: %w", podDir, err)
		}
	}
	if !o.NoOverlay {
		if err := checkOverlaySupport(filepath.Join(podDir, podcontract.AppsDir)); err != nil {
			return nil, err
		}
	}
	p := &CheckedPod{UUID: spec.uuid, Ports: spec.ports}
	for _, a := range spec.apps {
		p.Apps = append(p.Apps, a.name)
	}
	return p, nil
}
