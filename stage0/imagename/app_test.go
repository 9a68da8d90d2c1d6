package imagename

import (
	"maps"
	"strings"
	"testing"
)

func TestParseApp(t *testing.T) {
	good := []struct {
		in     string
		name   string
		labels map[string]string
	}{
		{"example.com/app", "example.com/app", map[string]string{}},
		{"example.com/app:1.0", "example.com/app", map[string]string{"version": "1.0"}},
		{"example.com/app:1.0,os=linux,arch=amd64", "example.com/app",
			map[string]string{"version": "1.0", "os": "linux", "arch": "amd64"}},
		{"example.com/app,channel=alpha", "example.com/app", map[string]string{"channel": "alpha"}},
		{"example.com/app,version=2", "example.com/app", map[string]string{"version": "2"}},
		{"example.com/app:1.0.0+build.7~rc_1", "example.com/app", map[string]string{"version": "1.0.0+build.7~rc_1"}},
		{"example.com/app:v1:2", "example.com/app", map[string]string{"version": "v1:2"}},
		{"example.com/app,k=a=b", "example.com/app", map[string]string{"k": "a=b"}},
		{"a", "a", map[string]string{}},
		{"example.com/a-b.c_d~e/f", "example.com/a-b.c_d~e/f", map[string]string{}},
	}
	for _, tc := range good {
		app, err := ParseApp(tc.in)
		if err != nil {
			t.Errorf("ParseApp(%q): %v", tc.in, err)
			continue
		}
		if app.Name != tc.name || !maps.Equal(app.Labels, tc.labels) {
			t.Errorf("ParseApp(%q) = %+v, want name %q labels %v", tc.in, app, tc.name, tc.labels)
		}
	}

	bad := []struct {
		in, errPart string
	}{
		{"", "empty"},
		{"Example.com/app", `character 'E'`},
		{"example.com//app", `'/' at offset 12`},
		{"example.com/app/", "must end"},
		{"/example.com", "'/' at offset 0"},
		{"example.com/app:", "version"},
		{"example.com/app:,os=linux", "version"},
		{"example.com/app,os", `label "os" has no value`},
		{"example.com/app,os=", "label os value"},
		{"example.com/app,=linux", `label name ""`},
		{"example.com/app,OS=linux", `label name "OS"`},
		{"example.com/app,name=x", `"name" is not allowed`},
		{"example.com/app:1,version=2", "version given more than once"},
		{"example.com/app,os=linux,os=freebsd", "os given more than once"},
		{"example.com/app,os=li nux", "white space"},
		{"example.com/app,os=li\x00nux", "control"},
		{"example.com/app:{os}", "version"},
		{"example.com/app,,os=linux", `label "" has no value`},
		{"example.com/app,os=linux,", `label "" has no value`},
		{"example.com/äpp", "not a valid AC Identifier: character 'ä' at offset 12"},
		{"example.com/\xffpp", "byte 0xff at offset 12"},
	}
	for _, tc := range bad {
		_, err := ParseApp(tc.in)
		if err == nil {
			t.Errorf("ParseApp(%q) succeeded, want error containing %q", tc.in, tc.errPart)
			continue
		}
		if !strings.Contains(err.Error(), tc.errPart) {
			t.Errorf("ParseApp(%q) error %q does not contain %q", tc.in, err, tc.errPart)
		}
	}
}

