package supervisor

import (
	"encoding/hex"
	"fmt"
	"strings"

	stage1 "github.com/acirun/acirun/stage1-systemd"
)

// The pod as systemd sees it: a machine registered with systemd-machined,
// so that `machinectl list` shows it and `machinectl terminate` stops it,
// and a service that tells the manager when it is ready.

// machinePrefix begins the name of every pod's machine: the name is the
// prefix and the pod's UUID, which makes it unique on the host and lets
// anyone map a machine back to its pod directory.
const machinePrefix = "acirun-"

// machineName is the machined name of the pod with this UUID.
func machineName(uuid string) string { return machinePrefix + uuid }

// machineID is the 128-bit machine ID machined records for the pod: the
// bytes of its UUID (RFC 4122 text form, 32 hex digits and four hyphens).
func machineID(uuid string) ([]byte, error) {
	id, err := hex.DecodeString(strings.ReplaceAll(uuid, "-", ""))
	if err != nil || len(id) != 16 || len(uuid) != 36 {
		return nil, fmt.Errorf("pod UUID %q is not a UUID", uuid)
	}
	return id, nil
}

// keepUnit decides, from the text of /proc/self/cgroup, whether the pod is
// registered with the systemd unit it already runs in, or gets a new scope
// unit of its own. It returns the unit and true when the unit can be the
// pod's: a service (the pod is a unit's main process, as in aci@.service or
// systemd-run) or a scope someone made for it (systemd-run --scope). It
// returns the unit and false for a login session's scope and a user's
// service manager, whose every process machined would treat as the pod's
// (machinectl terminate would end the session), and "" and false when the
// process is in no unit at all (the root cgroup, a slice).
//
// The unit is the first component of the cgroup path that is not a slice,
// as systemd itself reads it; a cgroup below it (a delegated subtree)
// belongs to that unit. The name=systemd hierarchy is used on cgroup v1,
// the unified one otherwise.
func keepUnit(procCgroup string) (unit string, keep bool) {
	own := stage1.ProcCgroups(procCgroup)
	path, ok := own["name=systemd"]
	if !ok {
		path = own[""]
	}
	for _, c := range strings.Split(path, "/") {
		if c == "" || strings.HasSuffix(c, ".slice") {
			continue
		}
		switch {
		case strings.HasSuffix(c, ".service"):
			return c, !strings.HasPrefix(c, "user@")
		case strings.HasSuffix(c, ".scope"):
			return c, !strings.HasPrefix(c, "session-") && c != "init.scope"
		}
		return "", false
	}
	return "", false
}
