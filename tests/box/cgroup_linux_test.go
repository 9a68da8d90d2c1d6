//go:build linux

package box

import (
	"reflect"
	"strings"
	"testing"
)

// This machine's layout: cgroup v1 controllers each on their own, name=systemd,
// and the unified hierarchy in /sys/fs/cgroup/unified; the test process in a
// memory cgroup of its own.
const (
	hybridMountinfo = `22 27 0:21 / /proc rw,relatime - proc proc rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:7 - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
99 27 0:32 /sub /mnt/memory\040copy rw,relatime - cgroup cgroup rw,memory
`
	hybridCgroup = `9:name=systemd:/
4:memory:/process_api/33286
1:cpu:/
0::/
`
)

func TestParseHierarchies(t *testing.T) {
	tests := []struct {
		name      string
		mountinfo string
		cgroup    string
		want      []hierarchy
		err       string
	}{
		{"hybrid", hybridMountinfo, hybridCgroup, []hierarchy{
			{"/sys/fs/cgroup/cpu", "cgroup", "cpu", "/sys/fs/cgroup/cpu/b"},
			{"/sys/fs/cgroup/memory", "cgroup", "memory", "/sys/fs/cgroup/memory/process_api/33286/b"},
			{"/sys/fs/cgroup/systemd", "cgroup", "none,name=systemd", "/sys/fs/cgroup/systemd/b"},
			{"/sys/fs/cgroup/unified", "cgroup2", "", "/sys/fs/cgroup/unified/b"},
		}, ""},
		{"v1 joined controllers",
			"30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpuacct,cpu\n",
			"3:cpu,cpuacct:/user.slice\n",
			[]hierarchy{{"/sys/fs/cgroup/cpu,cpuacct", "cgroup", "cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/user.slice/b"}}, ""},
		{"unified only",
			"30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
			"0::/user.slice/session-1.scope\n",
			[]hierarchy{{"/sys/fs/cgroup", "cgroup2", "", "/sys/fs/cgroup/user.slice/session-1.scope/b"}}, ""},
		{"mounted but not ours", hybridMountinfo, "4:memory:/\n", nil, "cgroup hierarchy cgroup (cpu) mounted at /sys/fs/cgroup/cpu: not in /proc/self/cgroup"},
		{"no cgroups", "22 27 0:21 / /proc rw,relatime - proc proc rw\n", "0::/\n", nil, "no cgroup hierarchy mounted"},
		{"bad cgroup line", hybridMountinfo, "garbage\n", nil, `/proc/self/cgroup: bad line "garbage"`},
		{"bad mountinfo line", "garbage\n", "0::/\n", nil, `mountinfo line 1 "garbage": no " - " separator`},
		{"escaped mount point",
			`30 25 0:26 / /sys/fs/cgroup/my\040cpu rw - cgroup cgroup rw,cpu` + "\n", "1:cpu:/a\n",
			[]hierarchy{{"/sys/fs/cgroup/my cpu", "cgroup", "cpu", "/sys/fs/cgroup/my cpu/a/b"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHierarchies(tt.mountinfo, tt.cgroup, "b")
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseHierarchies(f *testing.F) {
	f.Add(hybridMountinfo, hybridCgroup)
	f.Add("30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "0::/\n")
	f.Fuzz(func(t *testing.T, mountinfo, cgroup string) {
		hs, err := parseHierarchies(mountinfo, cgroup, "b")
		if err != nil {
			return
		}
		for _, h := range hs {
			if !strings.HasSuffix(h.Dir, "/b") || (h.Type != "cgroup" && h.Type != "cgroup2") {
				t.Fatalf("bad hierarchy %+v", h)
			}
		}
	})
}
