package stage1

// StartStep names a point of a pod's start at which one of its processes
// may die (kill -9, the OOM killer, a power cut of the unit's cgroup): the
// supervisor (`run`), the pod's PID 1 (`init`) or an app's launcher
// (`app`). Each must leave the host so that once the unit has stopped and
// `acirun gc` has run nothing of the pod is left (no mount, link, lease,
// nftables rule, cgroup or process) and the next start succeeds. A step the
// code marks must be in startSteps, and every one of them must be reached
// by the start of a pod on the default network, or
// TestCrashAtEveryStartStep fails: a new step of the start cannot be added
// without a kill point.
type StartStep string

// The steps of `stage1 run`, the supervisor.
const (
	// StepPodLocked: the pod is locked and checked, its pid file written,
	// a --private-users range leased.
	StepPodLocked StartStep = "pod-locked"
	// StepExeSealed: the sealed copy of the executable exists.
	StepExeSealed StartStep = "exe-sealed"
	// StepInitStarted: PID 1 runs in the pod's namespaces (waiting for
	// go), its pid recorded.
	StepInitStarted StartStep = "init-started"
	// StepGoSent: PID 1 has been told to set the pod up
	// (podcontract.Go); the network may still be being attached.
	StepGoSent StartStep = "go-sent"
	// StepNetworkAttached: the pod has its link, leases and rules on the
	// default network, and net.json is written.
	StepNetworkAttached StartStep = "network-attached"
	// StepMetadataStarted: the metadata service serves the pod.
	StepMetadataStarted StartStep = "metadata-started"
	// StepMachineRegistered: systemd-machined was asked to register the
	// pod (whatever it answered).
	StepMachineRegistered StartStep = "machine-registered"
	// StepNetworkReadySent: PID 1 has been told the pod's host side is
	// ready (podcontract.NetworkReady) and may start the apps.
	StepNetworkReadySent StartStep = "network-ready-sent"
	// StepAppsStarted: PID 1 said the apps started; the ready file is
	// written and READY=1 sent.
	StepAppsStarted StartStep = "apps-started"
)

// The steps of `stage1 init`, the pod's PID 1, and of `stage1 app`.
const (
	// stepInitGoReceived: PID 1 has the go message.
	stepInitGoReceived StartStep = "init-go-received"
	// stepInitRootsBuilt: the pod's mounts and the apps' roots are set
	// up, and PID 1 waits for NetworkReady: it has made no cgroup, set no
	// sysctl and opened no port.
	stepInitRootsBuilt StartStep = "init-roots-built"
	// stepInitSetUp: the pod's mounts, network, cgroups and the apps'
	// roots are set up; no app is started.
	stepInitSetUp StartStep = "init-set-up"
	// stepAppRootEntered: the launch of an app's main process (PID 1's
	// launching thread, or the app launcher where one is needed) is in the
	// app's root, before its credentials and exec.
	stepAppRootEntered StartStep = "app-root-entered"
)

// startSteps is every StartStep. Steps of different processes race (the
// supervisor's go-sent and PID 1's go-received), so the order is of each
// process's own steps only.
func startSteps() []StartStep {
	return []StartStep{
		StepPodLocked, StepExeSealed, StepInitStarted, StepGoSent, StepNetworkAttached, StepMetadataStarted,
		StepMachineRegistered, StepNetworkReadySent, StepAppsStarted,
		stepInitGoReceived, stepInitRootsBuilt, stepInitSetUp,
		stepAppRootEntered,
	}
}
