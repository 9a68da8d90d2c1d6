package flock

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestTryLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	for _, tc := range []struct {
		name          string
		first, second bool // exclusive?
		want          bool // second lock taken
	}{
		{"exclusive, exclusive", true, true, false},
		{"exclusive, shared", true, false, false},
		{"shared, exclusive", false, true, false},
		{"shared, shared", false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := TryLock(path, tc.first)
			if err != nil || a == nil {
				t.Fatalf("first lock: %v, %v", a, err)
			}
			defer a.Close()
			b, err := TryLock(path, tc.second)
			if err != nil {
				t.Fatal(err)
			}
			if (b != nil) != tc.want {
				t.Errorf("second lock taken: %v, want %v", b != nil, tc.want)
			}
			if b != nil {
				b.Close()
			}
			if free, err := Free(path); free || err != nil {
				t.Errorf("Free while held: %v, %v", free, err)
			}
		})
	}
	if free, err := Free(path); !free || err != nil {
		t.Errorf("Free after release: %v, %v", free, err)
	}
	if free, err := Free(filepath.Join(t.TempDir(), "missing")); !free || err != nil {
		t.Errorf("Free of a missing file: %v, %v", free, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file: %v, %v; want mode 0600", fi, err)
	}
}

func TestTryLockSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	link := filepath.Join(dir, "x.lock")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if f, err := TryLock(link, true); err == nil || !strings.Contains(err.Error(), "lock "+link) {
		t.Errorf("lock through a symlink: %v, %v; want an error naming it", f, err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the symlink's target was created: %v", err)
	}
}

// TestLockRemovedByHolder: a waiter whose lock file is removed by the
// holder before it is released locks the new file at the path, not the
// orphan, so that a third process cannot hold the path's lock beside it.
func TestLockRemovedByHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	held, err := TryLock(path, true)
	if err != nil || held == nil {
		t.Fatal(err)
	}
	got := make(chan *os.File, 1)
	go func() {
		f, err := Lock(context.Background(), path, true)
		if err != nil {
			t.Error(err)
		}
		got <- f
	}()
	time.Sleep(20 * time.Millisecond)
	os.Remove(path)
	held.Close()
	f := <-got
	if f == nil {
		return
	}
	defer f.Close()
	var a, b os.FileInfo
	if a, err = f.Stat(); err != nil {
		t.Fatal(err)
	}
	if b, err = os.Stat(path); err != nil {
		t.Fatalf("no lock file at the path after Lock: %v", err)
	}
	if !os.SameFile(a, b) {
		t.Error("Lock returned a file that is no longer the one at the path")
	}
	if other, err := TryLock(path, true); err != nil || other != nil {
		t.Errorf("a second holder got the path's lock: %v, %v", other, err)
	}
}

func TestLockContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	held, err := TryLock(path, false)
	if err != nil || held == nil {
		t.Fatal(err)
	}
	defer held.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if f, err := Lock(ctx, path, true); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), path) {
		t.Errorf("Lock while held: %v, %v; want the deadline, naming the path", f, err)
	}
	shared, err := Lock(context.Background(), path, false)
	if err != nil {
		t.Fatalf("a shared Lock beside a shared holder: %v", err)
	}
	shared.Close()
}

// TestTryLockExisting checks that the variant for lock files made
// elsewhere creates nothing and conflicts with TryLock as TryLock does.
func TestTryLockExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	if f, err := TryLockExisting(path, false); !errors.Is(err, os.ErrNotExist) || f != nil {
		t.Fatalf("missing file: %v, %v", f, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("TryLockExisting created %s: %v", path, err)
	}
	a, err := TryLock(path, true)
	if err != nil || a == nil {
		t.Fatal(a, err)
	}
	if b, err := TryLockExisting(path, false); err != nil || b != nil {
		t.Fatalf("shared lock beside an exclusive one: %v, %v", b, err)
	}
	a.Close()
	b, err := TryLockExisting(path, false)
	if err != nil || b == nil {
		t.Fatalf("shared lock of a free file: %v, %v", b, err)
	}
	defer b.Close()
	if c, err := TryLock(path, true); err != nil || c != nil {
		t.Fatalf("exclusive lock beside a shared one: %v, %v", c, err)
	}
}

