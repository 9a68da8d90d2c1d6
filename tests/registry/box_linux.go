package registry

import (
	"fmt"

	"github.com/acirun/acirun/tests/box"
)

// InBox is the network namespace of the box b, for a registry that pods
// and acirun in the box reach on the box's loopback. The registry process
// runs on the host's file system, so its files need not be in the box's
// directory; a file acirun in the box reads (CAFile) must be.
func InBox(b *box.Box) Netns {
	return Netns{
		Path: fmt.Sprintf("/proc/%d/ns/net", b.Pid()),
		Do:   func(f func() error) error { return b.InNetNS("", f) },
	}
}
