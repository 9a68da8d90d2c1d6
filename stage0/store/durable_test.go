package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bootStore opens the store in dir as the boot named boot would. It syncs
// for real (NoSync false): the GC tests need the syncfs path.
func bootStore(t *testing.T, dir, boot string) *Store {
	t.Helper()
	s, err := Open(filepath.Join(dir, "store"), Options{LockDir: filepath.Join(dir, "locks"), BootID: boot})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func entry(t *testing.T, s *Store, id string) *Image {
	t.Helper()
	img, err := s.read(id)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func hold(t *testing.T, s *Store, id string) {
	t.Helper()
	_, release, err := s.Hold(context.Background(), id)
	if err != nil {
		t.Fatalf("hold: %v", err)
	}
	release()
}

// After a reboot, a tree the earlier boot never confirmed on disk is
// verified before its first use, and rendered again from the blob when a
// crash has damaged it; in the boot that wrote it, it is used as it is.
func TestUnsyncedTreeAfterReboot(t *testing.T) {
	damage := []struct {
		name string
		do   func(t *testing.T, rootfs string)
	}{
		{"content changed", func(t *testing.T, rootfs string) {
			// What writeback lost: the file's blocks never made it.
			if err := os.WriteFile(filepath.Join(rootfs, "etc/motd"), []byte("\x00\x00\x00\x00\x00\x00"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"file truncated", func(t *testing.T, rootfs string) {
			if err := os.Truncate(filepath.Join(rootfs, "bin/tool"), 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"file missing", func(t *testing.T, rootfs string) {
			if err := os.Remove(filepath.Join(rootfs, "etc/motd")); err != nil {
				t.Fatal(err)
			}
		}},
		{"tree missing", func(t *testing.T, rootfs string) {
			if err := os.RemoveAll(filepath.Dir(rootfs)); err != nil {
				t.Fatal(err)
			}
		}},
		{"intact", nil},
	}
	for _, tc := range damage {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s1 := bootStore(t, dir, "boot-1")
			img := mustImport(t, s1, mkACI(t, manifest("example.com/app"),
				dirm("etc", 0o755), reg("etc/motd", "hello\n"), dirm("bin", 0o755), regm("bin/tool", "#!/bin/sh\necho tool\n", 0o755)))
			if img.Unsynced == nil || img.Unsynced.Boot != "boot-1" {
				t.Fatalf("after import Unsynced = %+v, want boot-1", img.Unsynced)
			}
			rootfs := filepath.Join(s1.treeDir(img.ID), "rootfs")
			before := inode(t, filepath.Join(rootfs, "etc"))

			s2 := bootStore(t, dir, "boot-2")
			if tc.do != nil {
				tc.do(t, rootfs)
			}
			hold(t, s2, img.ID)
			if err := s2.VerifyTree(context.Background(), img.ID); err != nil {
				t.Fatalf("after the first hold of the new boot: %v", err)
			}
			if got := readFile(t, filepath.Join(rootfs, "etc/motd")); got != "hello\n" {
				t.Errorf("etc/motd = %q after the hold", got)
			}
			after := entry(t, s2, img.ID)
			if tc.do == nil {
				if after.TreeHash != img.TreeHash {
					t.Errorf("tree hash %s, want the import's %s", after.TreeHash, img.TreeHash)
				}
				// Verified, not rendered again: read back from disk in the
				// new boot, the tree is known to be there.
				if after.Unsynced != nil {
					t.Errorf("Unsynced = %+v after a successful verification", after.Unsynced)
				}
				if inode(t, filepath.Join(rootfs, "etc")) != before {
					t.Error("an intact tree was rendered again")
				}
			} else if after.Unsynced == nil || after.Unsynced.Boot != "boot-2" {
				t.Errorf("Unsynced = %+v after rendering again, want boot-2", after.Unsynced)
			}
			if n := dirEntries(t, s2, "tmp"); len(n) != 0 {
				t.Errorf("tmp/ holds %q", n)
			}
		})
	}
}

// In the boot that wrote it, the tree is what was written: no verification
// on the way to a pod (the damage below is the test's, not a crash's).
func TestUnsyncedTreeSameBoot(t *testing.T) {
	dir := t.TempDir()
	s := bootStore(t, dir, "boot-1")
	img := mustImport(t, s, mkACI(t, manifest("example.com/app"), reg("f", "one")))
	f := filepath.Join(s.treeDir(img.ID), "rootfs", "f")
	if err := os.WriteFile(f, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	hold(t, s, img.ID)
	if got := readFile(t, f); got != "two" {
		t.Errorf("f = %q: the same boot verified and rendered again", got)
	}
}

// A damaged blob cannot make the tree again: the hold fails, naming the
// image, and the damaged tree is not passed on as good.
func TestUnsyncedTreeBlobDamaged(t *testing.T) {
	dir := t.TempDir()
	s1 := bootStore(t, dir, "boot-1")
	img := mustImport(t, s1, mkACI(t, manifest("example.com/app"), reg("f", "one")))
	f := filepath.Join(s1.treeDir(img.ID), "rootfs", "f")
	os.WriteFile(f, []byte("xxx"), 0o644)
	b, err := os.ReadFile(s1.blobPath(img.ID))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), "one")
	b[i] = 'O'
	os.WriteFile(s1.blobPath(img.ID), b, 0o644)

	s2 := bootStore(t, dir, "boot-2")
	_, _, err = s2.Hold(context.Background(), img.ID)
	if err == nil || !strings.Contains(err.Error(), img.ID) || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("hold = %v, want an error naming %s as corrupt", err, img.ID)
	}
	if u := entry(t, s2, img.ID).Unsynced; u == nil || u.Boot != "boot-1" {
		t.Errorf("Unsynced = %+v, want it kept (boot-1): the tree is still unchecked", u)
	}
	if n := dirEntries(t, s2, "tmp"); len(n) != 0 {
		t.Errorf("tmp/ holds %q", n)
	}
}

// A tree composed over a dependency shares the dependency's files: damage
// to one is damage to both, and both are rendered again, the dependency
// from its own blob and the image over it from the dependency recorded at
// its first rendering.
func TestUnsyncedTreeWithDependency(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s1 := bootStore(t, dir, "boot-1")
	base := mustImport(t, s1, mkACI(t, manifest("example.com/base"), dirm("lib", 0o755), reg("lib/libc.so", "libc")))
	app := mustImport(t, s1, mkACI(t, manifest("example.com/app", deps([2]string{"example.com/base", base.ID})), reg("app", "app")))
	if _, err := s1.Render(ctx, app.ID, nil); err != nil {
		t.Fatal(err)
	}
	rendered := entry(t, s1, app.ID)
	if rendered.Unsynced == nil || rendered.Unsynced.Boot != "boot-1" {
		t.Fatalf("after render Unsynced = %+v, want boot-1", rendered.Unsynced)
	}
	libc := filepath.Join(s1.treeDir(base.ID), "rootfs", "lib/libc.so")
	if err := os.WriteFile(libc, []byte("LIBC"), 0o644); err != nil {
		t.Fatal(err)
	}

	s2 := bootStore(t, dir, "boot-2")
	hold(t, s2, app.ID)
	for _, id := range []string{base.ID, app.ID} {
		if err := s2.VerifyTree(ctx, id); err != nil {
			t.Errorf("after the hold: %v", err)
		}
	}
	if got := readFile(t, filepath.Join(s2.treeDir(app.ID), "rootfs", "lib/libc.so")); got != "libc" {
		t.Errorf("app's lib/libc.so = %q", got)
	}
	if got := entry(t, s2, app.ID); got.TreeHash == rendered.TreeHash || len(got.Dependencies) != 1 || got.Dependencies[0] != base.ID {
		// The hash covers the manifest file's mtime, new with each rendering.
		t.Errorf("rendered again: hash %s deps %v, want a new hash and [%s]", got.TreeHash, got.Dependencies, base.ID)
	}
}

// An image whose tree was never composed has only its layer, which a crash
// may have damaged too: the new boot throws it away and renders from the
// blob.
func TestUnsyncedLayerAfterReboot(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s1 := bootStore(t, dir, "boot-1")
	base := mustImport(t, s1, mkACI(t, manifest("example.com/base"), reg("b", "base")))
	app := mustImport(t, s1, mkACI(t, manifest("example.com/app", deps([2]string{"example.com/base", base.ID})), reg("a", "app")))
	if app.Rendered {
		t.Fatal("an image with dependencies was rendered at import")
	}
	layerFile := filepath.Join(s1.layerDir(app.ID), "rootfs", "a")
	if err := os.WriteFile(layerFile, []byte("\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}

	s2 := bootStore(t, dir, "boot-2")
	if _, err := s2.Render(ctx, app.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(s2.treeDir(app.ID), "rootfs", "a")); got != "app" {
		t.Errorf("a = %q, want the blob's content", got)
	}
}

// GC syncs the file system and clears the records of the trees the sync
// covered, skipping those someone holds; in a later boot it settles what the
// earlier one left unconfirmed.
func TestGCConfirmsTrees(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	gc := func(s *Store) {
		t.Helper()
		if _, err := s.GC(ctx, GCOptions{GracePeriod: time.Hour, InUse: func() (map[string]bool, error) { return nil, nil }}); err != nil {
			t.Fatal(err)
		}
	}
	s1 := bootStore(t, dir, "boot-1")
	a := mustImport(t, s1, mkACI(t, manifest("example.com/a"), reg("f", "a")))
	b := mustImport(t, s1, mkACI(t, manifest("example.com/b"), reg("f", "b")))
	_, release, err := s1.Hold(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	gc(s1) // must not wait for the holder
	release()
	if u := entry(t, s1, a.ID).Unsynced; u != nil {
		t.Errorf("a: Unsynced = %+v after gc", u)
	}
	if u := entry(t, s1, b.ID).Unsynced; u == nil {
		t.Error("b: the record of a held image was cleared")
	}

	// b's tree damaged in the crash that ended boot-1: the next boot's gc
	// finds and repairs it.
	f := filepath.Join(s1.treeDir(b.ID), "rootfs", "f")
	os.WriteFile(f, []byte("?"), 0o644)
	gc(bootStore(t, dir, "boot-2"))
	if got := readFile(t, f); got != "b" {
		t.Errorf("b's f = %q after the new boot's gc", got)
	}
}

// A tree complete when the sync began is covered by it; one completed at
// the same moment or later is not.
func TestConfirmOnlyBeforeSync(t *testing.T) {
	s := bootStore(t, t.TempDir(), "boot-1")
	img := mustImport(t, s, mkACI(t, manifest("example.com/a"), reg("f", "a")))
	at := img.Unsynced.At
	for _, c := range []struct {
		began time.Duration
		boot  string
		clear bool
	}{
		{at, "boot-1", false},
		{at - 1, "boot-1", false},
		{at + 1, "boot-0", false},
		{at + 1, "boot-1", true},
	} {
		s.opts.BootID = c.boot
		if err := s.confirm(img.ID, c.began); err != nil {
			t.Fatal(err)
		}
		if got := entry(t, s, img.ID).Unsynced == nil; got != c.clear {
			t.Errorf("confirm(began %v) in %s: cleared %v, want %v", c.began-at, c.boot, got, c.clear)
		}
	}
}

func TestBootID(t *testing.T) {
	id, err := bootID()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := bootID()
	if id == "" || id != again {
		t.Errorf("boot ID %q then %q", id, again)
	}
}
