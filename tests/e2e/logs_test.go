package e2e

// acirun logs in the box's real journal: a detached pod of two apps that
// print lines, read back whole, the last line alone, and followed until
// the pod exits.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/tests/testimage"
)

func TestLogs(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	imgA := p.image(podImage(t, podManifest(t, "example.com/loga", nil,
		"cat", "/lines", "+", "sleep", "4s", "+", "cat", "/late", "+", "sleep", "1s"),
		&testimage.Options{Files: map[string]string{"/lines": "a-one\na-two\n", "/late": "a-late\n"}}))
	imgB := p.image(podImage(t, podManifest(t, "example.com/logb", nil, "cat", "/lines", "+", "sleep", "2s"),
		&testimage.Options{Files: map[string]string{"/lines": "b-one\n"}}))

	// A pod that never ran has no entries: nothing, and success.
	pr := p.runInBox(ctx, "prepare", "--insecure-options=image", "--net=none", imgB)
	if pr.code != 0 {
		t.Fatalf("prepare: %s", pr)
	}
	prepared := strings.TrimSpace(pr.stdout)
	if r := p.runInBox(ctx, "logs", prepared); r.code != 0 || r.stdout != "" {
		t.Errorf("logs of a prepared pod: want nothing and exit 0: %s", r)
	}
	if r := p.runInBox(ctx, "logs", "00000000-0000-4000-8000-000000000000"); r.code == 0 || !strings.Contains(r.stderr, "no such pod") {
		t.Errorf("logs of an unknown pod: want an error saying so: %s", r)
	}

	uuid, _, _ := p.runDetached(ctx, "--insecure-options=image", "--net=none", imgA, imgB)

	// -f from the start: it must show the line printed seconds later and
	// return by itself once the pod has exited.
	follow := p.b.Command(ctx, p.acirun("logs", "-f", uuid)...)
	var fout, ferr lockedOutput
	follow.Stdout, follow.Stderr = &fout, &ferr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	followed := make(chan error, 1)
	go func() { followed <- follow.Wait() }()

	if r := p.runInBox(ctx, "logs", "--app=nosuch", uuid); r.code == 0 || !strings.Contains(r.stderr, `no app "nosuch"`) {
		t.Errorf("logs --app=nosuch: want an error naming the pod's apps: %s", r)
	}
	// While the pod runs, the first lines arrive.
	var all result
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		all = p.runInBox(ctx, "logs", uuid)
		if all.code != 0 {
			t.Fatalf("logs: %s", all)
		}
		if hasLines(all.stdout, "a-one", "a-two", "b-one") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs after 30s: want a-one, a-two, b-one: %s", all)
		}
	}
	if strings.Index(all.stdout, "a-one") > strings.Index(all.stdout, "a-two") {
		t.Errorf("logs: a-one after a-two:\n%s", all.stdout)
	}

	select {
	case err := <-followed:
		if err != nil {
			t.Fatalf("logs -f: %v\n%s%s", err, &fout, &ferr)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("logs -f has not returned 60s after the pod started:\n%s%s", &fout, &ferr)
	}
	if _, err := os.Stat(filepath.Join(p.data, "pods", uuid, "exit.json")); err != nil {
		t.Errorf("logs -f returned before the pod exited: %v", err)
	}
	if !hasLines(fout.String(), "a-one", "a-two", "b-one", "a-late") {
		t.Errorf("logs -f: want a-one, a-two, b-one and the later a-late:\n%s%s", &fout, &ferr)
	}

	if r := p.runInBox(ctx, "logs", "--app=logb", uuid); r.code != 0 || !slices.Equal(lineEnds(r.stdout), []string{"b-one"}) {
		t.Errorf("logs --app=logb: want b-one alone: %s", r)
	}
	if !strings.Contains(all.stdout, "loga | a-one\n") || !strings.Contains(all.stdout, "logb | b-one\n") {
		t.Errorf("logs of a two-app pod: want each line after its app's name:\n%s", all.stdout)
	}
	if r := p.runInBox(ctx, "logs", "-n", "1", uuid); r.code != 0 || !slices.Equal(lineEnds(r.stdout), []string{"a-late"}) {
		t.Errorf("logs -n 1 after the pod exited: want the one line a-late: %s", r)
	}
	jr := p.runInBox(ctx, "logs", "--format=json", "-n", "1", uuid)
	var e map[string]any
	if err := json.Unmarshal([]byte(jr.stdout), &e); err != nil || e["MESSAGE"] != "a-late" || e["ACIRUN_POD_UUID"] != uuid {
		t.Errorf("logs --format=json -n 1: want the entry of a-late with its pod's UUID: %v: %s", err, jr)
	}
	if r := p.runInBox(ctx, "logs", "--since=1h", uuid); !hasLines(r.stdout, "a-one", "a-late") {
		t.Errorf("logs --since=1h: want every line: %s", r)
	}
	if r := p.runInBox(ctx, "logs", "--since=2000-01-01 00:00:00", "--until-nothing", uuid); r.code != 2 {
		t.Errorf("logs with an unknown flag: want a usage error: %s", r)
	}
}

// hasLines says whether out has a line ending with each of want (a line may
// start with its app's name).
func hasLines(out string, want ...string) bool {
	ends := lineEnds(out)
	for _, w := range want {
		if !slices.Contains(ends, w) {
			return false
		}
	}
	return true
}

// lineEnds is out's lines without the app prefix ("NAME | ").
func lineEnds(out string) []string {
	var ends []string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		if i := strings.LastIndex(l, " | "); i >= 0 {
			l = l[i+3:]
		}
		ends = append(ends, l)
	}
	return ends
}
