package discovery

import (
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/acirun/acirun/stage0/imagename"
)

func TestParseMetaTestdata(t *testing.T) {
	const tpl = "https://storage.example.com/{name}-{version}-{os}-{arch}.{ext}"
	keys := meta{metaPubKeys, "example.com", "https://example.com/pubkeys.gpg"}
	want := map[string][]meta{
		"meta01.html": {{metaDiscovery, "example.com", tpl}, keys},
		"meta02.html": {{metaDiscovery, "example.com", tpl}},
		"meta03.html": {keys},
		"meta04.html": {{metaDiscovery, "example.com", "https://another.storage.example.com/{name}-{version}-{os}-{arch}.{ext}"}, keys},
		"meta05.html": {{metaDiscovery, "example.com", tpl}, {metaDiscovery, "example.com", "https://storage.example.com/{name}-{version}.{ext}"}, keys},
		"meta06.html": {{metaDiscovery, "example.com", tpl}, {metaDiscovery, "example.com", "https://storage.example.com/{name}-{version}.{ext}"},
			{metaDiscovery, "example.com", "hdfs://storage.example.com/{name}-{version}-{os}-{arch}.{ext}"}, keys},
	}
	for file, w := range want {
		f, err := os.Open(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		got := parseMeta(f)
		f.Close()
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: parseMeta = %v, want %v", file, got, w)
		}
	}
}

func TestParseMetaBadHTML(t *testing.T) {
	for _, tc := range []struct {
		page string
		want []meta
	}{
		// Unclosed head, tags in the body, self-closing, odd case and quoting.
		{`<html><head><META NAME="AC-Discovery" CONTENT="example.com https://x/{ext}"><body>`,
			[]meta{{metaDiscovery, "example.com", "https://x/{ext}"}}},
		{`<meta name=ac-discovery-pubkeys content='example.com   https://k'/>`,
			[]meta{{metaPubKeys, "example.com", "https://k"}}},
		{`<body><p><meta name="ac-discovery" content=" example.com	https://x/{ext} ">`,
			[]meta{{metaDiscovery, "example.com", "https://x/{ext}"}}},
		// Wrong number of fields, other names, no content, namespaced attributes.
		{`<meta name="ac-discovery" content="example.com">`, nil},
		{`<meta name="ac-discovery" content="example.com https://a https://b">`, nil},
		{`<meta name="ac-discoveryx" content="example.com https://a">`, nil},
		{`<meta name="description" content="example.com https://a">`, nil},
		{`<meta name="ac-discovery">`, nil},
		{`<meta content="example.com https://a">`, nil},
		// A repeated attribute: the first one counts.
		{`<meta name="ac-discovery" name="x" content="p https://a" content="q https://b">`,
			[]meta{{metaDiscovery, "p", "https://a"}}},
		// Inside a comment or a script it is not a tag.
		{`<!-- <meta name="ac-discovery" content="p https://a"> -->`, nil},
		{`<script>"<meta name='ac-discovery' content='p https://a'>"</script>`, nil},
		// Truncated documents.
		{`<meta name="ac-discovery" content="p https://a`, nil},
		{`<meta name="ac-discovery" content="p https://a"><meta name="ac-disc`,
			[]meta{{metaDiscovery, "p", "https://a"}}},
		{"\x00\xff\xfe<meta\x00>", nil},
	} {
		got := parseMeta(strings.NewReader(tc.page))
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseMeta(%q) = %v, want %v", tc.page, got, tc.want)
		}
	}
	// A read error ends parsing with what was found so far.
	r := iotest.TimeoutReader(strings.NewReader(`<meta name="ac-discovery" content="p https://a/{ext}">` + strings.Repeat(" ", 8192)))
	if got := parseMeta(r); len(got) > 1 {
		t.Errorf("parseMeta on a failing reader = %v", got)
	}
}

func TestPrefixMatches(t *testing.T) {
	for _, tc := range []struct {
		prefix, name string
		want         bool
	}{
		{"example.com", "example.com", true},
		{"example.com", "example.com/app", true},
		{"example.com/", "example.com/app", true},
		{"example.com/hello", "example.com/hello", true},
		{"example.com/hello", "example.com/hello/x", true},
		{"example.com/hello", "example.com/helloworld", false},
		{"example.com/hello", "example.com/hell", false},
		{"example.co", "example.com/app", false},
		{"example.com/app", "example.com", false},
		{"", "example.com", false},
		{"/", "example.com", false},
	} {
		if got := prefixMatches(tc.prefix, tc.name); got != tc.want {
			t.Errorf("prefixMatches(%q, %q) = %v, want %v", tc.prefix, tc.name, got, tc.want)
		}
	}
}

