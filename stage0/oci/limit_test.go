package oci

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

func TestIsManifestPath(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/v2/web/manifests/1.0", true},
		{"/v2/team/web/manifests/sha256:" + strings.Repeat("ab", 32), true},
		{"/v2/manifests/manifests/latest", true}, // a repository named manifests
		{"/v2/web/blobs/sha256:ab", false},
		{"/v2/web/manifests/", false},
		{"/v2/web/manifests/a/b", false},
		{"/v2/manifests/x", false}, // no repository
		{"/v2/", false},
		{"/web/manifests/1.0", false},
		{"/token", false},
	} {
		if got := isManifestPath(tc.path); got != tc.want {
			t.Errorf("isManifestPath(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

// TestManifestLimit: through manifestLimit, a manifest of the limit is
// read whole; a larger one is refused, unread if its Content-Length says
// so, else once the limit is passed, having sent little more; other paths
// and HEAD requests are left alone.
func TestManifestLimit(t *testing.T) {
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		if r.URL.Query().Get("length") == "1" {
			w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		}
		if r.Method == http.MethodHead {
			return
		}
		chunk := make([]byte, 32<<10)
		for left := n; left > 0; {
			m := min(left, int64(len(chunk)))
			k, err := w.Write(chunk[:m])
			sent.Add(int64(k))
			if err != nil {
				return
			}
			left -= m
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
		}
	}))
	defer srv.Close()
	c := &http.Client{Transport: manifestLimit{http.DefaultTransport}}
	for _, tc := range []struct {
		name, path string
		n          int64
		length     bool
		method     string
		want       string // in the error; "" for success
		maxSent    int64
	}{
		{"limit, with length", "/v2/web/manifests/1", MaxManifestSize, true, "GET", "", MaxManifestSize},
		{"limit, chunked", "/v2/web/manifests/1", MaxManifestSize, false, "GET", "", MaxManifestSize},
		{"over, with length", "/v2/web/manifests/1", 1 << 30, true, "GET", "is 1073741824 bytes, more than the 4194304", 16 << 20},
		{"over, chunked", "/v2/web/manifests/1", 1 << 30, false, "GET", "more than the 4194304 bytes a manifest may have", 16 << 20},
		{"one byte over, chunked", "/v2/web/manifests/1", MaxManifestSize + 1, false, "GET", "more than the 4194304 bytes", MaxManifestSize + 1},
		{"a blob", "/v2/web/blobs/sha256:ab", 8 << 20, true, "GET", "", 8 << 20},
		{"HEAD of a manifest", "/v2/web/manifests/1", 1 << 30, true, "HEAD", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent.Store(0)
			u := srv.URL + tc.path + "?n=" + strconv.FormatInt(tc.n, 10)
			if tc.length {
				u += "&length=1"
			}
			req, err := http.NewRequest(tc.method, u, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got int64
			resp, err := c.Do(req)
			if err == nil {
				got, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("%s %s: %v", tc.method, tc.path, err)
			case tc.want == "" && tc.method == "GET" && got != tc.n:
				t.Errorf("%s %s: read %d bytes, want %d", tc.method, tc.path, got, tc.n)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("%s %s of %d bytes: %v, want an error with %q", tc.method, tc.path, tc.n, err, tc.want)
			}
			// The server stops writing once the client has hung up; what
			// it wrote meanwhile is bounded by the socket buffers.
			srv.CloseClientConnections()
			if s := sent.Load(); s > tc.maxSent+(8<<20) {
				t.Errorf("the server sent %d bytes, want at most about %d", s, tc.maxSent)
			}
		})
	}
}
