package host

import (
	"testing"

	"github.com/acirun/acirun/stage0/pod"
)

func TestPodApp(t *testing.T) {
	const uuid = "4f215d60-0b37-4c2d-9a1e-5b0c9f3e2a11"
	one := &pod.Pod{UUID: uuid, Apps: []pod.AppStatus{{Name: "web"}}}
	two := &pod.Pod{UUID: uuid, Apps: []pod.AppStatus{{Name: "web"}, {Name: "db"}}}
	for _, tc := range []struct {
		name    string
		pd      *pod.Pod
		app     string
		want    string
		wantErr string
	}{
		{"the only app", one, "", "web", ""},
		{"the only app named", one, "web", "web", ""},
		{"one of two named", two, "db", "db", ""},
		{"two unnamed", two, "", "", "pod " + uuid + " has 2 apps (web, db): choose one with --app=NAME"},
		{"unknown", two, "cache", "", "pod " + uuid + ` has no app "cache" (its apps: web, db)`},
		{"unknown of one", one, "db", "", "pod " + uuid + ` has no app "db" (its apps: web)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := podApp(tc.pd, tc.app)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("podApp(%q) = %q, %v; want the error %q", tc.app, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("podApp(%q) = %q, %v; want %q", tc.app, got, err, tc.want)
			}
		})
	}
}
