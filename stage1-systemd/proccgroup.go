package stage1

import "strings"

// ProcCgroups reads the text of /proc/PID/cgroup: the process's cgroup
// path in each hierarchy, by controller (or named hierarchy, such as
// "name=systemd"), and in the unified hierarchy under "".
func ProcCgroups(text string) map[string]string {
	own := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			own[""] = parts[2]
		}
		for _, c := range strings.Split(parts[1], ",") {
			own[c] = parts[2]
		}
	}
	return own
}
