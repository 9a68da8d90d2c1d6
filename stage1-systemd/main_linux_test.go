package stage1_test

import (
	"fmt"
	"os"
	"testing"

	stage1 "github.com/acirun/acirun/stage1-systemd"
	"github.com/acirun/acirun/stage1-systemd/supervisor"
)

// TestMain makes the test binary the pod side's two binaries when
// stage1.MainEnv is set: acirun-stage1 for `run`, whose pods' processes
// start from this binary again, and acirun-pod for those. This file is of
// the external test package because package supervisor imports stage1.
func TestMain(m *testing.M) {
	if os.Getenv(stage1.MainEnv) == "1" {
		crashAt := stage1.CrashHookFromEnv()
		if len(os.Args) > 1 && os.Args[1] == "run" {
			self, err := os.Executable()
			if err != nil {
				fmt.Fprintf(os.Stderr, "stage1 test: %v\n", err)
				os.Exit(stage1.ExitCodeFailure)
			}
			os.Exit(supervisor.Main(os.Args[1:], self, crashAt))
		}
		os.Exit(stage1.Main(os.Args[1:], crashAt))
	}
	code := m.Run()
	stage1.RemoveProbe()
	os.Exit(code)
}
