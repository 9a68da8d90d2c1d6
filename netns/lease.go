package netns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/acirun/acirun/internal/flock"
	"github.com/acirun/acirun/internal/regfile"
)

// Network is a pod network: an IPv4 subnet, an IPv6 subnet, or both. In
// each, the first address after the subnet's own is the gateway (the host
// end of every pod's link) and the others are leased to pods, one of each
// family per pod, with the leases kept as files in LeaseDir.
type Network struct {
	// Name is the network's name, as --net gives it.
	Name string
	// Subnet is the IPv4 subnet; the zero Prefix for none.
	Subnet netip.Prefix
	// Subnet6 is the IPv6 subnet; the zero Prefix for none.
	Subnet6 netip.Prefix
	// LeaseDir holds one file per leased address, named by the address and
	// holding its owner, and the lock that serialises leasing. It should
	// not outlive a boot (/run/acirun/net/NAME); a lease whose owner is
	// gone (with the owner's link, if the kernel has not removed it yet:
	// removeEndedLink), or that its owner gave back on condition of a
	// link that is gone now (ReleaseWhenGone), is taken back whenever an
	// address is needed.
	LeaseDir string
	// crashAt is told each step of an attachment (crashpoint.go); only
	// the package's tests set it.
	crashAt func(attachStep)
}

// DefaultSubnet is the default network's IPv4 subnet, rkt's.
var DefaultSubnet = netip.MustParsePrefix("172.16.28.0/24")

// DefaultSubnet6 is the default network's IPv6 subnet: a unique local
// /64 (RFC 4193) whose global ID is "aciru" in ASCII (61 63 69 72 75), so
// that it is recognisable in a routing table and the same on every host
// (pods are reached through their host, never across hosts, so hosts need
// not pick different ones).
var DefaultSubnet6 = netip.MustParsePrefix("fd61:6369:7275::/64")

// Default is the network every pod gets unless it asks for the host's or
// none, with its leases under leaseRoot/default: DefaultSubnet and
// DefaultSubnet6 unless the host's configuration says otherwise.
func Default(leaseRoot string) Network {
	return Network{Name: "default", Subnet: DefaultSubnet, Subnet6: DefaultSubnet6, LeaseDir: filepath.Join(leaseRoot, "default")}
}

// Gateway is the IPv4 subnet's first address: the host end of every pod's
// link. It is the zero Addr on a network without IPv4.
func (n Network) Gateway() netip.Addr { return gateway(n.Subnet) }

// Gateway6 is the IPv6 subnet's ::1, the host end of every pod's link (::
// itself is the subnet-router anycast address). It is the zero Addr on a
// network without IPv6.
func (n Network) Gateway6() netip.Addr { return gateway(n.Subnet6) }

func gateway(p netip.Prefix) netip.Addr {
	if !p.IsValid() {
		return netip.Addr{}
	}
	return p.Masked().Addr().Next()
}

// Check says what is wrong with n's subnets, if anything: it needs at
// least one; an IPv4 subnet of at least 4 addresses (itself, the gateway,
// a pod, the broadcast address) and an IPv6 one of at least 4 (itself,
// the gateway, a pod and another), each given as the subnet's own address.
func (n Network) Check() error {
	if !n.Subnet.IsValid() && !n.Subnet6.IsValid() {
		return fmt.Errorf("network %s: no subnet: want an IPv4 subnet, an IPv6 subnet or both", n.Name)
	}
	if p := n.Subnet; p.IsValid() && (!p.Addr().Is4() || p.Bits() > 30) {
		return fmt.Errorf("network %s: subnet %s: want an IPv4 subnet of at least 4 addresses (at most /30)", n.Name, p)
	}
	if p := n.Subnet6; p.IsValid() && (!p.Addr().Is6() || p.Addr().Is4In6() || p.Addr().Zone() != "" || p.Bits() > 126) {
		return fmt.Errorf("network %s: IPv6 subnet %s: want an IPv6 subnet of at least 4 addresses (at most /126)", n.Name, p)
	}
	for _, p := range []netip.Prefix{n.Subnet, n.Subnet6} {
		if p.IsValid() && p != p.Masked() {
			return fmt.Errorf("network %s: subnet %s has host bits set: write it as %s", n.Name, p, p.Masked())
		}
	}
	return nil
}

