package cli

import (
	"regexp"
	"strings"
	"testing"
)

// TestImageListFields: --fields chooses and orders the columns (rkt's
// names), --sort/--order the rows, --no-legend drops the header, --full
// prints whole IDs and exact sizes; a bad field or order is a usage error
// that lists what is valid.
func TestImageListFields(t *testing.T) {
	data, v1, v2 := storeWithVersions(t)
	lines := func(r result) []string { return strings.Split(strings.TrimRight(r.stdout, "\n"), "\n") }

	fields := func(r result) string {
		var out []string
		for _, l := range lines(r) {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
		return strings.Join(out, "\n")
	}
	got := fields(mustRun(t, "--dir", data, "image", "list", "--fields=name,latest,id", "--full"))
	if want := "NAME LATEST ID\nexample.com/hello:1.0.0 false " + v1 + "\nexample.com/hello:2.0.0 true " + v2; got != want {
		t.Errorf("--fields=name,latest,id --full:\n%s\nwant:\n%s", got, want)
	}
	got = fields(mustRun(t, "--dir", data, "image", "list", "--fields=id,size", "--sort=name", "--order=desc", "--no-legend"))
	if !regexp.MustCompile(`^` + v2[:len("sha512-")+32] + ` \d+(B|KiB)\n` + v1[:len("sha512-")+32] + ` \d+(B|KiB)$`).MatchString(got) {
		t.Errorf("--sort=name --order=desc --no-legend:\n%s", got)
	}
	if got := fields(mustRun(t, "--dir", data, "image", "list", "--fields=size", "--full", "--no-legend")); !regexp.MustCompile(`^\d+\n\d+$`).MatchString(got) {
		t.Errorf("--fields=size --full: %q, want sizes in bytes", got)
	}
	if got := lines(mustRun(t, "--dir", data, "image", "list", "--fields=id", "--sort=importtime", "--no-legend")); len(got) != 2 || !strings.HasPrefix(v1, strings.TrimSpace(got[0])) {
		t.Errorf("--sort=importtime (oldest first): %q", got)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--fields=id,colour"}, `unknown field "colour"; the fields are id, name, importtime, lastused, size, latest, source, signer`},
		{[]string{"--sort=age"}, `--sort: unknown field "age"`},
		{[]string{"--order=up"}, `--order: "up" is not asc or desc`},
		{[]string{"--format=json", "--no-legend"}, "for the table"},
	} {
		r := acirun(t, append([]string{"--dir", data, "image", "list"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("image list %v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// TestListNoLegendFull: the pod list without its header, and with --full
// whole UUIDs and the apps' image IDs.
func TestListNoLegendFull(t *testing.T) {
	data, v1, _ := storeWithVersions(t)
	uuid := strings.TrimSpace(mustRun(t, "--dir", data, "prepare", "--insecure-options=image", "--net=none", v1).stdout)
	r := mustRun(t, "--dir", data, "list", "--no-legend", "--full")
	f := strings.Fields(r.stdout)
	if len(f) < 5 || f[0] != uuid || f[2] != "example.com/hello" || f[3] != v1 || f[4] != "prepared" || strings.Contains(r.stdout, "UUID") {
		t.Errorf("list --no-legend --full: %q, want %s hello example.com/hello %s prepared", r.stdout, uuid, v1)
	}
	r = mustRun(t, "--dir", data, "list")
	if got := strings.Split(r.stdout, "\n"); len(got) < 2 || !strings.HasPrefix(got[0], "UUID") || !strings.HasPrefix(got[1], uuid[:8]+"  ") || strings.Contains(r.stdout, v1) {
		t.Errorf("list: %q", r.stdout)
	}
}
