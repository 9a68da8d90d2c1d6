// Package flock takes flock(2) locks on lock files, the one way acirun's
// processes keep out of each other's way: the store's images, staging and
// sources, partial downloads, and pod preparation. A lock belongs to the
// open file, so it ends when the file is closed or the process dies, and a
// killed acirun leaves no stale lock behind.
//
// Lock files may be removed by their last holder (so that they do not pile
// up); TryLock and Lock notice when the file they locked was removed or
// replaced meanwhile and lock the file now at the path instead, so that two
// processes never both hold "the" lock of a path.
package flock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/regfile"
)

// TryLock opens path (creating it with mode 0600, never through a symlink)
// and takes an exclusive or shared flock on it without waiting. It returns
// the locked file, or nil and no error if a conflicting lock is held.
// Unlock releases the lock (closing the file alone may not, at once).
func TryLock(path string, exclusive bool) (*os.File, error) {
	return tryLock(path, os.O_RDWR|os.O_CREATE, exclusive)
}

// TryLockExisting is TryLock for a lock file that must already exist (a
// pod's, made with the pod): it creates nothing, and a missing file is an
// error wrapping fs.ErrNotExist.
func TryLockExisting(path string, exclusive bool) (*os.File, error) {
	return tryLock(path, os.O_RDONLY, exclusive)
}

// TryLockExistingAt is TryLockExisting for a reader that probes many lock
// files in a row (acirun list probes the lock of each of a thousand pods):
// the file is name in the directory of the descriptor dirfd, and the lock is
// a raw descriptor, not an *os.File, which costs a poller registration and
// four fcntl calls more per file. It returns the descriptor, which the
// caller releases with UnlockFd, or -1 and no error if
// a conflicting lock is held. It does not check, as TryLock does, that the
// file was not removed or replaced after it was opened: it is for lock
// files removed only with their directory, whose holder is never "the
// holder before us" of a new file at the same path.
func TryLockExistingAt(dirfd int, name string, exclusive bool) (int, error) {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	var fd int
	var err error
	for {
		fd, err = unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return -1, fmt.Errorf("lock %s: %w", name, err)
	}
	for {
		err = unix.Flock(fd, how|unix.LOCK_NB)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return -1, nil
		}
		return -1, fmt.Errorf("lock %s: %w", name, err)
	}
	return fd, nil
}

// TryLockNew creates path, which must not exist (an error wrapping
// fs.ErrExist if it does), and locks it exclusively. It returns nil and no
// error if another process took or removed the new file before the lock was
// had, as a cleaner of abandoned lock files may: the caller picks another
// name. It is for lock files named at random, whose creator must be the
// first and only holder.
func TryLockNew(path string) (*os.File, error) {
	return tryLock(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, true)
}

func tryLock(path string, flags int, exclusive bool) (*os.File, error) {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		f, err := regfile.OpenFile(path, flags|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, nil
			}
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		var held, now unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &held); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		err = unix.Stat(path, &now)
		if err == nil && held.Dev == now.Dev && held.Ino == now.Ino {
			return f, nil
		}
		f.Close()
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if flags&os.O_EXCL != 0 {
			return nil, nil // the file we made is gone: not ours to lock
		}
		// The holder before us removed the file after we opened it: our
		// lock is on an orphan. Lock the one at path now.
	}
}

// Unlock releases the lock held on f and closes it. Closing alone releases
// it only once no descriptor refers to the open file any more, and a child
// this process forks at that moment holds a copy of every descriptor until
// its exec closes it (acirun forks the pod's PID 1 while it prepares the
// pod): for that while, whoever locks the file next would find it held.
// flock(LOCK_UN) releases it at once, whatever copies there are.
func Unlock(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_UN)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// UnlockFd is Unlock for a lock taken by TryLockExistingAt.
func UnlockFd(fd int) error {
	err := unix.Flock(fd, unix.LOCK_UN)
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	return err
}

// Lock is TryLock that waits for a conflicting lock to be released, polling
// (flock cannot wait on a context), for as long as ctx allows.
func Lock(ctx context.Context, path string, exclusive bool) (*os.File, error) {
	delay := time.Millisecond
	for {
		f, err := TryLock(path, exclusive)
		if err != nil || f != nil {
			return f, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(delay):
		}
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

// Free reports whether path can be locked exclusively right now, that is,
// whether no one holds a lock on it. A missing file is free. It creates
// nothing. It probes with TryLockExistingAt's bare descriptor (open, flock,
// close), not an *os.File's seven system calls (its poller registration
// attempt and four fcntl calls besides): the sweep after every pod's start
// on the default network and acirun gc ask it about every pod's lock.
func Free(path string) (bool, error) {
	fd, err := TryLockExistingAt(unix.AT_FDCWD, path, true)
	if errors.Is(err, unix.ENOENT) {
		return true, nil
	}
	if err != nil || fd < 0 {
		return false, err
	}
	// The probe's own lock would otherwise outlast its close in a child
	// forked meanwhile (Unlock), and the lock's owner find it held.
	if err := UnlockFd(fd); err != nil {
		return false, fmt.Errorf("lock %s: %w", path, err)
	}
	return true, nil
}
