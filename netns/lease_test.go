package netns

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// testNetwork is a network of subnet alone (IPv4 or IPv6).
func testNetwork(t *testing.T, subnet string) Network {
	n := Network{Name: "test", LeaseDir: filepath.Join(t.TempDir(), "leases")}
	p := netip.MustParsePrefix(subnet)
	if p.Addr().Is4() {
		n.Subnet = p
	} else {
		n.Subnet6 = p
	}
	return n
}

// lease4 leases from a network of IPv4 alone and returns the address.
func lease4(ctx context.Context, n Network, owner string, alive func(string) bool) (netip.Addr, error) {
	a, err := n.Lease(ctx, owner, alive)
	return a.IPv4, err
}

func release4(n Network, a netip.Addr, owner string) error {
	return n.Release(Addrs{IPv4: a}, owner)
}

func everyoneAlive(string) bool { return true }

func TestLease(t *testing.T) {
	ctx := context.Background()
	n := testNetwork(t, "172.16.28.0/24")
	if g := n.Gateway(); g != netip.MustParseAddr("172.16.28.1") {
		t.Fatalf("gateway %s", g)
	}
	a, err := lease4(ctx, n, "/pods/a", everyoneAlive)
	if err != nil || a != netip.MustParseAddr("172.16.28.2") {
		t.Fatalf("first lease: %s, %v; want 172.16.28.2", a, err)
	}
	b, err := lease4(ctx, n, "/pods/b", everyoneAlive)
	if err != nil || b != netip.MustParseAddr("172.16.28.3") {
		t.Fatalf("second lease: %s, %v; want 172.16.28.3", b, err)
	}
	if got, err := os.ReadFile(filepath.Join(n.LeaseDir, "172.16.28.2")); err != nil || string(got) != "/pods/a\n" {
		t.Errorf("lease file of a: %q, %v", got, err)
	}
	// Released addresses are not handed out again at once.
	if err := release4(n, a, "/pods/a"); err != nil {
		t.Fatal(err)
	}
	c, err := lease4(ctx, n, "/pods/c", everyoneAlive)
	if err != nil || c != netip.MustParseAddr("172.16.28.4") {
		t.Fatalf("lease after a release: %s, %v; want 172.16.28.4", c, err)
	}
	// Release of someone else's lease leaves it.
	if err := release4(n, b, "/pods/other"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(n.LeaseDir, b.String())); err != nil {
		t.Errorf("another owner's release removed b's lease: %v", err)
	}
	// Releasing twice, or what was never leased, is no error.
	if err := release4(n, a, "/pods/a"); err != nil {
		t.Errorf("second release: %v", err)
	}
}

func TestLeaseWrapsAndTakesBackStale(t *testing.T) {
	ctx := context.Background()
	n := testNetwork(t, "10.9.0.0/29") // .1 gateway, .2-.6 for pods, .7 broadcast
	var got []string
	for i := 0; i < 5; i++ {
		a, err := lease4(ctx, n, fmt.Sprintf("/pods/%d", i), everyoneAlive)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.String())
	}
	if strings.Join(got, " ") != "10.9.0.2 10.9.0.3 10.9.0.4 10.9.0.5 10.9.0.6" {
		t.Fatalf("leases %v", got)
	}
	_, err := lease4(ctx, n, "/pods/full", everyoneAlive)
	if err == nil || !strings.Contains(err.Error(), "no free address in 10.9.0.0/29") {
		t.Fatalf("a full network: %v", err)
	}
	// Pod 3 is gone without releasing: its address is taken back, and the
	// search wraps around from the last lease to find it.
	// Its owner is named, for its rules (PodRules.Gone).
	alive := func(owner string) bool { return owner != "/pods/3" }
	addrs, gone, err := n.lease(ctx, "/pods/new", alive)
	if a := addrs.IPv4; err != nil || a != netip.MustParseAddr("10.9.0.5") || !slices.Equal(gone, []string{"/pods/3"}) {
		t.Fatalf("lease with a stale one: %s, taken back from %q, %v; want 10.9.0.5 from /pods/3", a, gone, err)
	}
	if _, gone, err := n.lease(ctx, "/pods/full", alive); err == nil || len(gone) > 0 {
		t.Fatalf("a full network with every owner alive: taken back from %q, %v; want an error and nothing taken back", gone, err)
	}
	if b, _ := os.ReadFile(filepath.Join(n.LeaseDir, "10.9.0.5")); string(b) != "/pods/new\n" {
		t.Errorf("taken-back lease holds %q", b)
	}
}

