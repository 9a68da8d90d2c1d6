package podcontract

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/acirun/acirun/internal/flock"
)

// LockPod takes the lock of the pod directory podDir (LockFile) without
// waiting: exclusively to change or run the pod, shared to read its state
// knowing that nobody changes it meanwhile. It returns nil and no error
// when a conflicting lock is held, and an error wrapping fs.ErrNotExist
// when the pod has no lock file. flock.Unlock releases the lock.
func LockPod(podDir string, exclusive bool) (*os.File, error) {
	return flock.TryLockExisting(filepath.Join(podDir, LockFile), exclusive)
}

// LockPodAt is LockPod for a reader of many pods (list): podDir is relative
// to the directory descriptor dirfd ("." for the pod directory's own), and
// the lock a raw descriptor (flock.TryLockExistingAt), -1 when a
// conflicting lock is held; flock.UnlockFd releases the lock.
// A pod's lock file goes only with its directory, so what
// TryLockExistingAt does not check cannot happen here.
func LockPodAt(dirfd int, podDir string, exclusive bool) (int, error) {
	return flock.TryLockExistingAt(dirfd, podDir+"/"+LockFile, exclusive)
}

// CreatePodLock makes the lock file of a pod being written in podDir (a
// directory nobody else knows yet) and holds it exclusively.
func CreatePodLock(podDir string) (*os.File, error) {
	p := filepath.Join(podDir, LockFile)
	f, err := flock.TryLock(p, true)
	if err == nil && f == nil {
		err = fmt.Errorf("lock %s: held by another process", p)
	}
	return f, err
}

// Running reports whether a stage1 runs the pod in podDir: it holds the
// pod's lock. A lock that cannot be read counts as held, so that nothing
// the pod may still use (its address lease) is taken from it.
func Running(podDir string) bool {
	free, err := flock.Free(filepath.Join(podDir, LockFile))
	return err != nil || !free
}
