package stage1

import (
	"net/netip"
	"os"
)

// podSpec is what stage1 takes from the reified pod manifest (POD-DIR/pod).
// It is built by specFromManifest so that the mechanics below never depend on
// the manifest's Go types.
type podSpec struct {
	uuid    string
	apps    []*appSpec
	volumes map[string]*volumeSpec
	sysctls []sysctlSetting // os/unix/sysctl of the pod and of every app (pod scope)
	ports   []Port          // every app's ports, as the pod publishes them on the host
}

// Port is one port an app declares (Count ports from Port on), and where
// the host publishes it on a pod network: on HostPort (and the ports after
// it) of HostIP if the pod manifest's ports name it (Explicit; no HostIP
// is every host address), else at the same number where --publish says.
// The supervisor publishes them (package supervisor).
type Port struct {
	Name, Protocol string
	Port, Count    uint
	HostIP         netip.Addr
	HostPort       uint
	Explicit       bool
}

// appSpec is one app of the pod, with everything stage1 needs to run it.
type appSpec struct {
	name      string
	exec      []string
	user      string
	group     string
	suppGIDs  []uint32
	workDir   string
	env       [][2]string // the app's environment, in order
	preStart  []string
	postStop  []string
	mounts    []mountSpec
	readOnly  bool // readOnlyRootFS
	isolators appIsolators
	// operatorCaps: the app's capability isolators are the operator's
	// (podcontract.OperatorCapsAnnotation), so capabilities beyond the
	// default they name are granted without --insecure-options.
	operatorCaps bool
	imageDir     string // POD-DIR/apps/NAME/image
	// listen are the app's socketActivated ports, in manifest order: PID 1
	// opens them and the app receives them from fd 3 on (E8).
	listen []listenPort
}

// listenPort is one socketActivated port of an app: count sockets on
// port, port+1, … The protocol is checked when PID 1 opens them.
type listenPort struct {
	name     string
	protocol string
	port     uint
	count    uint
}

// mountSpec is one volume mounted into an app.
type mountSpec struct {
	volume   *volumeSpec
	target   string // absolute path inside the app's root
	readOnly bool   // the mount point asked for read-only
}

// volumeSpec is a pod volume.
type volumeSpec struct {
	name      string
	kind      string // "host" or "empty"
	source    string // host: absolute host path
	readOnly  bool
	recursive bool
	// idmap (host): bound through an ID-mapped mount of the pod's map
	// (podcontract.IDMapVolumeAnnotationPrefix).
	idmap    bool
	mode     os.FileMode // empty
	uid, gid int         // empty
}

// appIsolators holds the isolators stage1 understands, already bounded by
// the pod's, plus the names of the others (reported as ignored).
type appIsolators struct {
	capsRetain, capsRemove *capSet
	capsBound              *capSet // the pod's capability isolators, if any
	noNewPrivs             bool
	seccomp                *seccompIsolator
	oomScoreAdj            *int
	memoryLimit            *int64 // bytes
	cpuLimitMilli          *int64 // thousandths of a core
	cpuShares              *int64 // os/linux/cpu-shares: the cgroup's cpu.shares (cpu.weight on cgroup v2)
	ignored                []string
}

// hasCgroupLimits reports whether the app needs cgroups of its own
// (setupAppCgroups): a memory or cpu limit, or cpu shares.
func (iso *appIsolators) hasCgroupLimits() bool {
	return iso.memoryLimit != nil || iso.cpuLimitMilli != nil || iso.cpuShares != nil
}

// seccompIsolator is os/linux/seccomp-retain-set or -remove-set.
type seccompIsolator struct {
	retain bool
	set    []string
	errno  string // "" means kill with SIGSYS
}
