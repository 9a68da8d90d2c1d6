package userns

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/testenv"
)

// TestIDMapTree: through an ID-mapped copy a tree owned by IDs 0 and 1000,
// as the store keeps an image, is owned by the range's IDs for the host,
// read-only, and the files on disk keep their owners.
func TestIDMapTree(t *testing.T) {
	testenv.NeedRoot(t, "user namespaces with maps and ID-mapped mounts need CAP_SYS_ADMIN")
	r := Range{First: AutoFirst + 7*AutoSize, Count: AutoSize}
	ns, holder, err := NewUserNS(r)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	reap(t, holder)

	dir := t.TempDir()
	root := filepath.Join(dir, "rootfs")
	for _, p := range []string{root, filepath.Join(root, "home")} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc-passwd"), []byte("root"), 0o644); err != nil {
		t.Fatal(err)
	}
	user := filepath.Join(root, "home", "user")
	if err := os.WriteFile(user, []byte("user"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(user, 1000, 1000); err != nil {
		t.Fatal(err)
	}

	tree, err := IDMapTree(root, ns, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tree.Close()
	for name, want := range map[string]uint32{"etc-passwd": r.First, "home/user": r.First + 1000, "home": r.First} {
		var st unix.Stat_t
		if err := unix.Fstatat(int(tree.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatalf("stat %s through the copy: %v", name, err)
		}
		if st.Uid != want || st.Gid != want {
			t.Errorf("%s through the copy: owner %d:%d, want %d:%d", name, st.Uid, st.Gid, want, want)
		}
	}
	// Read-only, and the tree itself unchanged.
	fd, err := unix.Openat(int(tree.Fd()), "new", unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err == nil {
		unix.Close(fd)
		t.Error("created a file through a read-only copy")
	} else if !errors.Is(err, unix.EROFS) {
		t.Errorf("create through the read-only copy: %v, want EROFS", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(user, &st); err != nil || st.Uid != 1000 {
		t.Errorf("home/user on disk: owner %d, %v; want 1000 as written", st.Uid, err)
	}
	// A file system that cannot be ID-mapped is an error naming it.
	if _, err := IDMapTree("/proc", ns, true); err == nil || !strings.Contains(err.Error(), "(proc) cannot be ID-mapped") {
		t.Errorf("ID-mapped /proc: %v, want an error naming proc", err)
	}
}

func TestNewUserNSRefusesBadRanges(t *testing.T) {
	if _, _, err := NewUserNS(Range{0, AutoSize}); err == nil || !strings.Contains(err.Error(), "UID 0") {
		t.Errorf("range at 0: %v", err)
	}
}

// reap reaps NewUserNS's holder, which must have exited with status 0.
func reap(t *testing.T, holder int) {
	t.Helper()
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(holder, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("reap the user namespace's holder %d: %v", holder, err)
		}
		break
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("the user namespace's holder %d ended with status %#x, not exit 0", holder, ws)
	}
}
