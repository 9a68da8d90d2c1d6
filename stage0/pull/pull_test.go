package pull

import (
	"strings"
	"testing"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/imagename"
	"github.com/acirun/acirun/stage0/store"
)

// TestAccepts: a fetch that waited for another of the same URL takes the
// image that one stored only if it passes its own checks.
func TestAccepts(t *testing.T) {
	id := "sha512-" + strings.Repeat("ab", 64)
	signed := &store.Image{ID: id, Name: "example.com/app", Labels: []aci.Label{{Name: "version", Value: "1.0"}, {Name: "os", Value: "linux"}},
		Origin: store.Origin{URL: "https://example.com/app.aci", Signer: "0123456789ABCDEF0123456789ABCDEF01234567"}}
	unsigned := *signed
	unsigned.Origin.Signer = ""
	app := func(name, version string) *imagename.App {
		return &imagename.App{Name: name, Labels: map[string]string{"version": version}}
	}
	for _, tc := range []struct {
		name     string
		img      *store.Image
		fs       fetchSpec
		insecure fetch.Insecure
		want     bool
		warning  string
	}{
		{"signed, by URL", signed, fetchSpec{}, 0, true, ""},
		{"unsigned, by URL", &unsigned, fetchSpec{}, 0, false, ""},
		{"unsigned, --insecure-options=image", &unsigned, fetchSpec{aciURL: "https://example.com/app.aci"}, fetch.InsecureImage, true,
			"warning: --insecure-options=image: signature of https://example.com/app.aci not checked\n"},
		{"the ID asked for", signed, fetchSpec{expectedID: id}, 0, true, ""},
		{"another ID asked for", signed, fetchSpec{expectedID: "sha512-" + strings.Repeat("cd", 64)}, 0, false, ""},
		{"the name and version asked for", signed, fetchSpec{app: app("example.com/app", "1.0")}, 0, true, ""},
		{"another name asked for", signed, fetchSpec{app: app("example.com/other", "1.0")}, 0, false, ""},
		{"another version asked for", signed, fetchSpec{app: app("example.com/app", "2.0")}, 0, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w strings.Builder
			p := &Puller{Insecure: tc.insecure, Warnings: &w}
			if got := p.accepts(tc.img, tc.fs); got != tc.want {
				t.Errorf("accepts = %v, want %v", got, tc.want)
			}
			if w.String() != tc.warning {
				t.Errorf("warnings %q, want %q", w.String(), tc.warning)
			}
		})
	}
}
