package stage1

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/mountinfo"
	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/internal/regfile"
)

// cgroupMounts are where the memory, cpu and pids controllers can be used
// from the current process: a cgroup v1 hierarchy per controller, or the v2
// unified hierarchy when it is the only one.
type cgroupMounts struct {
	memory, cpu, pids string // directories of our own cgroup in each hierarchy ("" if none)
	v2                string // our own cgroup in a pure v2 system ("" otherwise)
}

// findCgroups reads this process's cgroups and the mount table.
func findCgroups() (cgroupMounts, error) {
	var cm cgroupMounts
	b, err := regfile.ReadFile("/proc/self/cgroup")
	if err != nil {
		return cm, err
	}
	own := ProcCgroups(string(b))
	ms, err := mountinfo.Self()
	if err != nil {
		return cm, err
	}
	for _, m := range ms {
		// Our cgroup p as a path below the mount point, which shows the
		// hierarchy from m.Root down.
		rel := func(p string) string {
			if m.Root != "/" {
				p = strings.TrimPrefix(p, m.Root)
			}
			return filepath.Join(m.Mountpoint, p)
		}
		switch m.FSType {
		case "cgroup2":
			if m.Mountpoint == "/sys/fs/cgroup" {
				if p, ok := own[""]; ok {
					cm.v2 = rel(p)
				}
			}
		case "cgroup":
			for _, o := range strings.Split(m.SuperOptions, ",") {
				p, ok := own[o]
				switch {
				case !ok:
				case o == "memory":
					cm.memory = rel(p)
				case o == "cpu":
					cm.cpu = rel(p)
				case o == "pids":
					cm.pids = rel(p)
				}
			}
		}
	}
	return cm, nil
}

// podCgroupName is the directory, under our own cgroup in each hierarchy,
// that holds the pod's per-app cgroups.
func podCgroupName(uuid string) string { return podcontract.PodCgroupPrefix + uuid }

// setupAppCgroups creates the app's cgroups for its memory and cpu limits
// and its cpu weight (iso), and returns the directories the app must join,
// plus one report line per isolator.
func setupAppCgroups(cm cgroupMounts, uuid, app string, iso *appIsolators) (dirs []string, reports []string) {
	memLimit, cpuMilli := iso.memoryLimit, iso.cpuLimitMilli
	mk := func(base string) (string, error) {
		if base == "" {
			return "", errors.New("no cgroup hierarchy for it")
		}
		d := filepath.Join(base, podCgroupName(uuid), app)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
		return d, nil
	}
	write := func(dir, file, val string) error {
		err := regfile.WriteFile(filepath.Join(dir, file), []byte(val), 0)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s has no %s: the controller is not enabled for acirun's cgroup", dir, file)
		}
		return err
	}
	if memLimit != nil {
		var d string
		var err error
		if cm.v2 != "" {
			if d, err = mk(cm.v2); err == nil {
				err = write(d, "memory.max", strconv.FormatInt(*memLimit, 10))
			}
		} else if d, err = mk(cm.memory); err == nil {
			err = write(d, "memory.limit_in_bytes", strconv.FormatInt(*memLimit, 10))
		}
		if err != nil {
			reports = append(reports, fmt.Sprintf("%s: not enforced (%v)", aci.IsolatorResourceMemory, err))
		} else {
			dirs = append(dirs, d)
			reports = append(reports, fmt.Sprintf("%s: enforced, limit %d bytes (%s)", aci.IsolatorResourceMemory, *memLimit, d))
		}
	}
	if cpuMilli != nil {
		quota := *cpuMilli * 100 // µs per 100 ms period
		if quota < 1000 {
			quota = 1000
		}
		var d string
		var err error
		if cm.v2 != "" {
			if d, err = mk(cm.v2); err == nil {
				err = write(d, "cpu.max", fmt.Sprintf("%d 100000", quota))
			}
		} else if d, err = mk(cm.cpu); err == nil {
			if err = write(d, "cpu.cfs_period_us", "100000"); err == nil {
				err = write(d, "cpu.cfs_quota_us", strconv.FormatInt(quota, 10))
			}
		}
		if err != nil {
			reports = append(reports, fmt.Sprintf("%s: not enforced (%v)", aci.IsolatorResourceCPU, err))
		} else {
			if len(dirs) == 0 || dirs[len(dirs)-1] != d {
				dirs = append(dirs, d)
			}
			reports = append(reports, fmt.Sprintf("%s: enforced, %d millicores (%s)", aci.IsolatorResourceCPU, *cpuMilli, d))
		}
	}
	if shares := iso.cpuShares; shares != nil {
		var d, set string
		var err error
		if cm.v2 != "" {
			if d, err = mk(cm.v2); err == nil {
				set = "cpu.weight " + strconv.FormatInt(aci.LinuxCPUShares(*shares).Weight(), 10)
				err = write(d, "cpu.weight", strconv.FormatInt(aci.LinuxCPUShares(*shares).Weight(), 10))
			}
		} else if d, err = mk(cm.cpu); err == nil {
			set = "cpu.shares " + strconv.FormatInt(*shares, 10)
			err = write(d, "cpu.shares", strconv.FormatInt(*shares, 10))
		}
		if err != nil {
			reports = append(reports, fmt.Sprintf("%s: not enforced (%v)", aci.IsolatorCPUShares, err))
		} else {
			if !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
			reports = append(reports, fmt.Sprintf("%s: enforced, %s (%s)", aci.IsolatorCPUShares, set, d))
		}
	}
	return dirs, reports
}