// Addrs are a pod's addresses on a network: an IPv4 one, an IPv6 one, or
// both, as the network has subnets (the zero Addr where it has none).
type Addrs struct {
	IPv4, IPv6 netip.Addr
}

// lastFile and lastFile6 remember the address of each family leased last,
// so that an address just given back is not handed out again at once.
const (
	lastFile  = ".last"
	lastFile6 = ".last6"
)

// Lease leases an address of each of the network's subnets to owner (a pod
// directory), under one hold of the lock. alive tells whether the owner of
// an existing lease still needs it; a lease whose owner is not alive is
// taken back. Leasing is serialised by a lock in LeaseDir, for as long as
// ctx allows. On error nothing stays leased.
func (n Network) Lease(ctx context.Context, owner string, alive func(owner string) bool) (Addrs, error) {
	a, _, err := n.lease(ctx, owner, alive)
	return a, err
}

// lease is Lease that also returns the owners whose leases it took back.
func (n Network) lease(ctx context.Context, owner string, alive func(owner string) bool) (Addrs, []string, error) {
	if err := n.Check(); err != nil {
		return Addrs{}, nil, err
	}
	if err := os.MkdirAll(n.LeaseDir, 0o700); err != nil {
		return Addrs{}, nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	lock, err := flock.Lock(ctx, filepath.Join(n.LeaseDir, ".lock"), true)
	if err != nil {
		return Addrs{}, nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	defer flock.Unlock(lock)
	var got Addrs
	var gone []string
	if n.Subnet.IsValid() {
		if got.IPv4, err = n.leaseIn(n.Subnet, lastFile, owner, alive, &gone); err != nil {
			return Addrs{}, nil, err
		}
	}
	if n.Subnet6.IsValid() {
		if got.IPv6, err = n.leaseIn(n.Subnet6, lastFile6, owner, alive, &gone); err != nil {
			n.Release(got, owner)
			return Addrs{}, nil, err
		}
	}
	return got, gone, nil
}

// leaseIn leases an address of subnet (checked, masked) to owner, the lock
// held: from the one after the address in last on, round to it again. The
// owners of the leases it takes back are appended to gone.
func (n Network) leaseIn(subnet netip.Prefix, last, owner string, alive func(string) bool, gone *[]string) (netip.Addr, error) {
	first := gateway(subnet).Next()
	start := first
	if b, err := regfile.ReadFile(filepath.Join(n.LeaseDir, last)); err == nil {
		if a, err := netip.ParseAddr(strings.TrimSpace(string(b))); err == nil && usable(a, subnet) {
			start = a.Next()
		}
	}
	// Every address that usable allows, once. The search ends at the
	// first free one, which is at most one past the number of leases
	// held: an IPv6 subnet's count is never walked.
	count := usableCount(subnet)
	a := start
	var unreadable []string
	for i := uint64(0); i < count; i++ {
		if !usable(a, subnet) {
			a = first
		}
		ok, err := n.take(a, owner, alive, gone, &unreadable)
		if err != nil {
			return netip.Addr{}, err
		}
		if ok {
			_ = writeHint(filepath.Join(n.LeaseDir, last), a)
			return a, nil
		}
		a = a.Next()
	}
	if len(unreadable) == 0 {
		return netip.Addr{}, fmt.Errorf("network %s: no free address in %s: all %d are leased to running pods", n.Name, subnet, count)
	}
	named := unreadable
	if len(named) > maxNamed {
		named = append(named[:maxNamed:maxNamed], fmt.Sprintf("%d more", len(unreadable)-maxNamed))
	}
	return netip.Addr{}, fmt.Errorf("network %s: no free address in %s: of its %d, %d are held by lease files this acirun cannot read (%s), the others leased to running pods: remove such a file once no pod uses its address (acirun gc says why each is bad)",
		n.Name, subnet, count, len(unreadable), strings.Join(named, ", "))
}

// maxNamed is how many unreadable lease files an error names.
const maxNamed = 3

// hintSize is the size of a last-leased hint file: an address padded to
// 39 bytes (the longest an address of a subnet that Check allows prints
// as: eight groups of four hex digits) and a newline.
const hintSize = 40

// writeHint records a, as the address leased last, in the hint file path,
// over the file's old bytes and always as many of them (hintSize), never
// by truncating the file: truncating frees its block, and where the file
// system is mounted with discard (the bench's ext4), freeing a block waits
// for the device to discard it, 5 to 12 ms of every pod's start with the
// lease lock held. A hint is only a hint: a torn one reads as no hint.
func writeHint(path string, a netip.Addr) error {
	f, err := regfile.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(fmt.Appendf(nil, "%-*s\n", hintSize-1, a), 0)
	return errors.Join(err, f.Close())
}

// usable reports whether a may be leased in subnet: not the subnet's own
// address (IPv6's subnet-router anycast address), not the gateway, in
// IPv4 not the broadcast address, and in an IPv6 /64 not one of the 128
// interface identifiers at its top that RFC 5453 reserves for anycast.
// IPv6 has no broadcast address.
func usable(a netip.Addr, subnet netip.Prefix) bool {
	if !subnet.Contains(a) || a == subnet.Addr() || a == gateway(subnet) {
		return false
	}
	if a.Is4() {
		return subnet.Contains(a.Next())
	}
	if subnet.Bits() == 64 {
		b := a.As16()
		iid := uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 |
			uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15])
		return iid < math.MaxUint64-127
	}
	return true
}

