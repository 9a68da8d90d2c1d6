package pod

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// platformManifest is an image manifest with the given acVersion and
// labels (a JSON list's elements).
func platformManifest(acVersion, labels string) string {
	return `{"acKind":"ImageManifest","acVersion":"` + acVersion + `","name":"example.com/plat","labels":[` + labels + `],"app":{"exec":["/x"],"user":"0","group":"0"}}`
}

func TestPreparePlatform(t *testing.T) {
	amd64 := Platform{OS: "linux", Arch: "amd64"}
	arm := Platform{OS: "linux", Arch: "aarch64"}
	tests := []struct {
		name      string
		host      Platform
		acVersion string
		labels    string
		want      error  // nil: prepared
		text      string // in the error, or in the one note ("" for none)
	}{
		{"no labels", amd64, "0.8.11", ``, nil, ""},
		{"same os and arch", amd64, "0.8.11", `{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}`, nil, ""},
		{"same os, no arch", arm, "0.8.11", `{"name":"os","value":"linux"}`, nil, ""},
		{"arch alone does not count", amd64, "0.8.11", `{"name":"arch","value":"aarch64"}`, nil, ""},
		{"i386 on amd64", amd64, "0.8.11", `{"name":"os","value":"linux"},{"name":"arch","value":"i386"}`, nil, ""},
		{"armv6l on armv7l", Platform{OS: "linux", Arch: "armv7l"}, "0.8.11", `{"name":"os","value":"linux"},{"name":"arch","value":"armv6l"}`, nil, ""},
		{"aarch64 on amd64", amd64, "0.8.11", `{"name":"os","value":"linux"},{"name":"arch","value":"aarch64"}`, ErrOtherPlatform, "built for linux/aarch64 and this host is linux/amd64"},
		{"amd64 on aarch64", arm, "0.8.11", `{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}`, ErrOtherPlatform, "built for linux/amd64 and this host is linux/aarch64"},
		{"i386 on aarch64", arm, "0.8.11", `{"name":"os","value":"linux"},{"name":"arch","value":"i386"}`, ErrOtherPlatform, "linux/i386"},
		{"another os", amd64, "0.8.11", `{"name":"os","value":"freebsd"},{"name":"arch","value":"amd64"}`, ErrOtherPlatform, "built for freebsd/amd64"},
		{"another os without arch", amd64, "0.8.11", `{"name":"os","value":"darwin"}`, ErrOtherPlatform, "built for darwin and"},
		{"acVersion of the future", amd64, "99.0.0", ``, ErrACVersion, "acVersion 99.0.0 is a later major version"},
		{"acVersion 1.0.0", amd64, "1.0.0", ``, ErrACVersion, "0.8.11"},
		{"later minor acVersion", amd64, "0.9.0", ``, nil, "acVersion 0.9.0 is later than the appc spec 0.8.11"},
		{"acVersion of the distant past", amd64, "0.1.0", ``, nil, "acVersion 0.1.0 is older than appc 0.8.0"},
		{"oldest accepted", amd64, "0.8.0", ``, nil, ""},
		{"pre-release of the spec", amd64, "0.8.11-rc.1", ``, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := testImage(t, platformManifest(tc.acVersion, tc.labels))
			for _, byManifest := range []bool{false, true} {
				data := t.TempDir()
				req := apps("example.com/plat")
				if byManifest {
					pm := filepath.Join(t.TempDir(), "pod.json")
					if err := os.WriteFile(pm, []byte(`{"acKind":"PodManifest","acVersion":"0.8.11","apps":[{"name":"plat","image":{"name":"example.com/plat"}}]}`), 0o644); err != nil {
						t.Fatal(err)
					}
					req = &RunRequest{PodManifest: pm}
				}
				_, notes, err := Prepare(context.Background(), Config{DataDir: data, Resolver: mapResolver{"example.com/plat": img}, Platform: tc.host}, req)
				if tc.want != nil {
					if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) || !strings.Contains(err.Error(), "example.com/plat") {
						t.Fatalf("pod manifest %v: error %v, want %v saying %q and naming the image", byManifest, err, tc.want, tc.text)
					}
					if left := podsDirEntries(t, data); len(left) != 0 {
						t.Errorf("refused pod left %v", left)
					}
					continue
				}
				if err != nil {
					t.Fatalf("pod manifest %v: %v", byManifest, err)
				}
				switch {
				case tc.text == "" && len(notes) != 0:
					t.Errorf("notes %q", notes)
				case tc.text != "" && (len(notes) != 1 || !strings.Contains(notes[0], tc.text)):
					t.Errorf("notes %q, want one saying %q", notes, tc.text)
				}
			}
		})
	}
}

// The default platform is the one acirun was built for, so that a caller
// that sets none still refuses images of others.
func TestRuntimePlatform(t *testing.T) {
	p := runtimePlatform()
	if p.OS != "linux" || p.Arch == "" {
		t.Fatalf("runtime platform %v", p)
	}
	other := "aarch64"
	if p.Arch == other {
		other = "amd64"
	}
	img := testImage(t, platformManifest("0.8.11", `{"name":"os","value":"linux"},{"name":"arch","value":"`+other+`"}`))
	_, _, err := Prepare(context.Background(), Config{DataDir: t.TempDir(), Resolver: mapResolver{"example.com/plat": img}}, apps("example.com/plat"))
	if !errors.Is(err, ErrOtherPlatform) {
		t.Fatalf("image for linux/%s on %v without Config.Platform: %v", other, p, err)
	}
}
