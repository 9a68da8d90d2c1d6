package e2e

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// trustOnTerminal runs acirun trust ARGS with a terminal as its standard
// input and error, as an operator types it, and answers the review's
// question with answer once it is asked. It returns the exit code, stdout
// and what the terminal showed.
func (h *host) trustOnTerminal(answer string, args ...string) (code int, stdout, shown string) {
	h.t.Helper()
	master, slave, _ := openPty(h.t, "/dev/ptmx")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.acirun, h.args(append([]string{"trust"}, args...)...)...)
	var out bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, &out, slave
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	slave.Close()
	// What the terminal shows, until every holder of the slave has closed
	// it (the read then fails with EIO).
	tty := &lockedOutput{}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			tty.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(tty.String(), "[y/N] ") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			h.t.Fatalf("acirun trust %s: no question on the terminal:\n%s", strings.Join(args, " "), tty.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := master.Write([]byte(answer + "\n")); err != nil {
		h.t.Fatal(err)
	}
	err := cmd.Wait()
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		h.t.Errorf("acirun trust %s: the terminal was not closed after it exited", strings.Join(args, " "))
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatal(err)
	}
	return code, out.String(), tty.String()
}

// TestTrustFingerprintReview: on a terminal, acirun trust shows each key's
// fingerprint, algorithm and user IDs and the prefix it would be trusted
// for, and trusts it only on "y" or "yes" (any case): any other answer
// (none, "n", "yess") refuses the command: exit 254, one line naming the
// key and saying nothing was written, no "Trusted key", the trust store as
// it was (a script's `acirun trust … && acirun fetch …` stops there). A
// root key's question says it is for all images.
func TestTrustFingerprintReview(t *testing.T) {
	h := newHost(t)
	alice := newSigner(t, "alice")
	fp := alice.fingerprint()
	for _, answer := range []string{"", "n", "yess"} {
		code, stdout, shown := h.trustOnTerminal(answer, "--prefix=example.com/hello", alice.pub)
		for _, w := range []string{"Key from " + alice.pub, "fingerprint: " + fp, "user ID:", "alice@example.com",
			`Trust this key for images under the prefix "example.com/hello"? [y/N] `,
			"acirun: key " + fp + " from " + alice.pub + " not trusted (declined on review): no key written\r\n"} {
			if !strings.Contains(shown, w) {
				t.Errorf("answer %q: the terminal lacks %q:\n%s", answer, w, shown)
			}
		}
		if code != 254 || stdout != "" || strings.Count(shown, "not trusted") != 1 {
			t.Errorf("answer %q: exit %d, stdout %q; want exit 254, nothing trusted, said once", answer, code, stdout)
		}
		if r := h.ok("trust", "list"); strings.Contains(r.stdout, fp) {
			t.Fatalf("answer %q: the key is trusted:\n%s", answer, r.stdout)
		}
	}
	code, stdout, shown := h.trustOnTerminal("Yes", "--prefix=example.com/hello", alice.pub)
	if code != 0 || !strings.Contains(stdout, "Trusted key "+fp) || !strings.Contains(stdout, "for prefix example.com/hello") || strings.Contains(shown, "not trusted") {
		t.Fatalf("answer Yes: exit %d, stdout %q, terminal:\n%s", code, stdout, shown)
	}
	if r := h.ok("trust", "list"); !strings.Contains(r.stdout, "example.com/hello") || !strings.Contains(r.stdout, fp) {
		t.Errorf("after yes, trust list:\n%s", r.stdout)
	}

	bob := newSigner(t, "bob")
	code, stdout, shown = h.trustOnTerminal("y", "--root", bob.arm)
	if code != 0 || !strings.Contains(shown, "Trust this key for ALL images (root key)? [y/N] ") ||
		!strings.Contains(stdout, "for every image name (root key)") {
		t.Errorf("root key: exit %d, stdout %q, terminal:\n%s", code, stdout, shown)
	}
	if r := h.ok("trust", "list"); !strings.Contains(r.stdout, "(root)") || !strings.Contains(r.stdout, bob.fingerprint()) {
		t.Errorf("after trusting a root key, trust list:\n%s", r.stdout)
	}
}
