package userns

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/testenv"
)

// overlayChildEnv marks the test binary started as the pod's side of
// TestIDMapTreeAsOverlayLower; its value is the test's directory.
const overlayChildEnv = "ACIRUN_USERNS_OVERLAY_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(overlayChildEnv); dir != "" {
		if err := overlayChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// overlayChild is a pod's PID 1 in its user and mount namespaces: it
// attaches the ID-mapped tree it got as fd 3 at dir/lower, makes it the
// lower layer of an overlay at dir/merged, writes through it, and prints
// the owners it sees.
func overlayChild(dir string) error {
	if err := unix.MoveMount(3, "", unix.AT_FDCWD, filepath.Join(dir, "lower"), unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	merged := filepath.Join(dir, "merged")
	opts := "lowerdir=" + filepath.Join(dir, "lower") + ",upperdir=" + filepath.Join(dir, "upper") + ",workdir=" + filepath.Join(dir, "work")
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay %s: %w", opts, err)
	}
	if err := os.WriteFile(filepath.Join(merged, "etc", "f"), []byte("changed"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(merged, "new"), nil, 0o644); err != nil {
		return err
	}
	if err := os.Chown(filepath.Join(merged, "new"), 1000, 1000); err != nil {
		return err
	}
	for _, p := range []string{"etc", "etc/f", "u1000", "new"} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(merged, p), &st); err != nil {
			return err
		}
		fmt.Printf("%s %d:%d\n", p, st.Uid, st.Gid)
	}
	b, err := os.ReadFile("/proc/self/uid_map")
	fmt.Printf("uid_map %s", strings.Join(strings.Fields(string(b)), " "))
	return err
}

// TestIDMapTreeAsOverlayLower: how stage1 is to give a pod with a user
// namespace its image. The host makes the ID-mapped copy of the rendered
// tree (only the initial user namespace may), the pod's PID 1, root in the
// pod's user namespace, attaches it in its own mount namespace and mounts
// an overlay over it (given as /proc/self/fd/N, the unattached copy is
// refused: EPERM). Inside, the image's files are owned by 0 and 1000 as
// stored; what the pod writes lands in the upper directory owned by the
// range's IDs; the store is untouched.
func TestIDMapTreeAsOverlayLower(t *testing.T) {
	testenv.NeedRoot(t, "user namespaces with maps and ID-mapped mounts need CAP_SYS_ADMIN")
	r := Range{First: AutoFirst + 11*AutoSize, Count: AutoSize}
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // the pod's root must get through
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "etc", "f"), []byte("image"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "u1000"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(tree, "u1000"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(filepath.Join(dir, d), int(r.First), int(r.First)); err != nil {
			t.Fatal(err)
		}
	}
	ns, holder, err := NewUserNS(r)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	reap(t, holder)
	mapped, err := IDMapTree(tree, ns, true)
	if err != nil {
		t.Fatal(err)
	}
	defer mapped.Close()

	m := []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(r.First), Size: int(r.Count)}}
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), overlayChildEnv+"="+dir)
	cmd.ExtraFiles = []*os.File{mapped}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER | unix.CLONE_NEWNS,
		UidMappings: m, GidMappings: m, GidMappingsEnableSetgroups: true,
		Credential: &syscall.Credential{Uid: 0, Gid: 0}, // the pod's root
	}
	// Its stdout alone is checked: under go test -cover (scripts/cover)
	// the child, a coverage build, also says on stderr that it cannot
	// write its counters (GOCOVERDIR is the go command's, which the pod's
	// root, a mapped user, cannot reach).
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the pod's side: %v\n%s%s", err, out, stderr.String())
	}
	for _, want := range []string{"etc 0:0", "etc/f 0:0", "u1000 1000:1000", "new 1000:1000", fmt.Sprintf("uid_map 0 %d %d", r.First, r.Count)} {
		if !strings.Contains(string(out), want+"\n") && !strings.HasSuffix(string(out), want) {
			t.Errorf("the pod sees no %q:\n%s", want, out)
		}
	}
	// On the host: the changes in the upper directory, owned by the
	// range's IDs; the tree as it was.
	for p, want := range map[string]uint32{"etc/f": r.First, "new": r.First + 1000} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dir, "upper", p), &st); err != nil || st.Uid != want || st.Gid != want {
			t.Errorf("upper/%s on the host: %d:%d, %v; want %d:%d", p, st.Uid, st.Gid, err, want, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(tree, "etc", "f")); string(b) != "image" {
		t.Errorf("the tree changed under the pod: etc/f is %q", b)
	}
}
