package stage1

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOverlayCheck runs the data directory check against overlayfs itself
// (refused, with the --no-overlay hint) and tmpfs (accepted).
func TestOverlayCheck(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	for _, d := range []string{"lower", "upper", "work", "merged", "tmp"} {
		must(t, os.Mkdir(filepath.Join(dir, d), 0o755))
	}
	merged := filepath.Join(dir, "merged")
	must(t, unix.Mount("overlay", merged, "overlay", 0, "lowerdir="+dir+"/lower,upperdir="+dir+"/upper,workdir="+dir+"/work"))
	defer unix.Unmount(merged, unix.MNT_DETACH)
	must(t, os.Mkdir(filepath.Join(merged, "apps"), 0o755))
	err := checkOverlaySupport(filepath.Join(merged, "apps"))
	if err == nil || !strings.Contains(err.Error(), "--no-overlay") || !strings.Contains(err.Error(), "overlayfs") {
		t.Errorf("overlayfs data directory: %v", err)
	}
	tmp := filepath.Join(dir, "tmp")
	must(t, unix.Mount("tmpfs", tmp, "tmpfs", 0, ""))
	defer unix.Unmount(tmp, unix.MNT_DETACH)
	must(t, os.Mkdir(filepath.Join(tmp, "apps"), 0o755))
	if err := checkOverlaySupport(filepath.Join(tmp, "apps")); err != nil {
		t.Errorf("tmpfs data directory: %v", err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 1 {
		t.Errorf("probe left something behind: %v", ents)
	}
}

// TestPodOnOverlay runs a pod whose pod directory is on overlayfs: refused
// before anything is mounted, and run with --no-overlay.
func TestPodOnOverlay(t *testing.T) {
	p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "write:/tmp/x"}}}, nil)
	base := filepath.Dir(filepath.Dir(p.dir))
	lower, upper, work := filepath.Join(t.TempDir(), "lower"), t.TempDir(), t.TempDir()
	// Move the pods directory under an overlay of itself.
	pods := filepath.Join(base, "pods")
	must(t, os.Rename(pods, lower))
	must(t, os.Mkdir(pods, 0o755))
	must(t, unix.Mount("overlay", pods, "overlay", 0, "lowerdir="+lower+",upperdir="+upper+",workdir="+work))
	t.Cleanup(func() { unix.Unmount(pods, unix.MNT_DETACH) })
	r := p.run(t, "--net=none")
	if r.code != ExitCodeFailure || !strings.Contains(r.stderr, "--no-overlay") {
		t.Errorf("pod on overlayfs: exit %d", r.code)
	}
	if _, err := os.Stat(filepath.Join(p.dir, "pid")); err == nil {
		t.Error("the refused pod was started")
	}
	r = p.run(t, "--net=none", "--no-overlay")
	r.has(t, "write ok /tmp/x")
	out, _ := exec.Command("findmnt", "-rn", "-o", "TARGET").Output()
	if strings.Contains(string(out), p.uuid) {
		t.Errorf("pod mounts left:\n%s", out)
	}
}
