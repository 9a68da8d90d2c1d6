package userns

import (
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Range
		err  string
	}{
		{"", Range{}, ""},
		{"auto", Range{}, ""},
		{"524288:65536", Range{524288, 65536}, ""},
		{"100000:131072", Range{100000, 131072}, ""},
		{"4294901759:65536", Range{4294901759, 65536}, ""}, // up to 4294967294
		{"4294901760:65536", Range{}, "run past the last ID"},
		{"0:65536", Range{}, "UID 0: the pod's root would be the host's root"},
		{"524288:1000", Range{}, "COUNT 1000: want at least 65536"},
		{"524288", Range{}, "want auto or UID:COUNT"},
		{"x:65536", Range{}, `UID "x": not a number`},
		{"524288:y", Range{}, `COUNT "y": not a number`},
		{"-1:65536", Range{}, "not a number"},
		{"4294967296:65536", Range{}, "not a number"},
		{"524288:65536:1", Range{}, `COUNT "65536:1"`},
		{"AUTO", Range{}, "want auto or UID:COUNT"},
	} {
		got, err := ParseRange(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRange(%q): %v, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRange(%q): %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if !got.IsZero() && got.String() != tc.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tc.in)
		}
	}
}

func TestRangeOverlapsAndHostID(t *testing.T) {
	a := Range{First: 100000, Count: 65536}
	for _, tc := range []struct {
		o    Range
		want bool
	}{
		{Range{165536, 65536}, false}, // right after
		{Range{34464, 65536}, false},  // right before
		{Range{165535, 65536}, true},  // shares a's last ID
		{Range{34465, 65536}, true},   // shares a's first
		{Range{120000, 10}, true},     // inside
		{Range{1, 4294967294}, true},  // around
	} {
		if got := a.Overlaps(tc.o); got != tc.want || tc.o.Overlaps(a) != tc.want {
			t.Errorf("%v overlaps %v: %v, want %v both ways", a, tc.o, got, tc.want)
		}
	}
	if id, ok := a.HostID(0); !ok || id != 100000 {
		t.Errorf("HostID(0) = %d, %v", id, ok)
	}
	if id, ok := a.HostID(65535); !ok || id != 165535 {
		t.Errorf("HostID(65535) = %d, %v", id, ok)
	}
	if _, ok := a.HostID(65536); ok {
		t.Error("HostID(65536) in a range of 65536")
	}
	for _, tc := range []struct {
		host, pod uint32
		ok        bool
	}{
		{100000, 0, true}, {165535, 65535, true}, {99999, 0, false}, {165536, 0, false}, {0, 0, false},
	} {
		if id, ok := a.PodID(tc.host); id != tc.pod || ok != tc.ok {
			t.Errorf("PodID(%d) = %d, %v; want %d, %v", tc.host, id, ok, tc.pod, tc.ok)
		}
	}
	if id, ok := (Range{First: 4294901759, Count: 65536}).PodID(4294967294); !ok || id != 65535 {
		t.Errorf("PodID of the last ID of the last range = %d, %v", id, ok)
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"auto", "524288:65536", "0:1", "4294901759:65536", ":", "1:", "a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRange(s)
		if err != nil || r.IsZero() {
			return
		}
		if r.Check() != nil || uint64(r.First)+uint64(r.Count) > 1<<32-1 || r.First == 0 {
			t.Fatalf("ParseRange(%q) = %v, which Check refuses", s, r)
		}
		back, err := ParseRange(r.String())
		if err != nil || back != r {
			t.Fatalf("ParseRange(%q) = %v; its String %q reads back as %v, %v", s, r, r.String(), back, err)
		}
	})
}
