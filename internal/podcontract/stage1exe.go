package podcontract

import (
	"fmt"
	"os"
	"path/filepath"
)

// Stage1Executable is the file name of the pod's supervisor's binary (the
// command acirun-stage1), which stage0 starts a pod with: `acirun-stage1
// run … POD-DIR` (the unit's ExecStart, or the pod's own process's stage1).
const Stage1Executable = "acirun-stage1"

// PodExecutable is the file name of the binary of the pod's own processes
// (the command acirun-pod): its PID 1 (`init`) and app launchers (`app`),
// which the supervisor starts from a sealed view of it, and `enter`, which
// acirun enter execs. It links only the pod side, none of the supervisor's
// network, D-Bus, HTTP or CNI code, so that none of their packages'
// initialisation is in the start of every pod's PID 1 and launcher.
const PodExecutable = "acirun-pod"

// FindStage1 returns the path of the stage1 binary that goes with the
// running acirun: Stage1Executable in the directory of this executable (as
// os.Executable resolves it: symbolic links followed), where make build
// and make install put it, with PodExecutable beside it
// (PodExecutableBeside), which it checks too: the two are one install.
// This is the one way stage0 finds them.
func FindStage1() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the acirun binary: %w", err)
	}
	return findStage1Beside(self)
}

// findStage1Beside is FindStage1 for the acirun binary at self.
func findStage1Beside(self string) (string, error) {
	p := filepath.Join(filepath.Dir(self), Stage1Executable)
	for _, exe := range []string{p, PodExecutableBeside(p)} {
		if err := checkExecutable(exe); err != nil {
			name := filepath.Base(exe)
			return "", fmt.Errorf("the stage1 binary %s beside %s: %w (install %s with acirun: make install puts %s, %s and %s in PREFIX/bin)",
				exe, self, err, name, "acirun", Stage1Executable, PodExecutable)
		}
	}
	return p, nil
}

// FindPodExecutable is FindStage1's PodExecutable: the binary acirun enter
// execs.
func FindPodExecutable() (string, error) {
	stage1, err := FindStage1()
	if err != nil {
		return "", err
	}
	return PodExecutableBeside(stage1), nil
}

// PodExecutableBeside is the path of PodExecutable in the directory of
// stage1, the supervisor's binary (acirun-stage1): where the supervisor
// finds the binary its pod's PID 1 starts from.
func PodExecutableBeside(stage1 string) string {
	return filepath.Join(filepath.Dir(stage1), PodExecutable)
}

// checkExecutable says why p is no executable file, or nil.
func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err == nil && (!fi.Mode().IsRegular() || fi.Mode()&0o111 == 0) {
		err = fmt.Errorf("not an executable file (mode %s)", fi.Mode())
	}
	return err
}
