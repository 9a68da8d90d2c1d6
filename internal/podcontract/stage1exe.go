package podcontract

import (
	"fmt"
	"os"
	"path/filepath"
)

// Stage1Executable is the file name of the pod side's binary (the command
// acirun-stage1), which stage0 starts a pod with: `acirun-stage1 run …
// POD-DIR` (the unit's ExecStart, or the pod's own process's stage1), and
// `acirun-stage1 enter …`.
const Stage1Executable = "acirun-stage1"

// FindStage1 returns the path of the stage1 binary that goes with the
// running acirun: Stage1Executable in the directory of this executable (as
// os.Executable resolves it: symbolic links followed), where make build
// and make install put both. This is the one way stage0 finds it.
func FindStage1() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the acirun binary: %w", err)
	}
	p := filepath.Join(filepath.Dir(self), Stage1Executable)
	fi, err := os.Stat(p)
	if err == nil && (!fi.Mode().IsRegular() || fi.Mode()&0o111 == 0) {
		err = fmt.Errorf("not an executable file (mode %s)", fi.Mode())
	}
	if err != nil {
		return "", fmt.Errorf("the stage1 binary %s beside %s: %w (install %s with acirun: make install puts both in PREFIX/bin)", p, self, err, Stage1Executable)
	}
	return p, nil
}
