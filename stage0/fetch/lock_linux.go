package fetch

import (
	"context"
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockPartial opens (creating it if needed) the partial download at path and
// takes an exclusive flock on it, so that two Downloads of the same file, in
// this process or another, never write it at the same time. It waits, while
// ctx allows, for the other one to finish. The lock goes with the file
// descriptor, so a killed process leaves no stale lock. The file returned is
// the one at path when the lock was taken: if the previous holder removed it
// meanwhile, the new file is opened instead.
func lockPartial(ctx context.Context, path string) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		for {
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
			if !errors.Is(err, unix.EWOULDBLOCK) {
				break
			}
			select {
			case <-ctx.Done():
				f.Close()
				return nil, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		if err != nil {
			f.Close()
			return nil, &os.PathError{Op: "flock", Path: path, Err: err}
		}
		var held, now unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &held); err != nil {
			f.Close()
			return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
		}
		err = unix.Stat(path, &now)
		if err == nil && now.Dev == held.Dev && now.Ino == held.Ino {
			return f, nil
		}
		f.Close()
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return nil, &os.PathError{Op: "stat", Path: path, Err: err}
		}
	}
}
