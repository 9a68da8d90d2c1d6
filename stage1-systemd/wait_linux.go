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

// StatusCode is the shell's convention: the exit code, or 128+N for signal N.
func StatusCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
