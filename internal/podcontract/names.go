package podcontract

import "path/filepath"

// The files of a pod directory (DATA/pods/UUID). docs/pod-layout.md says
// who writes each, when, and what it holds.
const (
	// LockFile is empty; whoever changes the pod holds flock(LOCK_EX) on
	// it: stage0 while preparing, `stage1 run` while the pod runs.
	LockFile = "lock"
	// ManifestFile is the reified pod manifest (an aci.PodManifest).
	ManifestFile = "pod"
	// AppsDir holds a directory per app: apps/NAME/image (a symlink to
	// the rendered image), and while it runs upper, work and rootfs.
	AppsDir = "apps"
	// SummaryFile is what acirun list shows of the pod manifest, written
	// with it: a line per app, its name, its image's name and ID, in a
	// format cheap to read (stage0/pod's encodeSummary and summaryParser,
	// docs/pod-layout.md), so that a list of a thousand pods does not
	// decode a thousand pod manifests. Pods prepared before it existed
	// have none: list reads their pod manifest.
	SummaryFile = "summary"
	// Stage1ArgsFile is a JSON array of the flags of `stage1 run` chosen
	// at prepare time (RunOptions.Args).
	Stage1ArgsFile = "stage1-args.json"
	// PreparedFile is empty and made last: the pod is complete.
	PreparedFile = "prepared"
	// UnitFile names the transient unit stage0 started the pod in, then
	// "\n" (only pods run as one).
	UnitFile = "unit"
	// PIDFile is the decimal host PID of `stage1 run`, then "\n".
	PIDFile = "pid"
	// PPID1File is the decimal host PID of the pod's PID 1, then "\n".
	PPID1File = "ppid1"
	// VolumesDir holds the backing directory of each kind=empty volume.
	VolumesDir = "volumes"
	// NetFile describes the pod's place on the default network.
	NetFile = "net.json"
	// ReadyFile is empty, made when every app's main process has started
	// (and every app that notifies has said READY=1): when `stage1 run`
	// tells systemd READY=1, for readers without a unit to ask.
	ReadyFile = "ready"
	// ExitFile is the exit record (Exit), written when the pod stopped.
	ExitFile = "exit.json"
	// CgroupsFile lists the cgroup directories PID 1 makes for the apps'
	// resource limits (one absolute path a line, RecordCgroups), written
	// before it makes them, so that a pod whose stage1 was killed has
	// them removed by acirun gc (RemoveCgroups).
	CgroupsFile = "cgroups"
)

// UserNSLeaseDir is where, under the run directory (--run-dir), stage1
// keeps the leases of the host ID ranges of pods run with --private-users
// (a userns.Leases), beside the network's address leases (RUN-DIR/net).
const UserNSLeaseDir = "userns"

// The names stage0 keeps in the pods directory (DATA/pods) besides the
// pods themselves, which are named by their UUID.
const (
	// PodsDir is the pods directory's name in the data directory (--dir).
	PodsDir = "pods"
	// PodsLockFile: every prepare holds LOCK_SH on it from resolving its
	// images until its pod is in place; cleaning up needs LOCK_EX.
	PodsLockFile = ".lock"
	// PreparingPrefix starts the name of a pod being written
	// (.prepare-UUID-RANDOM).
	PreparingPrefix = ".prepare-"
	// RemovingPrefix starts the name of a pod being deleted (.remove-UUID).
	RemovingPrefix = ".remove-"
)

// The entries of an app's directory (AppDir).
const (
	// AppImageLink is a symlink to the rendered tree of the app's image in
	// the store: manifest and rootfs/, never written by stage1.
	AppImageLink = "image"
	// AppLowerDir is where, with --private-users, the ID-mapped copy of
	// the app's image is mounted as the overlay's lower layer (inside the
	// pod's mount namespace) on a kernel whose overlayfs takes no
	// unattached copy as a layer (before Linux 6.15); a later one takes
	// it as it is, and the directory is not made.
	AppLowerDir = "lower"
	// AppRootfsDir is where the app's root is mounted (inside the pod's
	// mount namespace), or its private copy with --no-overlay.
	AppRootfsDir = "rootfs"
	// AppUpperDir and AppWorkDir are the overlay's upper and work
	// directories of the app's root: what the app changed is in the upper
	// one (whiteouts and all), which acirun export merges back.
	AppUpperDir = "upper"
	AppWorkDir  = "work"
	// AppProcessFile records the app's main process while it runs
	// (AppProcess), written by PID 1 when it starts it and removed when
	// it has exited.
	AppProcessFile = "process.json"
)

// AppDir returns the directory of app name in the pod directory podDir.
func AppDir(podDir, name string) string {
	return filepath.Join(podDir, AppsDir, name)
}

// VolumeDir returns the backing directory of the kind=empty volume name.
func VolumeDir(podDir, name string) string {
	return filepath.Join(podDir, VolumesDir, name)
}
