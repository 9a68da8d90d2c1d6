package oci

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/stage0/ociref"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestManifestMapping(t *testing.T) {
	meta := Meta{Name: "example.com/web", Version: "1.0"}
	for _, tc := range []struct {
		name   string
		cfg    v1.Config
		arch   string
		check  func(t *testing.T, m *aci.ImageManifest)
		errHas string
	}{
		{name: "exec is entrypoint then cmd", cfg: v1.Config{Entrypoint: []string{"/bin/sh", "-c"}, Cmd: []string{"echo hi"}}, check: func(t *testing.T, m *aci.ImageManifest) {
			if got := strings.Join(m.App.Exec, "|"); got != "/bin/sh|-c|echo hi" {
				t.Errorf("exec %q", got)
			}
			if ociref.CmdArgs(m) != 1 {
				t.Errorf("CmdArgs %d", ociref.CmdArgs(m))
			}
		}},
		{name: "bare program name kept for PATH", cfg: v1.Config{Cmd: []string{"nginx", "-g", "daemon off;"}}, check: func(t *testing.T, m *aci.ImageManifest) {
			if m.App.Exec[0] != "nginx" || ociref.CmdArgs(m) != 3 {
				t.Errorf("exec %q, CmdArgs %d", m.App.Exec, ociref.CmdArgs(m))
			}
		}},
		{name: "relative program from the working directory", cfg: v1.Config{Entrypoint: []string{"./bin/run"}, WorkingDir: "/app"}, check: func(t *testing.T, m *aci.ImageManifest) {
			if m.App.Exec[0] != "/app/bin/run" || m.App.WorkingDirectory != "/app" || ociref.CmdArgs(m) != 0 {
				t.Errorf("exec %q, wd %q", m.App.Exec, m.App.WorkingDirectory)
			}
		}},
		{name: "no user is root", cfg: v1.Config{}, check: func(t *testing.T, m *aci.ImageManifest) {
			if m.App.User != "0" || m.App.Group != "0" {
				t.Errorf("user %q group %q", m.App.User, m.App.Group)
			}
		}},
		{name: "uid:gid", cfg: v1.Config{User: "1000:100"}, check: func(t *testing.T, m *aci.ImageManifest) {
			if m.App.User != "1000" || m.App.Group != "100" {
				t.Errorf("user %q group %q", m.App.User, m.App.Group)
			}
		}},
		{name: "name without group takes passwd's", cfg: v1.Config{User: "www"}, check: func(t *testing.T, m *aci.ImageManifest) {
			if m.App.User != "www" || m.App.Group != "33" {
				t.Errorf("user %q group %q", m.App.User, m.App.Group)
			}
		}},
		{name: "unknown uid gets group 0", cfg: v1.Config{User: "4242"}, check: func(t *testing.T, m *aci.ImageManifest) {
			if m.App.User != "4242" || m.App.Group != "0" {
				t.Errorf("user %q group %q", m.App.User, m.App.Group)
			}
		}},
		{name: "user with empty group", cfg: v1.Config{User: "www:"}, errHas: "user"},
		{name: "env: last wins", cfg: v1.Config{Env: []string{"A=1", "B=x=y", "A=2", "EMPTY"}}, check: func(t *testing.T, m *aci.ImageManifest) {
			a, _ := m.App.Environment.Get("A")
			b, _ := m.App.Environment.Get("B")
			e, ok := m.App.Environment.Get("EMPTY")
			if a != "2" || b != "x=y" || !ok || e != "" {
				t.Errorf("env %+v", m.App.Environment)
			}
		}},
		{name: "bad env name", cfg: v1.Config{Env: []string{"1A=x"}}, errHas: "environment entry"},
		{name: "ports", cfg: v1.Config{ExposedPorts: map[string]struct{}{"80": {}, "80/tcp": {}, "53/UDP": {}, "9000-9009/sctp": {}}}, check: func(t *testing.T, m *aci.ImageManifest) {
			var got []string
			for _, p := range m.App.Ports {
				got = append(got, string(p.Name)+"/"+p.Protocol)
			}
			if strings.Join(got, " ") != "53-udp/udp 80-tcp/tcp 9000-sctp/sctp" || m.App.Ports[2].Count != 10 {
				t.Errorf("ports %v %+v", got, m.App.Ports)
			}
		}},
		{name: "port out of range", cfg: v1.Config{ExposedPorts: map[string]struct{}{"70000/tcp": {}}}, errHas: "not a port number"},
		{name: "port protocol", cfg: v1.Config{ExposedPorts: map[string]struct{}{"80/icmp": {}}}, errHas: "protocol"},
		{name: "volumes", cfg: v1.Config{Volumes: map[string]struct{}{"/var/lib/data": {}, "/var/lib/data/": {}, "/var/lib/Data": {}}}, check: func(t *testing.T, m *aci.ImageManifest) {
			if len(m.App.MountPoints) != 2 || m.App.MountPoints[0].Name != "volume-var-lib-data" || m.App.MountPoints[1].Name != "volume-var-lib-data-2" {
				t.Errorf("mount points %+v", m.App.MountPoints)
			}
		}},
		{name: "relative volume", cfg: v1.Config{Volumes: map[string]struct{}{"data": {}}}, errHas: "absolute"},
		{name: "stop signal", cfg: v1.Config{StopSignal: "SIGQUIT"}, check: func(t *testing.T, m *aci.ImageManifest) {
			if v, _ := m.Annotations.Get(AnnotationStopSignal); v != "SIGQUIT" {
				t.Errorf("stop signal annotation %q, want SIGQUIT", v)
			}
		}},
		{name: "bad stop signal", cfg: v1.Config{StopSignal: "SIGNOPE"}, errHas: `StopSignal: stop signal "SIGNOPE"`},
		{name: "labels", cfg: v1.Config{Labels: map[string]string{"Maintainer": "me", "created": "yesterday", "a b": "c", "!!": "gone"}}, check: func(t *testing.T, m *aci.ImageManifest) {
			for name, want := range map[aci.ACIdentifier]string{"maintainer": "me", "oci/label/created": "yesterday", "a-b": "c"} {
				if v, _ := m.Annotations.Get(name); v != want {
					t.Errorf("%s = %q, want %q (%v)", name, v, want, m.Annotations)
				}
			}
		}},
		{name: "arch labels", arch: "arm64", check: func(t *testing.T, m *aci.ImageManifest) {
			if a, _ := m.Labels.Get("arch"); a != "aarch64" {
				t.Errorf("arch %q", a)
			}
			if v, _ := m.Labels.Get("version"); v != "1.0" {
				t.Errorf("version %q", v)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &v1.ConfigFile{OS: "linux", Architecture: tc.arch, Config: tc.cfg}
			m, err := Manifest(cfg, meta, func(u string) (string, bool) {
				return primaryGroup(strings.NewReader("root:x:0:0::/:/bin/sh\nwww:x:33:33::/:/bin/sh\n"), u)
			})
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("Manifest: %v, want an error saying %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, m)
		})
	}
	if _, err := Manifest(&v1.ConfigFile{OS: "windows"}, meta, nil); err == nil || !strings.Contains(err.Error(), "windows") {
		t.Errorf("a windows image: %v", err)
	}
}

// FuzzManifest: any config (as JSON) maps to a manifest that validates, or
// to an error; never a panic, never an invalid manifest.
func FuzzManifest(f *testing.F) {
	f.Add([]byte(`{"os":"linux","architecture":"amd64","config":{"User":"a:b","Entrypoint":["./x"],"Cmd":["y"],"Env":["A=1"],"ExposedPorts":{"80/tcp":{}},"Volumes":{"/d":{}},"Labels":{"x.Y":"z"},"WorkingDir":"w"}}`), "web:x:1:2::/:/bin/sh\n")
	f.Fuzz(func(t *testing.T, cfgJSON []byte, passwd string) {
		cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgJSON))
		if err != nil {
			return
		}
		m, err := Manifest(cfg, Meta{Name: "example.com/x", Version: "1"}, func(u string) (string, bool) { return primaryGroup(strings.NewReader(passwd), u) })
		if err != nil {
			return
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := aci.ParseImageManifest(b); err != nil {
			t.Fatalf("the manifest made does not parse back: %v\n%s", err, b)
		}
		if n := ociref.CmdArgs(m); n < 0 || n > len(m.App.Exec) {
			t.Fatalf("CmdArgs %d of %d", n, len(m.App.Exec))
		}
	})
}

