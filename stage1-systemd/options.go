package stage1

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/internal/trace"
	"github.com/acirun/acirun/userns"
)

// podOptions are the flags of `stage1 init`: those of `stage1 run`, the
// pod's supervisor (package supervisor), which passes them on unchanged,
// and what it sets for PID 1 alone.
type podOptions struct {
	podcontract.RunOptions
	podDir string
	// controlFd (set by run) is PID 1's end of a socket pair with
	// `stage1 run` (podcontract.Go, NetworkReady). -1 when there is
	// none.
	controlFd int
	// consoleFd (set by an interactive run on a terminal) is
	// the socket the app's launcher sends its terminal over
	// (terminal_linux.go). -1 when there is none.
	consoleFd int
	// appStdioFd (set by run) is the first of the descriptors
	// that are the apps' stdout and stderr, two per app in the pod
	// manifest's order (podOutput). -1: the apps' are PID 1's own.
	appStdioFd int
	// appOverlayFd (set by run) is the first of the descriptors that
	// are the apps' overlays, detached mounts run made (AppOverlays), one
	// per app in the pod manifest's order, which PID 1 attaches as their
	// roots. -1: PID 1 makes them.
	appOverlayFd int
	// idRange (set by run for --private-users) is the range of
	// host IDs leased to the pod, which its apps' user namespaces map
	// their IDs to; the zero Range for none.
	idRange userns.Range
	// userNS is a user namespace of idRange's map, through
	// which the apps' images are ID-mapped; nil without idRange.
	userNS *os.File
	// appsOOMScoreAdj (set by run when it lowered PID 1's:
	// ProtectChildFromOOM) is the oom_score_adj run had before, which
	// every process of an app without an os/linux/oom-score-adj gets
	// (appOOMScoreAdj); nil: they inherit PID 1's.
	appsOOMScoreAdj *int
	// trace is told the steps of the pod's start (ACIRUN_TRACE), or nil.
	trace *trace.Tracer
	// crashAt is told each step of the start (crashpoint_linux.go); nil
	// but in test builds.
	crashAt func(StartStep)
}

