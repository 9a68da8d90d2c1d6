package podcontract

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// StopSignalAnnotation is the image manifest annotation naming the signal
// stage1 sends the app to stop it, instead of SIGTERM; SIGKILL still
// follows after the stop timeout. stage0 records an OCI image config's
// StopSignal in it (and refuses an image whose value ParseStopSignal
// refuses); stage1 reads it from the app's image manifest.
const StopSignalAnnotation = "oci/stop-signal"

// maxSignal is the highest signal number Linux has (SIGRTMAX, _NSIG-1).
const maxSignal = 64

// ParseStopSignal parses a stop signal as OCI image configs and Docker
// write it: a name with or without its SIG prefix, in any case (SIGQUIT,
// quit), or a number from 1 to 64. It is the one parser of signal names
// shared by stage0, which refuses a bad one at fetch, and stage1, which
// sends it.
func ParseStopSignal(s string) (unix.Signal, error) {
	if s == "" {
		return 0, fmt.Errorf("stop signal: empty: give a signal name such as SIGQUIT or a number")
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > maxSignal {
			return 0, fmt.Errorf("stop signal %q: not a signal number (1 to %d)", s, maxSignal)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, fmt.Errorf("stop signal %q: no such signal: give a name such as SIGQUIT or a number", s)
	}
	return sig, nil
}
