package store

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// importN imports n distinct small images into s and returns their IDs.
func importN(t *testing.T, s *Store, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		name := "example.com/img-" + string(rune('a'+i))
		ids[i] = mustImport(t, s, gz(t, mkACI(t, manifest(name), reg("f", name)))).ID
	}
	return ids
}

// watchCreates watches dir for entries created in it (inotify IN_CREATE)
// from now on; the function it returns counts those created so far.
func watchCreates(t *testing.T, dir string) func() int {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE); err != nil {
		t.Fatal(err)
	}
	n := 0
	return func() int {
		buf := make([]byte, 64<<10)
		for {
			m, err := unix.Read(fd, buf)
			if errors.Is(err, unix.EAGAIN) {
				return n
			}
			if err != nil {
				t.Fatalf("read inotify events of %s: %v", dir, err)
			}
			for off := 0; off < m; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
					t.Fatalf("inotify queue of %s overflowed", dir)
				}
				n++
				off += unix.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}

// TestRemoveUnusedOneTrash: image rm of several images (RemoveUnused)
// moves all their files into one trash, a staging directory and its lock
// file, emptied once, not one trash per image (two files made, locked and
// removed for each), and leaves tmp/ and the lock directory empty.
func TestRemoveUnusedOneTrash(t *testing.T) {
	s := openStore(t)
	ids := importN(t, s, 4)
	created := watchCreates(t, s.path("tmp"))
	errs, err := s.RemoveUnused(context.Background(), ids, func() (map[string]bool, error) { return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("remove %s: %v", ids[i], err)
		}
	}
	if n := created(); n != 2 {
		t.Errorf("removing %d images made %d entries in tmp/, want 2 (one trash and its lock file)", len(ids), n)
	}
	for _, sub := range []string{"images", "trees", "blobs", "tmp"} {
		if ents := dirEntries(t, s, sub); len(ents) != 0 {
			t.Errorf("%s/ after the removal: %v", sub, ents)
		}
	}
	if ents, err := os.ReadDir(s.lockDir); err != nil || len(ents) != 0 {
		t.Errorf("lock directory after the removal: %v, %v", ents, err)
	}
}

// TestRemoveEntryGone: an image that another process removed after this
// one chose it and before it locked it (the in-use callback runs in that
// window) is not found by image rm, not counted as removed by gc, and
// neither leaves the lock file it made to lock it; the other image of the
// same call is removed.
func TestRemoveEntryGone(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remove func(s *Store, ids []string, inUse func() (map[string]bool, error)) (removed []string, err error)
	}{
		{"image rm", func(s *Store, ids []string, inUse func() (map[string]bool, error)) ([]string, error) {
			errs, err := s.RemoveUnused(context.Background(), ids, inUse)
			if err != nil {
				return nil, err
			}
			if !errors.Is(errs[0], ErrNotFound) {
				t.Errorf("image rm of the image gone: %v, want ErrNotFound", errs[0])
			}
			var removed []string
			for i, err := range errs {
				if err == nil {
					removed = append(removed, ids[i])
				}
			}
			return removed, nil
		}},
		{"gc", func(s *Store, _ []string, inUse func() (map[string]bool, error)) ([]string, error) {
			res, err := s.GC(context.Background(), GCOptions{InUse: inUse})
			if err != nil {
				return nil, err
			}
			return res.Removed, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			ids := importN(t, s, 2)
			gone := ids[0]
			inUse := func() (map[string]bool, error) {
				// What the other process's removal did, under a lock
				// file it then removed.
				for _, p := range []string{s.indexPath(gone), s.blobPath(gone)} {
					if err := os.Remove(p); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.RemoveAll(s.treeDir(gone)); err != nil {
					t.Fatal(err)
				}
				return nil, nil
			}
			removed, err := tc.remove(s, ids, inUse)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(removed, ids[1:]) {
				t.Errorf("removed %v, want only %v", removed, ids[1:])
			}
			if ents, err := os.ReadDir(s.lockDir); err != nil || len(ents) != 0 {
				t.Errorf("lock directory after the removal: %v, %v", ents, err)
			}
		})
	}
}

// TestRemoveOneEntryGone: Remove of an image whose entry another process
// removed before this one locked it is ErrNotFound, and leaves no lock file
// of the one it made to lock it, as image rm and gc leave none
// (TestRemoveEntryGone).
func TestRemoveOneEntryGone(t *testing.T) {
	s := openStore(t)
	id := importN(t, s, 1)[0]
	if err := os.Remove(s.indexPath(id)); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(context.Background(), id); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove of an image whose entry is gone: %v, want ErrNotFound", err)
	}
	if ents, err := os.ReadDir(s.lockDir); err != nil || len(ents) != 0 {
		t.Errorf("lock directory after the removal: %v, %v", ents, err)
	}
}

// TestRemoveAfterHoldWithForkedCopy: an image's lock, released by Hold's
// release while a child this process forked still holds a copy of its
// descriptor (the pod's PID 1, forked while acirun prepares the pod, until
// its exec), is released at once: image rm and gc do not find the image in
// use meanwhile. It fails when unlock only closes the descriptor.
func TestRemoveAfterHoldWithForkedCopy(t *testing.T) {
	s := openStore(t)
	id := importN(t, s, 1)[0]
	l, err := s.lockImage(context.Background(), id, false)
	if err != nil {
		t.Fatal(err)
	}
	copied, err := unix.Dup(int(l.f.Fd())) // the forked child's copy
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(copied)
	l.unlock()
	if err := s.Remove(context.Background(), id); err != nil {
		t.Errorf("Remove after the hold's release, a copy of its descriptor still open: %v", err)
	}
}
