package host

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/acirun/acirun/internal/testenv"
	"github.com/acirun/acirun/stage0/fetchcontract"
)

// fetchExe is the acirun-fetch TestMain built, which newHost's Hosts run
// for what they fetch and trust: the test binary has none beside it.
var fetchExe string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "acirun-host-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	_, file, _, _ := runtime.Caller(0)
	fetchExe = filepath.Join(dir, fetchcontract.Executable)
	if err := testenv.BuildCommand(filepath.Join(filepath.Dir(file), "..", ".."), fetchExe, "acirun-fetch"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if e := testenv.CoverEnv(); e != "" {
		// A coverage build writes its counters there (scripts/cover).
		k, v, _ := strings.Cut(e, "=")
		os.Setenv(k, v)
	}
	return m.Run()
}