// usableCount is how many addresses of subnet usable allows, at most
// math.MaxUint64.
func usableCount(subnet netip.Prefix) uint64 {
	host := subnet.Addr().BitLen() - subnet.Bits()
	switch {
	case subnet.Addr().Is4():
		return 1<<host - 3
	case host > 64:
		return math.MaxUint64
	case host == 64:
		return math.MaxUint64 - 128 - 1 // without the anycast, the gateway and the reserved top
	default:
		return 1<<host - 2
	}
}

// take leases a to owner if it is free or its lease may be taken back
// (reclaimable); the owner of a lease taken back from a pod no longer
// alive is appended to gone, and the path of a lease file it cannot read
// (parseLease), which it leaves alone, to unreadable.
func (n Network) take(a netip.Addr, owner string, alive func(string) bool, gone, unreadable *[]string) (bool, error) {
	path := filepath.Join(n.LeaseDir, a.String())
	for try := 0; try < 2; try++ {
		f, err := regfile.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
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
		b, err := regfile.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("network %s: lease %s: %w", n.Name, a, err)
		}
		var prev leaseFile
		ownerGone := false
		if err == nil {
			if prev, err = parseLease(b); err != nil {
				// Not ours to judge: another address is leased,
				// and acirun gc names this one.
				*unreadable = append(*unreadable, path)
				return false, nil
			}
			var free bool
			if free, ownerGone = prev.reclaimable(alive, linkGone); !free {
				return false, nil
			}
		}
		if ownerGone {
			if err := removeEndedLink(prev.owner); err != nil {
				return false, fmt.Errorf("network %s: take back the lease of %s: %w", n.Name, a, err)
			}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("network %s: take back the lease of %s: %w", n.Name, a, err)
		}
		if ownerGone && !slices.Contains(*gone, prev.owner) {
			*gone = append(*gone, prev.owner)
		}
	}
	return false, nil
}

// Release gives back owner's leases of addrs (either may be the zero
// Addr) at once: call it only once nothing uses them, the host's link to
// the pod and its routes gone (see ReleaseWhenGone). A lease someone else
// holds now (taken back from an owner presumed gone) is left alone.
func (n Network) Release(addrs Addrs, owner string) error {
	var errs []error
	for _, a := range []netip.Addr{addrs.IPv4, addrs.IPv6} {
		if a.IsValid() {
			errs = append(errs, n.release(a, owner))
		}
	}
	return errors.Join(errs...)
}

func (n Network) release(a netip.Addr, owner string) error {
	path := filepath.Join(n.LeaseDir, a.String())
	b, err := regfile.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("network %s: release %s: %w", n.Name, a, err)
	}
	if l, err := parseLease(b); err != nil || l.owner != owner {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("network %s: release %s: %w", n.Name, a, err)
	}
	return nil
}

