package main

import "testing"

func TestRunDirDefault(t *testing.T) {
	for _, tc := range []struct {
		dir, runDir, want string
	}{
		{"/var/lib/acirun", "", "/run/acirun"},
		{"/var/lib/acirun/", "", "/run/acirun"},
		{"/var/lib//acirun", "", "/run/acirun"},
		{"/srv/acirun", "", "/srv/acirun/run"},
		{"data", "", "data/run"},
		{"/srv/acirun", "/run/acirun-srv", "/run/acirun-srv"},
		{"/var/lib/acirun", "/tmp/r", "/tmp/r"},
	} {
		g := Globals{Dir: tc.dir, RunDir: tc.runDir}
		if got := g.runDir(); got != tc.want {
			t.Errorf("--dir=%q --run-dir=%q: run directory %q, want %q", tc.dir, tc.runDir, got, tc.want)
		}
	}
}
