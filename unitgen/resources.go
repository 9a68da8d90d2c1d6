package unitgen

import (
	"math"

	"github.com/acirun/acirun/aci"
)

// resources are the limits of the unit's cgroup, which holds the pod's
// supervisor (stage1) and all of its apps.
//
// The unit's limits are sums over the apps because that is what the pod
// needs as a whole: stage1 limits each app in a cgroup of its own below the
// unit's (Delegate=yes), with the app's isolator bounded by the pod's (the
// spec's "pod isolators bound app isolators"), so two apps limited to 256
// MiB each may use 512 MiB together, and a unit limited to less would kill
// an app that keeps within its own limit. Setting the sum on the unit makes
// systemd enforce the pod's total on cgroup v1 and v2 alike, including on a
// host where stage1 cannot make cgroups of its own.
//
// A limit is set only when every app has one (its own or the pod's): one
// unlimited app makes the pod unlimited, and any number on the unit would
// be a limit nobody asked for. The supervisor is charged to the unit too;
// it is a few MiB of the sum, and the kernel's OOM killer chooses the app
// that grew, not the supervisor, which lowers its oom_score_adj for that
// (a larger one, a coverage build's, was chosen before).
type resources struct {
	// memoryMax is MemoryMax= in bytes: the sum of the apps' memory
	// limits; 0 when some app is unlimited.
	memoryMax uint64
	// cpuQuotaMilli is CPUQuota= in thousandths of a CPU (1000 = 100%):
	// the sum of the apps' cpu limits; 0 when some app is unlimited.
	cpuQuotaMilli uint64
	// cpuWeight is CPUWeight= (1-10000): the sum of the apps' cpu requests
	// in hundredths of a CPU, so that a pod that asks for one CPU weighs
	// as much as any other unit (systemd's default weight is 100, which
	// cgroup v1 makes 1024 cpu.shares, Kubernetes' shares for one CPU).
	// An app without a request adds nothing, as Kubernetes gives a
	// container without one the least share; 0 when no app has a request,
	// which leaves systemd's default. When every app has an
	// os/linux/cpu-shares (its own or the pod's), an explicit weight,
	// that wins: the sum of the apps' weights converted as stage1 writes
	// each app's (aci.LinuxCPUShares.Weight), so that the pod weighs
	// against other units what its apps weigh together below it.
	cpuWeight uint64
	// oomScoreAdj is OOMScoreAdjust=, the value the supervisor starts
	// with: set when every app has an os/linux/oom-score-adj (its own or
	// the pod's), to the lowest of them. Killing the supervisor ends every
	// app, so it must be no likelier a victim than the best-protected one;
	// it lowers its own and PID 1's further (stage1.ProtectFromOOM and
	// ProtectChildFromOOM, -1000), and gives each app its own value. When some app has none,
	// that app gets the value the supervisor started with, so the unit
	// then keeps systemd's default: the app is then no likelier a victim
	// than any other service's process.
	oomScoreAdj *int
}

// CPUWeight bounds (systemd.resource-control(5)).
const (
	minCPUWeight = 1
	maxCPUWeight = 10000
)

// podResources computes the unit's limits from the isolators of a reified
// pod manifest (every app has its App).
func podResources(pm *aci.PodManifest) resources {
	podMem, _ := pm.Isolators.Memory()
	podCPU, hasPodCPU := pm.Isolators.CPU()
	podOOM, hasPodOOM := pm.Isolators.OOMScoreAdj()
	podShares, hasPodShares := pm.Isolators.CPUShares()

	var r resources
	memSum, memAll := uint64(0), true
	cpuSum, cpuAll := uint64(0), true
	reqSum := uint64(0)
	sharesSum, sharesAll := uint64(0), true
	oomMin, oomAll := math.MaxInt, true
	for _, ra := range pm.Apps {
		is := ra.App.Isolators
		mem, _ := is.Memory()
		if lim := boundedLimit(mem.Limit, podMem.Limit); lim > 0 {
			memSum = addSaturating(memSum, uint64(lim))
		} else {
			memAll = false
		}
		cpu, hasCPU := is.CPU()
		lim := boundedLimit(cpu.LimitMilli, podCPU.LimitMilli)
		if lim > 0 {
			cpuSum = addSaturating(cpuSum, uint64(lim))
		} else {
			cpuAll = false
		}
		// The app's own request, or the pod's standing for an app that
		// has none; never above the app's limit.
		req := int64(0)
		switch {
		case hasCPU:
			req = cpu.RequestMilli
		case hasPodCPU:
			req = podCPU.RequestMilli
		}
		if lim > 0 && req > lim {
			req = lim
		}
		if req > 0 {
			reqSum = addSaturating(reqSum, uint64(req))
		}
		// The app's own weight, or the pod's standing for an app that
		// has none (as stage1 chooses).
		if shares, ok := is.CPUShares(); ok {
			sharesSum = addSaturating(sharesSum, uint64(shares.Weight()))
		} else if hasPodShares {
			sharesSum = addSaturating(sharesSum, uint64(podShares.Weight()))
		} else {
			sharesAll = false
		}
		oom, hasOOM := is.OOMScoreAdj()
		switch {
		case hasOOM:
			oomMin = min(oomMin, int(oom))
		case hasPodOOM:
			oomMin = min(oomMin, int(podOOM))
		default:
			oomAll = false
		}
	}
	// A sum that does not fit is more than any machine has: no limit.
	if memAll && memSum != math.MaxUint64 {
		r.memoryMax = memSum
	}
	// CPUQuotaPerSecUSec is the quota in µs per second: 1000 per milli-CPU.
	if cpuAll && cpuSum <= math.MaxUint64/1000 {
		r.cpuQuotaMilli = cpuSum
	}
	if reqSum > 0 {
		r.cpuWeight = min(max((reqSum+5)/10, minCPUWeight), maxCPUWeight)
	}
	if sharesAll && len(pm.Apps) > 0 {
		r.cpuWeight = min(sharesSum, maxCPUWeight)
	}
	if oomAll && len(pm.Apps) > 0 {
		r.oomScoreAdj = &oomMin
	}
	return r
}

// boundedLimit is an app's limit bounded by the pod's: the smaller of the
// two that are set (> 0), 0 when neither is.
func boundedLimit(app, pod int64) int64 {
	switch {
	case app <= 0:
		return max(pod, 0)
	case pod <= 0:
		return app
	}
	return min(app, pod)
}

// addSaturating adds without wrapping around: a sum too large is
// math.MaxUint64.
func addSaturating(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}
