package pod

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/testenv"
)

// imageAt is the image testImage made in tree, read back by a child.
func imageAt(tree string) (*Image, error) {
	b, err := os.ReadFile(filepath.Join(tree, "manifest"))
	if err != nil {
		return nil, err
	}
	m, err := aci.ParseImageManifest(b)
	if err != nil {
		return nil, err
	}
	sum := sha512.Sum512(b)
	id, err := aci.ParseImageID("sha512-" + hex.EncodeToString(sum[:]))
	if err != nil {
		return nil, err
	}
	return &Image{ID: id, Manifest: m, Tree: tree}, nil
}

// crashingPrepare is the child of TestCrashAtEveryPrepareStep: it prepares
// a pod of the image in tree in dataDir and SIGKILLs itself at step, as a
// power cut or the OOM killer would end it there.
func crashingPrepare(step prepareStep, dataDir, tree string) int {
	img, err := imageAt(tree)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg := Config{DataDir: dataDir, Resolver: mapResolver{"a": img}, Sync: true, crashAt: func(s prepareStep) {
		if s == step {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}}
	if _, _, err := Prepare(context.Background(), cfg, apps("a")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestCrashAtEveryPrepareStep kills a Prepare at each prepareStep, in a
// child process, and checks what is left: before the rename no pod is
// listed and RemoveStale clears the half-written directory; after it, the
// pod is complete and prepared. The next Prepare succeeds either way. First,
// a Prepare reaches exactly prepareSteps, in order: a step marked in the
// code but missing from the list, or listed but never reached, fails here.
func TestCrashAtEveryPrepareStep(t *testing.T) {
	img := testImage(t, manifestJSON("example.com/a", `{"exec":["/a"],"user":"0","group":"0"}`))
	r := mapResolver{"a": img}

	t.Run("steps", func(t *testing.T) {
		var seen []prepareStep
		cfg := Config{DataDir: t.TempDir(), Resolver: r, crashAt: func(s prepareStep) { seen = append(seen, s) }}
		if _, _, err := Prepare(context.Background(), cfg, apps("a")); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(seen, prepareSteps()) {
			t.Fatalf("a Prepare reached %q, prepareSteps lists %q: every step marked in the code needs its place in the list (and a kill below)", seen, prepareSteps())
		}
	})

	for _, step := range prepareSteps() {
		t.Run(string(step), func(t *testing.T) {
			data := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "ACIRUN_TEST_PREPARE_CRASH="+string(step), "ACIRUN_TEST_DATA="+data, "ACIRUN_TEST_IMAGE="+img.Tree)
			testenv.RunKilled(t, cmd, "prepare", string(step))

			pods, err := List(data)
			if err != nil {
				t.Fatalf("list after a kill at %s: %v", step, err)
			}
			if step == stepRenamed {
				if len(pods) != 1 || pods[0].State != StatePrepared || pods[0].Problem != "" || len(pods[0].Apps) != 1 {
					t.Fatalf("killed after the rename: pods %+v, want one prepared pod", pods)
				}
			} else if len(pods) != 0 {
				t.Fatalf("killed at %s, before the rename: %d pods listed", step, len(pods))
			}
			if err := RemoveStale(context.Background(), data); err != nil {
				t.Fatal(err)
			}
			left := podsDirEntries(t, data)
			if step == stepRenamed {
				if len(left) != 1 || left[0] != pods[0].UUID {
					t.Errorf("after RemoveStale, pods/ holds %q, want the pod", left)
				}
			} else if len(left) != 0 {
				t.Errorf("after RemoveStale, pods/ holds %q", left)
			}
			p, _, err := Prepare(context.Background(), Config{DataDir: data, Resolver: r, Sync: true}, apps("a"))
			if err != nil {
				t.Fatalf("prepare after a kill at %s: %v", step, err)
			}
			if p.State != StatePrepared {
				t.Errorf("pod state %v", p.State)
			}
		})
	}
}