// ReleaseWhenGone gives back owner's leases of addrs on a condition that
// nobody waits for: each is held until the host link named link, of
// interface index index, is gone, and the next Lease or ReleaseStale to
// find it gone takes the address back. A pod's end calls it, its rules
// removed, instead of waiting for the kernel to remove its link with its
// network namespace (and the host's routes to the pod with it), which is
// done by the machine's one namespace-cleanup work, 2 to 40 ms and more
// after the pod's last process, or never while something else holds the
// namespace. A lease someone else holds now is left alone, and so is one
// already given back.
//
// The condition is a second line added to the lease file, in one write
// (leaseFile); an acirun that predates it reads the whole file as the
// owner, finds no such pod running, and takes the address back as it takes
// back a killed pod's.
func (n Network) ReleaseWhenGone(addrs Addrs, owner, link string, index int) error {
	if link == "" || len(link) >= 16 || strings.ContainsAny(link, " \n") || index <= 0 {
		return fmt.Errorf("network %s: release on condition of link %q (index %d): want a link's name and index", n.Name, link, index)
	}
	var errs []error
	for _, a := range []netip.Addr{addrs.IPv4, addrs.IPv6} {
		if a.IsValid() {
			errs = append(errs, n.releaseWhenGone(a, owner, link, index))
		}
	}
	return errors.Join(errs...)
}

func (n Network) releaseWhenGone(a netip.Addr, owner, link string, index int) error {
	f, err := regfile.OpenFile(filepath.Join(n.LeaseDir, a.String()), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("network %s: release %s: %w", n.Name, a, err)
	}
	defer f.Close()
	// The owner's file, which nobody else writes while its owner lives
	// and has not given it back: read and appended to without the lock.
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("network %s: release %s: %w", n.Name, a, err)
	}
	if l, err := parseLease(b); err != nil || l.owner != owner || l.link != "" {
		return nil // another's, or given back already
	}
	if string(b) != owner+"\n" {
		return fmt.Errorf("network %s: release %s: lease file %s holds %q, not the owner's line alone as take writes it", n.Name, a, f.Name(), b)
	}
	// One write, past the owner's line, and without the lock: a reader
	// that sees a part of it (a line without its newline) reads the
	// owner's line alone (parseLease), a lease held while its owner
	// lives, which it is until this returns.
	if _, err := f.WriteAt(fmt.Appendf(nil, "%s%s %d\n", linkPrefix, link, index), int64(len(b))); err != nil {
		return fmt.Errorf("network %s: release %s: %w", n.Name, a, err)
	}
	return nil
}

// Waiting is a lease given back on condition of a link that is still
// there (ReleaseWhenGone): its owner has ended, and something else holds
// its network namespace, or the kernel has yet to remove it.
type Waiting struct {
	Addr  netip.Addr
	Owner string // the pod directory that gave it back
	Link  string // the host end of its link
	Index int    // the link's interface index
}

