package podcontract

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFindStage1: the supervisor's binary is found beside acirun only with
// the pod's binary beside it, both executable files; otherwise the error
// names the one missing or wrong and says how to install it.
func TestFindStage1(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]os.FileMode // beside acirun: name -> mode (a directory if ModeDir)
		want  string                 // "" for found
	}{
		{"both", map[string]os.FileMode{Stage1Executable: 0o755, PodExecutable: 0o755}, ""},
		{"none", nil, Stage1Executable + " beside"},
		{"no acirun-pod", map[string]os.FileMode{Stage1Executable: 0o755}, PodExecutable + " beside"},
		{"no acirun-stage1", map[string]os.FileMode{PodExecutable: 0o755}, Stage1Executable + " beside"},
		{"acirun-pod not executable", map[string]os.FileMode{Stage1Executable: 0o755, PodExecutable: 0o644}, "not an executable file"},
		{"acirun-stage1 a directory", map[string]os.FileMode{Stage1Executable: os.ModeDir | 0o755, PodExecutable: 0o755}, "not an executable file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, mode := range tc.files {
				p := filepath.Join(dir, name)
				var err error
				if mode.IsDir() {
					err = os.Mkdir(p, mode.Perm())
				} else {
					err = os.WriteFile(p, []byte("#!/bin/sh\n"), mode)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			self := filepath.Join(dir, "acirun")
			got, err := findStage1Beside(self)
			if tc.want == "" {
				if err != nil || got != filepath.Join(dir, Stage1Executable) {
					t.Fatalf("findStage1Beside = %q, %v; want %s", got, err, filepath.Join(dir, Stage1Executable))
				}
				if pod := PodExecutableBeside(got); pod != filepath.Join(dir, PodExecutable) {
					t.Errorf("PodExecutableBeside(%s) = %s", got, pod)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "make install puts") {
				t.Errorf("findStage1Beside = %q, %v; want an error saying %q and how to install", got, err, tc.want)
			}
		})
	}
}