// parsePodOptions parses the flags of `stage1 init`, followed by exactly
// one POD-DIR.
func parsePodOptions(args []string, stderr io.Writer) (*podOptions, error) {
	o := &podOptions{controlFd: -1, consoleFd: -1, appStdioFd: -1, appOverlayFd: -1}
	fs := flag.NewFlagSet("stage1 init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.controlFd, "control-fd", -1, "descriptor of the socket to stage1 run (set by run)")
	fs.IntVar(&o.consoleFd, "console-fd", -1, "descriptor of the socket the app's terminal goes to stage1 run over (set by run)")
	fs.IntVar(&o.appStdioFd, "app-stdio-fd", -1, "first descriptor of the apps' stdout and stderr, two per app (set by run)")
	fs.IntVar(&o.appOverlayFd, "app-overlay-fd", -1, "first descriptor of the apps' overlays, detached mounts, one per app (set by run)")
	fs.Func("id-range", "UID:COUNT: the host IDs leased to the pod's user namespaces (set by run for --private-users)", func(s string) error {
		r, err := userns.ParseRange(s)
		if err == nil && r.IsZero() {
			err = errors.New("want UID:COUNT")
		}
		o.idRange = r
		return err
	})
	fs.Func("apps-oom-score-adj", "N: the oom_score_adj of the apps without os/linux/oom-score-adj (set by run when it lowered its own)", func(s string) error {
		n, err := strconv.Atoi(s)
		if err == nil && (n < -1000 || n > 1000) {
			err = errors.New("want -1000 to 1000")
		}
		o.appsOOMScoreAdj = &n
		return err
	})
	ro, err := podcontract.ParseRunFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if fs.NArg() != 1 {
		return nil, fmt.Errorf("stage1 init: want exactly one POD-DIR, got %d arguments", fs.NArg())
	}
	o.RunOptions, o.podDir = *ro, fs.Arg(0)
	return o, nil
}

// appOptions are the flags of `stage1 app`.
type appOptions struct {
	phase       string // "main", "pre-start", "post-stop", or "enter" (started by `stage1 enter`)
	insecure    podcontract.Insecure
	metadataURL string
	// notifySocket is the app's NOTIFY_SOCKET, where PID 1 hears its
	// sd_notify messages; "" for an app whose image does not use them.
	notifySocket string
	listenFds    int // socket-activated fds passed as 3, 4, … (main phase only)
	consoleFd    int // the socket to send the app's terminal over (terminal_linux.go), or -1
	debug        bool
	podDir       string
	name         string
	// pidfd (enter only) is a pidfd of the app's main process, whose
	// namespaces the process joins instead of building the app's root.
	pidfd int
	// command (enter only) is what to execute in the app.
	command []string
	// privateUsers: started in a user namespace of the pod's range
	// (--private-users), where the root the app is given must be a mount
	// of that namespace's own before pivot_root takes it; for enter, in
	// the app's, where only the app's mount namespace is left to join.
	privateUsers bool
	// trace is told the steps of the launch (ACIRUN_TRACE), or nil.
	trace *trace.Tracer
	// crashAt is podOptions.crashAt, for the launch's steps.
	crashAt func(StartStep)
}

func parseAppOptions(args []string, stderr io.Writer) (*appOptions, error) {
	o := &appOptions{consoleFd: -1}
	fs := flag.NewFlagSet("stage1 app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.phase, "phase", "main", "main, pre-start, post-stop or enter")
	fs.IntVar(&o.pidfd, "pidfd", -1, "pidfd of the app's main process (enter only)")
	fs.Var(&o.insecure, "insecure-options", "capabilities,paths,seccomp")
	fs.StringVar(&o.metadataURL, "metadata-url", "", "AC_METADATA_URL")
	fs.StringVar(&o.notifySocket, "notify-socket", "", "NOTIFY_SOCKET of the app (an abstract socket of PID 1)")
	fs.IntVar(&o.listenFds, "listen-fds", 0, "number of socket-activated fds passed from fd 3 on")
	fs.IntVar(&o.consoleFd, "console-fd", -1, "socket to send the app's terminal over, after the socket-activated fds (main phase only)")
	fs.BoolVar(&o.debug, "debug", false, "log each step to stderr")
	fs.BoolVar(&o.privateUsers, "private-users", false, "started in the pod's user namespace (set by init, or by enter in the app's)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch o.phase {
	case "main", "pre-start", "post-stop":
		if fs.NArg() != 2 {
			return nil, errors.New("stage1 app: want POD-DIR NAME")
		}
		if o.pidfd != -1 {
			return nil, errors.New("stage1 app: --pidfd is for --phase=enter only")
		}
	case "enter":
		if fs.NArg() < 3 || o.pidfd < 3 {
			return nil, errors.New("stage1 app --phase=enter: want --pidfd=FD POD-DIR NAME CMD [ARGS...]")
		}
		o.command = fs.Args()[2:]
	default:
		return nil, fmt.Errorf("stage1 app: --phase=%q: want main, pre-start, post-stop or enter", o.phase)
	}
	if o.listenFds < 0 || (o.listenFds > 0 && o.phase != "main") {
		return nil, fmt.Errorf("stage1 app: --listen-fds=%d: want a count, for the main phase only", o.listenFds)
	}
	if o.consoleFd >= 0 && (o.phase != "main" || o.consoleFd != 3+o.listenFds) {
		return nil, fmt.Errorf("stage1 app: --console-fd=%d: want the descriptor after the socket-activated ones, for the main phase only", o.consoleFd)
	}
	o.podDir, o.name = fs.Arg(0), fs.Arg(1)
	return o, nil
}
