package stage1

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// SupervisorOOMScoreAdj is the oom_score_adj the pod's supervisor (`stage1
// run`) gives PID 1 once it is forked, and takes itself: under memory
// pressure the kernel's OOM killer then chooses an app, never either. The
// supervisor is the only one to report the pod's end (its exit code, the
// exit file) and PID 1 the only one to reap the apps; killing either ends
// the pod without its status, as CRI-O's conmon is kept from it (-1000).
// -1000, not -999: once the app is killed, a unit at its MemoryMax can
// invoke the OOM killer again before the app's memory is freed (seen in
// e2e TestPodUnitMemoryMax with a coverage build: PID 1 faulted 8 ms after
// the app's kill, and the supervisor, the largest task left, was killed);
// at -999 the supervisor and PID 1 are then the only candidates and one
// dies, at -1000 there is none, the charge fails and the fault is retried
// (the kernel's pagefault_out_of_memory) until the memory is freed.
const SupervisorOOMScoreAdj = -1000

// oomScoreAdjFile is the calling process's oom_score_adj (proc(5)).
const oomScoreAdjFile = "/proc/self/oom_score_adj"

// ProtectFromOOM lowers the calling process's oom_score_adj to
// SupervisorOOMScoreAdj. It returns the value the process had, which is
// the apps' (PID 1 gives it to each app without an os/linux/oom-score-adj:
// the unit's OOMScoreAdjust, or the caller's), and the one it has now. Lowering below the floor the
// process inherited (oom_score_adj_min, the value of the last write made
// with the capability) needs CAP_SYS_RESOURCE in the host's user
// namespace; with it the write also sets that floor. Without it (a
// container that drops it) the process goes down to the floor, which
// /proc does not show: found by trying, two writes when it is the value
// the process had, else halving the distance each time, a dozen at most.
func ProtectFromOOM() (was, now int, err error) {
	return protectFromOOM(oomScoreAdjFile)
}

// ProtectChildFromOOM is ProtectFromOOM for the caller's child pid, which
// must not be reaped yet (its pid cannot be another's), nor have forked
// anything that should inherit the value: the pod's PID 1, which waits
// for the go message. Lowering the caller's own value for the instant of
// the fork instead would lower it for the whole process, and any process
// another of its threads started in that instant (the fetch helper while
// acirun prepares the pod) would keep it. The capability is the
// caller's, the floor the child's (inherited from the caller); with the
// capability the write sets the child's floor too.
func ProtectChildFromOOM(pid int) (was, now int, err error) {
	return protectFromOOM("/proc/" + strconv.Itoa(pid) + "/oom_score_adj")
}

// protectFromOOM is ProtectFromOOM for the process whose oom_score_adj
// file is file.
func protectFromOOM(file string) (was, now int, err error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, 0, fmt.Errorf("oom-score-adj: %w", err)
	}
	was, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, 0, fmt.Errorf("oom-score-adj: %s: %w", file, err)
	}
	if was <= SupervisorOOMScoreAdj {
		return was, was, nil
	}
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		return was, was, fmt.Errorf("oom-score-adj: %w", err)
	}
	defer f.Close()
	// refused is a value the kernel refused (or one below the lowest,
	// never tried), now the process's value; the first try is the one
	// that works with the capability.
	refused, now := SupervisorOOMScoreAdj-1, was
	for try := SupervisorOOMScoreAdj; ; {
		_, err := f.Write(strconv.AppendInt(nil, int64(try), 10))
		switch {
		case err == nil:
			now = try
		case errors.Is(err, unix.EACCES):
			refused = try
		default:
			return was, now, fmt.Errorf("oom-score-adj %d: %s: %w", try, file, err)
		}
		if now-refused <= 1 {
			break
		}
		// Most often the floor is the value we were given (nothing
		// lowered it since the last holder of the capability): the
		// second try says so.
		if try == SupervisorOOMScoreAdj {
			try = now - 1
		} else {
			try = refused + (now-refused)/2
		}
	}
	return was, now, nil
}

// setOOMScoreAdj gives the calling process the oom-score-adj v, for a
// child to inherit at its fork, and returns what puts its own back: PID 1
// gives each app's process its value so (appOOMScoreAdj), and `stage1
// enter` its process. With CAP_SYS_RESOURCE the write also sets the floor
// below which the process cannot lower it again without that capability,
// which the child inherits too: an app, in a user namespace of its own or
// not, can raise its value but not lower it below what it was given.
func setOOMScoreAdj(v int) (restore func(), err error) {
	b, err := os.ReadFile(oomScoreAdjFile)
	if err != nil {
		return nil, fmt.Errorf("oom-score-adj %d: %w", v, err)
	}
	own := strings.TrimSpace(string(b))
	if err := os.WriteFile(oomScoreAdjFile, []byte(strconv.Itoa(v)), 0); err != nil {
		return nil, fmt.Errorf("oom-score-adj %d: %w", v, err)
	}
	return func() {
		if err := os.WriteFile(oomScoreAdjFile, []byte(own), 0); err != nil {
			fmt.Fprintf(os.Stderr, "acirun: restore our own oom-score-adj %s: %v\n", own, err)
		}
	}, nil
}
