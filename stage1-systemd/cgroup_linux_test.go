package stage1

import "testing"

// TestCPUWeight: cpu-shares become cgroup v2 weights as systemd converts
// CPUShares= to CPUWeight=, within cpu.weight's range.
func TestCPUWeight(t *testing.T) {
	for shares, want := range map[int64]int64{2: 1, 10: 1, 11: 1, 20: 1, 21: 2, 512: 50, 1024: 100, 2048: 200, 262144: 10000} {
		if got := cpuWeight(shares); got != want {
			t.Errorf("cpuWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}
