//go:build linux

package box

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/mountinfo"
)

// hierarchy is one cgroup hierarchy the host has mounted, and the box's
// cgroup in it.
type hierarchy struct {
	// Mountpoint is where the host mounts the hierarchy, e.g.
	// /sys/fs/cgroup/memory; the box mounts it at the same path.
	Mountpoint string
	// Type is "cgroup" (v1) or "cgroup2".
	Type string
	// Options are the mount options naming a v1 hierarchy: its controllers
	// and name=, e.g. "cpu" or "none,name=systemd". Empty for cgroup2.
	Options string
	// Dir is the box's cgroup directory as the host sees it.
	Dir string
}

// v1MountOptions lists the cgroup v1 super options that are not controllers
// and so do not identify a hierarchy.
var v1MountOptions = []string{"rw", "ro", "xattr", "noprefix", "clone_children",
	"cpuset_v2_mode", "favordynmods", "nsdelegate"}

// hostHierarchies finds every cgroup hierarchy mounted in the caller's mount
// namespace and the caller's own cgroup in each, and returns where a box named
// name gets its cgroups: directly below the caller's own, so that limits the
// caller is under apply to the box too.
func hostHierarchies(name string) ([]hierarchy, error) {
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	cgroup, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	return parseHierarchies(string(mountinfo), string(cgroup), name)
}

// parseHierarchies is hostHierarchies on the text of /proc/self/mountinfo
// (text) and /proc/self/cgroup.
func parseHierarchies(text, cgroup, name string) ([]hierarchy, error) {
	own, err := parseOwnCgroups(cgroup)
	if err != nil {
		return nil, err
	}
	mounts, err := mountinfo.Parse(text)
	if err != nil {
		return nil, err
	}
	var hs []hierarchy
	seen := map[string]bool{}
	for _, m := range mounts {
		if m.Root != "/" {
			continue
		}
		typ, mnt, super := m.FSType, m.Mountpoint, m.SuperOptions
		var key, opts string
		switch typ {
		case "cgroup2":
			key = ""
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(super, ",") {
				if !slices.Contains(v1MountOptions, o) && !strings.HasPrefix(o, "release_agent=") {
					ctrls = append(ctrls, o)
				}
			}
			sort.Strings(ctrls)
			key = strings.Join(ctrls, ",")
			opts = key
			if !slices.ContainsFunc(ctrls, func(c string) bool { return !strings.HasPrefix(c, "name=") }) {
				opts = "none," + key
			}
		default:
			continue
		}
		if seen[typ+":"+key] {
			continue // the same hierarchy mounted twice
		}
		path, ok := own[key]
		if !ok {
			return nil, fmt.Errorf("cgroup hierarchy %s (%s) mounted at %s: not in /proc/self/cgroup", typ, key, mnt)
		}
		seen[typ+":"+key] = true
		hs = append(hs, hierarchy{
			Mountpoint: mnt,
			Type:       typ,
			Options:    opts,
			Dir:        filepath.Join(mnt, path, name),
		})
	}
	if len(hs) == 0 {
		return nil, errors.New("no cgroup hierarchy mounted")
	}
	return hs, nil
}

// parseOwnCgroups reads /proc/self/cgroup into a map from the sorted
// controller list of each hierarchy ("" for the unified one) to the
// caller's cgroup.
func parseOwnCgroups(text string) (map[string]string, error) {
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		// 4:memory:/process_api/xyz or 0::/
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") {
			return nil, fmt.Errorf("/proc/self/cgroup: bad line %q", line)
		}
		ctrls := strings.Split(parts[1], ",")
		sort.Strings(ctrls)
		m[strings.Join(ctrls, ",")] = parts[2]
	}
	return m, nil
}

// createCgroups makes the box's cgroup in every hierarchy. cpuset needs its
// cpus and mems copied from the parent before a process can join, and
// clone_children set so that cgroups made inside the box get them too.
// On failure the cgroups already made are removed again.
func createCgroups(hs []hierarchy) error {
	for i, h := range hs {
		if err := os.Mkdir(h.Dir, 0o755); err != nil {
			removeCgroups(hs[:i], time.Second)
			return fmt.Errorf("create cgroup: %w", err)
		}
		if h.Type == "cgroup" && strings.Contains(","+h.Options+",", ",cpuset,") {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				v, err := os.ReadFile(filepath.Join(filepath.Dir(h.Dir), f))
				if err == nil {
					err = os.WriteFile(filepath.Join(h.Dir, f), v, 0)
				}
				if err != nil {
					removeCgroups(hs[:i+1], time.Second)
					return fmt.Errorf("cgroup %s: copy %s: %w", h.Dir, f, err)
				}
			}
			if err := os.WriteFile(filepath.Join(h.Dir, "cgroup.clone_children"), []byte("1"), 0); err != nil {
				removeCgroups(hs[:i+1], time.Second)
				return fmt.Errorf("cgroup %s: %w", h.Dir, err)
			}
		}
	}
	return nil
}

// joinCgroups moves process pid (all its threads) into the box's cgroup of
// every hierarchy.
func joinCgroups(hs []hierarchy, pid int) error {
	for _, h := range hs {
		f := filepath.Join(h.Dir, "cgroup.procs")
		if err := os.WriteFile(f, []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("move process %d into %s: %w", pid, f, err)
		}
	}
	return nil
}

// cgroupTree lists dir and every cgroup below it, deepest first.
func cgroupTree(dir string) []string {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	slices.Reverse(dirs)
	return dirs
}

// cgroupPids returns the processes in the box's cgroups of every hierarchy.
func cgroupPids(hs []hierarchy) []int {
	seen := map[int]bool{}
	var pids []int
	for _, h := range hs {
		for _, d := range cgroupTree(h.Dir) {
			b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
					seen[pid] = true
					pids = append(pids, pid)
				}
			}
		}
	}
	return pids
}

// removeCgroups waits up to timeout for the box's cgroups to empty, kills
// what is still in them after that (only processes the box started can be
// there), and removes every cgroup of the box, deepest first.
func removeCgroups(hs []hierarchy, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for len(cgroupPids(hs)) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, pid := range cgroupPids(hs) {
		unix.Kill(pid, unix.SIGKILL)
	}
	var errs []error
	for _, h := range hs {
		for _, d := range cgroupTree(h.Dir) {
			var err error
			// A cgroup whose last process has just died may still be busy
			// for a moment.
			for try := 0; try < 200; try++ {
				if err = unix.Rmdir(d); err != unix.EBUSY {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err != nil && err != unix.ENOENT {
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}
