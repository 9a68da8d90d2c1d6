//go:build linux

package box

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/testenv"
)

// BootTimeout bounds New when called through Start or Shared.
const BootTimeout = 30 * time.Second

// Reexec runs the box's init or exec step when the test binary was
// re-executed for one, and never returns then; otherwise it returns at once.
// A TestMain that does more than Main must call it first.
func Reexec() {
	if cfg, ok := os.LookupEnv(initEnv); ok {
		runInit(cfg)
	}
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], execMarker) {
		runExec(strings.TrimPrefix(os.Args[1], execMarker), os.Args[2:])
	}
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], connectMarker) {
		runConnect(strings.TrimPrefix(os.Args[1], connectMarker))
	}
}

// Main is a complete TestMain for a package whose tests use boxes:
//
//	func TestMain(m *testing.M) { box.Main(m, &shared) }
//
// It runs Reexec, then the tests, then closes the shared boxes (if any were
// booted); a box that does not close cleanly fails the run.
func Main(m *testing.M, shared ...*Shared) {
	Reexec()
	code := m.Run()
	for _, s := range shared {
		if err := s.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// bootNeeds is why booting a box needs root, for testenv.NeedRoot.
const bootNeeds = "to boot a box: namespaces, mounts, cgroups"

// Start boots a box for one test and closes it when the test ends; a box
// that does not close cleanly fails the test. Not root, it skips the test,
// or fails it when CI=true.
func Start(t testing.TB, opts Options) *Box {
	t.Helper()
	testenv.NeedRoot(t, bootNeeds)
	ctx, cancel := context.WithTimeout(context.Background(), BootTimeout)
	defer cancel()
	b, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("box %s: running after %v", b.Name(), b.BootTime().Round(time.Millisecond))
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

// Shared is one box for a whole test package, booted by the first test that
// asks for it and closed by Main after the last. Tests sharing it must keep
// out of each other's way: each uses its own acirun data directory (a
// subdirectory of Dir) and its own unit names.
type Shared struct {
	// Options are used for the box; set them before the first Get.
	Options Options

	mu     sync.Mutex
	booted bool
	box    *Box
	err    error
}

// Get returns the shared box, booting it on the first call. Not root, it
// skips t, or fails it when CI=true; if the box failed to boot, every test
// that asks for it fails with that error.
func (s *Shared) Get(t testing.TB) *Box {
	t.Helper()
	testenv.NeedRoot(t, bootNeeds)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.booted {
		s.booted = true
		ctx, cancel := context.WithTimeout(context.Background(), BootTimeout)
		s.box, s.err = New(ctx, s.Options)
		cancel()
		if s.err == nil {
			t.Logf("box %s: running after %v", s.box.Name(), s.box.BootTime().Round(time.Millisecond))
		}
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.box
}

// Close closes the shared box if it was booted.
func (s *Shared) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.box == nil {
		return nil
	}
	err := s.box.Close()
	if err != nil {
		err = errors.Join(fmt.Errorf("shared box %s", s.box.Name()), err)
	}
	return err
}
