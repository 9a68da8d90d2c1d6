package podcontract

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/acirun/acirun/internal/atomicfile"
)

// WritePID writes pid as podDir's file name (PIDFile or PPID1File): the
// decimal PID and a newline, atomically, not synced (a PID means nothing
// after a reboot).
func WritePID(podDir, name string, pid int) error {
	return atomicfile.WriteFile(filepath.Join(podDir, name), []byte(strconv.Itoa(pid)+"\n"), atomicfile.Options{NoSync: true})
}

// ParsePID reads the content of a PID file.
func ParsePID(b []byte) (int, error) {
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%q is not a PID", b)
	}
	return pid, nil
}

// WriteReady makes podDir's ReadyFile (empty, atomically, not synced): the
// pod's apps have all started.
func WriteReady(podDir string) error {
	return atomicfile.WriteFile(filepath.Join(podDir, ReadyFile), nil, atomicfile.Options{NoSync: true})
}
