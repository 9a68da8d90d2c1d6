package aci

import "fmt"

// Bounds on the lists of a manifest whose every entry costs a pod
// something at run time: a mount, a listening socket and firewall rules, a
// service and its processes, an image to fetch. The spec sets none. A
// manifest under MaxManifestSize (and maxValues) can still list some
// 60000 ports or mount points; these bounds, far above what any real
// image or pod uses, refuse such a manifest when it is validated (image
// validate, fetch, prepare), naming the list and the bound, instead of
// leaving a pod start to make tens of thousands of mounts or rules.
const (
	// MaxPorts bounds an app's ports and a pod's exposed ports. A range
	// of ports is one entry (its count).
	MaxPorts = 1024
	// MaxMountPoints bounds an app's mount points and a pod app's mounts.
	MaxMountPoints = 1024
	// MaxVolumes bounds a pod's volumes.
	MaxVolumes = 1024
	// MaxApps bounds a pod's apps.
	MaxApps = 256
	// MaxDependencies bounds an image's dependencies (each one an image
	// to fetch and render).
	MaxDependencies = 256
	// MaxEnvironment bounds an app's environment variables.
	MaxEnvironment = 4096
)

// tooMany reports, as one error at p, a list of n entries over max, and
// says whether it did: the entries are then not checked one by one (tens
// of thousands of them would only bury the one error that matters).
func tooMany(errs *ErrorList, p string, n, max int) bool {
	if n <= max {
		return false
	}
	errs.add(p, fmt.Sprintf("%d entries, more than the limit of %d", n, max))
	return true
}
