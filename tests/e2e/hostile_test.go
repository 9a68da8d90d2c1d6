package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acirun/acirun/tests/testimage"
)

// TestVolumeTargetsThroughSymlinks runs, in the box, an image whose rootfs
// plants symlinks to /proc/sys, /proc, /sys, / and /dev/pts, and mounts a
// host volume at each: every one is refused naming the target and where the
// image's symlinks lead it, the app never runs, and no pod is left. /dev and
// /dev/pts named directly are refused too. A symlink that another volume
// brings is refused by stage1, which resolves each target once the volumes
// before it are mounted. A symlink to an ordinary directory still takes the
// volume there (resolved inside the root).
func TestVolumeTargetsThroughSymlinks(t *testing.T) {
	needRoot(t)
	b := shared.Get(t)
	h := newBoxHost(t, b)
	built := podImage(t, podManifest(t, "example.com/hostile-mounts", nil, "exit", "0"), &testimage.Options{
		Files: map[string]string{"/srv/data/image-file": "the image's\n"},
		Symlinks: map[string]string{
			"/evil-sys":   "/proc/sys",
			"/evil-proc":  "../../proc",
			"/evil-sysfs": "/sys",
			"/evil-root":  "/",
			"/evil-pts":   "dev/pts",
			"/etc/chain":  "/evil-sys/kernel",
			"/good":       "/srv/data",
		},
	})
	// The box sees h.dir at the same path, not the test's temporary files.
	img := filepath.Join(h.dir, "hostile.aci")
	aci, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, aci, 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(h.dir, "vol")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "in"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vol := "--volume=v,kind=host,source=" + src
	for _, tc := range []struct{ target, want string }{
		{"/evil-sys", "target /evil-sys is not allowed (the image's symlinks lead /evil-sys to /proc/sys)"},
		{"/evil-proc", "target /evil-proc is not allowed (the image's symlinks lead /evil-proc to /proc)"},
		{"/evil-sysfs/fs", "target /evil-sysfs/fs is not allowed (the image's symlinks lead /evil-sysfs/fs to /sys/fs)"},
		{"/evil-root", "target /evil-root is not allowed (the image's symlinks lead /evil-root to /): it is the app's root"},
		{"/evil-pts", "target /evil-pts is not allowed (the image's symlinks lead /evil-pts to /dev/pts)"},
		{"/etc/chain", "target /etc/chain is not allowed (the image's symlinks lead /etc/chain to /proc/sys/kernel)"},
		{"/dev", "target /dev is not allowed: /dev and its devices"},
		{"/dev/pts", "target /dev/pts is not allowed: /dev and its devices"},
	} {
		t.Run(strings.TrimPrefix(tc.target, "/"), func(t *testing.T) {
			before := h.podDirs()
			r := h.run("run", "--insecure-options=image", "--net=none", vol, img, "--mount=volume=v,target="+tc.target,
				"--exec=/testapp", "--", "write", "/tmp/ran", "yes")
			if r.code == 0 || !strings.Contains(r.stderr, "volume v: "+tc.want) || strings.Contains(r.stdout, "write /tmp/ran") {
				t.Errorf("want a refusal saying %q, and the app not run: %s", tc.want, r)
			}
			if after := h.podDirs(); len(after) != len(before) {
				t.Errorf("a refused pod was left: %v", after)
			}
		})
	}
	// A symlink that a volume brings, which prepare cannot see in the
	// image: stage1 resolves each target after mounting the volumes
	// before it, and refuses.
	planted := filepath.Join(h.dir, "planted")
	if err := os.MkdirAll(planted, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/sys", filepath.Join(planted, "x")); err != nil {
		t.Fatal(err)
	}
	r := h.run("run", "--insecure-options=image", "--net=none", vol, "--volume=p,kind=host,source="+planted, img,
		"--mount=volume=p,target=/data", "--mount=volume=v,target=/data/x", "--exec=/testapp", "--", "write", "/tmp/ran", "yes")
	if want := "volume v: target /data/x is not allowed (the image's symlinks lead /data/x to /proc/sys)"; r.code == 0 || !strings.Contains(r.stderr, want) || strings.Contains(r.stdout, "write /tmp/ran") {
		t.Errorf("symlink from a volume: want a refusal saying %q, and the app not run: %s", want, r)
	}

	r = h.run("run", "--insecure-options=image", "--net=none", vol, img, "--mount=volume=v,target=/good",
		"--exec=/testapp", "--", "cat", "/srv/data/in", "+", "cat", "/good/in")
	wantExit(t, r, 0)
	wantLines(t, r, "from the host", "from the host")
}
