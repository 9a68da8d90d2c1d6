package podcontract

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/regfile"
)

// PodCgroupPrefix begins the name of a pod's cgroup directory,
// "acirun-UUID", which holds a directory per app with resource limits.
const PodCgroupPrefix = "acirun-"

// RecordCgroups adds dirs, pod cgroup directories (absolute paths named
// PodCgroupPrefix and the pod's UUID), to the pod's CgroupsFile. PID 1
// records them before it makes them: then whoever removes the pod finds
// them, even after a SIGKILL of stage1 before its own cleanup.
func RecordCgroups(podDir string, dirs []string) error {
	var b strings.Builder
	for _, d := range dirs {
		if err := checkPodCgroup(d); err != nil {
			return err
		}
		b.WriteString(d + "\n")
	}
	f, err := regfile.OpenFile(filepath.Join(podDir, CgroupsFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("record the pod's cgroups: %w", err)
	}
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("record the pod's cgroups: %w", err)
	}
	return nil
}

// RemoveCgroups removes the cgroup directories listed in the pod's
// CgroupsFile, and the apps' directories in them, once the pod's processes
// are gone (stage1 run at the pod's end, acirun gc and rm for a pod whose
// stage1 was killed). The kernel frees a cgroup's last tasks
// asynchronously after they exit, so a busy cgroup is retried for a short
// while. A directory that is gone already is no error; a line that is no
// pod cgroup directory is (the file is stage1's, in a directory only root
// writes, but removal is no place to trust it).
func RemoveCgroups(podDir string) error {
	b, err := regfile.ReadFile(filepath.Join(podDir, CgroupsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove the pod's cgroups: %w", err)
	}
	var errs []error
	for _, dir := range strings.Fields(string(b)) {
		if err := checkPodCgroup(dir); err != nil {
			errs = append(errs, fmt.Errorf("remove the pod's cgroups: %s: %w", CgroupsFile, err))
			continue
		}
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); errors.Is(err, unix.ENOENT) {
			continue
		} else if err != nil || (st.Type != unix.CGROUP_SUPER_MAGIC && st.Type != unix.CGROUP2_SUPER_MAGIC) {
			errs = append(errs, fmt.Errorf("remove the pod's cgroups: %s is not in a cgroup file system (%v)", dir, err))
			continue
		}
		ents, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		for _, e := range ents {
			if e.IsDir() {
				if err := rmdirRetry(filepath.Join(dir, e.Name())); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if err := rmdirRetry(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkPodCgroup checks that dir names a pod's cgroup directory: an
// absolute, clean path named PodCgroupPrefix and more.
func checkPodCgroup(dir string) error {
	if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir || !strings.HasPrefix(filepath.Base(dir), PodCgroupPrefix) || filepath.Base(dir) == PodCgroupPrefix {
		return fmt.Errorf("%q is no pod cgroup directory (an absolute path named %sUUID)", dir, PodCgroupPrefix)
	}
	return nil
}

// rmdirRetry removes the cgroup directory d, retrying for 2 s while it is
// busy.
func rmdirRetry(d string) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := os.Remove(d)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
