package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// bootIDFile holds the kernel's random ID of the running boot.
const bootIDFile = "/proc/sys/kernel/random/boot_id"

func bootID() (string, error) {
	b, err := os.ReadFile(bootIDFile)
	if err != nil {
		return "", fmt.Errorf("boot ID: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if id == "" {
		return "", fmt.Errorf("boot ID: %s is empty", bootIDFile)
	}
	return id, nil
}

// bootTime is CLOCK_BOOTTIME: it only moves forward within a boot, whatever
// is done to the wall clock.
func bootTime() (time.Duration, error) {
	var t unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &t); err != nil {
		return 0, fmt.Errorf("clock_gettime(CLOCK_BOOTTIME): %w", err)
	}
	return time.Duration(t.Nano()), nil
}

// unsynced records a tree complete now, in this boot, and not synced.
func (s *Store) unsynced() (*Unsynced, error) {
	at, err := bootTime()
	if err != nil {
		return nil, err
	}
	return &Unsynced{Boot: s.opts.BootID, At: at}, nil
}

// needsSettle says whether img's tree was written in an earlier boot and not
// known to have reached the disk before it ended.
func (s *Store) needsSettle(img *Image) bool {
	return img.Unsynced != nil && img.Unsynced.Boot != s.opts.BootID
}

// settle makes sure the tree of id can be used after the boot that wrote it
// ended, maybe in a crash that lost part of it (see settleLocked). stack
// holds the images being rendered above this one, for render's cycle check.
func (s *Store) settle(ctx context.Context, id string, stack []string) error {
	l, err := s.lockImage(ctx, id, true)
	if err != nil {
		return err
	}
	defer l.unlock()
	img, err := s.read(id)
	if err != nil || !s.needsSettle(img) {
		return err
	}
	return s.settleLocked(ctx, img, stack)
}

// settleLocked, with img's exclusive lock held and s.needsSettle(img) true,
// re-hashes the tree, and if it differs from TreeHash (or is missing)
// renders it again from the stored blobs, its dependencies' first. An image
// not rendered yet has its layer discarded, to be extracted again from the
// blob by Render. A tree that checks out is on disk now: its record is
// cleared.
func (s *Store) settleLocked(ctx context.Context, img *Image, stack []string) error {
	id := img.ID
	if !img.Rendered {
		if err := s.discard(s.layerDir(id)); err != nil {
			return fmt.Errorf("settle %s: %w", id, err)
		}
		img.Unsynced = nil
		return s.write(img)
	}
	err := s.verifyTreeLocked(ctx, img)
	if errors.Is(err, ErrTreeMismatch) {
		if _, err := s.renderLocked(ctx, img, nil, stack, true); err != nil {
			return fmt.Errorf("settle %s: the tree was written in an earlier boot and is damaged: render it again: %w", id, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("settle %s: %w", id, err)
	}
	img.Unsynced = nil
	return s.write(img)
}

// readSettled returns id's entry with its shared lock held, its tree
// settled first if needed: in the boot that wrote the tree, or once settled,
// that costs nothing beyond the read.
func (s *Store) readSettled(ctx context.Context, id string) (*Image, *lock, error) {
	for {
		l, err := s.lockImage(ctx, id, false)
		if err != nil {
			return nil, nil, err
		}
		img, err := s.read(id)
		if err != nil {
			l.unlock()
			return nil, nil, err
		}
		if !s.needsSettle(img) {
			return img, l, nil
		}
		l.unlock()
		if err := s.settle(ctx, id, nil); err != nil {
			return nil, nil, err
		}
	}
}

// confirmSynced syncs the store's file system and then clears the record of
// every tree of this boot that was complete before the sync began, and
// settles the trees of earlier boots. GC calls it, so that a reboot finds
// few trees to verify.
func (s *Store) confirmSynced(ctx context.Context) error {
	imgs, err := s.List(Filter{})
	if err != nil {
		return err
	}
	var mine []*Image
	for _, img := range imgs {
		switch {
		case img.Unsynced == nil:
		case s.needsSettle(img):
			if err := s.settle(ctx, img.ID, nil); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		default:
			mine = append(mine, img)
		}
	}
	if len(mine) == 0 {
		return nil
	}
	began, err := bootTime()
	if err != nil {
		return err
	}
	if !s.opts.NoSync {
		fd, err := unix.Open(s.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: s.dir, Err: err}
		}
		err = unix.Syncfs(fd)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("sync %s: %w", s.dir, err)
		}
	}
	for _, img := range mine {
		if err := s.confirm(img.ID, began); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// confirm clears id's record if its tree was complete, in this boot, before
// a sync that began at began. A tree rendered again since is left alone, and
// so is an image locked by someone else (a pod being prepared holds it):
// the record stays, which costs only a verification after a reboot.
func (s *Store) confirm(id string, began time.Duration) error {
	l, err := tryLock(s.lockPath(id), true)
	if err != nil || l == nil {
		return err
	}
	defer l.unlock()
	img, err := s.read(id)
	if err != nil {
		return err
	}
	u := img.Unsynced
	if u == nil || u.Boot != s.opts.BootID || u.At >= began {
		return nil
	}
	img.Unsynced = nil
	return s.write(img)
}
