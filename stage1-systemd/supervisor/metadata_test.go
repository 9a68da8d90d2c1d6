package supervisor

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/acirun/acirun/aci"
)

const (
	testPodUUID = "4f215d60-0b37-4c2d-9a1e-5b0c9f3e2a11"
	testToken   = "0123456789abcdef0123456789abcdef"
	testImageID = "sha512-" + "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12"
)

// metadataPod lays out a pod directory with one app, web, whose image has
// annotations the pod manifest partly overrides.
func metadataPod(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), testPodUUID)
	image := filepath.Join(dir, "apps", "web", "image")
	if err := os.MkdirAll(image, 0o755); err != nil {
		t.Fatal(err)
	}
	pod := `{"acKind":"PodManifest","acVersion":"0.8.11",
		"apps":[{"name":"web","image":{"name":"example.com/web","id":"` + testImageID + `"},
			"app":{"exec":["/web"],"user":"0","group":"0"},
			"annotations":[{"name":"role","value":"frontend"},{"name":"owner","value":"pod"}]}],
		"annotations":[{"name":"ip-address","value":"10.1.2.3"}]}`
	img := `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/web",
		"app":{"exec":["/web"],"user":"0","group":"0"},
		"annotations":[{"name":"owner","value":"image"},{"name":"authors","value":"acirun"}]}`
	if err := os.WriteFile(filepath.Join(dir, "pod"), []byte(pod), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(image, "manifest"), []byte(img), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestMetadataService(t *testing.T) {
	dir := metadataPod(t)
	key := make([]byte, metadataKeySize)
	svc, err := newMetadataService(dir, testToken, key)
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path string, form url.Values) *httptest.ResponseRecorder {
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		r := httptest.NewRequest(method, path, body)
		if form != nil {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		r.Header.Set("Metadata-Flavor", "AppContainer") // what the spec's validator sends
		w := httptest.NewRecorder()
		svc.ServeHTTP(w, r)
		return w
	}
	base := "/" + testToken + "/acMetadata/v1/"
	for _, tc := range []struct {
		method, path string
		code         int
		ctype, body  string // body: a substring
	}{
		{"GET", base + "pod/uuid", 200, contentText, testPodUUID},
		{"GET", base + "pod/annotations", 200, contentJSON, `[{"name":"ip-address","value":"10.1.2.3"}]`},
		{"GET", base + "pod/manifest", 200, contentJSON, `"acKind":"PodManifest"`},
		{"GET", base + "apps/web/image/id", 200, contentText, testImageID},
		{"GET", base + "apps/web/image/manifest", 200, contentJSON, `"name":"example.com/web"`},
		// The image's annotations, the pod's app annotations over them.
		{"GET", base + "apps/web/annotations", 200, contentJSON,
			`[{"name":"owner","value":"pod"},{"name":"authors","value":"acirun"},{"name":"role","value":"frontend"}]`},
		{"HEAD", base + "pod/uuid", 200, contentText, ""},
		{"GET", base + "apps/db/image/id", 404, "", `no app "db"`},
		{"GET", base + "apps/web/nothing", 404, "", ""},
		{"GET", base + "pod", 404, "", ""},
		{"GET", base + "pod/uuid/x", 404, "", ""},
		{"GET", "/" + testToken + "/other/v1/pod/uuid", 404, "", ""},
		{"GET", "/wrongtoken/acMetadata/v1/pod/uuid", 401, "", "unknown pod token"},
		{"GET", "/acMetadata/v1/pod/uuid", 401, "", ""},
		{"GET", "/" + testToken, 404, "", ""},
		{"GET", "/" + testToken + "0/acMetadata/v1/pod/uuid", 401, "", ""},
		{"POST", base + "pod/uuid", 405, "", ""},
		{"GET", base + "pod/hmac/sign", 405, "", ""},
	} {
		w := do(tc.method, tc.path, nil)
		if w.Code != tc.code || (tc.ctype != "" && w.Header().Get("Content-Type") != tc.ctype) || !strings.Contains(w.Body.String(), tc.body) {
			t.Errorf("%s %s: %d %q %q; want %d %q, body with %q", tc.method, tc.path, w.Code, w.Header().Get("Content-Type"), w.Body.String(), tc.code, tc.ctype, tc.body)
		}
		if tc.body != "" && tc.path == base+"pod/uuid" && w.Body.String() != testPodUUID {
			t.Errorf("pod/uuid: %q, want exactly the UUID", w.Body.String())
		}
	}

	// Identity: sign, then verify as another pod would.
	w := do("POST", base+"pod/hmac/sign", url.Values{"content": {"hello"}})
	if w.Code != 200 || w.Header().Get("Content-Type") != contentText {
		t.Fatalf("sign: %d %q", w.Code, w.Body.String())
	}
	sig := w.Body.String()
	if b, err := base64.StdEncoding.DecodeString(sig); err != nil || len(b) != 64 {
		t.Fatalf("signature %q is not base64 of an HMAC-SHA512: %v", sig, err)
	}
	for _, tc := range []struct {
		form url.Values
		code int
	}{
		{url.Values{"content": {"hello"}, "uuid": {testPodUUID}, "signature": {sig}}, 200},
		{url.Values{"content": {"hello!"}, "uuid": {testPodUUID}, "signature": {sig}}, 403},
		{url.Values{"content": {"hello"}, "uuid": {"4f215d60-0b37-4c2d-9a1e-5b0c9f3e2a12"}, "signature": {sig}}, 403},
		{url.Values{"content": {"hello"}, "uuid": {testPodUUID}, "signature": {"not base64!"}}, 403},
		{url.Values{"content": {"hello"}, "uuid": {"pod"}, "signature": {sig}}, 400},
		{url.Values{"content": {"hello"}, "signature": {sig}}, 400},
		{url.Values{}, 400},
	} {
		if w := do("POST", base+"pod/hmac/verify", tc.form); w.Code != tc.code {
			t.Errorf("verify %v: %d %q, want %d", tc.form, w.Code, w.Body.String(), tc.code)
		}
	}
	if w := do("POST", base+"pod/hmac/sign", url.Values{}); w.Code != 400 {
		t.Errorf("sign without content: %d", w.Code)
	}
	// Another key (another host, or after a reboot): nothing verifies.
	other, _ := newMetadataService(dir, testToken, append(make([]byte, metadataKeySize-1), 1))
	r := httptest.NewRequest("POST", base+"pod/hmac/verify", strings.NewReader(url.Values{"content": {"hello"}, "uuid": {testPodUUID}, "signature": {sig}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	other.ServeHTTP(rec, r)
	if rec.Code != http.StatusForbidden {
		t.Errorf("verify with another key: %d", rec.Code)
	}
}

func TestMetadataServiceBadPod(t *testing.T) {
	dir := metadataPod(t)
	os.Remove(filepath.Join(dir, "apps", "web", "image", "manifest"))
	if _, err := newMetadataService(dir, testToken, nil); err == nil || !strings.Contains(err.Error(), "app web") {
		t.Errorf("a pod without its image manifest: %v", err)
	}
	if _, err := newMetadataService(t.TempDir(), testToken, nil); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "metadata service: open ") {
		t.Errorf("a directory without a pod: %v, want ENOENT naming the pod manifest", err)
	}
}

// TestMetadataPodAnnotationsAgree: a pod without annotations, its manifest
// written as stage0 writes it (aci's marshalling): /pod/annotations and the
// annotations of /pod/manifest decode to the same value, which the ACE
// validator checks with reflect.DeepEqual (it failed on [] against an
// absent field).
func TestMetadataPodAnnotationsAgree(t *testing.T) {
	dir := metadataPod(t)
	pm, err := aci.ParsePodManifest([]byte(`{"acKind":"PodManifest","acVersion":"0.8.11",
		"apps":[{"name":"web","image":{"id":"` + testImageID + `"},"app":{"exec":["/web"],"user":"0","group":"0"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(pm)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pod"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	svc, err := newMetadataService(dir, testToken, make([]byte, metadataKeySize))
	if err != nil {
		t.Fatal(err)
	}
	get := func(what string, v any) {
		w := httptest.NewRecorder()
		svc.ServeHTTP(w, httptest.NewRequest("GET", "/"+testToken+"/acMetadata/v1/"+what, nil))
		if err := json.Unmarshal(w.Body.Bytes(), v); w.Code != 200 || err != nil {
			t.Fatalf("%s: %d %q: %v", what, w.Code, w.Body.String(), err)
		}
	}
	var served []aci.Annotation
	var manifest struct{ Annotations []aci.Annotation }
	get("pod/annotations", &served)
	get("pod/manifest", &manifest)
	if !reflect.DeepEqual(served, manifest.Annotations) || served == nil {
		t.Errorf("/pod/annotations %#v, /pod/manifest's annotations %#v: want the same empty list", served, manifest.Annotations)
	}
}
