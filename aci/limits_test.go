package aci

import (
	"fmt"
	"strings"
	"testing"
)

// TestListBounds: each list a pod pays for per entry is accepted with as
// many entries as its bound, and refused with one more by a single error
// naming the list and the bound (not one error per entry), in image and
// pod manifests alike. Each manifest is well under MaxManifestSize: the
// size cap alone would let some 60000 entries through.
func TestListBounds(t *testing.T) {
	list := func(n int, entry func(i int) string) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(entry(i))
		}
		return "[" + b.String() + "]"
	}
	const head = `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/x"`
	app := func(field string) func(n int, entry func(int) string) string {
		return func(n int, entry func(int) string) string {
			return head + `,"app":{"exec":["/x"],"user":"0","group":"0","` + field + `":` + list(n, entry) + `}}`
		}
	}
	const podHead = `{"acKind":"PodManifest","acVersion":"0.8.11"`
	oneApp := `[{"name":"a","image":{"name":"example.com/a"}}]`
	for _, tc := range []struct {
		name  string
		pod   bool
		max   int
		path  string
		doc   func(n int, entry func(int) string) string
		entry func(i int) string
	}{
		{"app ports", false, MaxPorts, "app.ports", app("ports"), func(i int) string { return fmt.Sprintf(`{"name":"p%d","protocol":"tcp","port":%d}`, i, i+1) }},
		{"app mount points", false, MaxMountPoints, "app.mountPoints", app("mountPoints"), func(i int) string { return fmt.Sprintf(`{"name":"m%d","path":"/m/%d"}`, i, i) }},
		{"app environment", false, MaxEnvironment, "app.environment", app("environment"), func(i int) string { return fmt.Sprintf(`{"name":"E%d","value":"v"}`, i) }},
		{"dependencies", false, MaxDependencies, "dependencies", func(n int, entry func(int) string) string { return head + `,"dependencies":` + list(n, entry) + `}` },
			func(i int) string { return fmt.Sprintf(`{"imageName":"example.com/d%d"}`, i) }},
		{"pod apps", true, MaxApps, "apps", func(n int, entry func(int) string) string { return podHead + `,"apps":` + list(n, entry) + `}` },
			func(i int) string { return fmt.Sprintf(`{"name":"a%d","image":{"name":"example.com/a"}}`, i) }},
		{"pod volumes", true, MaxVolumes, "volumes", func(n int, entry func(int) string) string {
			return podHead + `,"apps":` + oneApp + `,"volumes":` + list(n, entry) + `}`
		}, func(i int) string { return fmt.Sprintf(`{"name":"v%d","kind":"empty"}`, i) }},
		{"pod ports", true, MaxPorts, "ports", func(n int, entry func(int) string) string {
			return podHead + `,"apps":` + oneApp + `,"ports":` + list(n, entry) + `}`
		}, func(i int) string { return fmt.Sprintf(`{"name":"p%d","hostPort":%d}`, i, i+1) }},
		{"pod app mounts", true, MaxMountPoints, "apps[0].mounts", func(n int, entry func(int) string) string {
			return podHead + `,"apps":[{"name":"a","image":{"name":"example.com/a"},"mounts":` + list(n, entry) + `}],"volumes":[{"name":"v","kind":"empty"}]}`
		}, func(i int) string { return fmt.Sprintf(`{"volume":"v","path":"/m/%d"}`, i) }},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			parse := func(doc string) error {
				if len(doc) > MaxManifestSize/4 {
					t.Fatalf("the test manifest is %d bytes: it should be well under the size cap", len(doc))
				}
				if tc.pod {
					_, err := ParsePodManifest([]byte(doc))
					return err
				}
				_, err := ParseImageManifest([]byte(doc))
				return err
			}
			if err := parse(tc.doc(tc.max, tc.entry)); err != nil {
				t.Errorf("%d entries, the bound: %v", tc.max, err)
			}
			err := parse(tc.doc(tc.max+1, tc.entry))
			wantErr(t, err, tc.path, fmt.Sprintf("%d entries, more than the limit of %d", tc.max+1, tc.max))
			if el, ok := err.(ErrorList); ok && len(el) != 1 {
				t.Errorf("%d errors for one list too long: %v", len(el), err)
			}
		})
	}
}
