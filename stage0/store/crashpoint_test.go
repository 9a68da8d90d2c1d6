package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// crashAt is the child's crash hook: it SIGKILLs the process at want, as
// a power cut or the OOM killer would end it there.
func crashAt(want commitStep) func(commitStep) {
	return func(step commitStep) {
		if step == want {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
}

// TestCrashAtEveryCommitStep kills an import at each commitStep, in a child
// process, and checks what is left: an image either absent or complete and
// intact (its tree verifies), staging that the next Open cleans up, and a
// next import of the same image that ends with exactly one good entry and
// no leftover blob or tree (the branch of commitLocked that replaces the
// leftovers of an import killed after its renames runs with them
// present). First, an import reaches exactly commitSteps, in order: a step
// marked in the code but missing from the list, or listed but never
// reached, fails here.
func TestCrashAtEveryCommitStep(t *testing.T) {
	data := bigImage(t, 40, 4096)

	t.Run("steps", func(t *testing.T) {
		dir := t.TempDir()
		var seen []commitStep
		s, err := Open(filepath.Join(dir, "store"), Options{LockDir: filepath.Join(dir, "locks"), NoSync: true,
			crashAt: func(step commitStep) { seen = append(seen, step) }})
		if err != nil {
			t.Fatal(err)
		}
		mustImport(t, s, data)
		if !slices.Equal(seen, commitSteps()) {
			t.Fatalf("an import reached %q, commitSteps lists %q: every step marked in the code needs its place in the list (and a kill below)", seen, commitSteps())
		}
	})

	file := filepath.Join(t.TempDir(), "image.aci")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, step := range commitSteps() {
		t.Run(string(step), func(t *testing.T) {
			s := openStore(t)
			cmd := childCmd(t, "import-crash", s, file)
			cmd.Env = append(cmd.Env, "ACIRUN_STORE_CRASH="+string(step))
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("the import was not killed at %s: %v: %s", step, err, out.String())
			}

			s2, err := Open(s.dir, Options{LockDir: s.lockDir, NoSync: true})
			if err != nil {
				t.Fatalf("reopen after a kill at %s: %v", step, err)
			}
			if n := dirEntries(t, s2, "tmp"); len(n) != 0 {
				t.Errorf("tmp/ holds %q after Open", n)
			}
			imgs, err := s2.List(Filter{})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case step == stepIndexWritten:
				if len(imgs) != 1 {
					t.Fatalf("killed after its index entry: %d images listed, want the image", len(imgs))
				}
				if err := s2.VerifyTree(context.Background(), imgs[0].ID); err != nil {
					t.Errorf("killed after its index entry: %v", err)
				}
			case len(imgs) != 0:
				t.Fatalf("killed at %s, before its index entry: %d images listed", step, len(imgs))
			}
			img := mustImport(t, s2, data)
			assertOneEntry(t, s2, img.ID)
			if n := dirEntries(t, s2, "layers"); len(n) != 0 {
				t.Errorf("layers/ holds %q", n)
			}
		})
	}
}
