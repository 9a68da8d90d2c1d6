package oci

import (
	"net/http"
	"net/url"
	"testing"
)

func TestIsBlobRequest(t *testing.T) {
	get := func(p string) *http.Request { return &http.Request{Method: http.MethodGet, URL: &url.URL{Path: p}} }
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/v2/team/web/blobs/sha256:abc", true},
		{"/v2/web/blobs/sha256:abc", true},
		{"/v2/blobs/sha256:abc", false}, // no repository
		{"/v2/web/blobs/", false},
		{"/v2/web/blobs/sha256:abc/x", false},
		{"/v2/web/manifests/1.0", false},
		{"/web/blobs/sha256:abc", false},
		{"/storage/sha256:abc", false},
	} {
		if got := isBlobRequest(get(tc.path)); got != tc.want {
			t.Errorf("isBlobRequest(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
	// The storage a blob request was redirected to.
	storage := get("/bucket/objects/1234")
	storage.Response = &http.Response{Request: get("/v2/web/blobs/sha256:abc")}
	if !isBlobRequest(storage) {
		t.Error("a redirect from a blob request is not a blob request")
	}
	storage.Response = &http.Response{Request: get("/v2/web/manifests/1.0")}
	if isBlobRequest(storage) {
		t.Error("a redirect from a manifest request is a blob request")
	}
}
