package stage1

import (
	"fmt"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkProtectExecutable compares the two ways of protecting the
// binary the pod runs from: a detached read-only bind mount and a sealed
// memfd copy (the fallback).
func BenchmarkProtectExecutable(b *testing.B) {
	needRoot(b)
	bind := func() (*os.File, error) { return SealedExecutable("/proc/self/exe") }
	memfd := func() (*os.File, error) { return memfdExecutable("/proc/self/exe") }
	for name, open := range map[string]func() (*os.File, error){"bind": bind, "memfd": memfd} {
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				f, err := open()
				if err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}

// sealedTrue returns /bin/true sealed, and /dev/null: what the tests of
// ForkExecFile run and give the child as its files. Both are closed when
// the test ends.
func sealedTrue(t *testing.T) (exe, null *os.File) {
	t.Helper()
	needRoot(t)
	exe, err := SealedExecutable("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exe.Close() })
	null, err = os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { null.Close() })
	return exe, null
}

// waitTrue waits for child pid, which must exit 0 as /bin/true does.
func waitTrue(pid int) error {
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return err
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return fmt.Errorf("child: %v", ws)
	}
	return nil
}

// TestExecPath: a child started by ForkExec with many descriptors executes
// the sealed executable through ForkExecFile even when the executable's
// descriptor has a number that the child's layout reuses, where
// /proc/self/fd/N itself would be /dev/null by the time of the child's
// execve.
func TestExecPath(t *testing.T) {
	exe, null := sealedTrue(t)
	// The child gets /dev/null at 3 to 63, the executable's number among
	// them.
	files := []uintptr{0, 1, 2}
	for len(files) < 64 {
		files = append(files, null.Fd())
	}
	if int(exe.Fd()) >= len(files) {
		t.Fatalf("the executable's descriptor is %d: the test needs it below %d", exe.Fd(), len(files))
	}
	run := func(path string) error {
		pid, err := syscall.ForkExec(path, []string{"true"}, &syscall.ProcAttr{Files: files})
		if err != nil {
			return err
		}
		return waitTrue(pid)
	}
	// The check itself: the bare path fails as described.
	if err := run(fdPath(int(exe.Fd()))); err == nil {
		t.Fatalf("ForkExec of %s with %d files ran the executable: the test shows nothing", fdPath(int(exe.Fd())), len(files))
	}
	pid, err := ForkExecFile(exe, []string{"true"}, &syscall.ProcAttr{Files: files})
	if err == nil {
		err = waitTrue(pid)
	}
	if err != nil {
		t.Errorf("ForkExecFile of fd %d with %d files: %v", exe.Fd(), len(files), err)
	}
}

// TestExecPathPipe: ForkExec moves its status pipe, when it is numbered
// low, to one past the largest descriptor of the child's files; a copy of
// the executable's descriptor must not be there either. The test fills the
// numbers up to last, gives the child 12 files, last among them, and frees
// two numbers below 24 for the pipe: a copy past twice the file count (the
// lowest free number from 24) would be last+1, and the child would execute
// its pipe (EACCES).
func TestExecPathPipe(t *testing.T) {
	exe, null := sealedTrue(t)
	const last = 40
	var fillers []int
	defer func() {
		for _, fd := range fillers {
			unix.Close(fd)
		}
	}()
	for {
		fd, err := unix.Dup(int(null.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		if fd > last {
			unix.Close(fd)
			break
		}
		fillers = append(fillers, fd)
		if fd == last {
			break
		}
	}
	files := []uintptr{0, 1, 2}
	for len(files) < 12 {
		files = append(files, last)
	}
	var low []int
	for i, fd := range fillers {
		if fd < 2*len(files) && len(low) < 2 {
			low = append(low, fd)
			fillers[i] = -1
		}
	}
	if len(low) < 2 || fillers[len(fillers)-1] != last {
		t.Fatalf("descriptors: fillers %v, low %v: the test needs two free numbers below %d and %d filled", fillers, low, 2*len(files), last)
	}
	for _, fd := range low {
		unix.Close(fd)
	}
	pid, err := ForkExecFile(exe, []string{"true"}, &syscall.ProcAttr{Files: files})
	if err != nil {
		t.Fatalf("ForkExecFile with files %v: %v", files, err)
	}
	if err := waitTrue(pid); err != nil {
		t.Error(err)
	}
}
