package extract

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/testenv"
)

// A writer's failure (here the file system filling up under batched files)
// fails the extraction with the name of the file it could not make, however
// many entries the extracting goroutine has taken on since, and Close leaves
// no writer running.
func TestWriterErrorNamesFile(t *testing.T) {
	testenv.NeedRoot(t, "to mount a small tmpfs")
	mnt := t.TempDir()
	if err := unix.Mount("acirun-test", mnt, "tmpfs", 0, "size=256k"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			t.Error(err)
		}
	})
	root := filepath.Join(mnt, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	var es []ent
	for i := range 64 {
		es = append(es, file(fmt.Sprintf("d/f%02d", i), strings.Repeat("x", 32<<10)))
	}
	ctx := context.Background()
	before := runtime.NumGoroutine()
	x, err := New(root, Options{Record: true})
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(mkTar(t, es...)))
	for {
		hdr, rerr := tr.Next()
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			t.Fatal(rerr)
		}
		if err = x.Add(ctx, hdr, tr); err != nil {
			break
		}
	}
	if err == nil {
		_, err = x.Finish(ctx)
	}
	if cerr := x.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	if !errors.Is(err, unix.ENOSPC) || !regexp.MustCompile(`^extract "d/f\d\d": write: `).MatchString(err.Error()) {
		t.Fatalf("error = %v, want the batched file that did not fit named, and ENOSPC", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before New", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An archive of one file per directory does not make the writers hold a
// descriptor for each: the extraction fits in a few hundred descriptors
// however many directories there are.
func TestWriterBoundsOpenDirectories(t *testing.T) {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	lim := old
	lim.Cur = uint64(len(fds) + batches*batchDirs + 32)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_NOFILE, &old)
	var es []ent
	for i := range 3000 {
		es = append(es, file(fmt.Sprintf("d%04d/f", i), "x"))
	}
	target := t.TempDir()
	if _, err := tarChecked(t, bytes.NewReader(mkTar(t, es...)), target, Options{NoOwnership: os.Geteuid() != 0}); err != nil {
		t.Fatal(err)
	}
}
