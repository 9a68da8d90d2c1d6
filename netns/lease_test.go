package netns

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func testNetwork(t *testing.T, subnet string) Network {
	return Network{Name: "test", Subnet: netip.MustParsePrefix(subnet), LeaseDir: filepath.Join(t.TempDir(), "leases")}
}

func everyoneAlive(string) bool { return true }

func TestLease(t *testing.T) {
	ctx := context.Background()
	n := testNetwork(t, "172.16.28.0/24")
	if g := n.Gateway(); g != netip.MustParseAddr("172.16.28.1") {
		t.Fatalf("gateway %s", g)
	}
	a, err := n.Lease(ctx, "/pods/a", everyoneAlive)
	if err != nil || a != netip.MustParseAddr("172.16.28.2") {
		t.Fatalf("first lease: %s, %v; want 172.16.28.2", a, err)
	}
	b, err := n.Lease(ctx, "/pods/b", everyoneAlive)
	if err != nil || b != netip.MustParseAddr("172.16.28.3") {
		t.Fatalf("second lease: %s, %v; want 172.16.28.3", b, err)
	}
	if got, err := os.ReadFile(filepath.Join(n.LeaseDir, "172.16.28.2")); err != nil || string(got) != "/pods/a\n" {
		t.Errorf("lease file of a: %q, %v", got, err)
	}
	// Released addresses are not handed out again at once.
	if err := n.Release(a, "/pods/a"); err != nil {
		t.Fatal(err)
	}
	c, err := n.Lease(ctx, "/pods/c", everyoneAlive)
	if err != nil || c != netip.MustParseAddr("172.16.28.4") {
		t.Fatalf("lease after a release: %s, %v; want 172.16.28.4", c, err)
	}
	// Release of someone else's lease leaves it.
	if err := n.Release(b, "/pods/other"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(n.LeaseDir, b.String())); err != nil {
		t.Errorf("another owner's release removed b's lease: %v", err)
	}
	// Releasing twice, or what was never leased, is no error.
	if err := n.Release(a, "/pods/a"); err != nil {
		t.Errorf("second release: %v", err)
	}
}

func TestLeaseWrapsAndTakesBackStale(t *testing.T) {
	ctx := context.Background()
	n := testNetwork(t, "10.9.0.0/29") // .1 gateway, .2-.6 for pods, .7 broadcast
	var got []string
	for i := 0; i < 5; i++ {
		a, err := n.Lease(ctx, fmt.Sprintf("/pods/%d", i), everyoneAlive)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.String())
	}
	if strings.Join(got, " ") != "10.9.0.2 10.9.0.3 10.9.0.4 10.9.0.5 10.9.0.6" {
		t.Fatalf("leases %v", got)
	}
	_, err := n.Lease(ctx, "/pods/full", everyoneAlive)
	if err == nil || !strings.Contains(err.Error(), "no free address in 10.9.0.0/29") {
		t.Fatalf("a full network: %v", err)
	}
	// Pod 3 is gone without releasing: its address is taken back, and the
	// search wraps around from the last lease to find it.
	alive := func(owner string) bool { return owner != "/pods/3" }
	a, err := n.Lease(ctx, "/pods/new", alive)
	if err != nil || a != netip.MustParseAddr("10.9.0.5") {
		t.Fatalf("lease with a stale one: %s, %v; want 10.9.0.5", a, err)
	}
	if b, _ := os.ReadFile(filepath.Join(n.LeaseDir, "10.9.0.5")); string(b) != "/pods/new\n" {
		t.Errorf("taken-back lease holds %q", b)
	}
}

// TestReleaseStale: only the leases of owners that are gone are released;
// the lock and the last-lease record stay, and a network that never
// leased anything has nothing to release.
func TestReleaseStale(t *testing.T) {
	ctx := context.Background()
	n := testNetwork(t, "10.9.0.0/29")
	if got, err := n.ReleaseStale(ctx, everyoneAlive); err != nil || len(got) != 0 {
		t.Fatalf("no leases yet: %v, %v", got, err)
	}
	for _, o := range []string{"/pods/a", "/pods/b", "/pods/c"} {
		if _, err := n.Lease(ctx, o, everyoneAlive); err != nil {
			t.Fatal(err)
		}
	}
	got, err := n.ReleaseStale(ctx, func(o string) bool { return o == "/pods/b" })
	if err != nil || fmt.Sprint(got) != "[10.9.0.2 10.9.0.4]" {
		t.Fatalf("released %v, %v; want a's and c's addresses", got, err)
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
	for _, s := range []string{"10.0.0.0/31", "10.0.0.0/32", "fd00::/64"} {
		n := testNetwork(t, s)
		if _, err := n.Lease(context.Background(), "/pods/a", everyoneAlive); err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("subnet %s: %v", s, err)
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
			a, err := n.Lease(context.Background(), owner, everyoneAlive)
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