func TestRenderEndpoint(t *testing.T) {
	app := imagename.App{Name: "example.com/reduce-worker", Labels: map[string]string{
		"version": "1.0.0", "os": "linux", "arch": "amd64", "channel": "{os}",
	}}
	for _, tc := range []struct {
		tpl, aci, errPart string
	}{
		// The spec's own example: the '/' of the name stays literal.
		{"https://storage.example.com/{os}/{arch}/{name}-{version}.{ext}",
			"https://storage.example.com/linux/amd64/example.com/reduce-worker-1.0.0.aci", ""},
		// Any label can be used; values are not substituted again, and
		// are escaped.
		{"https://s.example.com/{channel}/{name}.{ext}", "https://s.example.com/%7Bos%7D/example.com/reduce-worker.aci", ""},
		{"https://s.example.com/{name}.{ext}?v={version}", "https://s.example.com/example.com/reduce-worker.aci?v=1.0.0", ""},
		{"http://s.example.com/{name}.{ext}", "http://s.example.com/example.com/reduce-worker.aci", ""},
		// Schemes are case-insensitive; the URL comes back with "https".
		{"HTTPS://S.example.com/{name}.{ext}", "https://S.example.com/example.com/reduce-worker.aci", ""},
		{"https://s.example.com/{name}.aci", "", "no {ext}"},
		{"https://s.example.com/{name}-{flavor}.{ext}", "", "no value for {flavor}"},
		{"https://s.example.com/{name}-{.{ext}", "", "no value for {.{ext}"},
		{"https://s.example.com/{name}-{ext", "", "no {ext}"},
		{"hdfs://s.example.com/{name}.{ext}", "", `scheme "hdfs"`},
		{"/{name}.{ext}", "", `scheme ""`},
		{"https:///{name}.{ext}", "", "no host"},
		{"https://s.example.com/%zz{ext}", "", "rendered URL"},
		{"https://s.example.com:8443/{name}.{ext}", "https://s.example.com:8443/example.com/reduce-worker.aci", ""},
		// Only the template's text and the image name choose the host.
		{"https://{os}.example.com/{name}.{ext}", "", "puts a label into the host"},
		{"https://s.example.com{version}/{name}.{ext}", "", "puts a label into the host"},
		{"https://{name}-{version}.{ext}", "https://example.com/reduce-worker-1.0.0.aci", ""},
	} {
		ep, err := renderEndpoint(tc.tpl, app)
		if tc.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Errorf("renderEndpoint(%q) = %v, %v; want error containing %q", tc.tpl, ep, err, tc.errPart)
			}
			continue
		}
		if err != nil {
			t.Errorf("renderEndpoint(%q): %v", tc.tpl, err)
			continue
		}
		if ep.ACI != tc.aci || ep.Sig != strings.Replace(tc.aci, ".aci", ".aci.asc", 1) {
			t.Errorf("renderEndpoint(%q) = %+v, want ACI %q", tc.tpl, ep, tc.aci)
		}
	}
}

// TestRenderEndpointHostileLabels: a label value (the user's, or a signed
// image's dependency's) stays one escaped piece of the URL: it changes no
// host, path segment, query parameter or fragment, and a value of dots is
// refused. Credentials for the template's host must never be sent to a
// request a label has shaped.
func TestRenderEndpointHostileLabels(t *testing.T) {
	const tpl = "https://s.example.com/{name}/{version}/{os}.{ext}?arch={arch}"
	for _, tc := range []struct {
		label, value string
		aci, errPart string
	}{
		{"version", "1.0", "https://s.example.com/example.com/app/1.0/linux.aci?arch=amd64", ""},
		{"version", "1.0/../../admin", "https://s.example.com/example.com/app/1.0%2F..%2F..%2Fadmin/linux.aci?arch=amd64", ""},
		{"version", "..", "", "only dots"},
		{"version", ".", "", "only dots"},
		{"os", "x?token=stolen#", "https://s.example.com/example.com/app/latest/x%3Ftoken%3Dstolen%23.aci?arch=amd64", ""},
		{"arch", "amd64&admin=1", "https://s.example.com/example.com/app/latest/linux.aci?arch=amd64%26admin%3D1", ""},
		{"version", "@evil.example.net", "https://s.example.com/example.com/app/%40evil.example.net/linux.aci?arch=amd64", ""},
		{"version", "%2e%2e", "https://s.example.com/example.com/app/%252e%252e/linux.aci?arch=amd64", ""},
		{"version", "a b\n{os}", "https://s.example.com/example.com/app/a%20b%0A%7Bos%7D/linux.aci?arch=amd64", ""},
	} {
		app := imagename.App{Name: "example.com/app", Labels: map[string]string{"os": "linux", "arch": "amd64"}}
		app.Labels[tc.label] = tc.value
		ep, err := renderEndpoint(tpl, app)
		if tc.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Errorf("%s=%q: %+v, %v; want error containing %q", tc.label, tc.value, ep, err, tc.errPart)
			}
			continue
		}
		if err != nil || ep.ACI != tc.aci {
			t.Errorf("%s=%q: %+v, %v; want ACI %s", tc.label, tc.value, ep, err, tc.aci)
			continue
		}
		u, err := url.Parse(ep.ACI)
		if err != nil || u.Host != "s.example.com" || u.Fragment != "" || len(u.Query()) != 1 || strings.Count(u.EscapedPath(), "/") != 4 {
			t.Errorf("%s=%q: %s reshaped the request: host %q, query %q, path %q", tc.label, tc.value, ep.ACI, u.Host, u.RawQuery, u.EscapedPath())
		}
	}
	// Simple discovery puts the labels into the host when the name has
	// no '/': refused rather than asked of a host a label chose.
	if ep, err := simpleEndpoint(imagename.App{Name: "example.com", Labels: map[string]string{"os": "linux", "arch": "amd64"}}); err == nil || !strings.Contains(err.Error(), "puts a label into the host: only the image name may choose it") {
		t.Errorf("simple discovery of a one-segment name = %+v, %v; want a refusal of a label in the host", ep, err)
	}
}

