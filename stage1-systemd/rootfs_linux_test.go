package stage1

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/internal/testenv"
	"github.com/acirun/acirun/userns"
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
	if mnts, err := AppOverlays(pod, &podcontract.RunOptions{NoOverlay: true}, apps, userns.Range{}); mnts != nil || err != nil {
		t.Errorf("AppOverlays with --no-overlay: %v, %v; want none", mnts, err)
	}
	must(t, MakeAppDirs(pod, &podcontract.RunOptions{}, apps))
	mnts, err := AppOverlays(pod, &podcontract.RunOptions{}, apps, userns.Range{})
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

// TestAppOverlaysPrivateUsers: with --private-users the overlays' lower
// layer is an ID-mapped copy of the image through the pod's range, given
// unattached (Linux 6.15 on): the image's 1000:50 is the range's, and so
// is what is written in the root, in the upper layer; the image is as it
// was. An older kernel, which refuses an unattached layer, gets none
// (PID 1 makes them).
func TestAppOverlaysPrivateUsers(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	must(t, os.Chmod(base, 0o755))
	pod := filepath.Join(base, "pod")
	img := filepath.Join(base, "img")
	must(t, os.MkdirAll(filepath.Join(img, "rootfs"), 0o750))
	must(t, os.Chown(filepath.Join(img, "rootfs"), 1000, 50))
	must(t, os.WriteFile(filepath.Join(img, "rootfs", "file"), []byte("image"), 0o644))
	must(t, os.MkdirAll(podcontract.AppDir(pod, "a"), 0o755))
	must(t, os.Symlink(img, filepath.Join(podcontract.AppDir(pod, "a"), podcontract.AppImageLink)))
	ids := userns.Range{First: userns.AutoFirst + 13*userns.AutoSize, Count: userns.AutoSize}
	o := &podcontract.RunOptions{PrivateUsers: ids.String()}
	must(t, MakeAppDirs(pod, o, []string{"a"}))
	mnts, err := AppOverlays(pod, o, []string{"a"}, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mnts {
		defer m.Close()
	}
	if !testenv.KernelAtLeast(t, 6, 15) {
		if mnts != nil {
			t.Fatalf("%d overlays with --private-users on a kernel before 6.15, want none (PID 1 makes them)", len(mnts))
		}
		return
	}
	if len(mnts) != 1 {
		t.Fatalf("%d overlays for 1 app", len(mnts))
	}
	m := int(mnts[0].Fd())
	var st unix.Stat_t
	must(t, unix.Fstat(m, &st))
	if st.Uid != ids.First+1000 || st.Gid != ids.First+50 {
		t.Errorf("the root is %d:%d, want the range's %d:%d", st.Uid, st.Gid, ids.First+1000, ids.First+50)
	}
	must(t, unix.Fstatat(m, "file", &st, 0))
	if st.Uid != ids.First || st.Gid != ids.First {
		t.Errorf("the image's file is %d:%d through the root, want the range's %d", st.Uid, st.Gid, ids.First)
	}
	fd, err := unix.Openat(m, "new", unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	must(t, err)
	unix.Close(fd)
	must(t, unix.Stat(filepath.Join(podcontract.AppDir(pod, "a"), podcontract.AppUpperDir, "new"), &st))
	if _, err := os.Stat(filepath.Join(img, "rootfs", "new")); err == nil {
		t.Error("a file made in the root reached the image")
	}
	if b, err := os.ReadFile(filepath.Join(img, "rootfs", "file")); err != nil || string(b) != "image" {
		t.Errorf("the image's file: %q, %v", b, err)
	}
}
