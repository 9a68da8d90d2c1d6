package aci

import (
	"strings"
	"testing"
)

func TestLabelsValidate(t *testing.T) {
	tests := []struct {
		labels Labels
		path   string // "" = valid
		msg    string
	}{
		{Labels{}, "", ""},
		{Labels{{"version", "1.0.0"}, {"os", "linux"}, {"arch", "amd64"}}, "", ""},
		{Labels{{"os", "linux"}, {"arch", "aarch64"}}, "", ""},
		{Labels{{"os", "linux"}, {"arch", "s390x"}}, "", ""},
		{Labels{{"os", "freebsd"}, {"arch", "arm"}}, "", ""},
		{Labels{{"os", "darwin"}, {"arch", "x86_64"}}, "", ""},
		{Labels{{"os", "linux"}}, "", ""},
		// arch alone is not checked, as in the reference.
		{Labels{{"arch", "anything"}}, "", ""},
		{Labels{{"env", "canary"}, {"os", "linux"}}, "", ""},
		{Labels{{"os", "windows"}}, "labels[0].value", `os "windows" is not one of linux, freebsd, darwin`},
		{Labels{{"os", "linux"}, {"arch", "x86_64"}}, "labels[1].value", `arch "x86_64" is not valid for os "linux"`},
		{Labels{{"arch", "arm"}, {"os", "darwin"}}, "labels[0].value", `arch "arm" is not valid for os "darwin"`},
		{Labels{{"os", "freebsd"}, {"arch", "aarch64"}}, "labels[1].value", "not valid"},
		{Labels{{"name", "foo"}}, "labels[0].name", `"name" is not allowed`},
		{Labels{{"version", "1"}, {"version", "2"}}, "labels[1].name", `duplicate label "version" (also labels[0])`},
		{Labels{{"Version", "1"}}, "labels[0].name", "not a valid AC Identifier"},
		{Labels{{"", "1"}}, "labels[0].name", "required"},
	}
	for _, tt := range tests {
		err := tt.labels.Validate()
		if tt.path == "" {
			if err != nil {
				t.Errorf("%v: %v", tt.labels, err)
			}
			continue
		}
		wantErr(t, err, tt.path, tt.msg)
	}
}

func TestLabelsAccess(t *testing.T) {
	l := Labels{{"version", "1.0"}, {"os", "linux"}}
	if v, ok := l.Get("os"); !ok || v != "linux" {
		t.Errorf("Get(os) = %q, %v", v, ok)
	}
	if _, ok := l.Get("arch"); ok {
		t.Error("Get(arch) found")
	}
	if m := l.Map(); len(m) != 2 || m["version"] != "1.0" {
		t.Errorf("Map = %v", m)
	}
}

func TestGoOSArch(t *testing.T) {
	tests := []struct{ goos, goarch, goarm, os, arch string }{
		{"linux", "amd64", "", "linux", "amd64"},
		{"linux", "arm64", "", "linux", "aarch64"},
		{"linux", "386", "", "linux", "i386"},
		{"linux", "arm", "6", "linux", "armv6l"},
		{"linux", "arm", "7", "linux", "armv7l"},
		{"linux", "arm", "", "linux", "armv7l"},
		{"linux", "arm", "6,softfloat", "linux", "armv6l"},
		{"linux", "arm", "7,hardfloat", "linux", "armv7l"},
		{"linux", "armbe", "", "linux", "armv7b"},
		{"linux", "arm64be", "", "linux", "aarch64_be"},
		{"linux", "ppc64", "", "linux", "ppc64"},
		{"linux", "ppc64le", "", "linux", "ppc64le"},
		{"linux", "s390x", "", "linux", "s390x"},
		{"darwin", "amd64", "", "darwin", "x86_64"},
		{"darwin", "386", "", "darwin", "i386"},
		{"freebsd", "arm", "", "freebsd", "arm"},
		{"freebsd", "amd64", "", "freebsd", "amd64"},
		{"windows", "amd64", "", "", ""},
		{"linux", "riscv64", "", "", ""},
		{"linux", "arm", "5", "", ""},
		{"darwin", "arm64", "", "", ""},
		{"freebsd", "arm64", "", "", ""},
	}
	for _, tt := range tests {
		os, arch, err := GoOSArch(tt.goos, tt.goarch, tt.goarm)
		if tt.os == "" {
			if want := "no appc os/arch for GOOS=" + tt.goos + " GOARCH=" + tt.goarch; err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("GoOSArch(%s/%s) = %s/%s, %v; want %q", tt.goos, tt.goarch, os, arch, err, want)
			}
			continue
		}
		if err != nil || os != tt.os || arch != tt.arch {
			t.Errorf("GoOSArch(%s/%s) = %s/%s %v, want %s/%s", tt.goos, tt.goarch, os, arch, err, tt.os, tt.arch)
		}
	}
	if !ValidOSArch("linux", "") || ValidOSArch("plan9", "") {
		t.Error("ValidOSArch")
	}
}

// wantErr checks that err is an ErrorList with an entry at path whose
// message contains msg.
func wantErr(t testing.TB, err error, path, msg string) {
	t.Helper()
	if err == nil {
		t.Errorf("no error, want %s: %s", path, msg)
		return
	}
	el, ok := err.(ErrorList)
	if !ok {
		t.Errorf("error %T %v is not an ErrorList", err, err)
		return
	}
	for _, e := range el {
		if e.Path == path && strings.Contains(e.Msg, msg) {
			return
		}
	}
	t.Errorf("errors:\n%v\nwant one at %q containing %q", err, path, msg)
}
