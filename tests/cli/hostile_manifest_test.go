package cli

import (
	"archive/tar"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestFetchHostileManifests: ACIs whose manifest is hostile, one
// expectation each: fetch exits 254 with a short error naming what is wrong
// (the field, or the bound), and leaves nothing in the store; image validate
// refuses the same image with the same words (one set of rules). A million
// ports is refused by the manifest's size bound before it is parsed; 60000
// ports or mount points fit under it, and are refused by the bound on the
// list (aci.MaxPorts, aci.MaxMountPoints).
func TestFetchHostileManifests(t *testing.T) {
	const head = `{"acKind":"ImageManifest","acVersion":"0.8.11",`
	for _, tc := range []struct {
		name     string
		manifest string
		want     []string
	}{
		{"larger than MaxManifestSize", head + `"name":"example.com/big","annotations":[{"name":"x","value":"` + strings.Repeat("a", 5<<20) + `"}]}`,
			[]string{`entry "manifest"`, "more than the limit of 4194304"}},
		{"deeply nested", head + `"name":"example.com/deep","app":{"exec":["/x"],"user":"0","group":"0","environment":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}}`,
			[]string{"manifest: invalid JSON", "nested more than 64 levels"}},
		{"a million ports", head + `"name":"example.com/ports","app":{"exec":["/x"],"user":"0","group":"0","ports":[` + strings.Repeat(`{"name":"p","protocol":"tcp","port":1},`, 1000000) + `{"name":"p","protocol":"tcp","port":1}]}}`,
			[]string{`entry "manifest"`, "more than the limit of 4194304"}},
		{"60000 ports under the size bound", head + `"name":"example.com/ports","app":{"exec":["/x"],"user":"0","group":"0","ports":[` + entries(60000, `{"name":"p%d","protocol":"tcp","port":1}`) + `]}}`,
			[]string{"app.ports: 60000 entries, more than the limit of 1024"}},
		{"60000 mount points under the size bound", head + `"name":"example.com/mounts","app":{"exec":["/x"],"user":"0","group":"0","mountPoints":[` + entries(60000, `{"name":"m%d","path":"/m"}`) + `]}}`,
			[]string{"app.mountPoints: 60000 entries, more than the limit of 1024"}},
		{"name not an AC identifier", head + `"name":"Example.com/../x"}`, []string{`name: "Example.com/../x" is not a valid AC Identifier`}},
		{"wrong acKind", `{"acKind":"PodManifest","acVersion":"0.8.11","name":"example.com/x"}`, []string{`acKind: "PodManifest" is not "ImageManifest"`}},
		{"duplicate key", head + `"name":"example.com/a","name":"example.com/b"}`, []string{"name: duplicate field"}},
		{"invalid UTF-8", head + "\"name\":\"example.com/x\",\"annotations\":[{\"name\":\"a\",\"value\":\"\xff\"}]}", []string{"not valid UTF-8"}},
		{"newline in an environment name", head + `"name":"example.com/x","app":{"exec":["/x"],"user":"0","group":"0","environment":[{"name":"A\n[Service]","value":"1"}]}}`, []string{"app.environment[0].name", "not a valid variable name"}},
		{"mount point path relative", head + `"name":"example.com/x","app":{"exec":["/x"],"user":"0","group":"0","mountPoints":[{"name":"m","path":"../../etc"}]}}`, []string{`app.mountPoints[0].path: "../../etc" is not an absolute path`}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "hostile.aci")
			writeTar(t, img, []tarEntry{
				{hdr: tar.Header{Name: "manifest", Typeflag: tar.TypeReg, Mode: 0o644}, body: tc.manifest},
				{hdr: tar.Header{Name: "rootfs", Typeflag: tar.TypeDir}},
				{hdr: tar.Header{Name: "rootfs/x", Typeflag: tar.TypeReg}, body: "#!/bin/sh\n"},
			})
			data := t.TempDir()
			r := acirun(t, "--dir", data, "fetch", "--insecure-options=image", img)
			// The error line, without the image's path (which holds
			// the test's name).
			msg := ""
			for _, l := range strings.Split(r.stderr, "\n") {
				if strings.HasPrefix(l, "acirun: ") {
					msg = strings.ReplaceAll(l, img, "IMG")
				}
			}
			errLine := msg
			if len(msg) > 600 {
				msg = msg[:600] + "…"
			}
			if r.code != 254 {
				t.Fatalf("exit %d, stderr %q; want 254", r.code, msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(strings.ToLower(errLine), strings.ToLower(w)) {
					t.Errorf("stderr %q lacks %q", msg, w)
				}
			}
			if len(r.stderr) > 4096 {
				t.Errorf("the error is %d bytes long: it should name the problem, not repeat the input", len(r.stderr))
			}
			if left := storeLeftovers(t, data); len(left) != 0 {
				t.Errorf("the refused image left %v in the store", left)
			}
			v := acirun(t, "image", "validate", img)
			if v.code == 0 {
				t.Errorf("image validate accepts what fetch refuses: %s", v.stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(strings.ToLower(v.stdout+v.stderr), strings.ToLower(w)) {
					t.Errorf("image validate does not say %q: %.600s", w, v.stdout+v.stderr)
				}
			}
		})
	}
}

// entries is n copies of format, each given its index, joined by commas.
func entries(n int, format string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, format, i)
	}
	return b.String()
}
