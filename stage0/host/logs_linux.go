package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/acirun/acirun/stage0/journal"
	"github.com/acirun/acirun/stage0/pod"
)

// Logs reads the journal entries of pod pd that o selects and passes each
// to emit, oldest first. It runs journalctl (-o export, parsed by package
// journal): acirun is built with CGO_ENABLED=0, so go-systemd's sdjournal,
// a cgo binding of libsystemd, is not available, and journalctl is the
// supported reader of journal files. With o.Follow it goes on until the pod
// has exited (its exit record written and stage1 gone), then reads what the
// journal received after the last entry shown and returns; ctx ending
// stops it too (Ctrl-C), without an error. A pod without entries emits
// nothing.
func (h *Host) Logs(ctx context.Context, pd *pod.Pod, o LogsOptions, emit func(*journal.Entry) error) error {
	args, err := journalctlArgs(pd, o, time.Now())
	if err != nil {
		return err
	}
	if !o.Follow {
		_, err := readJournal(ctx, pd, args, emit)
		return err
	}
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	exited := make(chan error, 1)
	go func() {
		_, err := h.WaitExited(fctx, pd.UUID)
		exited <- err
		stop()
	}()
	cursor, err := readJournal(fctx, pd, args, emit)
	if ctx.Err() != nil {
		return nil // stopped by the user
	}
	if err != nil && fctx.Err() == nil {
		return err // journalctl failed while the pod runs
	}
	if werr := <-exited; werr != nil && ctx.Err() == nil {
		return werr
	}
	// The pod has exited. Its last lines may still be on their way through
	// journald: ask it to write out what it holds, then read on from the
	// last entry shown.
	exec.CommandContext(ctx, "journalctl", "--sync").Run()
	rest := withoutFollow(args)
	if cursor != "" {
		rest = append(withoutLines(rest), "--after-cursor="+cursor)
	}
	_, err = readJournal(ctx, pd, rest, emit)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func withoutFollow(args []string) []string {
	var out []string
	for _, a := range args {
		if a != "--follow" {
			out = append(out, a)
		}
	}
	return out
}

func withoutLines(args []string) []string {
	var out []string
	for _, a := range args {
		if !strings.HasPrefix(a, "--lines=") {
			out = append(out, a)
		}
	}
	return out
}

// readJournal runs journalctl args and emits each entry it writes; it
// returns the cursor of the last one. When ctx ends, journalctl is
// stopped and the error is ctx's.
func readJournal(ctx context.Context, pd *pod.Pod, args []string, emit func(*journal.Entry) error) (string, error) {
	cmd := exec.CommandContext(ctx, "journalctl", args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", fmt.Errorf("read the journal of pod %s: %w", pd.UUID, err)
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("read the journal of pod %s: journalctl is not installed (acirun logs reads the journal through systemd's journalctl)", pd.UUID)
		}
		return "", fmt.Errorf("read the journal of pod %s: %w", pd.UUID, err)
	}
	var cursor string
	r := journal.NewReader(out)
	var rerr error
	for {
		e, err := r.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				rerr = err
			}
			break
		}
		if c, ok := e.Get("__CURSOR"); ok {
			cursor = string(c)
		}
		if err := emit(e); err != nil {
			rerr = err
			break
		}
	}
	if rerr != nil {
		cmd.Cancel()
	}
	io.Copy(io.Discard, out)
	werr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return cursor, ctx.Err()
	case rerr != nil:
		return cursor, fmt.Errorf("read the journal of pod %s: %w", pd.UUID, rerr)
	case werr != nil:
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = werr.Error()
		}
		return cursor, fmt.Errorf("read the journal of pod %s: journalctl %s: %s", pd.UUID, strings.Join(args, " "), msg)
	}
	return cursor, nil
}
