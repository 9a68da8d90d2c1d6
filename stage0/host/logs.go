package host

import (
	"strconv"
	"time"

	"github.com/acirun/acirun/stage0/pod"
	"github.com/acirun/acirun/unitgen"
)

// Journal fields that name a pod's entries. ACIRUN_POD_UUID is on every
// entry of a pod's transient unit (unitgen's LogExtraFields) and, with the
// per-app journal streams, on every line an app writes in any unit (aci@
// services included); JournalFieldApp names the app of such a line.
const (
	journalFieldPod = unitgen.JournalFieldUUID
	JournalFieldApp = "ACIRUN_APP"
)

// LogsOptions selects what Logs reads of a pod's journal.
type LogsOptions struct {
	// App, when set, keeps only the lines of that app of the pod.
	App string
	// Lines, when >= 0, keeps only the last Lines entries (journalctl -n);
	// -1 keeps them all.
	Lines int
	// Since keeps entries from that time on: a duration before now ("10m",
	// as docker logs takes it) or anything journalctl --since takes
	// ("2026-01-02 15:04:05", "yesterday", "-1h").
	Since string
	// Follow goes on reading new entries until the pod has exited.
	Follow bool
}

// journalctlArgs is the journalctl command line that reads the entries o
// selects of pod pd, as an export stream, with now the time --since is
// counted back from. The match is the pod's UUID journal field, which
// every entry of the pod carries whichever unit ran it; a pod run from a
// shell with --no-unit writes to that shell's terminal, not to the journal,
// unless its apps log to the journal themselves.
func journalctlArgs(pd *pod.Pod, o LogsOptions, now time.Time) ([]string, error) {
	args := []string{"--output=export", "--quiet", "--no-pager"}
	if o.Lines >= 0 {
		args = append(args, "--lines="+strconv.Itoa(o.Lines))
	} else {
		args = append(args, "--lines=all")
	}
	if o.Since != "" {
		since := o.Since
		// A negative one ("-1h") is journalctl's own relative syntax.
		if d, err := time.ParseDuration(o.Since); err == nil && d >= 0 {
			since = "@" + strconv.FormatInt(now.Add(-d).Unix(), 10)
		}
		args = append(args, "--since="+since)
	}
	if o.Follow {
		args = append(args, "--follow")
	}
	args = append(args, journalFieldPod+"="+pd.UUID)
	if o.App != "" {
		if _, err := podApp(pd, o.App); err != nil {
			return nil, err
		}
		args = append(args, JournalFieldApp+"="+o.App)
	}
	return args, nil
}
