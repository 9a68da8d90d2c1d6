//go:build !linux

package stage1

import (
	"fmt"
	"os"
	"runtime"
)

// Main runs a stage1 entry point. Pods need Linux namespaces, so on other
// systems it only explains that and fails.
func Main(args []string, crashAt func(StartStep)) int {
	fmt.Fprintf(os.Stderr, "acirun stage1: pods need Linux (this is %s)\n", runtime.GOOS)
	return 254
}
