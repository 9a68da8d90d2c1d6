package pod

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/podcontract"
)

// checkVolumeTargets refuses, before anything of the pod is written, a
// mount whose target the image's own symlinks lead to a place the pod may
// not have a volume (podcontract.CheckVolumeTarget: the root, /proc, /sys,
// /dev): each target is resolved inside the app's rendered tree as the
// app would see it. stage1 checks again as it mounts, in the root it
// builds, where volumes mounted before may add symlinks of their own.
// images[i] is the image of pm.Apps[i].
func checkVolumeTargets(pm *aci.PodManifest, images []*Image) error {
	for i, ra := range pm.Apps {
		root := filepath.Join(images[i].Tree, "rootfs")
		for _, m := range ra.Mounts {
			asked := path.Clean("/" + m.Path)
			full, err := securejoin.SecureJoin(root, asked)
			if err != nil {
				return fmt.Errorf("app %s: volume %s: target %s: %w", ra.Name, m.Volume, asked, err)
			}
			rel, err := filepath.Rel(root, full)
			if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
				return fmt.Errorf("app %s: volume %s: target %s resolves outside the image's root", ra.Name, m.Volume, asked)
			}
			if err := podcontract.CheckVolumeTarget(string(m.Volume), asked, path.Clean("/"+rel)); err != nil {
				return fmt.Errorf("app %s: %w", ra.Name, err)
			}
		}
	}
	return nil
}
