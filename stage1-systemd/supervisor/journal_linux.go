package supervisor

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"golang.org/x/sys/unix"

	stage1 "github.com/acirun/acirun/stage1-systemd"
)

// podOutput carries the apps' stdout and stderr to the journal, as entries
// of each app's own: SYSLOG_IDENTIFIER and ACIRUN_APP the app's name,
// ACIRUN_POD_UUID the pod's, PRIORITY 6 (info) for stdout and 3 (err) for
// stderr unless a line starts with an sd-daemon(3) "<N>" prefix.
//
// Why stage1 run copies the output, rather than handing each app a stream
// of journald's own (/run/systemd/journal/stdout, as systemd does for a
// service): a stream carries an identifier and a priority but no other
// field, and the pod's and the app's names must be fields for `acirun logs`
// and for `journalctl ACIRUN_APP=…` to find an app's lines. So stage1 run
// reads each app's output from a pipe and sends each line to journald's
// native socket, over go-systemd's journal package. It is stage1 run that
// does it, not the pod's PID 1: run is in the unit's cgroup (journald
// attributes an entry to the sender's unit, so `journalctl -u UNIT` finds
// the apps' lines, and the unit's LogExtraFields apply), it holds nothing
// else, and PID 1 keeps its few megabytes. The cost is one pipe read and
// one datagram per line, and a goroutine per stream.
//
// Only the streams of run that are the journal's (systemd says so with
// $JOURNAL_STREAM: the unit of a detached pod or of aci@.service) go there;
// the others, a terminal above all, are the apps' own as before.
type podOutput struct {
	// files are what PID 1 passes on as each app's stdout and stderr, two
	// per app in the pod manifest's order: a pipe's write end, or run's
	// own stdout or stderr when that is not the journal.
	files   []uintptr
	writers []*os.File // the pipes' write ends, ours until PID 1 has its copies
	readers []*os.File
	done    sync.WaitGroup
	warn    sync.Once
}

// journalStreams says which of our stdout and stderr are the journal.
func journalStreams() (stdout, stderr bool, err error) {
	stdout, err = journal.StdoutIsJournalStream()
	if err != nil {
		return false, false, err
	}
	stderr, err = journal.StderrIsJournalStream()
	return stdout, stderr, err
}

// startPodOutput makes the pipes of the apps whose output goes to the
// journal and starts copying from them. It returns nil, and the reason
// when that is not plain, when no output of the pod goes to the journal.
func startPodOutput(spec *stage1.CheckedPod) (*podOutput, error) {
	toOut, toErr, err := journalStreams()
	if err != nil || (!toOut && !toErr) {
		return nil, err
	}
	if !journal.Enabled() {
		return nil, fmt.Errorf("journal: our output is a journal stream, but journald's native socket does not answer: the apps write to that stream")
	}
	o := &podOutput{}
	for _, app := range spec.Apps {
		for _, s := range []struct {
			journal bool
			fd      uintptr
			own     *os.File
			prio    journal.Priority
		}{{toOut, 1, os.Stdout, journal.PriInfo}, {toErr, 2, os.Stderr, journal.PriErr}} {
			if !s.journal {
				o.files = append(o.files, s.fd)
				continue
			}
			r, w, err := outputPipe(app)
			if err != nil {
				o.close()
				return nil, err
			}
			o.readers = append(o.readers, r)
			o.writers = append(o.writers, w)
			o.files = append(o.files, w.Fd())
			o.done.Add(1)
			go o.copy(r, spec.UUID, app, s.prio, s.own)
		}
	}
	return o, nil
}

// outputPipe makes an app's output pipe: the read end non-blocking for
// the runtime's poller, the write end blocking, as a program expects its
// stdout to be.
func outputPipe(app string) (r, w *os.File, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, fmt.Errorf("app %s: output pipe: %w", app, err)
	}
	if err := unix.SetNonblock(p[0], true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, nil, fmt.Errorf("app %s: output pipe: %w", app, err)
	}
	return os.NewFile(uintptr(p[0]), "app "+app+" output"), os.NewFile(uintptr(p[1]), "app "+app+" output"), nil
}

// copy sends what an app writes to one stream to the journal, a line an
// entry, until every writer has closed it. A line journald does not take is
// written to own (run's stdout or stderr, the unit's stream) instead, so
// that nothing is lost.
func (o *podOutput) copy(r *os.File, uuid, app string, prio journal.Priority, own *os.File) {
	defer o.done.Done()
	vars := map[string]string{"SYSLOG_IDENTIFIER": app, "ACIRUN_APP": app, "ACIRUN_POD_UUID": uuid}
	err := splitLines(r, journalLineMax, func(line []byte, brk lineBreak) error {
		p := prio
		if n, rest, ok := levelPrefix(line); ok {
			p, line = journal.Priority(n), rest
		}
		if brk == breakNewline {
			delete(vars, "ACIRUN_LINE_BREAK")
		} else {
			vars["ACIRUN_LINE_BREAK"] = brk.String()
		}
		if err := journal.Send(string(line), p, vars); err != nil {
			o.warn.Do(func() {
				fmt.Fprintf(os.Stderr, "acirun stage1 run: app %s: journal: %v: its lines go to the unit's own stream\n", app, err)
			})
			_, _ = own.Write(append(line, '\n'))
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrClosed) {
		fmt.Fprintf(os.Stderr, "acirun stage1 run: app %s: output: %v\n", app, err)
	}
}

// started drops our copies of the pipes' write ends once PID 1 has its
// own: the apps' output then ends when the last process of the pod that
// holds it is gone.
func (o *podOutput) started() {
	if o == nil {
		return
	}
	for _, w := range o.writers {
		w.Close()
	}
	o.writers = nil
}

// finish waits, once the pod's PID 1 is gone (and with it every process of
// the pod), until all the apps wrote is in the journal. A write end that
// escaped the pod (passed over a socket to a process outside) cannot hold
// run up for longer than the grace period.
func (o *podOutput) finish(grace time.Duration) {
	if o == nil {
		return
	}
	o.started()
	done := make(chan struct{})
	go func() { o.done.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		fmt.Fprintf(os.Stderr, "acirun stage1 run: apps' output still open %s after the pod ended: closed\n", grace)
	}
	o.close()
}

// close closes everything; copies still running end.
func (o *podOutput) close() {
	if o == nil {
		return
	}
	o.started()
	for _, r := range o.readers {
		r.Close()
	}
}

// initArgs are the descriptors PID 1 receives beyond its first fd (the
// output descriptors of the apps, when there is a podOutput), and the flag
// that tells it where they are.
func (o *podOutput) initArgs(first int) (files []uintptr, flags []string) {
	if o == nil {
		return nil, nil
	}
	return o.files, []string{"--app-stdio-fd=" + strconv.Itoa(first)}
}

// outputGrace bounds how long stage1 run waits for the apps' last output
// once the pod has ended.
const outputGrace = 5 * time.Second
