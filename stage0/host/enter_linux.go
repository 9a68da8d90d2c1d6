package host

import (
	"context"
	"fmt"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/stage0/pod"
)

// DefaultEnterCommand is what EnterCommand runs when given no command.
const DefaultEnterCommand = "/bin/sh"

// EnterCommand returns the command line that runs argv (DefaultEnterCommand
// when empty) in app of the running pod ref (a UUID or a unique prefix of
// one): acirun-pod's `enter`, which joins the app's namespaces
// and cgroups and confines the command as the app is confined. app may be ""
// for a pod of one app. The CLI execs it in place of itself, so that the
// command has acirun's terminal and exit code.
func (h *Host) EnterCommand(ctx context.Context, ref, app string, argv []string) ([]string, error) {
	pd, err := pod.Load(h.cfg.DataDir, ref)
	if err != nil {
		return nil, err
	}
	if pd.State != pod.StateRunning {
		return nil, fmt.Errorf("pod %s is %s: only a running pod can be entered", pd.UUID, pd.State)
	}
	if app, err = podApp(pd, app); err != nil {
		return nil, err
	}
	if len(argv) == 0 {
		argv = []string{DefaultEnterCommand}
	}
	exe, err := podcontract.FindPodExecutable()
	if err != nil {
		return nil, err
	}
	cmd := []string{exe, "enter"}
	if h.cfg.Debug {
		cmd = append(cmd, "--debug")
	}
	cmd = append(cmd, pd.Dir, app)
	return append(cmd, argv...), nil
}
