//go:build !linux

package supervisor

import (
	"fmt"
	"os"
	"runtime"

	stage1 "github.com/acirun/acirun/stage1-systemd"
)

// Main runs the pod's supervisor. Pods need Linux namespaces, so on other
// systems it only explains that and fails.
func Main(args []string, podExe string, crashAt func(stage1.StartStep)) int {
	fmt.Fprintf(os.Stderr, "acirun stage1: pods need Linux (this is %s)\n", runtime.GOOS)
	return 254
}
