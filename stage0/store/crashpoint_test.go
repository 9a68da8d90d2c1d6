package store

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/testenv"
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
			runKilledAt(t, cmd, "import", string(step))

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

// TestCrashAtEveryRenderStep is TestCrashAtEveryCommitStep for the render
// of an image with a dependency: after a kill at each render step, Open
// works, the image is either not rendered or rendered with a tree that
// verifies, rendering again (or finding it rendered) gives a good tree, and
// no tree or layer is left that no entry accounts for.
func TestCrashAtEveryRenderStep(t *testing.T) {
	base := mkACI(t, manifest("example.com/base"), reg("etc/base", "base"))
	setup := func(t *testing.T, s *Store) (top string) {
		b := mustImport(t, s, base)
		img := mustImport(t, s, mkACI(t, manifest("example.com/top", deps([2]string{"example.com/base", b.ID})), reg("etc/top", "top")))
		if img.Rendered {
			t.Fatal("an image with a dependency is rendered by its import")
		}
		return img.ID
	}

	t.Run("steps", func(t *testing.T) {
		dir := t.TempDir()
		var seen []commitStep
		s, err := Open(filepath.Join(dir, "store"), Options{LockDir: filepath.Join(dir, "locks"), NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		top := setup(t, s)
		s.opts.crashAt = func(step commitStep) { seen = append(seen, step) }
		if _, err := s.Render(context.Background(), top, nil); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(seen, renderSteps()) {
			t.Fatalf("a render reached %q, renderSteps lists %q: every step marked in the code needs its place in the list (and a kill below)", seen, renderSteps())
		}
	})

	for _, step := range renderSteps() {
		t.Run(string(step), func(t *testing.T) {
			s := openStore(t)
			top := setup(t, s)
			cmd := childCmd(t, "render-crash", s, top)
			runKilledAt(t, cmd, "render", string(step))
			s2, err := Open(s.dir, Options{LockDir: s.lockDir, NoSync: true})
			if err != nil {
				t.Fatalf("reopen after a kill at %s: %v", step, err)
			}
			img, err := s2.Get(top)
			if err != nil {
				t.Fatal(err)
			}
			if img.Rendered {
				if err := s2.VerifyTree(context.Background(), top); err != nil {
					t.Errorf("rendered after a kill at %s: %v", step, err)
				}
			}
			if img, err = s2.Render(context.Background(), top, nil); err != nil || !img.Rendered {
				t.Fatalf("render after a kill at %s: %v", step, err)
			}
			if err := s2.VerifyTree(context.Background(), top); err != nil {
				t.Error(err)
			}
			// GC (with a grace period that keeps both images) clears
			// what the dead render left.
			if _, err := s2.GC(context.Background(), GCOptions{GracePeriod: time.Hour, InUse: func() (map[string]bool, error) { return nil, nil }}); err != nil {
				t.Fatal(err)
			}
			if n := dirEntries(t, s2, "tmp"); len(n) != 0 {
				t.Errorf("tmp/ holds %q", n)
			}
			if imgs, _ := s2.List(Filter{}); len(imgs) != 2 {
				t.Errorf("%d images listed after GC, want both", len(imgs))
			}
			if n := dirEntries(t, s2, "trees"); len(n) != 2 {
				t.Errorf("trees/ holds %q, want the two images'", n)
			}
			if n := dirEntries(t, s2, "layers"); len(n) != 0 {
				t.Errorf("layers/ holds %q: a rendered image's own layer is left", n)
			}
		})
	}
}

// runKilledAt runs a child with its crash hook set to step, and fails the
// test unless the hook killed it there with SIGKILL: a child that ran to
// its end, or died otherwise, proves nothing about that step.
func runKilledAt(t *testing.T, cmd *exec.Cmd, what, step string) {
	t.Helper()
	cmd.Env = append(cmd.Env, "ACIRUN_STORE_CRASH="+step)
	testenv.RunKilled(t, cmd, what, step)
}
