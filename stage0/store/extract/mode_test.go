package extract

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/testenv"
)

// Files keep exactly the mode and owner of their entry whatever the
// process's umask, whichever of the two ways a file is made (with its final
// mode when the extractor's own user and group are the owner wanted, private
// and then chowned and chmodded otherwise), and whatever group the root
// directory has (a setgid or grpid root hands its group down).
func TestModesAndOwners(t *testing.T) {
	testenv.NeedRoot(t, "to own files as other users")
	entries := []ent{
		{name: "open", typ: tar.TypeReg, mode: 0o666, body: "a"},
		{name: "suid", typ: tar.TypeReg, mode: 0o4755, body: "b"},
		{name: "sgid", typ: tar.TypeReg, mode: 0o2750, body: "c"},
		{name: "ro", typ: tar.TypeReg, mode: 0o400, body: "d"},
		{name: "other", typ: tar.TypeReg, mode: 0o4711, body: "e", uid: 1234, gid: 5678},
		{name: "group", typ: tar.TypeReg, mode: 0o640, body: "f", gid: 42},
		{name: "d", typ: tar.TypeDir, mode: 0o2775},
		{name: "d/in", typ: tar.TypeReg, mode: 0o664, body: "g"},
		{name: "d/empty", typ: tar.TypeReg, mode: 0o755},
	}
	raw := mkTarBytes(t, entries)
	for _, tc := range []struct {
		name    string
		umask   int
		rootGid int
		setgid  bool
	}{
		{"umask 022", 0o022, 0, false},
		{"umask 077", 0o077, 0, false},
		{"umask 0", 0, 0, false},
		{"root of another group", 0o022, 99, false},
		{"setgid root of another group", 0o027, 99, true},
		{"setgid root of our group", 0o022, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "root")
			if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(root, 0, tc.rootGid); err != nil {
				t.Fatal(err)
			}
			if tc.setgid {
				if err := os.Chmod(root, 0o755|os.ModeSetgid); err != nil {
					t.Fatal(err)
				}
			}
			old := unix.Umask(tc.umask)
			_, err := Tar(context.Background(), bytes.NewReader(raw), root, Options{})
			unix.Umask(old)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				var st unix.Stat_t
				if err := unix.Lstat(filepath.Join(root, e.name), &st); err != nil {
					t.Fatal(err)
				}
				if got := int64(st.Mode & 0o7777); got != e.mode {
					t.Errorf("%s: mode %o, want %o", e.name, got, e.mode)
				}
				if int(st.Uid) != e.uid || int(st.Gid) != e.gid {
					t.Errorf("%s: owner %d:%d, want %d:%d", e.name, st.Uid, st.Gid, e.uid, e.gid)
				}
			}
		})
	}
}