func TestKeysFromMeta(t *testing.T) {
	metas := []meta{
		{metaPubKeys, "example.com", "HTTP://example.com/plain.gpg"},
		{metaPubKeys, "example.com", "hTtps://example.com/mixed.gpg"},
		{metaPubKeys, "example.com", "https://example.com/lower.gpg"},
		{metaPubKeys, "example.com", "ftp://example.com/ftp.gpg"},
		{metaPubKeys, "example.com", "https:///nohost.gpg"},
		{metaPubKeys, "other.org", "https://other.org/other.gpg"},
		{metaDiscovery, "example.com", "https://example.com/{name}.{ext}"},
	}
	for _, tc := range []struct {
		allowHTTP bool
		keys      []string
		skipped   []string
	}{
		{false,
			[]string{"https://example.com/mixed.gpg", "https://example.com/lower.gpg"},
			[]string{"plain http needs --insecure-options=http", `scheme "ftp"`, "no host"}},
		{true,
			[]string{"https://example.com/mixed.gpg", "https://example.com/lower.gpg", "http://example.com/plain.gpg"},
			[]string{`scheme "ftp"`, "no host"}},
	} {
		keys, skipped := keysFromMeta(metas, "example.com/app", tc.allowHTTP)
		if !slices.Equal(keys, tc.keys) {
			t.Errorf("allowHTTP=%v: keys %q, want %q", tc.allowHTTP, keys, tc.keys)
		}
		if len(skipped) != len(tc.skipped) {
			t.Errorf("allowHTTP=%v: skipped %q, want %d reasons", tc.allowHTTP, skipped, len(tc.skipped))
			continue
		}
		for i, want := range tc.skipped {
			if !strings.Contains(skipped[i], want) {
				t.Errorf("allowHTTP=%v: skipped[%d] = %q, want it to contain %q", tc.allowHTTP, i, skipped[i], want)
			}
		}
	}
}

func FuzzParseMeta(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "meta*.html"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "example.com/myapp")
	}
	f.Add([]byte(`<meta name="ac-discovery" content="a https://{name}/{x}.{ext}">`), "a/b")
	f.Fuzz(func(t *testing.T, page []byte, name string) {
		metas := parseMeta(strings.NewReader(string(page)))
		app, err := imagename.ParseApp(name)
		if err != nil {
			app = imagename.App{Name: "example.com/myapp", Labels: map[string]string{}}
		}
		for _, m := range metas {
			if m.name != metaDiscovery && m.name != metaPubKeys {
				t.Fatalf("unexpected meta name %q", m.name)
			}
			if m.prefix == "" || m.value == "" || strings.ContainsAny(m.prefix+m.value, " \t\n\r\f") {
				t.Fatalf("bad meta %+v", m)
			}
		}
		eps, _ := endpointsFromMeta(metas, app, true)
		for _, ep := range eps {
			if !strings.HasPrefix(ep.ACI, "https://") && !strings.HasPrefix(ep.ACI, "http://") {
				t.Fatalf("endpoint with bad scheme: %+v", ep)
			}
			if !strings.HasSuffix(ep.Sig, ".asc") && !strings.Contains(ep.Sig, "aci.asc") {
				t.Fatalf("signature URL %q has no aci.asc", ep.Sig)
			}
		}
		keys, _ := keysFromMeta(metas, app.Name, false)
		for _, k := range keys {
			if !strings.HasPrefix(k, "https://") {
				t.Fatalf("key URL %q is not https", k)
			}
		}
	})
}
