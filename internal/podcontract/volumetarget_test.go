package podcontract

import "testing"

func TestVolumeTargetRefusal(t *testing.T) {
	for _, tc := range []struct {
		target string
		refuse bool
	}{
		{"/", true},
		{"/proc", true},
		{"/proc/sys", true},
		{"/proc/sys/kernel", true},
		{"/sys", true},
		{"/sys/fs/cgroup", true},
		{"/dev", true},
		{"/dev/pts", true},
		{"/dev/pts/0", true},
		{"/dev/null", true},
		{"/dev/console", true},
		{"/dev/shm", false},
		{"/dev/shm/x", false},
		{"/data", false},
		{"/procfs", false},
		{"/system", false},
		{"/device", false},
		{"/srv/proc", false},
		{"proc/sys", true}, // relative: taken from the root
		{"/data/../proc", true},
	} {
		if got := VolumeTargetRefusal(tc.target); (got != "") != tc.refuse {
			t.Errorf("%s: refusal %q, want refused %v", tc.target, got, tc.refuse)
		}
	}
}
