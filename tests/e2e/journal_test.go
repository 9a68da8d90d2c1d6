package e2e

// The journal, per app: where a pod's output is the journal's (a detached
// pod's unit, aci@.service), each app's stdout and stderr reach journald as
// entries of the app's own (SYSLOG_IDENTIFIER and ACIRUN_APP its name in
// the pod, ACIRUN_POD_UUID the pod's), in the pod's unit.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// journalEntries runs journalctl -o json --all ARGS in the box and returns
// its entries, each field a string (a field journald holds twice with one
// value is that value; with different values, they are joined by "|").
func (p *boxPod) journalEntries(ctx context.Context, args ...string) []map[string]string {
	p.t.Helper()
	out, err := p.b.Output(ctx, append([]string{"journalctl", "-o", "json", "--all", "--no-pager"}, args...)...)
	if err != nil {
		p.t.Fatalf("journalctl %q: %v\n%s", args, err, out)
	}
	var entries []map[string]string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var raw map[string]any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			p.t.Fatalf("journalctl %q: %v: %s", args, err, sc.Bytes())
		}
		m := map[string]string{}
		for k, v := range raw {
			switch v := v.(type) {
			case string:
				m[k] = v
			case []any: // several values, or bytes that are not text
				var vals []string
				for _, x := range v {
					if s, ok := x.(string); ok {
						if len(vals) == 0 || vals[len(vals)-1] != s {
							vals = append(vals, s)
						}
					} else {
						vals = append(vals, fmt.Sprint(v))
						break
					}
				}
				m[k] = strings.Join(vals, "|")
			default:
				m[k] = fmt.Sprint(v)
			}
		}
		entries = append(entries, m)
	}
	if err := sc.Err(); err != nil {
		p.t.Fatal(err)
	}
	return entries
}

// waitEntries waits up to 10 s for journalctl ARGS to give an entry whose
// MESSAGE is last, and returns the entries.
func (p *boxPod) waitEntries(ctx context.Context, last string, args ...string) []map[string]string {
	p.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		entries := p.journalEntries(ctx, args...)
		for _, m := range entries {
			if m["MESSAGE"] == last {
				return entries
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("journalctl %q: no entry %q after 10s: %v", args, last, messages(entries))
		}
	}
}

func messages(entries []map[string]string) []string {
	var ms []string
	for _, m := range entries {
		msg := m["MESSAGE"]
		if len(msg) > 80 {
			msg = fmt.Sprintf("%s…(%d bytes)", msg[:80], len(msg))
		}
		ms = append(ms, m["PRIORITY"]+" "+msg)
	}
	return ms
}

// longLine is what testapp print-long N prints before its newline.
func longLine(n int) string { return strings.Repeat("0123456789", n/10+1)[:n] }

// TestJournalPerApp: a detached two-app pod (one app named with --name):
// each app's lines carry its own SYSLOG_IDENTIFIER, ACIRUN_APP and the
// pod's ACIRUN_POD_UUID, in the pod's unit; journalctl -t APP shows that
// app's lines only, -u UNIT both apps'; stderr is priority 3, an
// sd-daemon "<4>" prefix is honoured; a line longer than journald's
// LineMax (48 KiB) comes in 48 KiB pieces marked ACIRUN_LINE_BREAK=line-max
// that join into the line, and output without a final newline arrives at
// the app's end, marked ACIRUN_LINE_BREAK=eof. journalctl -M acirun-UUID
// reads the journal files through the pod's PID 1 (systemd 252: the
// machine's root directory from machined), which sees the host's: the
// pod's lines are there.
func TestJournalPerApp(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const long = 100000
	one := p.image(podImage(t, podManifest(t, "example.com/journal-one", nil,
		"print", "one-out", "+", "print-err", "one-err", "+", "print", "<4>one-warn", "+",
		"print-long", fmt.Sprint(long), "+", "print-partial", "one-partial"), nil))
	two := p.image(podImage(t, podManifest(t, "example.com/journal-two", nil,
		"print", "two-out", "+", "print-err", "two-err", "+", "sleep", "1h"), nil))
	uuid, unit, _ := p.runDetached(ctx, "--insecure-options=image", "--net=none", one, "--name=web-1", two)

	type line struct{ prio, msg, brk string }
	check := func(app string, entries []map[string]string, want []line) {
		t.Helper()
		var got []line
		for _, m := range entries {
			for k, v := range map[string]string{"SYSLOG_IDENTIFIER": app, "ACIRUN_APP": app, "ACIRUN_POD_UUID": uuid, "_SYSTEMD_UNIT": unit} {
				if m[k] != v {
					t.Errorf("app %s: entry %q has %s=%q, want %q", app, m["MESSAGE"], k, m[k], v)
				}
			}
			got = append(got, line{m["PRIORITY"], m["MESSAGE"], m["ACIRUN_LINE_BREAK"]})
		}
		// stdout and stderr are streams of their own: only each one's
		// order is kept.
		for _, stream := range []func(line) bool{
			func(l line) bool { return l.prio == "3" },
			func(l line) bool { return l.prio != "3" },
		} {
			var g, w []line
			for _, l := range got {
				if stream(l) {
					g = append(g, l)
				}
			}
			for _, l := range want {
				if stream(l) {
					w = append(w, l)
				}
			}
			if fmt.Sprint(g) != fmt.Sprint(w) {
				t.Errorf("app %s: journal entries (priority, message, line break):\n%.300v\nwant\n%.300v", app, g, w)
			}
		}
	}

	full := longLine(long)
	piece := 48 * 1024
	check("web-1", p.waitEntries(ctx, "one-partial", "-t", "web-1"), []line{
		{"6", "one-out", ""}, {"3", "one-err", ""}, {"4", "one-warn", ""},
		{"6", full[:piece], "line-max"}, {"6", full[piece : 2*piece], "line-max"}, {"6", full[2*piece:], ""},
		{"6", "one-partial", "eof"},
	})
	check("journal-two", p.waitEntries(ctx, "two-err", "-t", "journal-two"), []line{
		{"6", "two-out", ""}, {"3", "two-err", ""},
	})
	// The same entries by the fields acirun logs filters on.
	if got := p.journalEntries(ctx, "ACIRUN_POD_UUID="+uuid, "ACIRUN_APP=journal-two"); len(got) != 2 {
		t.Errorf("journalctl ACIRUN_POD_UUID=%s ACIRUN_APP=journal-two: %q, want its 2 lines", uuid, messages(got))
	}

	// The unit's journal has both apps, and stage1's own lines.
	j, err := p.b.Journal(ctx, unit)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"one-out", "one-err", "one-partial", "two-out", "two-err"} {
		if !strings.Contains(j, want) {
			t.Errorf("journalctl -u %s lacks %q:\n%.2000s", unit, want, j)
		}
	}

	// journalctl -M: the pod's lines, among the host's.
	out, err := p.b.Output(ctx, "journalctl", "-M", "acirun-"+uuid, "-o", "cat", "--no-pager", "-t", "journal-two")
	if err != nil || !strings.Contains(string(out), "two-out") {
		t.Errorf("journalctl -M acirun-%s -t journal-two: %v\n%s", uuid, err, out)
	}
}
