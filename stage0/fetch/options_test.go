package fetch

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestInsecureFlag(t *testing.T) {
	var o Insecure
	var p PullPolicy
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Var(&o, "insecure-options", "")
	fs.Var(&p, "pull-policy", "")
	if err := fs.Parse([]string{"--insecure-options=image", "--insecure-options=tls", "--pull-policy=update"}); err != nil {
		t.Fatal(err)
	}
	if o != InsecureImage|InsecureTLS || p != PullUpdate {
		t.Errorf("flags gave %v, %v", o, p)
	}
	fs.SetOutput(&bytes.Buffer{})
	if err := fs.Parse([]string{"--insecure-options=nope"}); err == nil || !strings.Contains(err.Error(), `unknown insecure option "nope" (valid: image, tls, http,`) {
		t.Errorf("bad --insecure-options: %v, want a refusal naming it and the valid ones", err)
	}
	if err := fs.Parse([]string{"--pull-policy=always"}); err == nil || !strings.Contains(err.Error(), `unknown pull policy "always" (valid: new, update, never)`) {
		t.Errorf("bad --pull-policy: %v, want a refusal naming it and the valid ones", err)
	}
}

func TestWarn(t *testing.T) {
	var b bytes.Buffer
	Warn(&b, InsecureImage, "signature of %s not checked", "example.com/app")
	if got, want := b.String(), "warning: --insecure-options=image: signature of example.com/app not checked\n"; got != want {
		t.Errorf("Warn wrote %q, want %q", got, want)
	}
	Warn(nil, InsecureImage, "nothing") // must not panic
}

func TestPullPolicy(t *testing.T) {
	for _, s := range []string{"new", "update", "never"} {
		p, err := ParsePullPolicy(s)
		if err != nil || p.String() != s {
			t.Errorf("ParsePullPolicy(%q) = %v, %v", s, p, err)
		}
	}
	for _, s := range []string{"", "New", "always", "update "} {
		if _, err := ParsePullPolicy(s); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("unknown pull policy %q", s)) {
			t.Errorf("ParsePullPolicy(%q) = %v, want a refusal naming it", s, err)
		}
	}
	var zero PullPolicy
	if zero != PullNew {
		t.Error("the zero PullPolicy is not new")
	}
}

func TestParseCacheControl(t *testing.T) {
	for _, tc := range []struct {
		in               string
		maxAge           time.Duration
		noCache, noStore bool
	}{
		{"", 0, false, false},
		{"max-age=3600", time.Hour, false, false},
		{"public, max-age=60", time.Minute, false, false},
		{`MAX-AGE="120"`, 2 * time.Minute, false, false},
		{"max-age = 5", 5 * time.Second, false, false},
		{"max-age=-1", 0, false, false},
		{"max-age=1e3", 0, false, false},
		{"max-age=", 0, false, false},
		{"max-age=99999999999999999999", maxMaxAge, false, false},
		{"no-cache, max-age=60", time.Minute, true, false},
		{"no-store", 0, false, true},
		{"private,no-store,no-cache", 0, true, true},
	} {
		m, nc, ns := parseCacheControl(tc.in)
		if m != tc.maxAge || nc != tc.noCache || ns != tc.noStore {
			t.Errorf("parseCacheControl(%q) = %v %v %v, want %v %v %v", tc.in, m, nc, ns, tc.maxAge, tc.noCache, tc.noStore)
		}
	}
	now := time.Now()
	for _, tc := range []struct {
		h      http.Header
		maxAge time.Duration
	}{
		{http.Header{"Cache-Control": {"max-age=600"}, "Age": {"100"}}, 500 * time.Second},
		{http.Header{"Cache-Control": {"max-age=600"}, "Age": {"700"}}, 0},
		{http.Header{"Cache-Control": {"no-cache, max-age=600"}}, 0},
		{http.Header{"Cache-Control": {"no-store, max-age=600"}}, 0},
	} {
		if c := cacheInfo(tc.h, now); c.MaxAge != tc.maxAge || !c.FetchedAt.Equal(now) {
			t.Errorf("cacheInfo(%v) = %+v, want MaxAge %v", tc.h, c, tc.maxAge)
		}
	}
}

func TestFresh(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := CacheInfo{ETag: `"x"`, MaxAge: time.Hour, FetchedAt: at}
	for _, tc := range []struct {
		now  time.Time
		want bool
	}{
		{at, true},
		{at.Add(59 * time.Minute), true},
		{at.Add(time.Hour), false},
		{at.Add(-time.Second), false}, // clock went back
	} {
		if got := c.Fresh(tc.now); got != tc.want {
			t.Errorf("Fresh(%v) = %v, want %v", tc.now, got, tc.want)
		}
	}
	if (CacheInfo{MaxAge: time.Hour}).Fresh(at) {
		t.Error("a copy without fetch time is fresh")
	}
	if (CacheInfo{FetchedAt: at}).Fresh(at) {
		t.Error("a copy without max-age is fresh")
	}
}

