package stage1

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// writeSysctls sets the pod's sysctls. It must run in the pod's PID 1, after
// the pod's namespaces exist and before any app starts: procfs resolves
// /proc/sys/net/… and the IPC and UTS sysctls in the namespaces of the
// process that writes them, so written from here they are the pod's.
//
// They are written through a fresh procfs instance that is mounted nowhere
// (fsopen and fsmount give a detached mount only this process holds), so
// that nothing mounted over /proc or /proc/sys, in the host's mount table
// or the pod's, decides where a write goes; and each path is walked one
// component at a time without following symbolic links.
func writeSysctls(sysctls []sysctlSetting) error {
	if len(sysctls) == 0 {
		return nil
	}
	proc, err := freshProc()
	if err != nil {
		return err
	}
	defer unix.Close(proc)
	for _, s := range sysctls {
		if s.again {
			continue
		}
		if err := writeSysctl(proc, s); err != nil {
			return fmt.Errorf("%s: isolator os/unix/sysctl: %s: %w", s.from, s.key, err)
		}
	}
	return nil
}

// freshProc mounts a new procfs instance, detached, and returns its root.
func freshProc() (int, error) {
	fs, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("sysctls: fsopen proc: %w (setting sysctls needs Linux 5.2 or later)", err)
	}
	defer unix.Close(fs)
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, fmt.Errorf("sysctls: create procfs instance: %w", err)
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return -1, fmt.Errorf("sysctls: mount procfs instance: %w", err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(mnt, &st); err != nil || st.Type != unix.PROC_SUPER_MAGIC {
		unix.Close(mnt)
		return -1, fmt.Errorf("sysctls: the new procfs instance is not procfs (%v)", err)
	}
	return mnt, nil
}

// writeSysctl opens sys/PATH below proc, component by component with
// O_NOFOLLOW, and writes the value in one write, as the kernel wants it.
func writeSysctl(proc int, s sysctlSetting) error {
	comps := append([]string{"sys"}, strings.Split(s.path, "/")...)
	dir := proc
	for _, c := range comps[:len(comps)-1] {
		if c == "" || c == "." || c == ".." {
			return fmt.Errorf("bad path component %q", c)
		}
		fd, err := unix.Openat(dir, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if dir != proc {
			unix.Close(dir)
		}
		if err != nil {
			return sysctlError(err)
		}
		dir = fd
	}
	last := comps[len(comps)-1]
	if last == "" || last == "." || last == ".." {
		unix.Close(dir)
		return fmt.Errorf("bad path component %q", last)
	}
	fd, err := unix.Openat(dir, last, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	unix.Close(dir)
	if err != nil {
		return sysctlError(err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return errors.New("not a sysctl (not a regular file under /proc/sys)")
	}
	n, err := unix.Write(fd, []byte(s.value))
	if err != nil {
		if err == unix.EINVAL || err == unix.ERANGE {
			return fmt.Errorf("the kernel refused the value %q: %w", s.value, err)
		}
		return fmt.Errorf("write %q: %w", s.value, err)
	}
	if n != len(s.value) {
		return fmt.Errorf("write %q: the kernel took %d of %d bytes", s.value, n, len(s.value))
	}
	return nil
}

// sysctlError explains why a sysctl could not be opened in the pod.
func sysctlError(err error) error {
	switch err {
	case unix.ENOENT:
		return fmt.Errorf("no such sysctl in the pod's namespaces (unknown to this kernel, or global to it): %w", err)
	case unix.EACCES, unix.EPERM, unix.EROFS:
		return fmt.Errorf("not writable in the pod's namespaces (global to the kernel, or read-only): %w", err)
	case unix.ENOTDIR, unix.ELOOP:
		return fmt.Errorf("no such sysctl: %w", err)
	}
	return err
}
