package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/acirun/acirun/aci/archive"
	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/stage0/pod"
)

// ExportPod writes the root of app (the pod's only app when app is "") of
// the pod ref as the ACI out, like rkt export: the app's image with the
// pod's changes, under the image's manifest without the dependencies and
// pathWhitelist that the rendered tree already reflects (rkt kept them,
// and a consumer applied them twice). Its overlay's upper directory is
// merged into the rendered image (archive.BuildOptions.Upper); a pod run
// with --no-overlay has its private copy exported instead. The pod must
// not be running: its files would change while they are read. The file is
// written by archive.BuildFile, whole or not at all.
func (h *Host) ExportPod(ctx context.Context, ref, app, out string, overwrite bool) error {
	pd, err := pod.Load(h.cfg.DataDir, ref)
	if err != nil {
		return err
	}
	switch pd.State {
	case pod.StateRunning:
		return fmt.Errorf("export pod %s: it is running; stop it first (acirun stop %s), its files change while it runs", pd.UUID, pd.UUID)
	case pod.StatePreparing, pod.StateAbandoned:
		return fmt.Errorf("export pod %s: it is %s and has no apps to export", pd.UUID, pd.State)
	}
	if app, err = podApp(pd, app); err != nil {
		return fmt.Errorf("export %w", err)
	}
	appDir := podcontract.AppDir(pd.Dir, app)
	image, err := filepath.EvalSymlinks(filepath.Join(appDir, podcontract.AppImageLink))
	if err != nil {
		return fmt.Errorf("export pod %s app %s: its image: %w (was the image removed from the store?)", pd.UUID, app, err)
	}
	// The image link is the rendered tree: its dependencies are laid in
	// and its pathWhitelist applied, so the ACI must not name them again.
	opts := archive.BuildOptions{Overwrite: overwrite, Rendered: true}
	ro, err := podcontract.ParseRecordedFlags(pd.Stage1Args)
	if err != nil {
		return fmt.Errorf("export pod %s: %s: %w", pd.UUID, podcontract.Stage1ArgsFile, err)
	}
	if ro.NoOverlay {
		opts.Rootfs = filepath.Join(appDir, podcontract.AppRootfsDir)
	} else {
		opts.Upper = filepath.Join(appDir, podcontract.AppUpperDir)
	}
	for _, p := range []string{opts.Rootfs, opts.Upper} {
		if p == "" {
			continue
		}
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			// Never run: the image as it is.
			opts.Rootfs, opts.Upper = "", ""
		} else if err != nil {
			return fmt.Errorf("export pod %s app %s: %w", pd.UUID, app, err)
		}
	}
	if err := archive.BuildFile(image, out, opts); err != nil {
		return fmt.Errorf("export pod %s app %s: %w", pd.UUID, app, err)
	}
	return nil
}
