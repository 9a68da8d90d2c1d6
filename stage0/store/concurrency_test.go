package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Child modes of the test binary, selected by ACIRUN_STORE_CHILD.
//
//	import DIR LOCKDIR FILE        import FILE and exit 0, or print the error and exit 1
//	import-stall DIR LOCKDIR FILE  import FILE, but after half of it create FILE.half and stall forever
//	import-crash DIR LOCKDIR FILE  import FILE, and SIGKILL itself at the commitStep $ACIRUN_STORE_CRASH
//	render-crash DIR LOCKDIR ID    render the stored image ID, and SIGKILL itself at $ACIRUN_STORE_CRASH
func TestMain(m *testing.M) {
	if mode := os.Getenv("ACIRUN_STORE_CHILD"); mode != "" {
		os.Exit(child(mode, strings.Split(os.Getenv("ACIRUN_STORE_CHILD_ARGS"), "\n")))
	}
	os.Exit(m.Run())
}

func child(mode string, args []string) int {
	dir, lockDir, file := args[0], args[1], args[2]
	opts := Options{LockDir: lockDir, NoSync: true}
	if mode == "import-crash" || mode == "render-crash" {
		opts.crashAt = crashAt(commitStep(os.Getenv("ACIRUN_STORE_CRASH")))
	}
	s, err := Open(dir, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if mode == "render-crash" { // FILE is the image ID
		if _, err := s.Render(context.Background(), file, nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var r io.Reader = bytes.NewReader(data)
	if mode == "import-stall" {
		r = &stallReader{data: data, half: file + ".half"}
	}
	img, err := s.Import(context.Background(), r, ImportOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(img.ID)
	return 0
}

// stallReader hands out the first half of data, then signals and blocks.
type stallReader struct {
	data []byte
	off  int
	half string
}

func (r *stallReader) Read(p []byte) (int, error) {
	if r.off >= len(r.data)/2 {
		os.WriteFile(r.half, nil, 0o644)
		select {} // wait for SIGKILL
	}
	n := copy(p, r.data[r.off:min(len(r.data)/2, r.off+len(p))])
	r.off += n
	return n, nil
}

func childCmd(t *testing.T, mode string, s *Store, file string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ACIRUN_STORE_CHILD="+mode,
		"ACIRUN_STORE_CHILD_ARGS="+strings.Join([]string{s.dir, s.lockDir, file}, "\n"))
	return cmd
}

// bigImage is an image large enough that imports overlap in time.
func bigImage(t testing.TB, files, size int) []byte {
	var ents []tent
	for i := 0; i < files; i++ {
		ents = append(ents, reg(fmt.Sprintf("d%d/f%d", i%16, i), strings.Repeat(fmt.Sprintf("%08d", i), size/8)))
	}
	return gz(t, mkACI(t, manifest("example.com/big"), ents...))
}

func assertOneEntry(t *testing.T, s *Store, id string) {
	t.Helper()
	imgs, err := s.List(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].ID != id {
		t.Fatalf("store lists %d images, want exactly %s", len(imgs), id)
	}
	for _, sub := range []string{"blobs", "trees", "images"} {
		if n := dirEntries(t, s, sub); len(n) != 1 {
			t.Errorf("%s/ holds %q, want one entry", sub, n)
		}
	}
	if n := dirEntries(t, s, "tmp"); len(n) != 0 {
		t.Errorf("tmp/ holds %q", n)
	}
	if err := s.VerifyTree(context.Background(), id); err != nil {
		t.Error(err)
	}
}

func TestParallelImportGoroutines(t *testing.T) {
	s := openStore(t)
	data := bigImage(t, 200, 4096)
	// A reader polls all the while: whatever it sees listed must be
	// complete (blob and tree in place).
	stop := make(chan struct{})
	readerDone := make(chan error, 1)
	go func() {
		seen := 0
		for {
			select {
			case <-stop:
				if seen == 0 {
					readerDone <- fmt.Errorf("the reader never saw the image")
					return
				}
				readerDone <- nil
				return
			default:
			}
			imgs, err := s.List(Filter{})
			if err != nil {
				readerDone <- err
				return
			}
			for _, img := range imgs {
				seen++
				tree, err := s.TreePath(img.ID)
				if err != nil {
					readerDone <- err
					return
				}
				n := 0
				filepath.WalkDir(filepath.Join(tree, "rootfs"), func(string, os.DirEntry, error) error { n++; return nil })
				if fi, err := os.Stat(s.blobPath(img.ID)); err != nil || fi.Size() != img.Size || n != 200+16+1 {
					readerDone <- fmt.Errorf("visible image is incomplete: %d tree entries, blob %v %v", n, fi, err)
					return
				}
			}
		}
	}()
	var wg sync.WaitGroup
	ids := make([]string, 10)
	errs := make([]error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			img, err := s.Import(context.Background(), bytes.NewReader(data), ImportOptions{})
			errs[i] = err
			if err == nil {
				ids[i] = img.ID
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-readerDone; err != nil {
		t.Error(err)
	}
	for i := range 10 {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("import %d: %s, %v", i, ids[i], errs[i])
		}
	}
	assertOneEntry(t, s, ids[0])
}

func TestParallelImportProcesses(t *testing.T) {
	s := openStore(t)
	file := filepath.Join(t.TempDir(), "big.aci")
	if err := os.WriteFile(file, bigImage(t, 200, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for range 10 {
		cmd := childCmd(t, "import", s, file)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &out)
	}
	var ids []string
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v: %s", i, err, outs[i])
		}
		ids = append(ids, strings.TrimSpace(outs[i].String()))
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("children printed different IDs: %q", ids)
		}
	}
	assertOneEntry(t, s, ids[0])
}

func TestKill9MidImport(t *testing.T) {
	s := openStore(t)
	data := bigImage(t, 200, 4096)
	file := filepath.Join(t.TempDir(), "big.aci")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := childCmd(t, "import-stall", s, file)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(file + ".half"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("child never reached half way: %s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	// The dead import left staging behind (with files in it) but nothing
	// visible.
	if n := dirEntries(t, s, "tmp"); len(n) != 2 {
		t.Fatalf("tmp/ holds %q, want the dead import's staging and lock", n)
	}
	if imgs, _ := s.List(Filter{}); len(imgs) != 0 {
		t.Fatalf("%d images visible after the killed import", len(imgs))
	}
	// The next Open cleans up; importing again gives one good entry.
	s2, err := Open(s.dir, Options{LockDir: s.lockDir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := dirEntries(t, s2, "tmp"); len(n) != 0 {
		t.Fatalf("tmp/ holds %q after Open", n)
	}
	img := mustImport(t, s2, data)
	assertOneEntry(t, s2, img.ID)
}

// A live import's staging survives another process's Open (which cleans
// only what is unlocked).
func TestOpenKeepsLiveStaging(t *testing.T) {
	s := openStore(t)
	st, err := s.newStaging("import")
	if err != nil {
		t.Fatal(err)
	}
	defer st.remove()
	if _, err := Open(s.dir, Options{LockDir: s.lockDir}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(st.dir); err != nil {
		t.Fatalf("live staging removed: %v", err)
	}
}

// TestLockSource: one holder per source at a time; other sources are free;
// a waiter gives up when its context ends.
func TestLockSource(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	const url = "https://example.com/app.aci"
	unlock, err := s.LockSource(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.LockSource(ctx, "https://example.com/other.aci")
	if err != nil {
		t.Fatalf("another source: %v", err)
	}
	other()

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := s.LockSource(short, url); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), url) {
		t.Fatalf("second holder while the first holds it: %v, want a deadline error naming %s", err, url)
	}

	got := make(chan time.Time, 1)
	go func() {
		u, err := s.LockSource(ctx, url)
		if err != nil {
			t.Error(err)
		} else {
			u()
		}
		got <- time.Now()
	}()
	time.Sleep(100 * time.Millisecond)
	released := time.Now()
	unlock()
	select {
	case at := <-got:
		if at.Before(released) {
			t.Error("the waiter got the lock before it was released")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter did not get the lock after it was released")
	}
}
