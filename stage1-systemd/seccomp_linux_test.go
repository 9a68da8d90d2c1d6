package stage1

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPlanSeccomp(t *testing.T) {
	for _, tc := range []struct {
		name   string
		iso    *seccompIsolator
		insec  bool
		none   bool
		report string
		err    string
	}{
		{"default", nil, false, false, "default deny list", ""},
		{"insecure", nil, true, true, "no filter", ""},
		{"remove", &seccompIsolator{set: []string{"mkdir"}, errno: "EPERM"}, false, false, "remove set of 1 calls; plus the default deny list", ""},
		{"remove insecure", &seccompIsolator{set: []string{"mkdir"}}, true, false, "remove set of 1 calls", ""},
		{"retain", &seccompIsolator{retain: true, set: []string{"read", "mount"}}, false, false, "denied mount", ""},
		{"retain adds essentials", &seccompIsolator{retain: true, set: []string{"read"}}, false, false, "added execve", ""},
		{"retain all", &seccompIsolator{retain: true, set: []string{"@appc.io/all"}}, false, false, "retain @appc.io/all: default deny list", ""},
		{"remove all", &seccompIsolator{set: []string{"@appc.io/all"}}, false, false, "retain set of", ""},
		{"empty", &seccompIsolator{set: []string{"@appc.io/empty"}}, false, false, "remove set of 0 calls", ""},
		{"unknown call", &seccompIsolator{set: []string{"fly"}}, false, false, "", `unknown system call "fly"`},
		{"unknown errno", &seccompIsolator{set: []string{"read"}, errno: "EACCESS"}, false, false, "", `errno "EACCESS"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := planSeccomp(tc.iso, tc.insec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (plan.filter == nil) != tc.none || !strings.Contains(plan.report, tc.report) {
				t.Errorf("plan %q (filter %d instructions), want %q", plan.report, len(plan.filter), tc.report)
			}
		})
	}
}

func TestErrnoByName(t *testing.T) {
	for name, want := range map[string]unix.Errno{"EPERM": unix.EPERM, "ENOTSUP": unix.ENOTSUP, "EXDEV": unix.EXDEV} {
		if e, ok := errnoByName(name); !ok || e != want {
			t.Errorf("errnoByName(%s) = %v, %v", name, e, ok)
		}
	}
	if _, ok := errnoByName("EACCESS"); ok {
		t.Error("EACCESS (the spec example's typo) accepted")
	}
}
