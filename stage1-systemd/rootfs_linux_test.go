package stage1

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/acirun/acirun/internal/podcontract"
)

// TestMakeAppDirs: the supervisor makes each app's overlay directories and,
// in the upper layer, the mount points of the root that the image lacks,
// as PID 1 would through the overlay; what the image has, even as a
// symlink or a file (which PID 1 then refuses), it leaves alone; with
// --no-overlay it makes nothing. Run twice, it changes nothing.
func TestMakeAppDirs(t *testing.T) {
	for _, tc := range []struct {
		name      string
		image     func(t *testing.T, rootfs string) // what the image has
		noOverlay bool
		want      []string // in the upper layer
	}{
		{"bare", func(t *testing.T, rootfs string) {}, false, []string{"dev", "etc", "proc", "sys"}},
		{"some", func(t *testing.T, rootfs string) {
			must(t, os.Mkdir(filepath.Join(rootfs, "etc"), 0o755))
			must(t, os.Symlink("/", filepath.Join(rootfs, "proc")))
			must(t, os.WriteFile(filepath.Join(rootfs, "dev"), nil, 0o644))
		}, false, []string{"sys"}},
		{"no-overlay", func(t *testing.T, rootfs string) {}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			pod := filepath.Join(base, "pod")
			img := filepath.Join(base, "img")
			must(t, os.MkdirAll(filepath.Join(img, "rootfs"), 0o755))
			tc.image(t, filepath.Join(img, "rootfs"))
			for _, app := range []string{"a", "b"} {
				must(t, os.MkdirAll(podcontract.AppDir(pod, app), 0o755))
				must(t, os.Symlink(img, filepath.Join(podcontract.AppDir(pod, app), podcontract.AppImageLink)))
			}
			o := &podcontract.RunOptions{NoOverlay: tc.noOverlay}
			for range 2 {
				if err := MakeAppDirs(pod, o, []string{"a", "b"}); err != nil {
					t.Fatal(err)
				}
			}
			for _, app := range []string{"a", "b"} {
				dir := podcontract.AppDir(pod, app)
				ents, _ := os.ReadDir(dir)
				var made []string
				for _, e := range ents {
					made = append(made, e.Name())
				}
				want := []string{podcontract.AppImageLink}
				if !tc.noOverlay {
					want = []string{podcontract.AppImageLink, podcontract.AppRootfsDir, podcontract.AppUpperDir, podcontract.AppWorkDir}
				}
				if !slices.Equal(made, want) {
					t.Errorf("app %s: %s holds %q, want %q", app, dir, made, want)
				}
				ents, _ = os.ReadDir(filepath.Join(dir, podcontract.AppUpperDir))
				var upper []string
				for _, e := range ents {
					if !e.IsDir() {
						t.Errorf("app %s: upper/%s is no directory", app, e.Name())
					}
					upper = append(upper, e.Name())
				}
				if !slices.Equal(upper, tc.want) {
					t.Errorf("app %s: the upper layer holds %q, want %q", app, upper, tc.want)
				}
			}
		})
	}
}
