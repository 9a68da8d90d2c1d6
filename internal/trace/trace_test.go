package trace

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		value      string
		on         bool
		origin     int64 // 0: now, taken by New
		wantOrigin bool
	}{
		{"", false, 0, false},
		{"0", false, 0, false},
		{"1", true, 0, false},
		{"yes", true, 0, false},
		{"@12345", true, 12345, true},
		{"@", true, 0, false},                       // no number: this process is the origin
		{"@-5", true, 0, false},                     // not an origin
		{"@12x", true, 0, false},                    // not a number
		{"@0", true, 0, false},                      // not an origin
		{" @12", true, 0, false},                    // not the form handed down
		{"@9999999999999999999999", true, 0, false}, // out of range
	} {
		var out bytes.Buffer
		tr := New("acirun", tc.value, &out)
		if tr.On() != tc.on {
			t.Errorf("New(%q).On() = %t, want %t", tc.value, tr.On(), tc.on)
			continue
		}
		if !tc.on {
			if tr.ForChild() != "" {
				t.Errorf("New(%q).ForChild() = %q for a tracer that is off", tc.value, tr.ForChild())
			}
			tr.Step("nothing") // must not panic
			continue
		}
		if tc.wantOrigin && tr.origin != tc.origin {
			t.Errorf("New(%q): origin %d, want %d", tc.value, tr.origin, tc.origin)
		}
		if !tc.wantOrigin && (tr.origin <= 0 || tr.origin > monotonic()) {
			t.Errorf("New(%q): origin %d, want now (%d)", tc.value, tr.origin, monotonic())
		}
		if want := Var + "=@" + strconv.FormatInt(tr.origin, 10); tr.ForChild() != want {
			t.Errorf("New(%q).ForChild() = %q, want %q", tc.value, tr.ForChild(), want)
		}
	}
}

// TestStep: each step is one line, its time counted from the origin handed
// down, the process and PID named, with its CPU time; a child's tracer
// made from ForChild measures from the same origin.
func TestStep(t *testing.T) {
	var out bytes.Buffer
	parent := New("acirun", "1", &out)
	parent.Step("main")
	child := New("stage1 run", strings.TrimPrefix(parent.ForChild(), Var+"="), &out)
	if child.origin != parent.origin {
		t.Fatalf("child origin %d, parent's %d", child.origin, parent.origin)
	}
	child.Step("pod %s locked", "x")
	re := regexp.MustCompile(`^acirun trace +([0-9]+\.[0-9]{3}) ms  (acirun|stage1 run)\[[0-9]+\]: (main|pod x locked) \(cpu [0-9]+\.[0-9] ms\)$`)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", out.String())
	}
	last := -1.0
	for _, l := range lines {
		m := re.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q does not match %s", l, re)
		}
		ms, _ := strconv.ParseFloat(m[1], 64)
		if ms < last {
			t.Errorf("time went back: %q after %.3f ms", l, last)
		}
		last = ms
	}
}
