package unitgen

import (
	"math"
	"testing"

	"github.com/acirun/acirun/aci"
)

func TestPodResources(t *testing.T) {
	const mib = 1 << 20
	mem := func(limit int64) aci.IsolatorValue { return aci.ResourceMemory{Request: limit, Limit: limit} }
	cpu := func(req, limit int64) aci.IsolatorValue { return aci.ResourceCPU{RequestMilli: req, LimitMilli: limit} }
	oom := func(n int) aci.IsolatorValue { return aci.LinuxOOMScoreAdj(n) }
	shares := func(n int) aci.IsolatorValue { return aci.LinuxCPUShares(n) }
	intp := func(n int) *int { return &n }
	for _, tc := range []struct {
		name string
		apps []aci.RuntimeApp
		pod  []aci.IsolatorValue
		want resources
	}{
		{"none", []aci.RuntimeApp{testApp("a")}, nil, resources{}},
		{"one app", []aci.RuntimeApp{testApp("a", mem(64*mib), cpu(250, 500), oom(-100))}, nil,
			resources{memoryMax: 64 * mib, cpuQuotaMilli: 500, cpuWeight: 25, oomScoreAdj: intp(-100)}},
		{"two apps: sums, the lowest oom score", []aci.RuntimeApp{
			testApp("a", mem(64*mib), cpu(250, 500), oom(300)),
			testApp("b", mem(32*mib), cpu(1000, 2000), oom(-5)),
		}, nil, resources{memoryMax: 96 * mib, cpuQuotaMilli: 2500, cpuWeight: 125, oomScoreAdj: intp(-5)}},
		{"one app unlimited: no limit, the other's request weighs", []aci.RuntimeApp{
			testApp("a", mem(64*mib), cpu(250, 500), oom(300)),
			testApp("b"),
		}, nil, resources{cpuWeight: 25}},
		{"the pod's limits bound each app and stand for those without", []aci.RuntimeApp{
			testApp("a", mem(64*mib), cpu(4000, 4000)),
			testApp("b", mem(512*mib)),
			testApp("c"),
		}, []aci.IsolatorValue{mem(128 * mib), cpu(500, 1000), oom(200)},
			// a: 64 MiB, 1 CPU (its request bounded by the limit); b: 128
			// MiB, the pod's cpu; c: the pod's.
			resources{memoryMax: 320 * mib, cpuQuotaMilli: 3000, cpuWeight: 200, oomScoreAdj: intp(200)}},
		{"an app's own oom score beside the pod's", []aci.RuntimeApp{testApp("a", oom(-900)), testApp("b")},
			[]aci.IsolatorValue{oom(100)}, resources{oomScoreAdj: intp(-900)}},
		{"oom score of some apps only", []aci.RuntimeApp{testApp("a", oom(-900)), testApp("b")}, nil, resources{}},
		{"a request without a limit", []aci.RuntimeApp{testApp("a", aci.ResourceCPU{RequestMilli: 1})}, nil,
			resources{cpuWeight: 1}},
		{"weight at most 10000", []aci.RuntimeApp{testApp("a", cpu(200000, 0))}, nil, resources{cpuWeight: 10000}},
		{"cpu-shares", []aci.RuntimeApp{testApp("a", shares(2048))}, nil, resources{cpuWeight: 200}},
		{"cpu-shares summed over apps, each converted", []aci.RuntimeApp{
			testApp("a", shares(512)), testApp("b", shares(10)),
		}, nil, resources{cpuWeight: 51}},
		{"cpu-shares win over cpu requests", []aci.RuntimeApp{testApp("a", shares(512), cpu(4000, 0))}, nil, resources{cpuWeight: 50}},
		{"cpu-shares of the pod stand for an app's", []aci.RuntimeApp{
			testApp("a", shares(4096)), testApp("b"),
		}, []aci.IsolatorValue{shares(1024)}, resources{cpuWeight: 500}},
		{"cpu-shares not of every app: the requests' weight", []aci.RuntimeApp{
			testApp("a", shares(4096), cpu(300, 0)), testApp("b"),
		}, nil, resources{cpuWeight: 30}},
		{"cpu-shares not of every app and no request: no weight", []aci.RuntimeApp{
			testApp("a", shares(4096)), testApp("b"),
		}, nil, resources{}},
		{"cpu-shares sum at most 10000", []aci.RuntimeApp{
			testApp("a", shares(262144)), testApp("b", shares(262144)),
		}, nil, resources{cpuWeight: 10000}},
		{"weight rounded", []aci.RuntimeApp{testApp("a", cpu(15, 0)), testApp("b", cpu(4, 0))}, nil, resources{cpuWeight: 2}},
		{"a memory request alone limits nothing", []aci.RuntimeApp{testApp("a", aci.ResourceMemory{Request: mib})}, nil, resources{}},
		{"sums too large for a limit", []aci.RuntimeApp{
			testApp("a", mem(math.MaxInt64), cpu(0, math.MaxInt64)),
			testApp("b", mem(math.MaxInt64), cpu(0, math.MaxInt64)),
			testApp("c", mem(math.MaxInt64), cpu(0, math.MaxInt64)),
		}, nil, resources{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pm := testManifest(tc.apps...)
			for _, v := range tc.pod {
				pm.Isolators = append(pm.Isolators, aci.NewIsolator(v))
			}
			got := podResources(pm)
			if got.memoryMax != tc.want.memoryMax || got.cpuQuotaMilli != tc.want.cpuQuotaMilli || got.cpuWeight != tc.want.cpuWeight ||
				(got.oomScoreAdj == nil) != (tc.want.oomScoreAdj == nil) || got.oomScoreAdj != nil && *got.oomScoreAdj != *tc.want.oomScoreAdj {
				t.Errorf("podResources = %+v (oom %v), want %+v (oom %v)", got, deref(got.oomScoreAdj), tc.want, deref(tc.want.oomScoreAdj))
			}
		})
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}
