package cli

import (
	"archive/tar"
	"crypto/rand"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/acirun/acirun/internal/testenv"
)

// TestFetchENOSPC: a fetch into a store whose filesystem fills up (a 12
// MiB tmpfs as --dir, an image of 16 MiB of random bytes) fails with exit
// 254 and an error naming the store and saying there is no space left,
// leaves nothing half-written in the store, and, once the filesystem has
// room (remounted at 64 MiB), the same fetch succeeds.
func TestFetchENOSPC(t *testing.T) {
	testenv.NeedRoot(t, "to mount a tmpfs")
	img := filepath.Join(t.TempDir(), "big.aci")
	body := make([]byte, 16<<20)
	if _, err := rand.Read(body); err != nil {
		t.Fatal(err)
	}
	writeTar(t, img, []tarEntry{
		{hdr: tar.Header{Name: "manifest", Typeflag: tar.TypeReg, Mode: 0o644}, body: helloManifest},
		{hdr: tar.Header{Name: "rootfs", Typeflag: tar.TypeDir}},
		{hdr: tar.Header{Name: "rootfs/random", Typeflag: tar.TypeReg, Mode: 0o644}, body: string(body)},
	})
	data := t.TempDir()
	if err := syscall.Mount("tmpfs", data, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=12m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(data, syscall.MNT_DETACH) })

	r := acirun(t, "--dir", data, "fetch", "--insecure-options=image", img)
	t.Logf("fetch into a full store: %s", r.stderr)
	if r.code != 254 {
		t.Errorf("fetch into a full store: exit %d, want 254:\n%s", r.code, r.stderr)
	}
	for _, w := range []string{filepath.Join(data, "store"), "no space left on device"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("the error does not say %q:\n%s", w, r.stderr)
		}
	}
	if left := storeLeftovers(t, data); len(left) != 0 {
		t.Errorf("the failed fetch left %v in the store", left)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(data, &st); err != nil {
		t.Fatal(err)
	}
	if used := (st.Blocks - st.Bfree) * uint64(st.Bsize); used > 1<<20 {
		t.Errorf("%d bytes of the store's filesystem still used after the failed fetch", used)
	}

	if err := syscall.Mount("tmpfs", data, "tmpfs", syscall.MS_REMOUNT|syscall.MS_NOSUID|syscall.MS_NODEV, "size=64m"); err != nil {
		t.Fatal(err)
	}
	r = acirun(t, "--dir", data, "fetch", "--insecure-options=image", img)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "sha512-") {
		t.Errorf("fetch once there is room: exit %d, want 0 and the image ID:\n%s%s", r.code, r.stdout, r.stderr)
	}
}
