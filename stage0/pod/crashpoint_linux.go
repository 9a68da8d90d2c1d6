package pod

// prepareStep names a point of writing a pod directory at which the
// process may die: each leaves the pods directory so that RemoveStale
// clears what is half-written and the next Prepare succeeds, and a pod is
// either absent or complete (TestCrashAtEveryPrepareStep kills a child
// process at each). A step the code marks must be in prepareSteps, and
// every one of them must be reached by a Prepare, or that test fails.
type prepareStep string

const (
	// stepPodLocked: the temporary directory exists with the pod's lock.
	stepPodLocked prepareStep = "pod-locked"
	// stepManifestWritten: the pod manifest and its summary are written.
	stepManifestWritten prepareStep = "manifest-written"
	// stepAppsLinked: each app's directory links to its image.
	stepAppsLinked prepareStep = "apps-linked"
	// stepArgsWritten: stage1's arguments are written.
	stepArgsWritten prepareStep = "args-written"
	// stepPreparedMarked: the prepared marker is written, the directory
	// not yet renamed into place.
	stepPreparedMarked prepareStep = "prepared-marked"
	// stepRenamed: the pod is in place under its UUID.
	stepRenamed prepareStep = "renamed"
)

// prepareSteps is every prepareStep, in the order a Prepare reaches them.
func prepareSteps() []prepareStep {
	return []prepareStep{stepPodLocked, stepManifestWritten, stepAppsLinked, stepArgsWritten, stepPreparedMarked, stepRenamed}
}

// reached marks step for the tests' crash hook (Config.crashAt, which only
// the package's own tests set); it does nothing otherwise.
func (c *Config) reached(step prepareStep) {
	if c != nil && c.crashAt != nil {
		c.crashAt(step)
	}
}
