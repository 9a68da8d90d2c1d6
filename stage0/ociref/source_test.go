package ociref

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseSource(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		ref, def string
		want     Source
		canon    string
		err      string
	}{
		{ref: "docker://127.0.0.1:5000/web:1.0", want: Source{Transport: Registry, Registry: "127.0.0.1:5000", Repository: "web", Tag: "1.0"}},
		{ref: "docker://registry.example.com/team/app", want: Source{Transport: Registry, Registry: "registry.example.com", Repository: "team/app", Tag: "latest"},
			canon: "docker://registry.example.com/team/app:latest"},
		{ref: "docker://localhost/app@" + digest, want: Source{Transport: Registry, Registry: "localhost", Repository: "app", Digest: digest}},
		{ref: "docker://[::1]:5000/a/b:v2@" + digest, want: Source{Transport: Registry, Registry: "[::1]:5000", Repository: "a/b", Tag: "v2", Digest: digest}},
		{ref: "docker://debian:12", def: "docker.io", want: Source{Transport: Registry, Registry: "docker.io", Repository: "library/debian", Tag: "12"},
			canon: "docker://docker.io/library/debian:12"},
		{ref: "docker://team/app", def: "reg.example.com:443", want: Source{Transport: Registry, Registry: "reg.example.com:443", Repository: "team/app", Tag: "latest"},
			canon: "docker://reg.example.com:443/team/app:latest"},
		{ref: "docker://debian:12", err: "no default registry is configured"},
		{ref: "docker://team/app", err: "no default registry is configured"},
		{ref: "docker://", err: "no image name"},
		{ref: "docker://example.com/App", err: "lower-case"}, {ref: "docker://example.com/a$b", err: "not allowed"},
		{ref: "docker://example.com/a//b", err: "empty component"},
		{ref: "docker://example.com/a__b_c.d-e--f", want: Source{Transport: Registry, Registry: "example.com", Repository: "a__b_c.d-e--f", Tag: "latest"},
			canon: "docker://example.com/a__b_c.d-e--f:latest"},
		{ref: "docker://example.com/a___b", err: "separators"},
		{ref: "docker://example.com/a:-x", err: "tag"},
		{ref: "docker://example.com/a@sha256:ABC", err: "digest"},
		{ref: "docker://example.com/a@md5:" + strings.Repeat("0", 32), err: "digest"},
		{ref: "docker://exa_mple.com/a", err: "not allowed in a host name"},
		{ref: "docker://example.com:/a", err: "empty port"},
		{ref: "docker://example.com:99999x/a", err: "port"},
		{ref: "oci:/srv/layout", want: Source{Transport: Layout, Path: "/srv/layout"}},
		{ref: "oci:/srv/layout:1.0", want: Source{Transport: Layout, Path: "/srv/layout", Tag: "1.0"}},
		{ref: "oci:./a:b/layout", want: Source{Transport: Layout, Path: "./a:b/layout"}},
		{ref: "oci:", err: "no path"},
		{ref: "oci:/x:", err: "tag"},
		{ref: "oci-archive:/srv/img.tar:v1", want: Source{Transport: Archive, Path: "/srv/img.tar", Tag: "v1"}},
		{ref: "docker-archive:/srv/img.tar", want: Source{Transport: DockerArchive, Path: "/srv/img.tar"}},
		{ref: "docker-archive:/srv/img.tar:v1", err: "not a tag"},
		{ref: "https://example.com/x", err: "not an OCI reference"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			got, err := ParseSource(tc.ref, tc.def)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseSource = %+v, %v; want an error saying %q", got, err, tc.err)
				}
				if !strings.Contains(err.Error(), tc.ref) {
					t.Errorf("the error does not name the reference: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ParseSource = %+v, want %+v", got, tc.want)
			}
			canon := tc.canon
			if canon == "" {
				canon = tc.ref
			}
			if got.String() != canon {
				t.Errorf("String = %q, want %q", got.String(), canon)
			}
		})
	}
}

// FuzzParseSource: any reference parses or fails without panicking; what
// parses writes back to a reference that parses to the same source, and
// holds no byte a registry path or a file name could be fooled by.
func FuzzParseSource(f *testing.F) {
	for _, s := range []string{"docker://127.0.0.1:5000/web:1.0", "docker://debian@sha256:" + strings.Repeat("0", 64), "oci:/a/b:c", "oci-archive:x.tar", "docker-archive:/x", "docker://[::1]:1/a"} {
		f.Add(s, "")
		f.Add(s, "docker.io")
	}
	f.Fuzz(func(t *testing.T, ref, def string) {
		s, err := ParseSource(ref, def)
		if err != nil {
			return
		}
		again, err := ParseSource(s.String(), "")
		if err != nil {
			t.Fatalf("%q parsed to %+v, whose String %q does not parse: %v", ref, s, s.String(), err)
		}
		if again != s {
			t.Fatalf("%q: %+v, then %+v", ref, s, again)
		}
		if s.Transport == Registry {
			for _, part := range []string{s.Registry, s.Repository, s.Tag, s.Digest} {
				if strings.ContainsAny(part, "?#\\ \x00\n") || !utf8.ValidString(part) {
					t.Fatalf("%q: part %q", ref, part)
				}
			}
			if strings.Contains(s.Repository, "..") {
				t.Fatalf("%q: repository %q", ref, s.Repository)
			}
		}
	})
}

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: `{"defaultRegistry": "docker.io"}`, want: "docker.io"},
		{in: `{}`},
		{in: `{"defaultregistry": "docker.io", "x": 1}`, err: "unknown field"},
		{in: `{"defaultRegistry": "https://docker.io"}`, err: "defaultRegistry"},
		{in: `{"defaultRegistry": "a"} {}`, err: "junk"},
	} {
		c, err := ParseConfig([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %+v, %v; want an error saying %q", tc.in, c, err, tc.err)
			}
			continue
		}
		if err != nil || c.DefaultRegistry != tc.want {
			t.Errorf("%s: %+v, %v", tc.in, c, err)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"defaultRegistry": "docker.io"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err == nil && c.DefaultRegistry != "" {
			if _, err := ParseSource("docker://x", c.DefaultRegistry); err != nil {
				t.Fatalf("default registry %q accepted but unusable: %v", c.DefaultRegistry, err)
			}
		}
	})
}
