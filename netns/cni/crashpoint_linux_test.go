package cni

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/acirun/acirun/internal/testenv"
)

// crashConfig is the configuration of TestCrashAtEveryAttachStep under
// dir: one network, "one", of recorderPlugin, which logs every call to
// dir/log.
func crashConfig(t *testing.T, dir string) Config {
	t.Helper()
	cfg := Config{ConfDir: filepath.Join(dir, "net.d"), PluginDirs: []string{filepath.Join(dir, "plugins")}, StateDir: filepath.Join(dir, "state")}
	for _, d := range []string{cfg.ConfDir, cfg.PluginDirs[0]} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(cfg.PluginDirs[0], "recorder"), []byte(fmt.Sprintf(recorderPlugin, filepath.Join(dir, "log"))), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := `{"cniVersion": "1.0.0", "name": "one", "plugins": [{"type": "recorder"}]}`
	if err := os.WriteFile(filepath.Join(cfg.ConfDir, "one.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// attachOne attaches pod id, owned by owner, in the caller's network
// namespace, to the network "one" of cfg.
func attachOne(t *testing.T, cfg Config, id, owner string) (*Pod, error) {
	t.Helper()
	n, err := cfg.Find("one", builtin)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Attach(context.Background(), id, owner, os.Getpid(), []Request{{Network: n, IfName: "eth0"}})
}

// TestCrashAtEveryAttachStep kills an Attach at each attachStep, in a
// child process, and checks what ReleaseStale does once the pod's owner is
// gone (as acirun gc and the next stage1 start run it): DEL for the
// network exactly when its ADD was begun, and afterwards no state
// directory, bind mount or cached result of the pod; the next Attach
// succeeds. First, an Attach reaches exactly attachSteps, in order: a step
// marked in the code but missing from the list, or listed but never
// reached, fails here.
func TestCrashAtEveryAttachStep(t *testing.T) {
	testenv.NeedRoot(t, "bind mounts a network namespace")
	if dir := os.Getenv("ACIRUN_CNI_CRASH_DIR"); dir != "" {
		step := attachStep(os.Getenv("ACIRUN_CNI_CRASH_STEP"))
		cfg := crashConfig(t, dir)
		cfg.crashAt = func(s attachStep) {
			if s == step {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
		_, err := attachOne(t, cfg, "pod-1", "/owner")
		t.Fatalf("Attach returned (%v): not killed at %s", err, step)
	}

	t.Run("steps", func(t *testing.T) {
		cfg := crashConfig(t, t.TempDir())
		var seen []attachStep
		cfg.crashAt = func(s attachStep) { seen = append(seen, s) }
		p, err := attachOne(t, cfg, "pod-1", "/owner")
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Detach(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(seen, attachSteps()) {
			t.Fatalf("an Attach reached %q, attachSteps lists %q: every step marked in the code needs its place in the list (and a kill below)", seen, attachSteps())
		}
	})

	for _, step := range attachSteps() {
		t.Run(string(step), func(t *testing.T) {
			dir := t.TempDir()
			cfg := crashConfig(t, dir)
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashAtEveryAttachStep$")
			cmd.Env = append(os.Environ(), "ACIRUN_CNI_CRASH_DIR="+dir, "ACIRUN_CNI_CRASH_STEP="+string(step))
			testenv.RunKilled(t, cmd, "Attach", string(step))
			if _, err := cfg.ReleaseStale(context.Background(), func(string) bool { return false }); err != nil {
				t.Fatalf("ReleaseStale after a kill at %s: %v", step, err)
			}
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			begun := step == stepAddRecorded || step == stepAddDone
			if strings.Contains(string(log), "DEL eth0") != begun {
				t.Errorf("killed at %s, the plugins were called:\n%s(DEL wanted: %t)", step, log, begun)
			}
			if ents, _ := os.ReadDir(filepath.Join(cfg.StateDir, "pods")); len(ents) != 0 {
				t.Errorf("killed at %s, the pods' state after ReleaseStale: %d entries", step, len(ents))
			}
			if ents, _ := os.ReadDir(filepath.Join(cfg.StateDir, "cache", "results")); len(ents) != 0 {
				t.Errorf("killed at %s, libcni's cache keeps %d results", step, len(ents))
			}
			if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), cfg.StateDir) {
				t.Errorf("killed at %s, a bind mount of the pod's namespace is left", step)
			}
			p, err := attachOne(t, cfg, "pod-1", "/owner")
			if err != nil {
				t.Fatalf("the next Attach after a kill at %s: %v", step, err)
			}
			if err := p.Detach(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}