// TestReleaseStale: only the leases of owners that are gone are released,
// and an empty one (a taker killed before it wrote the owner); the lock
// and the last-lease record stay, and a network that never leased
// anything has nothing to release.
func TestReleaseStale(t *testing.T) {
	ctx := context.Background()
	n := testNetwork(t, "10.9.0.0/29")
	if got, _, err := n.ReleaseStale(ctx, everyoneAlive); err != nil || len(got) != 0 {
		t.Fatalf("no leases yet: %v, %v", got, err)
	}
	for _, o := range []string{"/pods/a", "/pods/b", "/pods/c"} {
		if _, err := n.Lease(ctx, o, everyoneAlive); err != nil {
			t.Fatal(err)
		}
	}
	// A lease made and never written: its taker was killed in between.
	if err := os.WriteFile(filepath.Join(n.LeaseDir, "10.9.0.5"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	got, _, err := n.ReleaseStale(ctx, func(o string) bool { return o == "/pods/b" })
	if err != nil || fmt.Sprint(got) != "[10.9.0.2 10.9.0.4 10.9.0.5]" {
		t.Fatalf("released %v, %v; want a's and c's addresses and the empty lease", got, err)
	}
	ents, _ := os.ReadDir(n.LeaseDir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != ".last .lock 10.9.0.3" {
		t.Errorf("lease directory after ReleaseStale: %q", names)
	}
}

func TestLeaseBadSubnet(t *testing.T) {
	for _, tc := range []struct {
		n    Network
		want string
	}{
		{Network{Subnet: netip.MustParsePrefix("10.0.0.0/31")}, "subnet 10.0.0.0/31: want an IPv4 subnet"},
		{Network{Subnet: netip.MustParsePrefix("10.0.0.0/32")}, "subnet 10.0.0.0/32: want an IPv4 subnet"},
		{Network{Subnet: netip.MustParsePrefix("fd00::/64")}, "subnet fd00::/64: want an IPv4 subnet"},
		{Network{Subnet6: netip.MustParsePrefix("10.0.0.0/24")}, "IPv6 subnet 10.0.0.0/24: want an IPv6 subnet"},
		{Network{Subnet6: netip.MustParsePrefix("::ffff:10.0.0.0/120")}, "IPv6 subnet ::ffff:10.0.0.0/120: want an IPv6 subnet"},
		{Network{Subnet6: netip.MustParsePrefix("fd00::/127")}, "IPv6 subnet fd00::/127: want an IPv6 subnet of at least 4 addresses"},
		{Network{Subnet6: netip.MustParsePrefix("fd00::5/64")}, "subnet fd00::5/64 has host bits set: write it as fd00::/64"},
		{Network{Subnet: netip.MustParsePrefix("10.0.0.1/24")}, "subnet 10.0.0.1/24 has host bits set: write it as 10.0.0.0/24"},
		{Network{}, "no subnet"},
	} {
		tc.n.Name = "test"
		tc.n.LeaseDir = filepath.Join(t.TempDir(), "leases")
		if _, err := tc.n.Lease(context.Background(), "/pods/a", everyoneAlive); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v; want %q", tc.n, err, tc.want)
		}
		if _, err := os.Stat(tc.n.LeaseDir); err == nil {
			t.Errorf("%+v: a refused network made its lease directory", tc.n)
		}
	}
}

func TestLeaseConcurrent(t *testing.T) {
	n := testNetwork(t, "172.16.28.0/24")
	var mu sync.Mutex
	seen := map[netip.Addr]string{}
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(owner string) {
			defer wg.Done()
			a, err := lease4(context.Background(), n, owner, everyoneAlive)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if prev, dup := seen[a]; dup {
				t.Errorf("%s leased to %s and %s", a, prev, owner)
			}
			seen[a] = owner
		}(fmt.Sprintf("/pods/%d", i))
	}
	wg.Wait()
	if len(seen) != 40 {
		t.Errorf("%d distinct addresses for 40 pods", len(seen))
	}
}

// TestGateways: the gateway is the first address after the subnet's own in
// either family (::1 of an IPv6 subnet, whose :: is the subnet-router
// anycast address), and none where the network has no subnet of it.
func TestGateways(t *testing.T) {
	for _, tc := range []struct {
		n      Network
		v4, v6 string
	}{
		{Default("/run/acirun/net"), "172.16.28.1", "fd61:6369:7275::1"},
		{Network{Subnet: netip.MustParsePrefix("10.1.0.0/16")}, "10.1.0.1", "invalid IP"},
		{Network{Subnet6: netip.MustParsePrefix("fd00:1:2:3::/64")}, "invalid IP", "fd00:1:2:3::1"},
		{Network{Subnet6: netip.MustParsePrefix("2001:db8::80/121")}, "invalid IP", "2001:db8::81"},
	} {
		if g, g6 := tc.n.Gateway().String(), tc.n.Gateway6().String(); g != tc.v4 || g6 != tc.v6 {
			t.Errorf("%+v: gateways %s and %s, want %s and %s", tc.n, g, g6, tc.v4, tc.v6)
		}
	}
}

// TestUsable: which addresses a pod may lease, in both families.
func TestUsable(t *testing.T) {
	for _, tc := range []struct {
		subnet, addr string
		want         bool
	}{
		{"172.16.28.0/24", "172.16.28.0", false},   // the subnet's own
		{"172.16.28.0/24", "172.16.28.1", false},   // the gateway
		{"172.16.28.0/24", "172.16.28.2", true},    // the first pod's
		{"172.16.28.0/24", "172.16.28.254", true},  // the last pod's
		{"172.16.28.0/24", "172.16.28.255", false}, // broadcast
		{"172.16.28.0/24", "172.16.29.2", false},   // outside
		{"fd00::/64", "fd00::", false},             // subnet-router anycast
		{"fd00::/64", "fd00::1", false},            // the gateway
		{"fd00::/64", "fd00::2", true},
		{"fd00::/64", "fd00::ffff", true},
		{"fd00::/64", "fd00::ffff:ffff:ffff:ff7f", true},  // the last before the reserved anycast IDs
		{"fd00::/64", "fd00::ffff:ffff:ffff:ff80", false}, // RFC 5453 reserved
		{"fd00::/64", "fd00::ffff:ffff:ffff:ffff", false}, // no broadcast in IPv6, but reserved in a /64
		{"fd00::/120", "fd00::ff", true},                  // no broadcast, no reserved IDs outside a /64
		{"fd00::/120", "fd00::100", false},                // outside
		{"fd00::/64", "172.16.28.2", false},
		{"172.16.28.0/24", "::ffff:172.16.28.2", false},
	} {
		if got := usable(netip.MustParseAddr(tc.addr), netip.MustParsePrefix(tc.subnet)); got != tc.want {
			t.Errorf("usable(%s in %s) = %v, want %v", tc.addr, tc.subnet, got, tc.want)
		}
	}
	for _, tc := range []struct {
		subnet string
		want   uint64
	}{
		{"172.16.28.0/24", 253},
		{"10.0.0.0/30", 1},
		{"fd00::/126", 2},
		{"fd00::/120", 254},
		{"fd00::/64", math.MaxUint64 - 129},
		{"fd00::/48", math.MaxUint64},
	} {
		if got := usableCount(netip.MustParsePrefix(tc.subnet)); got != tc.want {
			t.Errorf("usableCount(%s) = %d, want %d", tc.subnet, got, tc.want)
		}
	}
}

// TestLeaseIPv6: leases in an IPv6 subnet, alone and beside IPv4.
func TestLeaseIPv6(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		subnet  string // an IPv6 subnet alone
		last    string // .last6 before the first lease ("" none)
		owners  int
		want    []string
		wantErr string
	}{
		{name: "first pods of a /64", subnet: "fd61:6369:7275::/64", owners: 3,
			want: []string{"fd61:6369:7275::2", "fd61:6369:7275::3", "fd61:6369:7275::4"}},
		{name: "a /126 has two", subnet: "fd00::/126", owners: 3,
			want: []string{"fd00::2", "fd00::3"}, wantErr: "no free address in fd00::/126: all 2 are leased"},
		{name: "the last address is a pod's: no broadcast", subnet: "fd00::/125", last: "fd00::6", owners: 2,
			want: []string{"fd00::7", "fd00::2"}},
		{name: "the reserved top of a /64 is skipped", subnet: "fd00::/64", last: "fd00::ffff:ffff:ffff:ff7e", owners: 2,
			want: []string{"fd00::ffff:ffff:ffff:ff7f", "fd00::2"}},
		{name: "a last lease outside the subnet is ignored", subnet: "fd00::/64", last: "fd01::9", owners: 1,
			want: []string{"fd00::2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := testNetwork(t, tc.subnet)
			if tc.last != "" {
				if err := os.MkdirAll(n.LeaseDir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(n.LeaseDir, lastFile6), []byte(tc.last+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			var err error
			for i := 0; i < tc.owners; i++ {
				var a Addrs
				if a, err = n.Lease(ctx, fmt.Sprintf("/pods/%d", i), everyoneAlive); err != nil {
					break
				}
				if a.IPv4.IsValid() {
					t.Errorf("an IPv6 network leased %s", a.IPv4)
				}
				got = append(got, a.IPv6.String())
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("leased %v, want %v", got, tc.want)
			}
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestLeaseBoth: a network of both families leases one address of each to
// a pod under one lock, records them as two leases, gives both back, and
// gives back the IPv4 one when IPv6 has none left.
func TestLeaseBoth(t *testing.T) {
	ctx := context.Background()
	n := Network{Name: "test", Subnet: netip.MustParsePrefix("10.9.0.0/29"), Subnet6: netip.MustParsePrefix("fd00::/126"),
		LeaseDir: filepath.Join(t.TempDir(), "leases")}
	a, err := n.Lease(ctx, "/pods/a", everyoneAlive)
	if err != nil || a.IPv4.String() != "10.9.0.2" || a.IPv6.String() != "fd00::2" || a.String() != "10.9.0.2 fd00::2" {
		t.Fatalf("lease: %v, %v", a, err)
	}
	for _, f := range []string{"10.9.0.2", "fd00::2"} {
		if b, err := os.ReadFile(filepath.Join(n.LeaseDir, f)); err != nil || string(b) != "/pods/a\n" {
			t.Errorf("lease file %s: %q, %v", f, b, err)
		}
	}
	if _, err := n.Lease(ctx, "/pods/b", everyoneAlive); err != nil {
		t.Fatal(err)
	}
	// IPv6 is full (fd00::2, fd00::3): the IPv4 address taken for c is
	// given back.
	if c, err := n.Lease(ctx, "/pods/c", everyoneAlive); err == nil || !strings.Contains(err.Error(), "no free address in fd00::/126") {
		t.Fatalf("a third pod with IPv6 full: %v, %v", c, err)
	}
	if _, err := os.Stat(filepath.Join(n.LeaseDir, "10.9.0.4")); err == nil {
		t.Errorf("the IPv4 lease of a refused pod stayed")
	}
	if err := n.Release(a, "/pods/a"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"10.9.0.2", "fd00::2"} {
		if _, err := os.Stat(filepath.Join(n.LeaseDir, f)); err == nil {
			t.Errorf("lease %s outlived its release", f)
		}
	}
	// ReleaseStale takes back both of b's, and a lease of a subnet the
	// network no longer has.
	if err := os.WriteFile(filepath.Join(n.LeaseDir, "fd99::7"), []byte("/pods/old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, _, err := n.ReleaseStale(ctx, func(string) bool { return false })
	if err != nil || fmt.Sprint(got) != "[10.9.0.3 fd00::3 fd99::7]" {
		t.Errorf("ReleaseStale: %v, %v", got, err)
	}
}

// TestWriteHint: the last-leased hint is written over the old one, whatever
// that held (none, an older acirun's "ADDR\n", a longer address), and
// reads back as the new address; the file always has hintSize bytes, so
// that writing it never truncates it (which frees its block, and on a file
// system mounted with discard waits for the device).
func TestWriteHint(t *testing.T) {
	const longest = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0"
	for _, tc := range []struct{ old, addr string }{
		{"", "10.9.0.2"},
		{"172.16.28.254\n", "10.9.0.2"},
		{longest + "\n", "fd00::2"},
		{"fd00::2\n", longest},
	} {
		path := filepath.Join(t.TempDir(), lastFile)
		if tc.old != "" {
			if err := os.WriteFile(path, []byte(tc.old), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		a := netip.MustParseAddr(tc.addr)
		if err := writeHint(path, a); err != nil {
			t.Fatalf("writeHint(%s) over %q: %v", a, tc.old, err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := netip.ParseAddr(strings.TrimSpace(string(b))); err != nil || got != a || len(b) != hintSize {
			t.Errorf("writeHint(%s) over %q: the file holds %q (%d bytes), want the address in %d bytes", a, tc.old, b, len(b), hintSize)
		}
	}
}

// TestParseLease: a lease file of every version reads as its owner wrote
// it: the owner's line alone (as every acirun wrote it, with its newline
// or cut before it), with the condition of a link (ReleaseWhenGone), with
// that condition cut before its newline (read while being written: the
// owner's alone), or empty (a taker killed before it wrote); anything else
// is refused, not guessed at: a second line of another form, a cut one
// that no write of a condition leaves, a condition without an owner.
func TestParseLease(t *testing.T) {
	for _, tc := range []struct {
		file string
		want leaseFile
		err  bool
	}{
		{"/pods/a\n", leaseFile{owner: "/pods/a"}, false},
		{"/pods/a", leaseFile{owner: "/pods/a"}, false},
		{"", leaseFile{}, false},
		{"\n", leaseFile{}, false},
		{"/pods/a\nlink ac-0123456789ab 42\n", leaseFile{owner: "/pods/a", link: "ac-0123456789ab", index: 42}, false},
		{"/pods/a\n\n", leaseFile{owner: "/pods/a"}, false},
		// ReleaseWhenGone's write, read in part: the owner's lease.
		{"/pods/a\nlink ac-x 42", leaseFile{owner: "/pods/a"}, false},
		{"/pods/a\nlink ac-x 4", leaseFile{owner: "/pods/a"}, false},
		{"/pods/a\nlink ac-x ", leaseFile{owner: "/pods/a"}, false},
		{"/pods/a\nlink ac-x", leaseFile{owner: "/pods/a"}, false},
		{"/pods/a\nlink ", leaseFile{owner: "/pods/a"}, false},
		{"/pods/a\nli", leaseFile{owner: "/pods/a"}, false},
		// Nothing a write of that line could leave.
		{"/pods/a\nlink ac-x 42 ", leaseFile{}, true},
		{"/pods/a\nlink ac-x 4x", leaseFile{}, true},
		{"/pods/a\nlink  42", leaseFile{}, true},
		{"/pods/a\nlink ac-0123456789abcdef", leaseFile{}, true},
		{"/pods/a\nlinks", leaseFile{}, true},
		{"/pods/a\nuntil", leaseFile{}, true},
		{"\nlink ac-x 4", leaseFile{}, true},
		{"/pods/a\nlink ac-x\n", leaseFile{}, true},
		{"/pods/a\nlink ac-x 0\n", leaseFile{}, true},
		{"/pods/a\nlink ac-x -3\n", leaseFile{}, true},
		{"/pods/a\nlink ac-x 42 more\n", leaseFile{}, true},
		{"/pods/a\nlink ac-x 42\nlink ac-y 43\n", leaseFile{}, true},
		{"/pods/a\nuntil 2026-12-07\n", leaseFile{}, true},
		{"\nlink ac-x 42\n", leaseFile{}, true},
	} {
		got, err := parseLease([]byte(tc.file))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseLease(%q) = %+v, %v; want %+v, error %v", tc.file, got, err, tc.want, tc.err)
		}
	}
}

// TestReclaimable: a lease of no owner is free; one given back on
// condition of a link is free once that link is gone, whether or not its
// owner still runs, and nobody's rules are to be removed for it (its owner
// removed them); another is free once its owner is not alive, whose rules
// go then (PodRules.Gone).
func TestReclaimable(t *testing.T) {
	for _, tc := range []struct {
		lease                 leaseFile
		alive, linkGone       bool
		wantFree, wantGoneOwn bool
	}{
		{leaseFile{}, true, false, true, false},
		{leaseFile{owner: "/pods/a"}, true, true, false, false},
		{leaseFile{owner: "/pods/a"}, false, false, true, true},
		{leaseFile{owner: "/pods/a", link: "ac-a", index: 7}, true, false, false, false},
		{leaseFile{owner: "/pods/a", link: "ac-a", index: 7}, false, false, false, false},
		{leaseFile{owner: "/pods/a", link: "ac-a", index: 7}, true, true, true, false},
		{leaseFile{owner: "/pods/a", link: "ac-a", index: 7}, false, true, true, false},
	} {
		var asked []string
		alive := func(o string) bool { asked = append(asked, "alive "+o); return tc.alive }
		linkGone := func(l string, i int) bool { asked = append(asked, fmt.Sprint("link ", l, " ", i)); return tc.linkGone }
		free, ownerGone := tc.lease.reclaimable(alive, linkGone)
		if free != tc.wantFree || ownerGone != tc.wantGoneOwn {
			t.Errorf("%+v, alive %v, link gone %v: free %v, owner gone %v; want %v, %v (asked %q)", tc.lease, tc.alive, tc.linkGone, free, ownerGone, tc.wantFree, tc.wantGoneOwn, asked)
		}
		if tc.lease.link != "" && (len(asked) != 1 || asked[0] != fmt.Sprint("link ", tc.lease.link, " ", tc.lease.index)) {
			t.Errorf("%+v: asked %q; want the link by its name and index alone", tc.lease, asked)
		}
	}
}

// TestReleaseWhenGone: the condition is added to the owner's own leases
// once, as one line, after the owner's; another owner's lease, one given
// back already and an address never leased are left as they are; a link
// that is no name or index is refused. Release of a lease given back on
// condition still removes it (the owner knows its link gone).
func TestReleaseWhenGone(t *testing.T) {
	ctx := context.Background()
	n := testNetwork(t, "10.9.0.0/29")
	n.Subnet6 = netip.MustParsePrefix("fd00:9::/64")
	a, err := n.Lease(ctx, "/pods/a", everyoneAlive)
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.Lease(ctx, "/pods/b", everyoneAlive)
	if err != nil {
		t.Fatal(err)
	}
	read := func(x netip.Addr) string {
		got, _ := os.ReadFile(filepath.Join(n.LeaseDir, x.String()))
		return string(got)
	}
	for _, bad := range []struct {
		link  string
		index int
	}{{"", 3}, {"ac-a", 0}, {"ac-a b", 3}, {"ac-0123456789abc", 3}} {
		if err := n.ReleaseWhenGone(a, "/pods/a", bad.link, bad.index); err == nil {
			t.Errorf("link %q index %d: no error", bad.link, bad.index)
		}
	}
	if err := n.ReleaseWhenGone(a, "/pods/a", "ac-a", 12); err != nil {
		t.Fatal(err)
	}
	if err := n.ReleaseWhenGone(a, "/pods/a", "ac-a", 13); err != nil {
		t.Fatal(err)
	}
	if err := n.ReleaseWhenGone(b, "/pods/a", "ac-a", 12); err != nil {
		t.Fatal(err)
	}
	if err := n.ReleaseWhenGone(Addrs{IPv4: netip.MustParseAddr("10.9.0.6")}, "/pods/a", "ac-a", 12); err != nil {
		t.Fatal(err)
	}
	for x, want := range map[netip.Addr]string{
		a.IPv4: "/pods/a\nlink ac-a 12\n", a.IPv6: "/pods/a\nlink ac-a 12\n",
		b.IPv4: "/pods/b\n", b.IPv6: "/pods/b\n",
	} {
		if got := read(x); got != want {
			t.Errorf("lease of %s: %q, want %q", x, got, want)
		}
	}
	if l := leases(t, n); len(l) != 4 {
		t.Errorf("leases %v, want a's and b's", l)
	}
	if err := n.Release(a, "/pods/a"); err != nil || len(leases(t, n)) != 2 {
		t.Errorf("Release of a lease given back on condition: %v, leases %v", err, leases(t, n))
	}
}

// TestLeaseSkipsUnreadable: a lease file this version cannot read (written
// by another) is never taken back by Lease, which leases another address
// or, when there is none, names it in its error, and acirun gc
// (ReleaseStale) names it and releases the others.
func TestLeaseSkipsUnreadable(t *testing.T) {
	ctx := context.Background()
	n := testNetwork(t, "10.9.0.0/30")
	if err := os.MkdirAll(n.LeaseDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n.LeaseDir, "10.9.0.2"), []byte("/pods/x\nnext-version 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if a, err := lease4(ctx, n, "/pods/a", func(string) bool { return false }); err == nil {
		t.Errorf("leased %s over a lease file it cannot read", a)
	} else if !strings.Contains(err.Error(), filepath.Join(n.LeaseDir, "10.9.0.2")) {
		t.Errorf("no free address, the only one held by a lease file it cannot read: %v; want the file named", err)
	}
	released, _, err := n.ReleaseStale(ctx, func(string) bool { return false })
	if len(released) != 0 || err == nil || !strings.Contains(err.Error(), filepath.Join(n.LeaseDir, "10.9.0.2")) {
		t.Errorf("ReleaseStale: released %v, %v; want nothing and an error naming the file", released, err)
	}
}

// TestReleaseStaleConditionInPart: acirun gc reading a lease file while
// its owner appends the condition of its link (ReleaseWhenGone, without
// the lease lock) reads the owner's lease, held while the owner lives,
// not a bad file; once the owner is gone, it is released as a killed
// pod's. It fails when a condition cut before its newline is refused.
func TestReleaseStaleConditionInPart(t *testing.T) {
	ctx := context.Background()
	n := testNetwork(t, "10.9.0.0/30")
	if err := os.MkdirAll(n.LeaseDir, 0o700); err != nil {
		t.Fatal(err)
	}
	full := "/pods/a\nlink ac-a 12\n"
	for cut := len("/pods/a\n") + 1; cut < len(full); cut++ {
		if err := os.WriteFile(filepath.Join(n.LeaseDir, "10.9.0.2"), []byte(full[:cut]), 0o600); err != nil {
			t.Fatal(err)
		}
		released, waiting, err := n.ReleaseStale(ctx, everyoneAlive)
		if err != nil || len(released) != 0 || len(waiting) != 0 {
			t.Errorf("ReleaseStale of %q, its owner alive: released %v, waiting %v, %v; want the lease held, no error", full[:cut], released, waiting, err)
		}
		released, _, err = n.ReleaseStale(ctx, func(string) bool { return false })
		if err != nil || len(released) != 1 {
			t.Errorf("ReleaseStale of %q, its owner gone: released %v, %v; want it released", full[:cut], released, err)
		}
	}
}
