package pod

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/podcontract"
)

// testImage makes an image as the store would hand it over: a parsed
// manifest, an ID and a rendered tree with a rootfs directory.
func testImage(t testing.TB, manifest string) *Image {
	t.Helper()
	m, err := aci.ParseImageManifest([]byte(manifest))
	if err != nil {
		t.Fatalf("test manifest: %v\n%s", err, manifest)
	}
	sum := sha512.Sum512([]byte(manifest))
	id, err := aci.ParseImageID("sha512-" + hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(t.TempDir(), "tree")
	if err := os.MkdirAll(filepath.Join(tree, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "manifest"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return &Image{ID: id, Manifest: m, Tree: tree}
}

func manifestJSON(name, app string) string {
	s := `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"` + name + `"`
	if app != "" {
		s += `,"app":` + app
	}
	return s + "}"
}

func envMap(e aci.Environment) map[string]string {
	m := map[string]string{}
	for _, v := range e {
		m[v.Name] = v.Value
	}
	return m
}

func TestReifyEnvironmentPrecedence(t *testing.T) {
	img := testImage(t, manifestJSON("example.com/env", `{"exec":["/bin/env"],"user":"0","group":"0",
		"environment":[{"name":"A","value":"image"},{"name":"B","value":"image"},{"name":"C","value":"image"},{"name":"D","value":"image"}]}`))
	other := testImage(t, manifestJSON("example.com/other", `{"exec":["/bin/other"],"user":"0","group":"0"}`))
	host := []string{"A=host", "H=host", "BASH_FUNC_f%%=() { :; }", "NOVALUE", "E=host",
		"AC_APP_NAME=host", "container=docker", "AC_METADATA_URL=http://host"} // the runtime's own: never inherited
	fileEnv, err := parseEnvFile("f", strings.NewReader("# comment\n\nB=file\nC=file\nE=file=x\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, inherit := range []bool{false, true} {
		req := &RunRequest{SetEnv: []EnvVar{{"C", "set"}, {"D", "set"}}, InheritEnv: inherit,
			Apps: []AppRequest{{Image: "example.com/env", Environment: []EnvVar{{"D", "app"}}}, {Image: "example.com/other"}}}
		in := &reifyInput{req: req, images: []*Image{img, other}, envs: fileEnv, host: host}
		pm, err := in.reify()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"A": "image", "B": "file", "C": "set", "D": "app", "E": "file=x"}
		wantOther := map[string]string{"B": "file", "C": "set", "D": "set", "E": "file=x"}
		if inherit {
			want["H"], wantOther["H"], wantOther["A"] = "host", "host", "host"
		}
		if got := envMap(pm.Apps[0].App.Environment); !reflect.DeepEqual(got, want) {
			t.Errorf("inherit=%v: app env %v, want %v", inherit, got, want)
		}
		if got := envMap(pm.Apps[1].App.Environment); !reflect.DeepEqual(got, wantOther) {
			t.Errorf("inherit=%v: other app env %v, want %v", inherit, got, wantOther)
		}
		if inherit && pm.Apps[1].App.Environment[0].Name != "A" {
			t.Errorf("host environment should come first: %v", pm.Apps[1].App.Environment)
		}
	}
	// The store's manifest is not touched.
	if len(img.Manifest.App.Environment) != 4 || img.Manifest.App.Environment[3].Value != "image" {
		t.Errorf("image manifest modified: %v", img.Manifest.App.Environment)
	}
}

func sharesp(n int) *aci.LinuxCPUShares { s := aci.LinuxCPUShares(n); return &s }

func TestReifyAppOverrides(t *testing.T) {
	full := testImage(t, manifestJSON("example.com/full", `{"exec":["/bin/app","-x"],"user":"app","group":"app",
		"supplementaryGIDs":[5],"workingDirectory":"/srv",
		"isolators":[{"name":"resource/memory","value":{"limit":"1G"}},
			{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_NET_ADMIN"]}},
			{"name":"os/linux/seccomp-remove-set","value":{"set":["reboot"]}},
			{"name":"os/linux/cpu-shares","value":100}]}`))
	noApp := testImage(t, manifestJSON("example.com/base", ""))
	noExec := testImage(t, manifestJSON("example.com/noexec", `{"user":"0","group":"0"}`))
	tests := []struct {
		name   string
		req    *RunRequest
		images []*Image
		check  func(t *testing.T, pm *aci.PodManifest)
		err    string
	}{
		{name: "image app as is", req: &RunRequest{Apps: []AppRequest{{Image: "img"}}}, images: []*Image{full}, check: func(t *testing.T, pm *aci.PodManifest) {
			ra := pm.Apps[0]
			if ra.Name != "full" || ra.Image.ID != full.ID || ra.Image.Name != "example.com/full" {
				t.Errorf("runtime app %+v", ra)
			}
			if !reflect.DeepEqual(ra.App.Exec, []string{"/bin/app", "-x"}) || ra.App.User != "app" || ra.App.WorkingDirectory != "/srv" {
				t.Errorf("app %+v", ra.App)
			}
		}},
		{name: "args appended as rkt", req: &RunRequest{Apps: []AppRequest{{Image: "img", Args: []string{"a", "b"}}}}, images: []*Image{full}, check: func(t *testing.T, pm *aci.PodManifest) {
			if got := pm.Apps[0].App.Exec; !reflect.DeepEqual(got, []string{"/bin/app", "-x", "a", "b"}) {
				t.Errorf("exec %q", got)
			}
		}},
		{name: "exec override with args", req: &RunRequest{Apps: []AppRequest{{Image: "img", Exec: "/bin/sh", Args: []string{"-c", "true"}}}}, images: []*Image{full}, check: func(t *testing.T, pm *aci.PodManifest) {
			if got := pm.Apps[0].App.Exec; !reflect.DeepEqual(got, []string{"/bin/sh", "-c", "true"}) {
				t.Errorf("exec %q", got)
			}
		}},
		{name: "identity overrides", req: &RunRequest{Apps: []AppRequest{{Image: "img", User: "1000", Group: "100", SupplementaryGIDs: []int{7, 8}, WorkingDir: "/tmp", ReadOnlyRootFS: true}}}, images: []*Image{full},
			check: func(t *testing.T, pm *aci.PodManifest) {
				a := pm.Apps[0].App
				if a.User != "1000" || a.Group != "100" || !reflect.DeepEqual(a.SupplementaryGIDs, []uint32{7, 8}) || a.WorkingDirectory != "/tmp" || !pm.Apps[0].ReadOnlyRootFS {
					t.Errorf("app %+v readOnly %v", a, pm.Apps[0].ReadOnlyRootFS)
				}
			}},
		{name: "isolator overrides replace the image's", req: &RunRequest{Apps: []AppRequest{{Image: "img", Memory: "64Mi", CPU: "500m", CapsRemove: []string{"CAP_MKNOD"},
			Seccomp: &SeccompFlag{Mode: "retain", Errno: "EPERM", Set: []string{"read", "write"}}, OOMScoreAdj: intp(100), CPUShares: sharesp(512)}}},
			images: []*Image{full}, check: func(t *testing.T, pm *aci.PodManifest) {
				is := pm.Apps[0].App.Isolators
				if m, ok := is.Memory(); !ok || m.Limit != 64<<20 || m.Request != 64<<20 {
					t.Errorf("memory %+v %v", m, ok)
				}
				if c, ok := is.CPU(); !ok || c.LimitMilli != 500 {
					t.Errorf("cpu %+v %v", c, ok)
				}
				if _, ok := is.CapabilitiesRetain(); ok {
					t.Errorf("image's retain set kept beside --caps-remove: %+v", is)
				}
				if r, ok := is.CapabilitiesRemove(); !ok || !reflect.DeepEqual(r.Set, []aci.LinuxCapability{"CAP_MKNOD"}) {
					t.Errorf("caps remove %+v %v", r, ok)
				}
				if _, ok := is.SeccompRemove(); ok {
					t.Errorf("image's seccomp remove set kept beside --seccomp mode=retain")
				}
				if s, ok := is.SeccompRetain(); !ok || s.Errno != "EPERM" || !reflect.DeepEqual(s.Set, []string{"read", "write"}) {
					t.Errorf("seccomp %+v %v", s, ok)
				}
				if o, ok := is.OOMScoreAdj(); !ok || o != 100 {
					t.Errorf("oom %v %v", o, ok)
				}
				var shares []aci.IsolatorValue
				for _, i := range is {
					if i.Name == aci.IsolatorCPUShares {
						shares = append(shares, i.Value)
					}
				}
				if !reflect.DeepEqual(shares, []aci.IsolatorValue{aci.LinuxCPUShares(512)}) {
					t.Errorf("cpu-shares isolators %v, want --cpu-shares's alone", shares)
				}
				if len(is) != 6 {
					t.Errorf("%d isolators, want 6: %+v", len(is), is)
				}
				if m, _ := full.Manifest.App.Isolators.Memory(); m.Limit != 1e9 {
					t.Errorf("image manifest modified: memory %+v", m)
				}
			}},
		// The operator's capability sets are marked as the operator's, so
		// that stage1 grants what they name without
		// --insecure-options=capabilities; the image's are not.
		{name: "operator's capability sets marked", req: &RunRequest{Apps: []AppRequest{{Image: "a", CapsRetain: []string{"CAP_SYS_ADMIN"}}, {Image: "b", Name: "rm", CapsRemove: []string{"CAP_KILL"}}, {Image: "c", Name: "image"}}},
			images: []*Image{full, full, full}, check: func(t *testing.T, pm *aci.PodManifest) {
				for i, want := range []bool{true, true, false} {
					v, ok := pm.Apps[i].Annotations.Get(podcontract.OperatorCapsAnnotation)
					if got := ok && v == podcontract.OperatorCapsValue; got != want {
						t.Errorf("app %s: operator capabilities annotation %q (%v), want it %v", pm.Apps[i].Name, v, ok, want)
					}
				}
				if r, _ := pm.Apps[0].App.Isolators.CapabilitiesRetain(); !reflect.DeepEqual(r.Set, []aci.LinuxCapability{"CAP_SYS_ADMIN"}) {
					t.Errorf("retain set %v", r.Set)
				}
			}},
		{name: "image without app needs --exec", req: &RunRequest{Apps: []AppRequest{{Image: "base"}}}, images: []*Image{noApp}, err: "has no app: give --exec"},
		{name: "image without app and --exec", req: &RunRequest{Apps: []AppRequest{{Image: "base", Exec: "/bin/sh"}}}, images: []*Image{noApp}, check: func(t *testing.T, pm *aci.PodManifest) {
			a := pm.Apps[0].App
			if !reflect.DeepEqual(a.Exec, []string{"/bin/sh"}) || a.User != "0" || a.Group != "0" {
				t.Errorf("app %+v", a)
			}
		}},
		{name: "app without exec", req: &RunRequest{Apps: []AppRequest{{Image: "noexec"}}}, images: []*Image{noExec}, err: "its app has no exec: give --exec"},
		{name: "duplicate default names", req: &RunRequest{Apps: []AppRequest{{Image: "a"}, {Image: "b"}}}, images: []*Image{full, testImage(t, manifestJSON("other.org/full", `{"exec":["/x"],"user":"0","group":"0"}`))},
			err: `would both be app "full" in the pod: give one of them --name`},
		{name: "--name resolves the clash", req: &RunRequest{Apps: []AppRequest{{Image: "a"}, {Image: "b", Name: "full2"}}}, images: []*Image{full, testImage(t, manifestJSON("other.org/full", `{"exec":["/x"],"user":"0","group":"0"}`))},
			check: func(t *testing.T, pm *aci.PodManifest) {
				if pm.Apps[0].Name != "full" || pm.Apps[1].Name != "full2" {
					t.Errorf("names %s %s", pm.Apps[0].Name, pm.Apps[1].Name)
				}
			}},
		{name: "default name sanitized", req: &RunRequest{Apps: []AppRequest{{Image: "x"}}}, images: []*Image{testImage(t, manifestJSON("example.com/hello_world", `{"exec":["/x"],"user":"0","group":"0"}`))},
			check: func(t *testing.T, pm *aci.PodManifest) {
				if pm.Apps[0].Name != "hello-world" {
					t.Errorf("name %s", pm.Apps[0].Name)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &reifyInput{req: tt.req, images: tt.images}
			pm, err := in.reify()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := pm.Validate(); err != nil {
				t.Errorf("invalid pod manifest: %v", err)
			}
			if err := pm.ValidateReified(nil); err != nil {
				t.Errorf("not reified: %v", err)
			}
			tt.check(t, pm)
		})
	}
}

func TestReifyMounts(t *testing.T) {
	web := testImage(t, manifestJSON("example.com/web", `{"exec":["/web"],"user":"0","group":"0","mountPoints":[
		{"name":"data","path":"/data"},{"name":"cache","path":"/cache"},{"name":"logs","path":"/var/log","readOnly":true}]}`))
	worker := testImage(t, manifestJSON("example.com/worker", `{"exec":["/w"],"user":"0","group":"0","mountPoints":[
		{"name":"cache","path":"/cache"},{"name":"data","path":"/data"}]}`))
	host := t.TempDir()
	req := &RunRequest{
		Volumes: []VolumeFlag{{Name: "data", Kind: "host", Source: host}, {Name: "shared", Kind: "empty", Mode: "0700", UID: intp(1)}},
		Mounts:  []MountFlag{{Volume: "shared", Target: "/shared"}},
		Apps: []AppRequest{
			{Image: "web", Mounts: []MountFlag{{Volume: "shared", Target: "/var/log"}}},
			{Image: "worker", Mounts: []MountFlag{{Volume: "data", Target: "/shared"}}},
		},
	}
	in := &reifyInput{req: req, images: []*Image{web, worker}}
	pm, err := in.reify()
	if err != nil {
		t.Fatal(err)
	}
	if err := pm.ValidateReified(nil); err != nil {
		t.Fatalf("not reified: %v", err)
	}
	mounts := func(ra aci.RuntimeApp) map[string]aci.ACName {
		m := map[string]aci.ACName{}
		for _, x := range ra.Mounts {
			m[x.Path] = x.Volume
		}
		return m
	}
	wantWeb := map[string]aci.ACName{"/var/log": "shared", "/shared": "shared", "/data": "data", "/cache": "cache"}
	if got := mounts(pm.Apps[0]); !reflect.DeepEqual(got, wantWeb) {
		t.Errorf("web mounts %v, want %v", got, wantWeb)
	}
	// worker: its own --mount wins over the pod-wide one for /shared; its
	// cache mount point gets a second implicit volume.
	wantWorker := map[string]aci.ACName{"/shared": "data", "/data": "data", "/cache": "worker-cache"}
	if got := mounts(pm.Apps[1]); !reflect.DeepEqual(got, wantWorker) {
		t.Errorf("worker mounts %v, want %v", got, wantWorker)
	}
	var names []string
	for _, v := range pm.Volumes {
		names = append(names, string(v.Name)+":"+string(v.Kind))
	}
	if want := []string{"data:host", "shared:empty", "cache:empty", "worker-cache:empty"}; !slices.Equal(names, want) {
		t.Errorf("volumes %v, want %v", names, want)
	}
	if v := pm.Volumes[0]; v.Source != host || !v.Recursive || v.ReadOnly {
		t.Errorf("host volume %+v", v)
	}
	if v := pm.Volumes[1]; v.Mode != "0700" || v.UID != 1 || v.GID != 0 {
		t.Errorf("empty volume %+v", v)
	}
	if len(in.notes) != 2 || !strings.Contains(in.notes[0], "app web: no volume for mount point cache (/cache): using a new empty volume cache") {
		t.Errorf("notes %q", in.notes)
	}
}

func TestReifyPodManifest(t *testing.T) {
	img := testImage(t, manifestJSON("example.com/db", `{"exec":["/db"],"user":"0","group":"0","mountPoints":[{"name":"data","path":"/var/db"}]}`))
	pm, err := aci.ParsePodManifest([]byte(`{"acKind":"PodManifest","acVersion":"0.8.11",
		"apps":[{"name":"db","image":{"name":"example.com/db"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	in := &reifyInput{req: &RunRequest{PodManifest: "p.json"}, images: []*Image{img}, manual: pm}
	got, err := in.reifyManifest()
	if err != nil {
		t.Fatal(err)
	}
	ra := got.Apps[0]
	if ra.Image.ID != img.ID || ra.App == nil || ra.App.Exec[0] != "/db" || len(ra.Mounts) != 1 || ra.Mounts[0].Volume != "data" {
		t.Errorf("reified app %+v", ra)
	}
	if len(got.Volumes) != 1 || got.Volumes[0].Kind != aci.VolumeEmpty {
		t.Errorf("volumes %+v", got.Volumes)
	}

	noApp := testImage(t, manifestJSON("example.com/base", ""))
	pm2, _ := aci.ParsePodManifest([]byte(`{"acKind":"PodManifest","acVersion":"0.8.11","apps":[{"name":"b","image":{"name":"example.com/base"}}]}`))
	in = &reifyInput{req: &RunRequest{PodManifest: "p.json"}, images: []*Image{noApp}, manual: pm2}
	if _, err := in.reifyManifest(); err == nil || !strings.Contains(err.Error(), "app b: image example.com/base") {
		t.Errorf("pod manifest app without app: error %v", err)
	}
}

func TestParseEnvFile(t *testing.T) {
	env, err := parseEnvFile("f", strings.NewReader("A=1\r\n  # indented comment\nB=two words\nA=3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []EnvVar{{"B", "two words"}, {"A", "3"}}; !reflect.DeepEqual(env, want) {
		t.Errorf("env %v, want %v", env, want)
	}
	if _, err := parseEnvFile("f", strings.NewReader("A=1\nexport B=2\n")); err == nil || !strings.Contains(err.Error(), "f:2: invalid variable name") {
		t.Errorf("bad line: %v", err)
	}
}

func TestParseEnvFileLongLine(t *testing.T) {
	long := strings.Repeat("x", MaxEnvLine)
	tests := []struct {
		name string
		text io.Reader
		line int // 0: accepted
	}{
		{"value at the limit", strings.NewReader("A=1\n" + "B=" + long[2:] + "\n"), 0},
		{"value at the limit with CR LF", strings.NewReader("B=" + long[2:] + "\r\n"), 0},
		{"one byte over", strings.NewReader("A=1\n\nB=" + long[1:] + "\n"), 3},
		{"100 MB on line 2", io.MultiReader(strings.NewReader("# c\nB="), io.LimitReader(ys{}, 100<<20)), 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseEnvFile("f", tc.text)
			if tc.line == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrEnvLineTooLong) || !strings.Contains(err.Error(), fmt.Sprintf("f:%d: ", tc.line)) || !strings.Contains(err.Error(), "MAX_ARG_STRLEN") {
				t.Fatalf("error %v, want ErrEnvLineTooLong at f:%d naming MAX_ARG_STRLEN", err, tc.line)
			}
		})
	}
}

// ys is an endless stream of 'y'.
type ys struct{}

func (ys) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'y'
	}
	return len(p), nil
}

func TestReifyPorts(t *testing.T) {
	web := testImage(t, manifestJSON("example.com/web", `{"exec":["/bin/web"],"user":"0","group":"0",
		"ports":[{"name":"http","protocol":"tcp","port":80},{"name":"metrics","protocol":"tcp","port":9100}]}`))
	bare := testImage(t, manifestJSON("example.com/bare", `{"exec":["/bin/bare"],"user":"0","group":"0"}`))
	sctp := testImage(t, manifestJSON("example.com/sctp", `{"exec":["/bin/s"],"user":"0","group":"0","ports":[{"name":"sig","protocol":"sctp","port":2905}]}`))
	published := []aci.ExposedPort{{Name: "http", HostPort: 8080}, {Name: "metrics", HostPort: 9100, HostIP: netip.MustParseAddr("127.0.0.1")}}
	for _, tc := range []struct {
		args   string // as the command line would say it
		ports  []aci.ExposedPort
		images []*Image
		want   []aci.ExposedPort
		err    string
	}{
		{"--port http:8080 --port metrics:127.0.0.1:9100 a b", published, []*Image{bare, web}, published, ""},
		{"a", nil, []*Image{web}, nil, ""},
		{"--port https:8443 a", []aci.ExposedPort{{Name: "https", HostPort: 8443}}, []*Image{web}, nil, "--port=https: no app of the pod declares a port named https (they declare http, metrics)"},
		{"--port http:80 a", []aci.ExposedPort{{Name: "http", HostPort: 80}}, []*Image{bare}, nil, "--port=http: no app of the pod declares a port"},
		{"--port sig:2905 s", []aci.ExposedPort{{Name: "sig", HostPort: 2905}}, []*Image{sctp}, nil, "--port=sig: app sctp declares it as sctp, and acirun publishes tcp and udp ports only"},
		{"s", nil, []*Image{sctp}, nil, ""}, // a declared SCTP port is no error: stage1 says it is not published
	} {
		req := &RunRequest{Ports: tc.ports}
		for _, img := range tc.images {
			req.Apps = append(req.Apps, AppRequest{Image: string(img.Manifest.Name)})
		}
		in := &reifyInput{req: req, images: tc.images}
		pm, err := in.reify()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want an error containing %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.args, err)
			continue
		}
		if !reflect.DeepEqual(pm.Ports, tc.want) {
			t.Errorf("%s: pod ports %+v, want %+v", tc.args, pm.Ports, tc.want)
		}
		if err := pm.ValidateReified(nil); err != nil {
			t.Errorf("%s: %v", tc.args, err)
		}
	}
}

func intp(i int) *int { return &i }

// quantities are resource limits as users write them, valid and not.
var quantities = []string{
	"1e9", "64M", "64Mi", "1G", "1.5Gi", ".5Gi", "+2G", "5.", "4Ki", "1E", "7Ei", "1e+6", "5e-1", "500m", "250m", "2", "1n",
	"8Ei", "10E", "1e40", "1K", "1g", "64MB", "-1G", "0x10", "1 G", "", "1e", "Gi",
}

// TestQuantityOptionsAgreeWithManifests feeds the same quantities to an
// image manifest's resource isolators and to an app's Memory and CPU
// options: each is accepted by both or refused by both, and an accepted one
// means the same limit. (1e9 was once refused by the flags alone, and 8Ei
// became a negative limit that only the manifest refused.) The CLI's flags
// accept what aci.ParseQuantity accepts, less limits too low to be meant
// (cmd/acirun's TestQuantityFlags).
func TestQuantityOptionsAgreeWithManifests(t *testing.T) {
	for _, q := range quantities {
		for _, r := range []struct {
			option, isolator string
			app              AppRequest
			value            func(aci.Isolators) (int64, bool)
		}{
			{"Memory", "resource/memory", AppRequest{Memory: q}, func(is aci.Isolators) (int64, bool) { m, ok := is.Memory(); return m.Limit, ok }},
			{"CPU", "resource/cpu", AppRequest{CPU: q}, func(is aci.Isolators) (int64, bool) { c, ok := is.CPU(); return c.LimitMilli, ok }},
		} {
			manifest := manifestJSON("example.com/q", `{"exec":["/a"],"user":"0","group":"0","isolators":[{"name":"`+r.isolator+`","value":{"limit":"`+q+`"}}]}`)
			m, merr := aci.ParseImageManifest([]byte(manifest))
			app := &aci.App{}
			err := overrideIsolators(app, &r.app)
			if q == "" {
				// An empty option is no option; an empty limit is refused.
				if err != nil || merr == nil {
					t.Errorf("%s %q: %v; manifest %v", r.option, q, err, merr)
				}
				continue
			}
			if (err == nil) != (merr == nil) {
				t.Errorf("%s %q: %v; the manifest's %v", r.option, q, err, merr)
				continue
			}
			if err != nil {
				continue
			}
			want, _ := r.value(m.App.Isolators)
			if got, _ := r.value(app.Isolators); got != want {
				t.Errorf("%s %q: limit %d; the manifest's %d", r.option, q, got, want)
			}
		}
	}
}

func FuzzParseEnvFile(f *testing.F) {
	f.Add([]byte("A=1\n# c\n\nB=x=y\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := parseEnvFile("f", bytes.NewReader(b))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, e := range env {
			if !aci.ValidEnvironmentName(e.Name) || seen[e.Name] {
				t.Fatalf("bad or repeated name %q", e.Name)
			}
			seen[e.Name] = true
		}
	})
}

// TestReifyUserAnnotations: --user-annotation and --user-label land in the
// app's userAnnotations and userLabels, over the image app's own, the
// pod-wide ones (given before the first image) under each app's own, and
// survive the pod manifest's JSON round trip.
func TestReifyUserAnnotations(t *testing.T) {
	web := testImage(t, manifestJSON("example.com/web", `{"exec":["/web"],"user":"0","group":"0",
		"userAnnotations":{"team":"image","keep":"image"},"userLabels":{"tier":"image"}}`))
	worker := testImage(t, manifestJSON("example.com/worker", `{"exec":["/w"],"user":"0","group":"0"}`))
	bare := testImage(t, manifestJSON("example.com/bare", `{"exec":["/b"],"user":"0","group":"0"}`))
	req := &RunRequest{
		UserAnnotations: map[string]string{"team": "pod", "owner": "ops"},
		UserLabels:      map[string]string{"env": "prod"},
		Apps: []AppRequest{
			{Image: "web", UserAnnotations: map[string]string{"owner": "web-team"}, UserLabels: map[string]string{"tier": "front"}},
			{Image: "worker"},
		},
	}
	pm, err := (&reifyInput{req: req, images: []*Image{web, worker}}).reify()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := pm.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := aci.ParsePodManifest(raw)
	if err != nil {
		t.Fatalf("reparse: %v\n%s", err, raw)
	}
	tests := []struct {
		app                 int
		annotations, labels map[string]string
	}{
		{0, map[string]string{"team": "pod", "keep": "image", "owner": "web-team"}, map[string]string{"tier": "front", "env": "prod"}},
		{1, map[string]string{"team": "pod", "owner": "ops"}, map[string]string{"env": "prod"}},
	}
	for _, tt := range tests {
		app := back.Apps[tt.app].App
		if !reflect.DeepEqual(app.UserAnnotations, tt.annotations) {
			t.Errorf("app %s userAnnotations %v, want %v", back.Apps[tt.app].Name, app.UserAnnotations, tt.annotations)
		}
		if !reflect.DeepEqual(app.UserLabels, tt.labels) {
			t.Errorf("app %s userLabels %v, want %v", back.Apps[tt.app].Name, app.UserLabels, tt.labels)
		}
	}
	// The given ones are the apps' annotations too, for the metadata service.
	if got, want := back.Apps[0].Annotations, (aci.Annotations{{Name: "owner", Value: "web-team"}, {Name: "team", Value: "pod"}}); !reflect.DeepEqual(got, want) {
		t.Errorf("web annotations %v, want %v", got, want)
	}
	if web.Manifest.App.UserAnnotations["team"] != "image" {
		t.Error("reify changed the image's manifest")
	}

	// None given and none in the image: the keys are left out.
	pm, err = (&reifyInput{req: &RunRequest{Apps: []AppRequest{{Image: "bare"}}}, images: []*Image{bare}}).reify()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = pm.MarshalJSON()
	if strings.Contains(string(raw), "userAnnotations") || strings.Contains(string(raw), "userLabels") {
		t.Errorf("empty user annotations written: %s", raw)
	}
}

// TestReifyStopSignal: an image's stop signal annotation (what an OCI
// image's StopSignal becomes) that stage1 could not send refuses the
// prepare, naming the image and the value; a good one passes.
func TestReifyStopSignal(t *testing.T) {
	for _, tc := range []struct {
		value, errHas string
	}{
		{"SIGQUIT", ""},
		{"3", ""},
		{"SIGNOPE", `annotation oci/stop-signal: stop signal "SIGNOPE"`},
		{"0", `stop signal "0"`},
	} {
		img := testImage(t, `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/stop",
			"app":{"exec":["/s"],"user":"0","group":"0"},"annotations":[{"name":"oci/stop-signal","value":"`+tc.value+`"}]}`)
		_, err := (&reifyInput{req: &RunRequest{Apps: []AppRequest{{Image: "stop"}}}, images: []*Image{img}}).reify()
		if tc.errHas == "" && err != nil {
			t.Errorf("stop signal %q: %v", tc.value, err)
		}
		if tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas) || !strings.Contains(err.Error(), "example.com/stop")) {
			t.Errorf("stop signal %q: %v, want an error naming the image and saying %q", tc.value, err, tc.errHas)
		}
	}
}
