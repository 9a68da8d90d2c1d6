package stage1

import (
	"strings"
	"testing"
)

// mustCaps is the capSet of names, which must all be known.
func mustCaps(names ...string) capSet {
	s, err := parseCaps(names)
	if err != nil {
		panic(err)
	}
	return s
}

func TestDefaultCaps(t *testing.T) {
	if n := defaultCaps().count(); n != 14 {
		t.Fatalf("default bounding set has %d capabilities, want 14: %s", n, defaultCaps())
	}
	if defaultCaps().has(21) { // CAP_SYS_ADMIN
		t.Fatal("default set holds CAP_SYS_ADMIN")
	}
}

func TestParseCaps(t *testing.T) {
	s, err := parseCaps([]string{"CAP_NET_ADMIN", "sys_admin", "cap_kill"})
	if err != nil {
		t.Fatal(err)
	}
	if s != 1<<12|1<<21|1<<5 {
		t.Errorf("parseCaps = %s", s)
	}
	if _, err := parseCaps([]string{"CAP_FLY"}); err == nil || !strings.Contains(err.Error(), `"CAP_FLY" is not a Linux capability`) {
		t.Errorf("unknown capability: %v, want a refusal naming it", err)
	}
}

func TestDecideCaps(t *testing.T) {
	p := func(n ...string) *capSet { s := mustCaps(n...); return &s }
	for _, tc := range []struct {
		name           string
		retain, remove *capSet
		allow          bool
		want           capSet
		denied         bool
	}{
		{"default", nil, nil, false, defaultCaps(), false},
		{"retain", p("CAP_CHOWN", "CAP_KILL"), nil, false, mustCaps("CAP_CHOWN", "CAP_KILL"), false},
		{"remove", nil, p("CAP_CHOWN", "CAP_SYS_ADMIN"), false, defaultCaps() &^ mustCaps("CAP_CHOWN"), false},
		{"extra denied", p("CAP_SYS_ADMIN", "CAP_KILL"), nil, false, mustCaps("CAP_KILL"), true},
		{"extra allowed", p("CAP_SYS_ADMIN", "CAP_KILL"), nil, true, mustCaps("CAP_SYS_ADMIN", "CAP_KILL"), false},
		{"both", p("CAP_CHOWN", "CAP_KILL"), p("CAP_KILL"), false, mustCaps("CAP_CHOWN"), false},
	} {
		d := decideCaps(tc.retain, tc.remove, tc.allow)
		if d.set != tc.want || d.denied != tc.denied {
			t.Errorf("%s: got %s denied=%v, want %s denied=%v", tc.name, d.set, d.denied, tc.want, tc.denied)
		}
	}
}
