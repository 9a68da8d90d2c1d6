package stage1

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/podcontract"
)

// SealedExecutable returns a descriptor of the executable exe (acirun-pod,
// for the supervisor's PID 1; our own, /proc/self/exe, for enter) that no
// process can write through, for the pod to run from: an
// app that reaches /proc/PID/exe of one of ours must never be able to
// overwrite the host's binary (CVE-2019-5736).
//
// The cheap way (as runc 1.2 does) is a private read-only bind mount of the
// binary, detached from every mount namespace (open_tree): exec'd through it,
// /proc/PID/exe names a read-only mount, and reopening it for writing fails
// with EROFS. Where the kernel lacks open_tree or mount_setattr (before 5.12)
// the binary is copied into a sealed memfd instead, which costs a copy of
// the binary per pod.
func SealedExecutable(exe string) (*os.File, error) {
	if f, err := readOnlyBind(exe); err == nil {
		return f, nil
	}
	return memfdExecutable(exe)
}

// readOnlyBind returns an O_PATH descriptor of file p in a private, detached,
// read-only bind mount.
func readOnlyBind(p string) (*os.File, error) {
	tree, err := unix.OpenTree(unix.AT_FDCWD, p, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("open_tree %s: %w", p, err)
	}
	err = unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &unix.MountAttr{
		Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV})
	if err != nil {
		unix.Close(tree)
		return nil, fmt.Errorf("read-only bind of %s: %w", p, err)
	}
	return os.NewFile(uintptr(tree), p+" (read-only bind)"), nil
}

// memfdExecutable copies the executable exe into a sealed memfd.
func memfdExecutable(exe string) (*os.File, error) {
	fd, err := unix.MemfdCreate(podcontract.PodExecutable, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if err == unix.EINVAL { // kernels before 6.3 know no MFD_EXEC
		fd, err = unix.MemfdCreate(podcontract.PodExecutable, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "memfd:"+podcontract.PodExecutable)
	self, err := os.Open(exe)
	if err != nil {
		mem.Close()
		return nil, fmt.Errorf("open the stage1 executable: %w", err)
	}
	defer self.Close()
	st, err := self.Stat()
	if err != nil {
		mem.Close()
		return nil, err
	}
	for off, size := int64(0), st.Size(); off < size; {
		n, err := unix.Sendfile(fd, int(self.Fd()), nil, int(size-off))
		if err != nil || n == 0 {
			mem.Close()
			return nil, fmt.Errorf("copy own executable: %v", err)
		}
		off += int64(n)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		mem.Close()
		return nil, fmt.Errorf("seal own executable copy: %w", err)
	}
	return mem, nil
}

// ForkExecFile is syscall.ForkExec of the executable exe refers to (a
// sealed executable), for PID 1 and for enter's process.
//
// The child's execve opens /proc/self/fd/N after ForkExec has laid the
// child's descriptors out. It puts attr.Files at 0 to n-1, and before that
// moves what is in the way to numbers above m, the largest of n and the
// numbers in attr.Files: its own status pipe, when that is numbered below
// m+1, then each file numbered below its place (fewer than n of them),
// stepping over the pipe once. A descriptor of exe numbered up to m+n+1
// may then have been replaced, and the child
// would execute whatever took its number: the status pipe or a socket
// (EACCES), or another file. Which numbers are free depends on what else
// the process holds and when (the network's sysctl directories, journal
// streams, the runtime's own files), so exe is executed through a copy
// put past all of them, closed once the child has started. (A copy past
// 2n only was not enough: a pod start failed now and then with "start
// pod init: permission denied" when its copy took the number one past
// its last file, where the child moved its status pipe.)
func ForkExecFile(exe *os.File, argv []string, attr *syscall.ProcAttr) (int, error) {
	m := len(attr.Files)
	for _, f := range attr.Files {
		if int(f) > m && f != ^uintptr(0) {
			m = int(f)
		}
	}
	fd, err := unix.FcntlInt(exe.Fd(), unix.F_DUPFD_CLOEXEC, m+len(attr.Files)+3)
	if err != nil {
		return 0, fmt.Errorf("copy the descriptor of %s: %w", exe.Name(), err)
	}
	defer unix.Close(fd)
	return syscall.ForkExec(fdPath(fd), argv, attr)
}
