package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/acirun/acirun/internal/mountinfo"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// maxHolders is how many holders LinkHolders names at most.
const maxHolders = 5

// LinkHolders names what keeps alive the network namespace at the other
// end of the host link name (of interface index index), as far as this
// host's /proc tells: a process in it ("process 1234 (sleep)"), a process
// holding a descriptor of it ("a descriptor of process 1234 (sleep)"), a
// mount of it in the caller's mount namespace ("a mount on
// /run/netns/x"), at most maxHolders of them. acirun gc says so of an
// ended pod's addresses that wait for their link (Waiting): once these
// are gone, the kernel removes the namespace, the link with it, and the
// addresses can be leased again. None found, the kernel may be removing
// the namespace now, or what holds it is out of view (another mount
// namespace's mount, the kernel's own reference).
func LinkHolders(name string, index int) ([]string, error) {
	l, err := netlink.LinkByIndex(index)
	if errors.Is(err, unix.ENODEV) || (err == nil && l.Attrs().Name != name) {
		return nil, nil // gone meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("link %s: %w", name, err)
	}
	// The namespace is known here by the ID the kernel gave it in
	// ours, the one the link's peer is in: the descriptor of each
	// candidate is asked for its ID (RTM_GETNSID), once per namespace.
	id := l.Attrs().NetNsID
	if id < 0 {
		return nil, fmt.Errorf("link %s: its other end is in no namespace known here", name)
	}
	seen := map[string]bool{} // by the namespace's "net:[INODE]"
	isIt := func(path, ns string) bool {
		if v, ok := seen[ns]; ok {
			return v
		}
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return false
		}
		defer unix.Close(fd)
		got, err := netlink.GetNetNsIdByFd(fd)
		seen[ns] = err == nil && got == id
		return seen[ns]
	}
	var holders []string
	more := 0
	add := func(h string) {
		if len(holders) < maxHolders {
			holders = append(holders, h)
		} else {
			more++
		}
	}
	eachProcess(func(pid string) bool {
		nsPath := filepath.Join("/proc", pid, "ns", "net")
		if ns, err := os.Readlink(nsPath); err == nil && isIt(nsPath, ns) {
			add(processName(pid))
		} else if hasDescriptor(pid, func(path, l string) bool { return strings.HasPrefix(l, "net:[") && isIt(path, l) }) {
			add("a descriptor of " + processName(pid))
		}
		return true
	})
	ms, _ := mountinfo.Self()
	for _, m := range ms {
		if m.FSType == "nsfs" && strings.HasPrefix(m.Root, "net:[") && isIt(m.Mountpoint, m.Root) {
			add("a mount on " + m.Mountpoint)
		}
	}
	if more > 0 {
		holders = append(holders, fmt.Sprintf("%d more", more))
	}
	return holders, nil
}
