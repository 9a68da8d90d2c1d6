package userns

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/acirun/acirun/internal/flock"
)

// Leases are the ranges leased to pods, one file per range in Dir, named
// by the range (UID:COUNT) and holding its owner (a pod directory), and
// the lock that serialises leasing. Dir should not outlive a boot
// (RUN-DIR/userns): a range whose owner is gone is taken back whenever a
// range is needed, and by ReleaseStale.
type Leases struct {
	Dir string
}

const (
	lockFile = ".lock"
	lastFile = ".last" // the first ID of the last automatic range, a hint
)

// Lease leases the first free automatic range (AutoSize IDs from AutoFirst
// on, after the last one leased) to owner. alive tells whether the owner of
// a lease still needs it; a lease whose owner is not alive is taken back.
// Leasing is serialised by a lock in Dir, for as long as ctx allows.
func (l Leases) Lease(ctx context.Context, owner string, alive func(owner string) bool) (Range, error) {
	var got Range
	err := l.locked(ctx, func() error {
		held, err := l.held(alive)
		if err != nil {
			return err
		}
		const slots = (AutoEnd - AutoFirst) / AutoSize
		start := uint32(0)
		if b, err := os.ReadFile(filepath.Join(l.Dir, lastFile)); err == nil {
			if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32); err == nil && n >= AutoFirst && n < AutoEnd {
				start = (uint32(n)-AutoFirst)/AutoSize + 1
			}
		}
		for i := uint32(0); i < slots; i++ {
			r := Range{First: AutoFirst + (start+i)%slots*AutoSize, Count: AutoSize}
			if overlapsAny(r, held) {
				continue
			}
			if err := l.write(r, owner); err != nil {
				return err
			}
			l.hint(r)
			got = r
			return nil
		}
		return fmt.Errorf("user namespaces: no free range of %d IDs from %d to %d: all %d are leased to running pods", AutoSize, AutoFirst, AutoEnd-1, slots)
	})
	return got, err
}

// Take leases r, a range the operator chose, to owner, refusing it when it
// shares an ID with a range leased to a pod that is alive.
func (l Leases) Take(ctx context.Context, r Range, owner string, alive func(owner string) bool) error {
	if err := r.Check(); err != nil {
		return fmt.Errorf("user namespace range %s: %w", r, err)
	}
	return l.locked(ctx, func() error {
		held, err := l.held(alive)
		if err != nil {
			return err
		}
		for _, h := range held {
			if r.Overlaps(h.r) {
				return fmt.Errorf("user namespace range %s: IDs %s are leased to the running pod %s: choose another range, or --private-users=auto", r, h.r, h.owner)
			}
		}
		return l.write(r, owner)
	})
}

// Release gives back owner's lease of r. A lease someone else holds now
// (taken back from an owner presumed gone) is left alone.
func (l Leases) Release(r Range, owner string) error {
	path := filepath.Join(l.Dir, r.String())
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("user namespaces: release %s: %w", r, err)
	}
	if strings.TrimSpace(string(b)) != owner {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("user namespaces: release %s: %w", r, err)
	}
	return nil
}

// ReleaseStale gives back the leases whose owners are not alive (a pod
// whose stage1 was killed before it could release its range), for garbage
// collection. It returns the ranges released.
func (l Leases) ReleaseStale(ctx context.Context, alive func(owner string) bool) ([]Range, error) {
	if _, err := os.Stat(l.Dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var released []Range
	err := l.locked(ctx, func() error {
		all, err := l.list()
		if err != nil {
			return err
		}
		for _, h := range all {
			if h.owner == "" || alive(h.owner) {
				continue
			}
			if err := l.Release(h.r, h.owner); err != nil {
				return err
			}
			released = append(released, h.r)
		}
		return nil
	})
	return released, err
}

// hint records r as the last automatic range leased (lastFile), in place
// and at a fixed width (ten digits and a newline, as wide as any First, so
// that no digit of a longer one is left behind): truncating the file, as
// os.WriteFile does, freed its block each time, and on a file system
// mounted with discard the free is a discard that the truncation waits for
// (0.3 to 2 ms on this project's test machine, before every
// --private-users pod's start). A torn hint reads as no hint; an error is
// ignored, as the hint is.
func (l Leases) hint(r Range) {
	f, err := os.OpenFile(filepath.Join(l.Dir, lastFile), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	_, _ = f.WriteAt(fmt.Appendf(nil, "%010d\n", r.First), 0)
	f.Close()
}

// lease is one file of Dir.
type lease struct {
	r     Range
	owner string
}

// locked runs f holding Dir's lock.
func (l Leases) locked(ctx context.Context, f func() error) error {
	if err := os.MkdirAll(l.Dir, 0o700); err != nil {
		return fmt.Errorf("user namespaces: %w", err)
	}
	lock, err := flock.Lock(ctx, filepath.Join(l.Dir, lockFile), true)
	if err != nil {
		return fmt.Errorf("user namespaces: %w", err)
	}
	defer flock.Unlock(lock)
	return f()
}

// list reads every lease of Dir, the lock held.
func (l Leases) list() ([]lease, error) {
	ents, err := os.ReadDir(l.Dir)
	if err != nil {
		return nil, fmt.Errorf("user namespaces: %w", err)
	}
	var out []lease
	for _, e := range ents {
		r, err := ParseRange(e.Name())
		if err != nil || r.IsZero() || r.String() != e.Name() {
			continue // .lock, .last, an atomic write's temporary file
		}
		b, err := os.ReadFile(filepath.Join(l.Dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("user namespaces: lease %s: %w", r, err)
		}
		out = append(out, lease{r: r, owner: strings.TrimSpace(string(b))})
	}
	return out, nil
}

// held returns the leases of Dir whose owners are alive, the lock held,
// and takes back the others.
func (l Leases) held(alive func(string) bool) ([]lease, error) {
	all, err := l.list()
	if err != nil {
		return nil, err
	}
	var out []lease
	for _, h := range all {
		if h.owner != "" && alive(h.owner) {
			out = append(out, h)
			continue
		}
		if err := os.Remove(filepath.Join(l.Dir, h.r.String())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("user namespaces: take back the lease of %s: %w", h.r, err)
		}
	}
	return out, nil
}

// write records r as owner's, the lock held and r free.
func (l Leases) write(r Range, owner string) error {
	path := filepath.Join(l.Dir, r.String())
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("user namespaces: lease %s: %w", r, err)
	}
	_, err = f.WriteString(owner + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("user namespaces: lease %s: %w", r, err)
	}
	return nil
}

func overlapsAny(r Range, held []lease) bool {
	for _, h := range held {
		if r.Overlaps(h.r) {
			return true
		}
	}
	return false
}