// ReleaseStale gives back, for garbage collection, the leases that Lease
// would take back: those whose owners are not alive (a pod whose stage1
// was killed before it could release its addresses, or while it took
// one), and those given back on condition of a link that is gone
// (ReleaseWhenGone); Lease takes them back too, but only when it needs an
// address. Every lease in LeaseDir is looked at, whether or not it is in
// the network's subnets now (the host's configuration may have changed
// them since it was taken). It returns the addresses released and the
// leases still waiting for their links; a lease file it cannot read is an
// error naming it, the others released all the same.
func (n Network) ReleaseStale(ctx context.Context, alive func(owner string) bool) ([]netip.Addr, []Waiting, error) {
	ents, err := os.ReadDir(n.LeaseDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	lock, err := flock.Lock(ctx, filepath.Join(n.LeaseDir, ".lock"), true)
	if err != nil {
		return nil, nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	defer flock.Unlock(lock)
	var released []netip.Addr
	var waiting []Waiting
	var errs []error
	for _, e := range ents {
		a, err := netip.ParseAddr(e.Name())
		if err != nil || a.String() != e.Name() {
			continue // .lock, .last, .last6, an atomic write's temporary file
		}
		b, err := regfile.ReadFile(filepath.Join(n.LeaseDir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("network %s: lease %s: %w", n.Name, a, err))
			continue
		}
		l, err := parseLease(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("network %s: lease %s (%s): %w", n.Name, a, filepath.Join(n.LeaseDir, e.Name()), err))
			continue
		}
		// An empty lease is one whose taker died between making it and
		// writing its owner: take does both with the lock held, as it is
		// here, so none is being written now.
		free, ownerGone := l.reclaimable(alive, linkGone)
		if !free {
			if l.link != "" {
				waiting = append(waiting, Waiting{Addr: a, Owner: l.owner, Link: l.link, Index: l.index})
			}
			continue
		}
		if ownerGone {
			if err := removeEndedLink(l.owner); err != nil {
				errs = append(errs, fmt.Errorf("network %s: release %s: %w", n.Name, a, err))
				continue
			}
		}
		if err := os.Remove(filepath.Join(n.LeaseDir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("network %s: release %s: %w", n.Name, a, err))
			continue
		}
		released = append(released, a)
	}
	return released, waiting, errors.Join(errs...)
}

// linkPrefix begins a lease file's second line (leaseFile).
const linkPrefix = "link "

// leaseFile is what a lease file says. Its first line is the owner (a pod
// directory), as every version of acirun has written it; an owner that
// has given the address back on condition of its link (ReleaseWhenGone)
// has added a second,
//
//	link NAME INDEX
//
// the host end of its link and its interface index, with its newline. A
// second line without its newline that could still become one is a
// ReleaseWhenGone's write read in part (it appends without the lease
// lock): the lease reads as the owner's alone, which it was until that
// write, and is held while its owner lives. The file is a contract
// between processes of different versions on one host: one of the
// owner's line alone is read as before, and one with another second line
// is refused, not guessed at.
type leaseFile struct {
	owner string
	link  string // the link the lease waits for; "" for a lease held while its owner lives
	index int
}

// parseLease reads a lease file's bytes. An empty file (a taker killed
// between making it and writing its owner) is a lease of no owner.
func parseLease(b []byte) (leaseFile, error) {
	first, rest, _ := strings.Cut(string(b), "\n")
	l := leaseFile{owner: strings.TrimSpace(first)}
	if strings.TrimSpace(rest) == "" {
		return l, nil
	}
	line, after, complete := strings.Cut(rest, "\n")
	if !complete && l.owner != "" && partialLinkLine(line) {
		return l, nil
	}
	f := strings.Fields(strings.TrimPrefix(line, linkPrefix))
	var err error
	if !complete || strings.TrimSpace(after) != "" || !strings.HasPrefix(line, linkPrefix) || len(f) != 2 || l.owner == "" {
		err = errors.New("bad")
	} else {
		l.link = f[0]
		l.index, err = strconv.Atoi(f[1])
	}
	if err != nil || l.index <= 0 {
		return leaseFile{}, fmt.Errorf("lease file %q: want the owner's line and at most \"link NAME INDEX\" (written by another version of acirun?): remove it once no pod uses the address", b)
	}
	return l, nil
}

// partialLinkLine reports whether s, a line without its newline, begins a
// "link NAME INDEX" line (leaseFile): the link prefix or a part of it, a
// name of at most 15 bytes or a part of it, and a space and digits.
func partialLinkLine(s string) bool {
	if len(s) <= len(linkPrefix) {
		return strings.HasPrefix(linkPrefix, s)
	}
	rest, ok := strings.CutPrefix(s, linkPrefix)
	if !ok {
		return false
	}
	name, index, spaced := strings.Cut(rest, " ")
	if name == "" && spaced || len(name) >= 16 {
		return false
	}
	return strings.Trim(index, "0123456789") == ""
}

// reclaimable reports whether l's address may be leased again, and
// whether it is taken back from an owner no longer alive, whose rules may
// still name the address (PodRules.Gone): a lease of no owner may; one
// given back on condition of a link, once linkGone says that the link is
// gone (its owner removed its rules before); another, once its owner is
// not alive (a stage1 killed with SIGKILL).
func (l leaseFile) reclaimable(alive func(owner string) bool, linkGone func(link string, index int) bool) (free, ownerGone bool) {
	switch {
	case l.owner == "":
		return true, false
	case l.link != "":
		return linkGone(l.link, l.index), false
	default:
		gone := !alive(l.owner)
		return gone, gone
	}
}

// String is the addresses there are, separated by a space.
func (a Addrs) String() string {
	switch {
	case a.IPv4.IsValid() && a.IPv6.IsValid():
		return a.IPv4.String() + " " + a.IPv6.String()
	case a.IPv6.IsValid():
		return a.IPv6.String()
	default:
		return a.IPv4.String()
	}
}