// TestTryLockNew: the creator of a new lock file holds it; an existing
// file is fs.ErrExist, never a second holder; a symlink at the name is not
// followed.
func TestTryLockNew(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "new.lock")
	f, err := TryLockNew(p)
	if err != nil || f == nil {
		t.Fatalf("TryLockNew of a new name: %v, %v", f, err)
	}
	defer f.Close()
	if other, err := TryLock(p, false); err != nil || other != nil {
		t.Errorf("a shared lock beside the new file's holder: %v, %v; want none", other, err)
	}
	if g, err := TryLockNew(p); !errors.Is(err, fs.ErrExist) || g != nil {
		t.Errorf("TryLockNew of an existing name: %v, %v; want fs.ErrExist", g, err)
	}
	target := filepath.Join(dir, "target")
	link := filepath.Join(dir, "link.lock")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if g, err := TryLockNew(link); err == nil || g != nil {
		t.Errorf("TryLockNew through a symlink: %v, %v; want an error", g, err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("TryLockNew created the symlink's target: %v", err)
	}
}

// TestTryLockExistingAt: the raw-descriptor variant finds the file through
// its directory's descriptor, conflicts with the other lockers as
// TryLockExisting does, creates nothing and releases the lock on close.
func TestTryLockExistingAt(t *testing.T) {
	dir := t.TempDir()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dirfd := int(d.Fd())
	if fd, err := TryLockExistingAt(dirfd, "lock", false); !errors.Is(err, fs.ErrNotExist) || fd != -1 {
		t.Fatalf("missing file: %d, %v; want -1 and fs.ErrNotExist", fd, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "lock")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("TryLockExistingAt created the file: %v", err)
	}
	a, err := TryLock(filepath.Join(dir, "lock"), true)
	if err != nil || a == nil {
		t.Fatal(a, err)
	}
	if fd, err := TryLockExistingAt(dirfd, "lock", false); err != nil || fd != -1 {
		t.Fatalf("shared lock beside an exclusive one: %d, %v; want -1", fd, err)
	}
	a.Close()
	fd, err := TryLockExistingAt(dirfd, "lock", false)
	if err != nil || fd < 0 {
		t.Fatalf("shared lock of a free file: %d, %v", fd, err)
	}
	if b, err := TryLockExistingAt(dirfd, "lock", false); err != nil || b < 0 {
		t.Errorf("a second shared lock: %d, %v", b, err)
	} else {
		unix.Close(b)
	}
	if c, err := TryLock(filepath.Join(dir, "lock"), true); err != nil || c != nil {
		t.Fatalf("exclusive lock beside a shared one: %v, %v", c, err)
	}
	if e, err := TryLockExistingAt(dirfd, "lock", true); err != nil || e != -1 {
		t.Fatalf("exclusive raw lock beside a shared one: %d, %v", e, err)
	}
	unix.Close(fd)
	c, err := TryLock(filepath.Join(dir, "lock"), true)
	if err != nil || c == nil {
		t.Fatalf("exclusive lock after the shared one was closed: %v, %v", c, err)
	}
	c.Close()
	if err := os.Symlink("lock", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if fd, err := TryLockExistingAt(dirfd, "link", false); err == nil || fd != -1 {
		t.Errorf("lock through a symlink: %d, %v; want an error", fd, err)
	}
}

// TestUnlockWithCopies: Unlock releases the lock at once even while another
// descriptor of the same open file exists, as in a child forked at that
// moment before its exec, where closing would leave it held.
func TestUnlockWithCopies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	for _, exclusive := range []bool{true, false} {
		f, err := TryLock(path, true)
		if err != nil || f == nil {
			t.Fatalf("TryLock: %v, %v", f, err)
		}
		dup, err := unix.Dup(int(f.Fd())) // the forked child's copy
		if err != nil {
			t.Fatal(err)
		}
		if err := Unlock(f); err != nil {
			t.Errorf("Unlock: %v", err)
		}
		g, err := TryLock(path, exclusive)
		if err != nil || g == nil {
			t.Errorf("TryLock (exclusive %v) after Unlock, a copy of the descriptor still open: %v, %v; want the lock", exclusive, g, err)
		} else {
			g.Close()
		}
		unix.Close(dup)
	}
}
