package stage1

import "golang.org/x/sys/unix"

// WaitPid waits for our child pid (PID 1, for the supervisor; the
// process enter starts) to end and returns how it did.
func WaitPid(pid int) unix.WaitStatus {
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
			return ws
		}
	}
}

// Ended reports whether our child pid has ended and waits to be reaped
// (WaitPid), without reaping it: a pid that is not our child, or has been
// reaped, has not, as far as it can tell.
func Ended(pid int) bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			// Linux reports no child in that state with a zero si_signo.
			return err == nil && info.Signo == int32(unix.SIGCHLD)
		}
	}
}

// StatusCode is the shell's convention: the exit code, or 128+N for signal N.
func StatusCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