func writeAuth(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "auth.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "auth.d", name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadAuth(t *testing.T) {
	system, local := t.TempDir(), t.TempDir()
	writeAuth(t, system, "common.json", `{"rktKind":"auth","rktVersion":"v1","domains":["coreos.com","tectonic.com","kubernetes.io"],
		"type":"oauth","credentials":{"token":"common-token"}}`)
	writeAuth(t, local, "coreos.json", `{"rktKind":"auth","rktVersion":"v1","domains":["coreos.com"],
		"type":"basic","credentials":{"user":"foo","password":"bar"}}`)
	writeAuth(t, local, "tectonic.json", `{"rktKind":"auth","rktVersion":"v1","domains":["Tectonic.com:8443"],
		"type":"oauth","credentials":{"token":"tectonic-token"}}`)
	writeAuth(t, local, "docker.json", `{"rktKind":"dockerAuth","rktVersion":"v1","registries":["quay.io"],
		"credentials":{"user":"a","password":"b"}}`)
	writeAuth(t, local, "README", "not json, ignored")
	if err := os.Mkdir(filepath.Join(local, "auth.d", "sub.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("coreos.json", filepath.Join(local, "auth.d", "link.json.disabled")); err != nil {
		t.Fatal(err)
	}

	// A file every user can read is used, with a warning naming it.
	common := filepath.Join(system, "auth.d", "common.json")
	if err := os.Chmod(common, 0o644); err != nil {
		t.Fatal(err)
	}
	var warnings strings.Builder
	auth, err := LoadAuth(&warnings, filepath.Join(system, "auth.d"), filepath.Join(local, "auth.d"), filepath.Join(t.TempDir(), "missing"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "warning: auth config " + common + " is readable by every user (mode 0644)"; !strings.HasPrefix(warnings.String(), want) || strings.Count(warnings.String(), "\n") != 1 {
		t.Errorf("warnings %q, want one line starting %q", warnings.String(), want)
	}
	for _, tc := range []struct {
		url, header string
	}{
		// The rkt documentation's example, with the local overrides.
		{"https://kubernetes.io/x", "Bearer common-token"},
		{"https://coreos.com/x", "Basic Zm9vOmJhcg=="},
		{"https://coreos.com:444/x", "Basic Zm9vOmJhcg=="},
		{"https://tectonic.com/x", "Bearer common-token"},
		{"https://tectonic.com:8443/x", "Bearer tectonic-token"},
		{"https://quay.io/x", ""},
		{"https://example.com/x", ""},
	} {
		u, _ := url.Parse(tc.url)
		c, ok := auth.For(u)
		if got := map[bool]string{true: c.header(), false: ""}[ok]; got != tc.header {
			t.Errorf("For(%s) = %q, want %q", tc.url, got, tc.header)
		}
	}
	c, _ := auth.For(&url.URL{Host: "coreos.com"})
	if c.Source != filepath.Join(local, "auth.d", "coreos.json") {
		t.Errorf("Source = %q", c.Source)
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v %#v", c, c), fmt.Sprint(auth)} {
		if strings.Contains(s, "bar") || strings.Contains(s, "common-token") || strings.Contains(s, "Zm9v") {
			t.Errorf("secret printed: %s", s)
		}
	}
}

func TestLoadAuthErrors(t *testing.T) {
	for _, tc := range []struct {
		content, errPart string
	}{
		{`{`, "unexpected end"},
		{`{"rktVersion":"v1","domains":["a"],"type":"oauth","credentials":{"token":"t"}}`, "no rktKind"},
		{`{"rktKind":"auth","domains":["a"],"type":"oauth","credentials":{"token":"t"}}`, "no rktVersion"},
		{`{"rktKind":"paths","rktVersion":"v1"}`, `rktKind "paths"`},
		{`{"rktKind":"auth","rktVersion":"v2","domains":["a"],"type":"oauth","credentials":{"token":"t"}}`, `rktVersion "v2"`},
		{`{"rktKind":"auth","rktVersion":"v1","type":"oauth","credentials":{"token":"t"}}`, "no domains"},
		{`{"rktKind":"auth","rktVersion":"v1","domains":["https://a/"],"type":"oauth","credentials":{"token":"t"}}`, "not a host"},
		{`{"rktKind":"auth","rktVersion":"v1","domains":["a"],"credentials":{"token":"t"}}`, "no type"},
		{`{"rktKind":"auth","rktVersion":"v1","domains":["a"],"type":"digest","credentials":{"token":"t"}}`, `unknown type "digest"`},
		{`{"rktKind":"auth","rktVersion":"v1","domains":["a"],"type":"oauth"}`, "no credentials"},
		{`{"rktKind":"auth","rktVersion":"v1","domains":["a"],"type":"oauth","credentials":{}}`, "need a token"},
		{`{"rktKind":"auth","rktVersion":"v1","domains":["a"],"type":"basic","credentials":{"user":"u"}}`, "need a user and a password"},
		{`{"rktKind":"auth","rktVersion":"v1","domains":["a"],"type":"basic","credentials":{"user":"u:v","password":"p"}}`, "contains ':'"},
		{`{"rktKind":"auth","rktVersion":"v1","domains":["a"],"type":"basic","credentials":"x"}`, "credentials:"},
	} {
		dir := t.TempDir()
		writeAuth(t, dir, "bad.json", tc.content)
		_, err := LoadAuth(nil, filepath.Join(dir, "auth.d"))
		if err == nil || !strings.Contains(err.Error(), tc.errPart) || !strings.Contains(err.Error(), "bad.json") {
			t.Errorf("LoadAuth(%s) = %v, want an error naming bad.json and %q", tc.content, err, tc.errPart)
		}
	}

	// The same domain twice in one directory is an error naming both files.
	dir := t.TempDir()
	writeAuth(t, dir, "a.json", `{"rktKind":"auth","rktVersion":"v1","domains":["x.com"],"type":"oauth","credentials":{"token":"1"}}`)
	writeAuth(t, dir, "b.json", `{"rktKind":"auth","rktVersion":"v1","domains":["X.com"],"type":"oauth","credentials":{"token":"2"}}`)
	_, err := LoadAuth(nil, filepath.Join(dir, "auth.d"))
	if err == nil || !strings.Contains(err.Error(), "a.json") || !strings.Contains(err.Error(), "b.json") {
		t.Errorf("duplicate domain: %v", err)
	}
}

// TestLoadDockerAuth: rkt's dockerAuth files of auth.d give registries'
// credentials, a later directory winning registry by registry; auth files
// are not theirs, and a bad dockerAuth file is an error naming it.
func TestLoadDockerAuth(t *testing.T) {
	system, local := t.TempDir(), t.TempDir()
	writeAuth(t, system, "quay.json", `{"rktKind":"dockerAuth","rktVersion":"v1","registries":["quay.io","Registry.example.com:5000"],
		"credentials":{"user":"sys","password":"p1"}}`)
	writeAuth(t, local, "quay.json", `{"rktKind":"dockerAuth","rktVersion":"v1","registries":["quay.io"],
		"credentials":{"user":"loc","password":"p2"}}`)
	writeAuth(t, local, "coreos.json", `{"rktKind":"auth","rktVersion":"v1","domains":["coreos.com"],
		"type":"basic","credentials":{"user":"foo","password":"bar"}}`)
	auth, err := LoadDockerAuth(nil, filepath.Join(system, "auth.d"), filepath.Join(local, "auth.d"))
	if err != nil {
		t.Fatal(err)
	}
	for host, user := range map[string]string{"quay.io": "loc", "registry.example.com:5000": "sys", "coreos.com": "", "registry.example.com": ""} {
		c, ok := auth.For(&url.URL{Host: host})
		if ok != (user != "") || c.User != user || ok && c.Type != "basic" {
			t.Errorf("%s: %+v %v, want user %q", host, c, ok, user)
		}
	}
	for content, want := range map[string]string{
		`{"rktKind":"dockerAuth","rktVersion":"v1","credentials":{"user":"a","password":"b"}}`:                      "no registries",
		`{"rktKind":"dockerAuth","rktVersion":"v2","registries":["a"],"credentials":{"user":"a","password":"b"}}`:   "rktVersion",
		`{"rktKind":"dockerAuth","rktVersion":"v1","registries":["a/b"],"credentials":{"user":"a","password":"b"}}`: "not a host",
		`{"rktKind":"dockerAuth","rktVersion":"v1","registries":["a"],"credentials":{"user":"a"}}`:                  "password",
	} {
		dir := t.TempDir()
		writeAuth(t, dir, "bad.json", content)
		if _, err := LoadDockerAuth(nil, filepath.Join(dir, "auth.d")); err == nil || !strings.Contains(err.Error(), "bad.json") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming bad.json and %q", content, err, want)
		}
	}
}
