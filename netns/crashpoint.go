package netns

// attachStep names a point of a pod's attachment to a network at which
// the attaching process (stage1 run) may die: each must leave the host so
// that once the pod's network namespace has gone (with its PID 1, which
// dies with stage1) and what acirun gc runs for the network has run
// (Network.ReleaseStale, Firewall.RemoveStale), no link, route, lease or
// rule of the pod is left, and the next attachment succeeds
// (TestCrashAtEveryAttachStep kills a child process at each). A step the
// code marks must be in attachSteps, and every one of them must be reached
// by an attachment with both families and a published port, or that test
// fails.
type attachStep string

const (
	// stepLeaseTaken: the pod's addresses are leased (Attach).
	stepLeaseTaken attachStep = "lease-taken"
	// stepVethCreated: the veth pair exists, its pod end already in the
	// pod's namespace.
	stepVethCreated attachStep = "veth-created"
	// stepHostLinkSet: the host end's sysctls are set.
	stepHostLinkSet attachStep = "host-link-set"
	// stepGatewaysAddressed: the host end has the gateway addresses.
	stepGatewaysAddressed attachStep = "gateways-addressed"
	// stepLinkUp: the host end is up.
	stepLinkUp attachStep = "link-up"
	// stepRoutesAdded: the host routes to the pod's addresses exist.
	stepRoutesAdded attachStep = "routes-added"
	// stepNATEnsured: forwarding is on and the network masqueraded;
	// Attach returns.
	stepNATEnsured attachStep = "nat-ensured"
	// stepRulesInstalled: the pod's rules are in acirun's nftables table
	// (Firewall.Install, one transaction), its loopback settings not yet
	// made.
	stepRulesInstalled attachStep = "rules-installed"
)

// attachSteps is every attachStep, in the order an attachment (Attach,
// then Firewall.Install) reaches them.
func attachSteps() []attachStep {
	return []attachStep{stepLeaseTaken, stepVethCreated, stepHostLinkSet, stepGatewaysAddressed, stepLinkUp,
		stepRoutesAdded, stepNATEnsured, stepRulesInstalled}
}

// reached marks step for the tests' crash hook (Network.crashAt, which
// only the package's own tests set); it does nothing otherwise.
func (n Network) reached(step attachStep) {
	if n.crashAt != nil {
		n.crashAt(step)
	}
}

// reached is Network.reached for the firewall's steps.
func (f Firewall) reached(step attachStep) {
	if f.crashAt != nil {
		f.crashAt(step)
	}
}
