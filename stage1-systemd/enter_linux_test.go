package stage1

import (
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/acirun/acirun/internal/mountinfo"
)

// hybridMounts is a cgroup v1 + v2 hybrid host's table, as this project's
// VMs have: a hierarchy per controller, name=systemd, the unified one.
func hybridMounts() []mountinfo.Mount {
	return []mountinfo.Mount{
		{Root: "/", Mountpoint: "/", FSType: "ext4", SuperOptions: "rw"},
		{Root: "/", Mountpoint: "/sys/fs/cgroup", FSType: "tmpfs", SuperOptions: "rw,mode=755"},
		{Root: "/", Mountpoint: "/sys/fs/cgroup/cpu", FSType: "cgroup", SuperOptions: "rw,cpu"},
		{Root: "/", Mountpoint: "/sys/fs/cgroup/cpuacct", FSType: "cgroup", SuperOptions: "rw,cpuacct"},
		{Root: "/", Mountpoint: "/sys/fs/cgroup/memory", FSType: "cgroup", SuperOptions: "rw,memory"},
		{Root: "/", Mountpoint: "/sys/fs/cgroup/net_cls,net_prio", FSType: "cgroup", SuperOptions: "rw,net_cls,net_prio"},
		{Root: "/", Mountpoint: "/sys/fs/cgroup/systemd", FSType: "cgroup", SuperOptions: "rw,xattr,name=systemd"},
		{Root: "/", Mountpoint: "/sys/fs/cgroup/unified", FSType: "cgroup2", SuperOptions: "rw,nsdelegate"},
	}
}

func TestCgroupDirs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cgroup string
		mounts []mountinfo.Mount
		want   []string
		err    string
	}{
		{
			name: "hybrid",
			cgroup: "9:name=systemd:/machine.slice/acirun-u.service\n4:memory:/machine.slice/acirun-u.service/acirun-u/web\n" +
				"3:net_cls,net_prio:/\n2:cpuacct:/x\n1:cpu:/x\n0::/machine.slice/acirun-u.service\n",
			mounts: hybridMounts(),
			want: []string{"/sys/fs/cgroup/systemd/machine.slice/acirun-u.service", "/sys/fs/cgroup/memory/machine.slice/acirun-u.service/acirun-u/web",
				"/sys/fs/cgroup/net_cls,net_prio", "/sys/fs/cgroup/cpuacct/x", "/sys/fs/cgroup/cpu/x", "/sys/fs/cgroup/unified/machine.slice/acirun-u.service"},
		},
		{
			name:   "pure v2",
			cgroup: "0::/machine.slice/acirun-u.service/web\n",
			mounts: []mountinfo.Mount{{Root: "/", Mountpoint: "/sys/fs/cgroup", FSType: "cgroup2"}},
			want:   []string{"/sys/fs/cgroup/machine.slice/acirun-u.service/web"},
		},
		{
			name:   "a bind of part of the hierarchy",
			cgroup: "0::/box/pod/web\n",
			mounts: []mountinfo.Mount{
				{Root: "/other", Mountpoint: "/elsewhere", FSType: "cgroup2"},
				{Root: "/box", Mountpoint: "/sys/fs/cgroup", FSType: "cgroup2"},
			},
			want: []string{"/sys/fs/cgroup/pod/web"},
		},
		{
			name:   "a root that is only a prefix of the name",
			cgroup: "0::/boxer/web\n",
			mounts: []mountinfo.Mount{{Root: "/box", Mountpoint: "/sys/fs/cgroup", FSType: "cgroup2"}},
			err:    "mounted nowhere",
		},
		{
			name:   "a controller mounted nowhere",
			cgroup: "5:devices:/pod\n0::/pod\n",
			mounts: hybridMounts(),
			err:    "cgroup /pod of devices is mounted nowhere here",
		},
		{
			name:   "no unified mount",
			cgroup: "0::/pod\n",
			mounts: hybridMounts()[:7],
			err:    "unified hierarchy",
		},
		{name: "relative path", cgroup: "0::pod\n", mounts: hybridMounts(), err: "not ID:CONTROLLERS:/PATH"},
		{name: "dot-dot", cgroup: "0::/pod/../../etc\n", mounts: hybridMounts(), err: "not ID:CONTROLLERS:/PATH"},
		{name: "garbage", cgroup: "hello\n", mounts: hybridMounts(), err: "not ID:CONTROLLERS:/PATH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cgroupDirs(tc.cgroup, tc.mounts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("cgroupDirs = %q, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("cgroupDirs = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// FuzzCgroupDirs: whatever /proc/PID/cgroup says, every directory given
// is below the mount point of a cgroup file system.
func FuzzCgroupDirs(f *testing.F) {
	f.Add("9:name=systemd:/a\n0::/a/b\n")
	f.Add("4:memory:/x/../y\n")
	f.Add("1:cpu,cpuacct:/\n")
	f.Fuzz(func(t *testing.T, text string) {
		ms := append(hybridMounts(), mountinfo.Mount{Root: "/box", Mountpoint: "/box-cg", FSType: "cgroup2"})
		dirs, err := cgroupDirs(text, ms)
		if err != nil {
			return
		}
		for _, d := range dirs {
			ok := false
			for _, m := range ms {
				if m.FSType != "cgroup" && m.FSType != "cgroup2" {
					continue
				}
				if rel, err := filepath.Rel(m.Mountpoint, d); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
					ok = true
				}
			}
			if !ok {
				t.Fatalf("cgroupDirs(%q) gave %s, outside every cgroup mount", text, d)
			}
		}
	})
}

func TestParseAppOptionsEnter(t *testing.T) {
	o, err := parseAppOptions([]string{"--phase=enter", "--pidfd=3", "/pods/u", "web", "/bin/sh", "-c", "--help"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.pidfd != 3 || o.podDir != "/pods/u" || o.name != "web" || !slices.Equal(o.command, []string{"/bin/sh", "-c", "--help"}) {
		t.Errorf("parseAppOptions: %+v", o)
	}
	enterUsage := "stage1 app --phase=enter: want --pidfd=FD POD-DIR NAME CMD [ARGS...]"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--phase=enter", "/pods/u", "web", "/bin/sh"}, enterUsage},              // no pidfd
		{[]string{"--phase=enter", "--pidfd=3", "/pods/u", "web"}, enterUsage},            // no command
		{[]string{"--phase=enter", "--pidfd=0", "/pods/u", "web", "/bin/sh"}, enterUsage}, // the terminal is no pidfd
		{[]string{"--phase=main", "--pidfd=3", "/pods/u", "web"}, "stage1 app: --pidfd is for --phase=enter only"},
		{[]string{"--phase=main", "/pods/u", "web", "/bin/sh"}, "stage1 app: want POD-DIR NAME"}, // a command is for enter
	} {
		if o, err := parseAppOptions(tc.args, io.Discard); err == nil || err.Error() != tc.want {
			t.Errorf("parseAppOptions(%q) = %+v, %v; want %q", tc.args, o, err, tc.want)
		}
	}
}
