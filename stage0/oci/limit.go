package oci

import (
	"fmt"
	"io"
	"net/http"
	"strings"
)

// manifestLimit bounds what is read of a registry's manifests (and
// indexes) to MaxManifestSize. go-containerregistry reads a manifest whole
// into memory before anything of ours can look at it, up to 100 MiB, so a
// registry answering with a huge or endless manifest would cost that much
// memory and download first. A manifest whose Content-Length is larger is
// refused unread; any other manifest's body fails as soon as it has given
// more than the limit.
type manifestLimit struct {
	inner http.RoundTripper
}

func (l manifestLimit) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.inner.RoundTrip(req)
	if err != nil || req.Method == http.MethodHead || !isManifestPath(req.URL.Path) {
		return resp, err
	}
	where := req.URL.Redacted()
	if resp.ContentLength > MaxManifestSize {
		resp.Body.Close()
		return nil, fmt.Errorf("manifest %s is %d bytes, more than the %d a manifest may have", where, resp.ContentLength, MaxManifestSize)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: MaxManifestSize, where: where}
	return resp, nil
}

// isManifestPath says whether p is /v2/NAME/manifests/REFERENCE, where the
// distribution API serves manifests and indexes.
func isManifestPath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return false
	}
	i := strings.LastIndex(rest, "/manifests/")
	if i <= 0 {
		return false
	}
	ref := rest[i+len("/manifests/"):]
	return ref != "" && !strings.Contains(ref, "/")
}

// limitedBody is a manifest's body that fails once it has given more than
// the limit.
type limitedBody struct {
	rc    io.ReadCloser
	left  int64
	where string
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a
		// longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("manifest %s: more than the %d bytes a manifest may have", b.where, MaxManifestSize)
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
