package stage1

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/mountinfo"
	"github.com/acirun/acirun/internal/podcontract"
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
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return cm, err
	}
	own := procCgroups(string(b))
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
		err := os.WriteFile(filepath.Join(dir, file), []byte(val), 0)
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

// limitPodTasks bounds the processes and threads of the calling process
// (PID 1) and of everything it starts from now on to max, as a unit's
// TasksMax would (pids.max): it makes the pod's cgroup in the pids
// hierarchy (the unified one on cgroup v2) and moves itself into it. The
// apps' own cgroups, in the memory and cpu hierarchies, or below it on v2,
// leave it in force. It returns the cgroup.
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
	err := os.WriteFile(filepath.Join(d, "pids.max"), []byte(strconv.Itoa(max)), 0)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%s has no pids.max: the pids controller is not enabled for acirun's cgroup", d)
	}
	if err != nil {
		return "", err
	}
	if err := joinCgroups([]string{d}); err != nil {
		return "", err
	}
	return d, nil
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
