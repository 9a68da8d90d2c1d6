package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/acirun/acirun/internal/flock"
)

// lock is a held flock on a file.
type lock struct{ f *os.File }

// unlock releases the lock. Removing the lock file first (while holding it)
// is done by unlinkAndUnlock. It releases with flock(LOCK_UN), not by
// closing alone (flock.Unlock): a child this process forks in that
// instant (the pod's PID 1 while acirun prepares the pod, the fetch
// helper, a CNI plugin) holds a copy of the descriptor until its exec,
// and a gc or image rm would find the image in use meanwhile.
func (l *lock) unlock() {
	if l != nil && l.f != nil {
		_ = flock.Unlock(l.f)
		l.f = nil
	}
}

// unlinkAndUnlock removes the lock file and then releases it; waiters notice
// that the file they locked is gone and retry with a fresh one.
func (l *lock) unlinkAndUnlock() {
	if l != nil && l.f != nil {
		os.Remove(l.f.Name())
		l.unlock()
	}
}

// tryLock takes a flock on path (creating the file) without waiting. It
// returns nil, nil if someone else holds a conflicting lock.
func tryLock(path string, exclusive bool) (*lock, error) {
	f, err := flock.TryLock(path, exclusive)
	if err != nil || f == nil {
		return nil, err
	}
	return &lock{f: f}, nil
}

// takeLock waits for a flock on path until ctx is done.
func takeLock(ctx context.Context, path string, exclusive bool) (*lock, error) {
	f, err := flock.Lock(ctx, path, exclusive)
	if err != nil {
		return nil, err
	}
	return &lock{f: f}, nil
}

func (s *Store) lockImage(ctx context.Context, id string, exclusive bool) (*lock, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	return takeLock(ctx, s.lockPath(id), exclusive)
}

// LockSource serializes the fetches of one source, an image URL, among all
// the processes that use this store: of two fetches of the same URL at once,
// the second waits for the first and can then take the image it stored
// instead of downloading it again. The lock lasts until unlock is called or
// the process ends.
func (s *Store) LockSource(ctx context.Context, source string) (unlock func(), err error) {
	sum := sha256.Sum256([]byte(source))
	l, err := takeLock(ctx, filepath.Join(s.lockDir, "source-"+hex.EncodeToString(sum[:16])+".lock"), true)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", source, err)
	}
	return l.unlinkAndUnlock, nil
}

// staging is a private directory under tmp/, alive while its lock is held.
type staging struct {
	dir  string
	lock *lock
}

// newStaging makes tmp/KIND-RANDOM with its lock file tmp/KIND-RANDOM.lock
// held. The lock file comes first, so a directory without one is always an
// orphan.
func (s *Store) newStaging(kind string) (*staging, error) {
	for {
		var rnd [8]byte
		rand.Read(rnd[:])
		name := s.path("tmp", kind+"-"+hex.EncodeToString(rnd[:]))
		f, err := flock.TryLockNew(name + ".lock")
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("staging: %w", err)
		}
		if f == nil {
			continue // a cleaner got it between create and lock
		}
		if err := os.Mkdir(name, 0o700); err != nil {
			os.Remove(name + ".lock")
			f.Close()
			return nil, fmt.Errorf("staging: %w", err)
		}
		return &staging{dir: name, lock: &lock{f: f}}, nil
	}
}

// remove deletes the staging directory and then its lock file.
func (st *staging) remove() {
	if st == nil || st.lock == nil {
		return
	}
	os.RemoveAll(st.dir)
	st.lock.unlinkAndUnlock()
	st.lock = nil
}

// cleanStaging removes every tmp/ entry whose owner is gone: directories
// whose lock file is missing or can be locked, and unlocked lock files. It
// returns how many directories it removed.
func (s *Store) cleanStaging() (int, error) {
	tmp := s.path("tmp")
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return 0, fmt.Errorf("clean staging: %w", err)
	}
	n := 0
	for _, e := range ents {
		name := e.Name()
		if base, ok := strings.CutSuffix(name, ".lock"); ok {
			l, err := tryLock(filepath.Join(tmp, name), true)
			if err != nil || l == nil {
				continue
			}
			if _, err := os.Lstat(filepath.Join(tmp, base)); err == nil {
				n++
			}
			os.RemoveAll(filepath.Join(tmp, base))
			l.unlinkAndUnlock()
			continue
		}
		if _, err := os.Lstat(filepath.Join(tmp, name+".lock")); errors.Is(err, os.ErrNotExist) {
			// Re-check under the lock protocol: an owner creates the
			// lock file before the directory, so none means orphan.
			os.RemoveAll(filepath.Join(tmp, name))
			n++
		}
	}
	return n, nil
}
