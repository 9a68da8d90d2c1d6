package cni

// attachStep names a point of an Attach at which the attaching process
// (stage1 run) may die: each must leave the state so that ReleaseStale,
// once the pod's owner is gone (acirun gc, the next stage1's start), runs
// DEL for every ADD begun and leaves no state, bind mount or cached result
// of the pod (TestCrashAtEveryAttachStep kills a child process at each). A
// step the code marks must be in attachSteps, and every one of them must
// be reached by an Attach to one network, or that test fails.
type attachStep string

const (
	// stepStateMade: the pod's state directory (owner, an empty netns
	// file) is in place.
	stepStateMade attachStep = "state-made"
	// stepNetNSBound: the pod's network namespace is bind mounted there.
	stepNetNSBound attachStep = "netns-bound"
	// stepAddRecorded: a network's attachment is recorded as begun, its
	// ADD not yet run.
	stepAddRecorded attachStep = "add-recorded"
	// stepAddDone: a network's ADD is complete (in libcni's cache).
	stepAddDone attachStep = "add-done"
)

// attachSteps is every attachStep, in the order an Attach to one network
// reaches them (add-recorded and add-done come again for each further
// network).
func attachSteps() []attachStep {
	return []attachStep{stepStateMade, stepNetNSBound, stepAddRecorded, stepAddDone}
}

// reached marks step for the tests' crash hook (Config.crashAt); it does
// nothing otherwise.
func (c Config) reached(step attachStep) {
	if c.crashAt != nil {
		c.crashAt(step)
	}
}