// limitPodTasks makes the pod's cgroup in the pids hierarchy (the unified
// one on cgroup v2) with pids.max at max, as a unit's TasksMax would, and
// returns it: every process PID 1 starts for an app joins it (appRun's
// cgroups, joined by joinCgroupsAsThread or at the fork), so the apps and
// all they start are bounded together. PID 1 itself stays out: the only
// way to move a running process of many threads is cgroup.procs, where the
// kernel takes its cgroup threadgroup lock, which waits for an RCU grace
// period (about 10 ms of every start here). The apps' own cgroups, in the
// memory and cpu hierarchies, or below it on v2, leave it in force.
func limitPodTasks(cm cgroupMounts, uuid string, max int) (string, error) {
	base := cm.pids
	if base == "" {
		base = cm.v2
	}
	if base == "" {
		return "", errors.New("no pids cgroup hierarchy here")
	}
	d := filepath.Join(base, podCgroupName(uuid))
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	err := regfile.WriteFile(filepath.Join(d, "pids.max"), []byte(strconv.Itoa(max)), 0)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%s has no pids.max: the pids controller is not enabled for acirun's cgroup", d)
	}
	if err != nil {
		return "", err
	}
	return d, nil
}

// threadJoinable says whether a thread can join cgroup dir alone: dir is of
// a v1 hierarchy (it has a tasks file). In the unified hierarchy a thread
// cannot leave its process's domain; a new process enters dir at its fork
// instead (cgroupFD).
func threadJoinable(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "tasks"))
	return err == nil
}

// joinCgroupsAsThread moves the calling thread alone into each of dirs of
// a v1 hierarchy, by writing "0" to its tasks file, and returns the others
// (of the unified hierarchy), which the process the thread forks must
// enter at its fork (cgroupFD). A process forked from the thread starts in
// the thread's cgroups.
//
// "0" in tasks is the one move the kernel makes without its cgroup
// threadgroup lock (kernel/cgroup/cgroup.c, cgroup_procs_write_start):
// writing a PID, or anything to cgroup.procs, takes it, and it waits for
// an RCU grace period, about 10 ms a start on this project's machines.
// The caller's thread must be locked to its goroutine for good, so that
// the Go runtime ends it rather than running other goroutines on it; it is
// one task of these cgroups until then.
func joinCgroupsAsThread(dirs []string) (unified []string, err error) {
	for _, cg := range dirs {
		if !threadJoinable(cg) {
			unified = append(unified, cg)
			continue
		}
		if err := regfile.WriteFile(filepath.Join(cg, "tasks"), []byte("0"), 0); err != nil {
			return nil, fmt.Errorf("join cgroup %s: %w", cg, err)
		}
	}
	return unified, nil
}

// cgroupFD opens the cgroup of the unified hierarchy that a new process
// enters at its fork (clone3's CLONE_INTO_CGROUP, SysProcAttr.CgroupFD),
// which puts it there without the kernel's threadgroup lock: the deepest
// of unified, which must be one cgroup and its ancestors (a process is in
// one cgroup of the hierarchy, and an ancestor's limits hold below it). It
// returns -1 when unified is empty; the caller closes the descriptor.
func cgroupFD(unified []string) (int, error) {
	if len(unified) == 0 {
		return -1, nil
	}
	deepest := slices.MaxFunc(unified, func(a, b string) int { return len(a) - len(b) })
	for _, cg := range unified {
		if cg != deepest && !strings.HasPrefix(deepest, cg+"/") {
			return -1, fmt.Errorf("cgroups %s and %s of the unified hierarchy: a process can be in one only", cg, deepest)
		}
	}
	fd, err := unix.Open(deepest, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("join cgroup %s: %w", deepest, err)
	}
	return fd, nil
}

// startInCgroups calls start on a thread of its own that is in cgroups
// first, so that the process start forks from it starts in them without
// the kernel's threadgroup lock: the thread joins those of v1 hierarchies
// alone (joinCgroupsAsThread), and start gets the descriptor of the one of
// the unified hierarchy, for its fork to enter (cgroupFD, CLONE_INTO_CGROUP;
// -1 if none). It returns what start returns.
func startInCgroups(cgroups []string, start func(cgroupFD int) (int, error)) (int, error) {
	// The thread's cgroups end with it.
	return onOwnThread(func() (int, error) {
		unified, err := joinCgroupsAsThread(cgroups)
		if err != nil {
			return 0, err
		}
		fd, err := cgroupFD(unified)
		if err != nil {
			return 0, err
		}
		if fd >= 0 {
			defer unix.Close(fd)
		}
		return start(fd)
	})
}

// podDirs are the pod's cgroup directories, one in each hierarchy it may
// use, made on demand by setupAppCgroups (and recorded before, for
// podcontract.RemoveCgroups).
func (cm cgroupMounts) podDirs(uuid string) []string {
	var dirs []string
	for _, base := range []string{cm.memory, cm.cpu, cm.pids, cm.v2} {
		if base != "" {
			dirs = append(dirs, filepath.Join(base, podCgroupName(uuid)))
		}
	}
	return dirs
}
