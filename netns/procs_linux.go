package netns

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// What holds a socket or a network namespace is told in messages by the
// processes /proc shows (socketProcess, LinkHolders): these walk it the one
// way for both, ignoring what cannot be read (a process that ended
// meanwhile, another's out of view).

// eachProcess calls f with the PID of each process in /proc, as /proc
// names it, until f returns false.
func eachProcess(f func(pid string) bool) {
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		if !f(p.Name()) {
			return
		}
	}
}

// hasDescriptor reports whether one of process pid's descriptors is one
// match accepts, given its /proc path and what it links to
// ("socket:[INODE]", "net:[INODE]", a file's path).
func hasDescriptor(pid string, match func(path, link string) bool) bool {
	dir := filepath.Join("/proc", pid, "fd")
	fds, _ := os.ReadDir(dir)
	for _, fd := range fds {
		path := filepath.Join(dir, fd.Name())
		if l, err := os.Readlink(path); err == nil && match(path, l) {
			return true
		}
	}
	return false
}

// processName names process pid for a message: "process PID (COMMAND)".
func processName(pid string) string {
	comm, _ := os.ReadFile(filepath.Join("/proc", pid, "comm"))
	return fmt.Sprintf("process %s (%s)", pid, strings.TrimSpace(string(comm)))
}
