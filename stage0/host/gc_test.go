package host

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/acirun/acirun/stage0/pod"
)

func TestIsGarbage(t *testing.T) {
	now := time.Date(2025, 1, 2, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	for _, tc := range []struct {
		name string
		pd   pod.Pod
		opts GCOptions
		want bool
	}{
		{"abandoned", pod.Pod{State: pod.StateAbandoned}, GCOptions{Grace: time.Hour, ExpirePrepared: -1}, true},
		{"exited past grace", pod.Pod{State: pod.StateExited, Exited: ago(2 * time.Hour)}, GCOptions{Grace: time.Hour}, true},
		{"exited within grace", pod.Pod{State: pod.StateExited, Exited: ago(time.Minute)}, GCOptions{Grace: time.Hour}, false},
		{"exited, no grace", pod.Pod{State: pod.StateExited, Exited: now}, GCOptions{}, true},
		{"prepared past expiry", pod.Pod{State: pod.StatePrepared, Created: ago(25 * time.Hour)}, GCOptions{ExpirePrepared: 24 * time.Hour}, true},
		{"prepared within expiry", pod.Pod{State: pod.StatePrepared, Created: ago(time.Hour)}, GCOptions{ExpirePrepared: 24 * time.Hour}, false},
		{"prepared, expire 0", pod.Pod{State: pod.StatePrepared, Created: now}, GCOptions{ExpirePrepared: 0}, true},
		{"prepared, never expire", pod.Pod{State: pod.StatePrepared, Created: ago(1000 * time.Hour)}, GCOptions{ExpirePrepared: -1}, false},
		{"running", pod.Pod{State: pod.StateRunning, Created: ago(1000 * time.Hour)}, GCOptions{ExpirePrepared: 0}, false},
		{"preparing", pod.Pod{State: pod.StatePreparing}, GCOptions{ExpirePrepared: 0}, false},
	} {
		if got := isGarbage(&tc.pd, tc.opts, now); got != tc.want {
			t.Errorf("%s: isGarbage = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestGCPodsExpireAndMarkOnly: prepared pods go once older than
// ExpirePrepared; MarkOnly names the garbage and removes nothing.
func TestGCPodsExpireAndMarkOnly(t *testing.T) {
	ctx := context.Background()
	h := newHost(t)
	img := fetchOne(t, h, buildACI(t, t.TempDir(), "example.com/gc", ""))
	var uuids []string
	for range 2 {
		pd, err := h.Prepare(ctx, &pod.RunRequest{Apps: []pod.AppRequest{{Image: img}}, Net: "none"}, PrepareOptions{})
		if err != nil {
			t.Fatal(err)
		}
		uuids = append(uuids, pd.UUID)
	}
	// The first was prepared two days ago.
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(filepath.Join(h.cfg.DataDir, "pods", uuids[0], "prepared"), old, old); err != nil {
		t.Fatal(err)
	}
	res, err := h.GCPods(ctx, GCOptions{ExpirePrepared: 24 * time.Hour, MarkOnly: true})
	if err != nil || !slices.Equal(res.Removed, uuids[:1]) {
		t.Fatalf("GCPods mark-only = %v, %v; want %v", res, err, uuids[:1])
	}
	if pods, _ := h.Pods(ctx); len(pods) != 2 {
		t.Fatalf("mark-only removed pods: %d left", len(pods))
	}
	res, err = h.GCPods(ctx, GCOptions{ExpirePrepared: 24 * time.Hour})
	if err != nil || !slices.Equal(res.Removed, uuids[:1]) {
		t.Fatalf("GCPods = %v, %v; want %v removed", res, err, uuids[:1])
	}
	if pods, _ := h.Pods(ctx); len(pods) != 1 || pods[0].UUID != uuids[1] {
		t.Fatalf("after gc: %v, want only %s", pods, uuids[1])
	}
	if res, err = h.GCPods(ctx, GCOptions{ExpirePrepared: -1}); err != nil || len(res.Removed) != 0 {
		t.Errorf("GCPods without expiry = %v, %v", res, err)
	}
}

// TestGCPodsConcurrent: two gcs at once both succeed, each pod removed by
// exactly one of them; neither reports the other's removals as errors.
func TestGCPodsConcurrent(t *testing.T) {
	ctx := context.Background()
	h := newHost(t)
	img := fetchOne(t, h, buildACI(t, t.TempDir(), "example.com/gc", ""))
	for round := range 3 {
		want := map[string]bool{}
		for range 40 {
			pd, err := h.Prepare(ctx, &pod.RunRequest{Apps: []pod.AppRequest{{Image: img}}, Net: "none"}, PrepareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want[pd.UUID] = true
		}
		var wg sync.WaitGroup
		results := make([]*GCResult, 2)
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() {
				// A Host of its own, as a second acirun process has.
				results[i], errs[i] = New(h.cfg).GCPods(ctx, GCOptions{ExpirePrepared: 0})
			})
		}
		wg.Wait()
		got := map[string]int{}
		for i := range 2 {
			if errs[i] != nil {
				t.Fatalf("round %d: gc %d: %v", round, i, errs[i])
			}
			for _, u := range results[i].Removed {
				got[u]++
			}
		}
		for u := range want {
			if got[u] != 1 {
				t.Errorf("round %d: pod %s reported removed %d times", round, u, got[u])
			}
		}
		if pods, _ := h.Pods(ctx); len(pods) != 0 {
			t.Fatalf("round %d: %d pods left", round, len(pods))
		}
	}
}
