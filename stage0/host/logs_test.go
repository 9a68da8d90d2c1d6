package host

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/stage0/pod"
)

func TestJournalctlArgs(t *testing.T) {
	const uuid = "4f215d60-0b37-4c2d-9a1e-5b0c9f3e2a11"
	pd := &pod.Pod{UUID: uuid, Apps: []pod.AppStatus{{Name: "web"}, {Name: "db"}}}
	now := time.Unix(1_800_000_000, 0)
	base := []string{"--output=export", "--quiet", "--no-pager"}
	tests := []struct {
		name    string
		o       LogsOptions
		want    []string
		wantErr string
	}{
		{"all", LogsOptions{Lines: -1}, append(base, "--lines=all", "ACIRUN_POD_UUID="+uuid), ""},
		{"last line", LogsOptions{Lines: 1}, append(base, "--lines=1", "ACIRUN_POD_UUID="+uuid), ""},
		{"no lines", LogsOptions{Lines: 0}, append(base, "--lines=0", "ACIRUN_POD_UUID="+uuid), ""},
		{"app", LogsOptions{Lines: -1, App: "db"}, append(base, "--lines=all", "ACIRUN_POD_UUID="+uuid, "ACIRUN_APP=db"), ""},
		{"follow", LogsOptions{Lines: 5, Follow: true}, append(base, "--lines=5", "--follow", "ACIRUN_POD_UUID="+uuid), ""},
		{"since duration", LogsOptions{Lines: -1, Since: "10m"}, append(base, "--lines=all", "--since=@1799999400", "ACIRUN_POD_UUID="+uuid), ""},
		{"since journalctl relative", LogsOptions{Lines: -1, Since: "-1h"}, append(base, "--lines=all", "--since=-1h", "ACIRUN_POD_UUID="+uuid), ""},
		{"since a date", LogsOptions{Lines: -1, Since: "2026-01-02 15:04:05"}, append(base, "--lines=all", "--since=2026-01-02 15:04:05", "ACIRUN_POD_UUID="+uuid), ""},
		{"unknown app", LogsOptions{Lines: -1, App: "cache"}, nil, `pod ` + uuid + ` has no app "cache" (its apps: web, db)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := journalctlArgs(pd, tt.o, now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}
