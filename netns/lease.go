package netns

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/acirun/acirun/internal/atomicfile"
	"github.com/acirun/acirun/internal/flock"
)

// Network is a pod network: a subnet whose first address is the gateway
// (the host end of every pod's link) and whose others are leased to pods,
// one each, with the leases kept as files in LeaseDir.
type Network struct {
	// Name is the network's name, as --net gives it.
	Name string
	// Subnet holds the gateway and the pods' addresses. IPv4 only.
	Subnet netip.Prefix
	// LeaseDir holds one file per leased address, named by the address and
	// holding its owner, and the lock that serialises leasing. It should
	// not outlive a boot (/run/acirun/net/NAME); a lease whose owner is
	// gone is taken back whenever an address is needed.
	LeaseDir string
}

// DefaultSubnet is the default network's subnet, rkt's.
var DefaultSubnet = netip.MustParsePrefix("172.16.28.0/24")

// Default is the network every pod gets unless it asks for the host's or
// none, with its leases under leaseRoot/default.
func Default(leaseRoot string) Network {
	return Network{Name: "default", Subnet: DefaultSubnet, LeaseDir: filepath.Join(leaseRoot, "default")}
}

// Gateway is the subnet's first address: the host end of every pod's link.
func (n Network) Gateway() netip.Addr { return n.Subnet.Masked().Addr().Next() }

// lastFile remembers the address leased last, so that an address just
// given back is not handed out again at once.
const lastFile = ".last"

// Lease leases an address of the network to owner (a pod directory).
// alive tells whether the owner of an existing lease still needs it; a
// lease whose owner is not alive is taken back. Leasing is serialised by
// a lock in LeaseDir, for as long as ctx allows.
func (n Network) Lease(ctx context.Context, owner string, alive func(owner string) bool) (netip.Addr, error) {
	if !n.Subnet.Addr().Is4() || n.Subnet.Bits() > 30 {
		return netip.Addr{}, fmt.Errorf("network %s: subnet %s: want an IPv4 subnet of at least 4 addresses", n.Name, n.Subnet)
	}
	if err := os.MkdirAll(n.LeaseDir, 0o700); err != nil {
		return netip.Addr{}, fmt.Errorf("network %s: %w", n.Name, err)
	}
	lock, err := flock.Lock(ctx, filepath.Join(n.LeaseDir, ".lock"), true)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("network %s: %w", n.Name, err)
	}
	defer lock.Close()

	subnet := n.Subnet.Masked()
	first := n.Gateway().Next()
	start := first
	if b, err := os.ReadFile(filepath.Join(n.LeaseDir, lastFile)); err == nil {
		if a, err := netip.ParseAddr(strings.TrimSpace(string(b))); err == nil && subnet.Contains(a) {
			start = a.Next()
		}
	}
	// Every address but the subnet's own, the gateway and the broadcast
	// address, from the one after the last leased on, round to it again.
	usable := 1<<(32-subnet.Bits()) - 3
	a := start
	for i := 0; i < usable; i++ {
		if !subnet.Contains(a) || isBroadcast(a, subnet) {
			a = first
		}
		ok, err := n.take(a, owner, alive)
		if err != nil {
			return netip.Addr{}, err
		}
		if ok {
			_ = atomicfile.WriteFile(filepath.Join(n.LeaseDir, lastFile), []byte(a.String()+"\n"), atomicfile.Options{Perm: 0o600, NoSync: true})
			return a, nil
		}
		a = a.Next()
	}
	return netip.Addr{}, fmt.Errorf("network %s: no free address in %s: all %d are leased to running pods", n.Name, n.Subnet, usable)
}

// take leases a to owner if it is free or its owner is not alive.
func (n Network) take(a netip.Addr, owner string, alive func(string) bool) (bool, error) {
	path := filepath.Join(n.LeaseDir, a.String())
	for try := 0; try < 2; try++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = f.WriteString(owner + "\n")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(path)
				return false, fmt.Errorf("network %s: lease %s: %w", n.Name, a, err)
			}
			return true, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return false, fmt.Errorf("network %s: lease %s: %w", n.Name, a, err)
		}
		b, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("network %s: lease %s: %w", n.Name, a, err)
		}
		if prev := strings.TrimSpace(string(b)); err == nil && prev != "" && alive(prev) {
			return false, nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("network %s: take back the lease of %s: %w", n.Name, a, err)
		}
	}
	return false, nil
}

// Release gives back owner's lease of a. A lease someone else holds now
// (taken back from an owner presumed gone) is left alone.
func (n Network) Release(a netip.Addr, owner string) error {
	path := filepath.Join(n.LeaseDir, a.String())
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("network %s: release %s: %w", n.Name, a, err)
	}
	if strings.TrimSpace(string(b)) != owner {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("network %s: release %s: %w", n.Name, a, err)
	}
	return nil
}

// isBroadcast reports whether a is the last address of subnet.
func isBroadcast(a netip.Addr, subnet netip.Prefix) bool {
	return !subnet.Contains(a.Next())
}

// ReleaseStale gives back the leases whose owners are not alive (a pod
// whose stage1 was killed before it could release its address), for
// garbage collection; Lease takes them back too, but only when it needs
// an address. It returns the addresses released.
func (n Network) ReleaseStale(ctx context.Context, alive func(owner string) bool) ([]netip.Addr, error) {
	ents, err := os.ReadDir(n.LeaseDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	lock, err := flock.Lock(ctx, filepath.Join(n.LeaseDir, ".lock"), true)
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	defer lock.Close()
	var released []netip.Addr
	for _, e := range ents {
		a, err := netip.ParseAddr(e.Name())
		if err != nil || !n.Subnet.Contains(a) {
			continue // .lock, .last
		}
		b, err := os.ReadFile(filepath.Join(n.LeaseDir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return released, fmt.Errorf("network %s: lease %s: %w", n.Name, a, err)
		}
		owner := strings.TrimSpace(string(b))
		if owner == "" || alive(owner) {
			continue
		}
		if err := n.Release(a, owner); err != nil {
			return released, err
		}
		released = append(released, a)
	}
	return released, nil
}