func TestPrimaryGroup(t *testing.T) {
	passwd := "# comment\nroot:x:0:0::/:/bin/sh\nbad line\nweb:x:1000:1001::/:/bin/sh\nodd:x:7:notanumber::/:\n"
	for user, want := range map[string]string{"root": "0", "web": "1001", "1000": "1001", "0": "0", "odd": "", "nobody": "", "x": ""} {
		got, ok := primaryGroup(strings.NewReader(passwd), user)
		if got != want || ok != (want != "") {
			t.Errorf("primaryGroup(%q) = %q, %v; want %q", user, got, ok, want)
		}
	}
}

func TestChoosePlatform(t *testing.T) {
	d := func(os, arch, variant string) v1.Descriptor {
		return v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Platform: &v1.Platform{OS: os, Architecture: arch, Variant: variant}, Digest: v1.Hash{Algorithm: "sha256", Hex: os + arch + variant}}
	}
	list := []v1.Descriptor{
		{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: v1.Hash{Algorithm: "sha256", Hex: "attestation"}, Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}},
		d("linux", "amd64", ""), d("linux", "arm", "v6"), d("linux", "arm", "v7"), d("linux", "arm64", "v8"), d("windows", "amd64", ""),
	}
	for _, tc := range []struct {
		p    v1.Platform
		want string
		err  string
	}{
		{p: v1.Platform{OS: "linux", Architecture: "amd64"}, want: "linuxamd64"},
		{p: v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, want: "linuxarmv7"},
		{p: v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, want: "linuxarm64v8"},
		{p: v1.Platform{OS: "linux", Architecture: "riscv64"}, err: "linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64/v8, windows/amd64"},
	} {
		got, err := choosePlatform(list, tc.p)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "linux/riscv64") {
				t.Errorf("%v: %v, want an error listing %q", tc.p, err, tc.err)
			}
			continue
		}
		if err != nil || got.Digest.Hex != tc.want {
			t.Errorf("%v: %v %v, want %s", tc.p, got.Digest, err, tc.want)
		}
	}
	// arm64 images listed without a variant match too.
	if got, err := choosePlatform([]v1.Descriptor{d("linux", "arm64", "")}, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}); err != nil || got.Digest.Hex != "linuxarm64" {
		t.Errorf("arm64 without variant: %v %v", got, err)
	}
}

func TestName(t *testing.T) {
	for ref, want := range map[string]string{
		"docker://127.0.0.1:5000/web:1":      "127.0.0.1-5000/web",
		"docker://[::1]:5000/a/b":            "1-5000/a/b",
		"docker://registry.example.com/a__b": "registry.example.com/a_b",
		"oci:/srv/images/My Image:1":         "my-image",
		"oci-archive:/srv/web.tar":           "web",
		"docker-archive:./x/busybox.tar.gz":  "busybox",
	} {
		src, err := ociref.ParseSource(ref, "")
		if err != nil {
			t.Fatal(err)
		}
		got, err := Name(src)
		if err != nil || string(got) != want {
			t.Errorf("Name(%s) = %q, %v; want %q", ref, got, err, want)
		}
	}
}