func TestAppString(t *testing.T) {
	for in, want := range map[string]string{
		"example.com/app":                         "example.com/app",
		"example.com/app,os=linux,arch=amd64,v=1": "example.com/app,arch=amd64,os=linux,v=1",
		"example.com/app,os=linux,version=1.0":    "example.com/app:1.0,os=linux",
	} {
		app, err := ParseApp(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := app.String(); got != want {
			t.Errorf("ParseApp(%q).String() = %q, want %q", in, got, want)
		}
	}
}

func TestOSArch(t *testing.T) {
	for _, tc := range []struct{ goos, goarch, goarm, os, arch string }{
		{"linux", "amd64", "", "linux", "amd64"},
		{"linux", "386", "", "linux", "i386"},
		{"linux", "arm64", "", "linux", "aarch64"},
		{"linux", "arm", "", "linux", "armv7l"},
		{"linux", "arm", "7", "linux", "armv7l"},
		{"linux", "arm", "6,softfloat", "linux", "armv6l"},
		{"linux", "ppc64le", "", "linux", "ppc64le"},
		{"linux", "s390x", "", "linux", "s390x"},
		{"linux", "riscv64", "", "linux", "riscv64"},
		{"darwin", "amd64", "", "darwin", "x86_64"},
		{"freebsd", "arm", "7", "freebsd", "arm"},
		{"freebsd", "386", "", "freebsd", "i386"},
		{"linux", "armbe", "", "linux", "armv7b"},
		// no appc name: Go's names stay
		{"linux", "arm", "5", "linux", "arm"},
		{"darwin", "arm64", "", "darwin", "arm64"},
		{"windows", "amd64", "", "windows", "amd64"},
	} {
		os, arch := OSArch(tc.goos, tc.goarch, tc.goarm)
		if os != tc.os || arch != tc.arch {
			t.Errorf("OSArch(%q, %q, %q) = %q, %q; want %q, %q", tc.goos, tc.goarch, tc.goarm, os, arch, tc.os, tc.arch)
		}
	}
	h := HostLabels()
	if h["os"] == "" || h["arch"] == "" || len(h) != 2 {
		t.Errorf("HostLabels() = %v", h)
	}
}

func TestWithDefaults(t *testing.T) {
	app, err := ParseApp("example.com/app,arch=aarch64")
	if err != nil {
		t.Fatal(err)
	}
	d := app.WithDefaults(map[string]string{"os": "linux", "arch": "amd64"})
	want := map[string]string{"os": "linux", "arch": "aarch64"}
	if !maps.Equal(d.Labels, want) {
		t.Errorf("WithDefaults: labels %v, want %v", d.Labels, want)
	}
	if _, ok := app.Labels["os"]; ok {
		t.Error("WithDefaults changed the original App")
	}
	if _, ok := d.Labels["version"]; ok {
		t.Error("WithDefaults added a version")
	}
}

func TestMatchManifest(t *testing.T) {
	app := App{Name: "example.com/app", Labels: map[string]string{"version": "1.0", "os": "linux", "arch": "amd64"}}
	latest := App{Name: "example.com/app", Labels: map[string]string{"version": "latest", "os": "linux"}}
	for _, tc := range []struct {
		app     App
		name    string
		labels  map[string]string
		errPart string
	}{
		{app, "example.com/app", map[string]string{"version": "1.0", "os": "linux", "arch": "amd64"}, ""},
		{app, "example.com/app", map[string]string{"version": "1.0", "os": "linux", "arch": "amd64", "extra": "x"}, ""},
		{app, "example.com/app", map[string]string{"version": "1.0"}, ""}, // absent labels do not count
		{app, "example.com/app", nil, ""},
		{app, "example.com/app2", map[string]string{"version": "1.0"}, `name "example.com/app2"`},
		{app, "example.com/ap", nil, `does not match the requested name "example.com/app"`},
		{app, "example.com/app", map[string]string{"version": "1.1"}, `version="1.1"`},
		{app, "example.com/app", map[string]string{"arch": "aarch64"}, `arch="aarch64" does not match the requested arch="amd64"`},
		{latest, "example.com/app", map[string]string{"version": "3.2", "os": "linux"}, ""},
		{latest, "example.com/app", map[string]string{"version": "3.2", "os": "freebsd"}, "os="},
		{App{Name: "example.com/app"}, "example.com/app", map[string]string{"version": "9"}, ""},
	} {
		err := MatchManifest(tc.app, tc.name, tc.labels)
		switch {
		case tc.errPart == "" && err != nil:
			t.Errorf("MatchManifest(%v, %q, %v): %v", tc.app, tc.name, tc.labels, err)
		case tc.errPart != "" && err == nil:
			t.Errorf("MatchManifest(%v, %q, %v) succeeded, want %q", tc.app, tc.name, tc.labels, tc.errPart)
		case err != nil && !strings.Contains(err.Error(), tc.errPart):
			t.Errorf("MatchManifest(%v, %q, %v) = %q, want %q", tc.app, tc.name, tc.labels, err, tc.errPart)
		}
	}
}

func FuzzParseApp(f *testing.F) {
	for _, s := range []string{
		"example.com/app", "example.com/app:1.0,os=linux,arch=amd64", "a,b=c", "a:b:c,d=e=f",
		"example.com/app,name=x", "x,,", ":", ",", "example.com/app:1,version=2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		app, err := ParseApp(s)
		if err != nil {
			return
		}
		if err := ValidateIdentifier(app.Name); err != nil {
			t.Fatalf("ParseApp(%q) accepted bad name: %v", s, err)
		}
		if _, ok := app.Labels["name"]; ok {
			t.Fatalf("ParseApp(%q) accepted a label called name", s)
		}
		again, err := ParseApp(app.String())
		if err != nil {
			t.Fatalf("ParseApp(%q).String() = %q does not parse: %v", s, app.String(), err)
		}
		if again.Name != app.Name || !maps.Equal(again.Labels, app.Labels) {
			t.Fatalf("round trip of %q: %+v != %+v", s, again, app)
		}
	})
}
