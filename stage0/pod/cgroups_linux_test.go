package pod

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acirun/acirun/internal/mountinfo"
	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/internal/testenv"
)

// ownCgroup2 is this process's cgroup directory in the cgroup v2
// hierarchy (the unified one of a hybrid host).
func ownCgroup2(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var own string
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			own = p
		}
	}
	ms, err := mountinfo.Self()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.FSType == "cgroup2" && own != "" && strings.HasPrefix(own, m.Root) {
			return filepath.Join(m.Mountpoint, strings.TrimPrefix(own, m.Root))
		}
	}
	testenv.Unmet(t, "no cgroup v2 hierarchy mounted", "CI's hosts mount one (the unified hierarchy of a hybrid)")
	return ""
}

// TestRemoveKilledPodsCgroups: the cgroups a pod's PID 1 recorded
// (podcontract.CgroupsFile) and its stage1, killed with SIGKILL, could not
// remove go with the pod (acirun gc, rm): the pod's directory and its
// apps' in it. A record naming what is no pod cgroup (a directory of
// another file system, a path of another name) is refused, and nothing
// is removed.
func TestRemoveKilledPodsCgroups(t *testing.T) {
	testenv.NeedRoot(t, "to make cgroups")
	data := t.TempDir()
	p := preparedPod(t, data)
	write(t, filepath.Join(p.Dir, "exit.json"), `{"exitCode":137,"apps":[]}`)
	cg := filepath.Join(ownCgroup2(t), podcontract.PodCgroupPrefix+p.UUID)
	if err := os.MkdirAll(filepath.Join(cg, "hello"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(filepath.Join(cg, "hello")); os.Remove(cg) })

	// Refused: a directory named like one, not in a cgroup file system;
	// a cgroup of another name.
	decoy := filepath.Join(t.TempDir(), podcontract.PodCgroupPrefix+"decoy")
	if err := os.MkdirAll(filepath.Join(decoy, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{decoy, filepath.Dir(cg)} {
		write(t, filepath.Join(p.Dir, podcontract.CgroupsFile), bad+"\n")
		if err := Remove(data, p.UUID); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("Remove with %s recorded: %v, want a refusal naming it", bad, err)
		}
		if _, err := os.Stat(filepath.Join(decoy, "data")); err != nil {
			t.Errorf("recorded %s: %v", bad, err)
		}
		if _, err := os.Stat(filepath.Join(cg, "hello")); err != nil {
			t.Errorf("recorded %s: %v", bad, err)
		}
	}

	os.Remove(filepath.Join(p.Dir, podcontract.CgroupsFile))
	if err := podcontract.RecordCgroups(p.Dir, []string{cg, filepath.Join(filepath.Dir(cg), podcontract.PodCgroupPrefix+p.UUID+"-gone")}); err != nil {
		t.Fatal(err)
	}
	if err := Remove(data, p.UUID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cg); !os.IsNotExist(err) {
		t.Errorf("the pod's cgroup after Remove: %v", err)
	}
	if _, err := Load(data, p.UUID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load after Remove: %v, want ErrNotFound", err)
	}
}
