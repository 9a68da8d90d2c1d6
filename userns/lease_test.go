package userns

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func everyoneAlive(string) bool { return true }

func TestLeaseDisjoint(t *testing.T) {
	ctx := context.Background()
	l := Leases{Dir: filepath.Join(t.TempDir(), "userns")}
	a, err := l.Lease(ctx, "/pods/a", everyoneAlive)
	if err != nil || a != (Range{AutoFirst, AutoSize}) {
		t.Fatalf("first lease: %v, %v; want %d:%d", a, err, AutoFirst, AutoSize)
	}
	b, err := l.Lease(ctx, "/pods/b", everyoneAlive)
	if err != nil || b != (Range{AutoFirst + AutoSize, AutoSize}) {
		t.Fatalf("second lease: %v, %v", b, err)
	}
	if got, err := os.ReadFile(filepath.Join(l.Dir, a.String())); err != nil || string(got) != "/pods/a\n" {
		t.Errorf("lease file of a: %q, %v", got, err)
	}
	// A released range is not handed out again at once.
	if err := l.Release(a, "/pods/a"); err != nil {
		t.Fatal(err)
	}
	c, err := l.Lease(ctx, "/pods/c", everyoneAlive)
	if err != nil || c.Overlaps(b) || c == a {
		t.Fatalf("third lease: %v, %v (a was %v, b is %v)", c, err, a, b)
	}
	// Releasing what another owner holds leaves it.
	if err := l.Release(b, "/pods/not-b"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(l.Dir, b.String())); err != nil {
		t.Errorf("b's lease gone after another owner's release: %v", err)
	}
}

// TestLeaseConcurrent: pods leasing at once never share an ID.
func TestLeaseConcurrent(t *testing.T) {
	ctx := context.Background()
	l := Leases{Dir: filepath.Join(t.TempDir(), "userns")}
	const n = 40
	got := make([]Range, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := l.Lease(ctx, fmt.Sprintf("/pods/%d", i), everyoneAlive)
			if err != nil {
				t.Error(err)
			}
			got[i] = r
		}()
	}
	wg.Wait()
	for i := range got {
		for j := range i {
			if got[i].Overlaps(got[j]) {
				t.Errorf("pods %d and %d share IDs: %v and %v", i, j, got[i], got[j])
			}
		}
	}
}

func TestTake(t *testing.T) {
	ctx := context.Background()
	l := Leases{Dir: filepath.Join(t.TempDir(), "userns")}
	a, err := l.Lease(ctx, "/pods/a", everyoneAlive)
	if err != nil {
		t.Fatal(err)
	}
	// The operator's range may not share an ID with a running pod's.
	err = l.Take(ctx, Range{a.First + a.Count - 1, MinCount}, "/pods/b", everyoneAlive)
	if err == nil || !strings.Contains(err.Error(), "leased to the running pod /pods/a") {
		t.Fatalf("overlapping range: %v", err)
	}
	mine := Range{a.First + a.Count, 100000}
	if err := l.Take(ctx, mine, "/pods/b", everyoneAlive); err != nil {
		t.Fatal(err)
	}
	// An automatic range steps around it.
	c, err := l.Lease(ctx, "/pods/c", everyoneAlive)
	if err != nil || c.Overlaps(mine) || c.Overlaps(a) {
		t.Fatalf("automatic range beside an operator's: %v, %v", c, err)
	}
	if err := l.Take(ctx, Range{0, MinCount}, "/pods/d", everyoneAlive); err == nil || !strings.Contains(err.Error(), "UID 0") {
		t.Errorf("range at 0: %v", err)
	}
}

// TestLeaseStale: a dead pod's range is taken back when one is needed, and
// by ReleaseStale; a live pod's is kept.
func TestLeaseStale(t *testing.T) {
	ctx := context.Background()
	l := Leases{Dir: filepath.Join(t.TempDir(), "userns")}
	dead := map[string]bool{}
	alive := func(o string) bool { return !dead[o] }
	a, _ := l.Lease(ctx, "/pods/a", alive)
	b, _ := l.Lease(ctx, "/pods/b", alive)
	dead["/pods/a"] = true
	released, err := l.ReleaseStale(ctx, alive)
	if err != nil || len(released) != 1 || released[0] != a {
		t.Fatalf("ReleaseStale: %v, %v; want [%v]", released, err, a)
	}
	if _, err := os.Stat(filepath.Join(l.Dir, b.String())); err != nil {
		t.Errorf("the live pod's lease went: %v", err)
	}
	// Taken back when a range is needed: the operator's range over a dead
	// pod's.
	dead["/pods/b"] = true
	if err := l.Take(ctx, b, "/pods/c", alive); err != nil {
		t.Fatalf("a dead pod's range: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(l.Dir, b.String())); string(got) != "/pods/c\n" {
		t.Errorf("lease of %v: %q, want /pods/c's", b, got)
	}
	// Nothing to do for a directory never made.
	if r, err := (Leases{Dir: filepath.Join(t.TempDir(), "none")}).ReleaseStale(ctx, alive); err != nil || r != nil {
		t.Errorf("ReleaseStale of no directory: %v, %v", r, err)
	}
}

func TestLeaseFull(t *testing.T) {
	ctx := context.Background()
	l := Leases{Dir: filepath.Join(t.TempDir(), "userns")}
	// One operator range over every automatic one.
	if err := l.Take(ctx, Range{AutoFirst, AutoEnd - AutoFirst}, "/pods/all", everyoneAlive); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Lease(ctx, "/pods/x", everyoneAlive); err == nil || !strings.Contains(err.Error(), "no free range") {
		t.Fatalf("lease with no range free: %v", err)
	}
}
