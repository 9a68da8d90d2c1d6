package pull

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/acirun/acirun/stage0/discovery"
	"github.com/acirun/acirun/stage0/imagename"
)

func TestNameOnce(t *testing.T) {
	for _, tc := range []struct {
		ref, err, want string
	}{
		{"./a.aci", "open image: open ./a.aci: no such file or directory", "open image: open ./a.aci: no such file or directory"},
		{"sha512-12", "no image sha512-12 in the store", "no image sha512-12 in the store"},
		{"example.com/a", "render sha512-ab: dependency example.com/b: gone", "image example.com/a: render sha512-ab: dependency example.com/b: gone"},
	} {
		base := errors.New(tc.err)
		got := nameOnce(tc.ref, base)
		if got.Error() != tc.want || !errors.Is(got, base) {
			t.Errorf("nameOnce(%q, %q) = %q, want %q", tc.ref, tc.err, got, tc.want)
		}
	}
}

// TestUnresolved: the failure of the simple discovery's URL is condensed
// when it is the name's own host that does not resolve, and only then.
func TestUnresolved(t *testing.T) {
	app := imagename.App{Name: "example.invalid/hello", Labels: map[string]string{"version": "1.0"}}
	simple := discovery.Endpoint{ACI: "https://example.invalid/hello-1.0-linux-amd64.aci", Simple: true}
	meta := discovery.Endpoint{ACI: "https://cdn.example.com/hello.aci"}
	notFound := func(host string) error {
		return fmt.Errorf("fetch signature: fetch: %w", &net.DNSError{Err: "no such host", Name: host, IsNotFound: true})
	}
	for _, tc := range []struct {
		name string
		ep   discovery.Endpoint
		err  error
		want string
	}{
		{"the name's host", simple, notFound("example.invalid"),
			"image example.invalid/hello:1.0: the host example.invalid does not resolve (no such host): check the image name, or give the image as a file (./IMAGE.aci) or an http(s) URL"},
		{"fully qualified", simple, notFound("example.invalid."), "the host example.invalid does not resolve"},
		{"another host, found by meta discovery", meta, notFound("cdn.example.com"), ""},
		{"another host", simple, notFound("proxy.example.com"), ""},
		{"not a lookup", simple, errors.New("GET https://example.invalid/x: 404 Not Found"), ""},
	} {
		got := unresolved(app, tc.ep, tc.err)
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("%s: %v, want nothing", tc.name, got)
		case tc.want != "" && (got == nil || !strings.Contains(got.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, got, tc.want)
		}
	}
}
