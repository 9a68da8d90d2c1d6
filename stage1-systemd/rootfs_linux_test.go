package stage1

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

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

// TestAppOverlays: stage1 run makes each app's overlay as a detached mount
// for PID 1 to attach: the image under the app's upper layer, which takes
// what is written, and shows the image's root's owner and mode; none with
// --no-overlay or --private-users (PID 1 makes those roots).
func TestAppOverlays(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	pod := filepath.Join(base, "pod")
	img := filepath.Join(base, "img")
	must(t, os.MkdirAll(filepath.Join(img, "rootfs"), 0o750))
	must(t, os.Chown(filepath.Join(img, "rootfs"), 1000, 50))
	must(t, os.WriteFile(filepath.Join(img, "rootfs", "file"), []byte("image"), 0o644))
	apps := []string{"a", "b"}
	for _, app := range apps {
		must(t, os.MkdirAll(podcontract.AppDir(pod, app), 0o755))
		must(t, os.Symlink(img, filepath.Join(podcontract.AppDir(pod, app), podcontract.AppImageLink)))
	}
	for _, o := range []*podcontract.RunOptions{{NoOverlay: true}, {PrivateUsers: "auto"}} {
		if mnts, err := AppOverlays(pod, o, apps); mnts != nil || err != nil {
			t.Errorf("AppOverlays with %+v: %v, %v; want none", o, mnts, err)
		}
	}
	must(t, MakeAppDirs(pod, &podcontract.RunOptions{}, apps))
	mnts, err := AppOverlays(pod, &podcontract.RunOptions{}, apps)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, m := range mnts {
			m.Close()
		}
	}()
	if len(mnts) != len(apps) {
		t.Fatalf("%d overlays for %d apps", len(mnts), len(apps))
	}
	for i, m := range mnts {
		var sfs unix.Statfs_t
		must(t, unix.Fstatfs(int(m.Fd()), &sfs))
		if sfs.Type != unix.OVERLAYFS_SUPER_MAGIC {
			t.Errorf("app %s: file system %#x, want overlayfs", apps[i], sfs.Type)
		}
		var st unix.Stat_t
		must(t, unix.Fstat(int(m.Fd()), &st))
		if st.Uid != 1000 || st.Gid != 50 || st.Mode&0o7777 != 0o750 {
			t.Errorf("app %s: the root is %d:%d %#o, want the image's 1000:50 0750", apps[i], st.Uid, st.Gid, st.Mode&0o7777)
		}
		b := make([]byte, 16)
		fd, err := unix.Openat(int(m.Fd()), "file", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		must(t, err)
		n, _ := unix.Read(fd, b)
		unix.Close(fd)
		if string(b[:n]) != "image" {
			t.Errorf("app %s: file reads %q, want the image's", apps[i], b[:n])
		}
		fd, err = unix.Openat(int(m.Fd()), "new", unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
		must(t, err)
		unix.Close(fd)
		if _, err := os.Stat(filepath.Join(podcontract.AppDir(pod, apps[i]), podcontract.AppUpperDir, "new")); err != nil {
			t.Errorf("app %s: a file made in the root is not in the upper layer: %v", apps[i], err)
		}
	}
	if _, err := os.Stat(filepath.Join(img, "rootfs", "new")); err == nil {
		t.Error("a file made in an app's root reached the image")
	}
}
