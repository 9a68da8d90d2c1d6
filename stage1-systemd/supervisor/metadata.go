package supervisor

import (
	"crypto/hmac"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/podcontract"
)

// The metadata service of the appc spec (ace.md, "App Container Metadata
// Service"), for one pod, served by the pod's own supervisor: there is no
// daemon. Apps find it at AC_METADATA_URL, http://GATEWAY:PORT/TOKEN, where
// TOKEN (128 random bits) identifies the pod; the listener takes only what
// comes over the pod's own link.

// metadataPrefix is the API's root below the token.
const metadataPrefix = "/acMetadata/v1/"

// metadataKeySize is the length of the HMAC key the host's pods share, so
// that one pod can verify what another signed.
const metadataKeySize = 64

// metadataService answers the metadata requests of one pod.
type metadataService struct {
	token       string
	uuid        string
	uuidRaw     []byte
	key         []byte
	podManifest []byte             // POD-DIR/pod as stage0 wrote it
	podAnnots   []byte             // JSON of the pod manifest's annotations
	apps        map[string]appMeta // by app name
}

// appMeta is what the service says of one app.
type appMeta struct {
	manifest []byte // the image manifest, as stored
	id       string // the image ID
	annots   []byte // JSON: the image's annotations, the pod's app annotations over them
}

// newMetadataService loads what the pod's service serves from its
// directory: the reified pod manifest and each app's image manifest.
func newMetadataService(podDir, token string, key []byte) (*metadataService, error) {
	raw, err := os.ReadFile(filepath.Join(podDir, podcontract.ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("metadata service: %w", err)
	}
	pm, err := aci.ParsePodManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("metadata service: pod manifest: %w", err)
	}
	uuid := filepath.Base(podDir)
	id, err := machineID(uuid)
	if err != nil {
		return nil, fmt.Errorf("metadata service: %w", err)
	}
	s := &metadataService{token: token, uuid: uuid, uuidRaw: id, key: key, podManifest: raw, apps: map[string]appMeta{}}
	if s.podAnnots, err = annotationsJSON(pm.Annotations); err != nil {
		return nil, err
	}
	for _, ra := range pm.Apps {
		name := string(ra.Name)
		m, err := os.ReadFile(filepath.Join(podcontract.AppDir(podDir, name), podcontract.AppImageLink, "manifest"))
		if err != nil {
			return nil, fmt.Errorf("metadata service: app %s: %w", name, err)
		}
		im, err := aci.ParseImageManifest(m)
		if err != nil {
			return nil, fmt.Errorf("metadata service: app %s: image manifest: %w", name, err)
		}
		merged := append(aci.Annotations(nil), im.Annotations...)
		for _, a := range ra.Annotations {
			merged.Set(a.Name, a.Value)
		}
		annots, err := annotationsJSON(merged)
		if err != nil {
			return nil, err
		}
		s.apps[name] = appMeta{manifest: m, id: ra.Image.ID.String(), annots: annots}
	}
	return s, nil
}

// annotationsJSON is a list of annotations as the service returns it: a
// JSON array, empty rather than null (aci.Annotations writes it so).
func annotationsJSON(a aci.Annotations) ([]byte, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("metadata service: annotations: %w", err)
	}
	return b, nil
}

// sign is the pod's identity signature of content: HMAC-SHA512 over the
// pod's UUID (its 16 bytes) followed by content.
func (s *metadataService) sign(uuid []byte, content string) []byte {
	mac := hmac.New(sha512.New, s.key)
	mac.Write(uuid)
	mac.Write([]byte(content))
	return mac.Sum(nil)
}

const (
	contentJSON = "application/json"
	contentText = "text/plain; charset=us-ascii"
)

// ServeHTTP answers one request: the token first (401 if it is not the
// pod's), then the endpoint (404 if there is none, 405 for another method).
func (s *metadataService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if subtle.ConstantTimeCompare([]byte(token), []byte(s.token)) != 1 {
		http.Error(w, "unknown pod token", http.StatusUnauthorized)
		return
	}
	path, ok := strings.CutPrefix("/"+rest, metadataPrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch path {
	case "pod/annotations":
		s.get(w, r, contentJSON, s.podAnnots)
	case "pod/manifest":
		s.get(w, r, contentJSON, s.podManifest)
	case "pod/uuid":
		s.get(w, r, contentText, []byte(s.uuid))
	case "pod/hmac/sign":
		if !s.post(w, r) {
			return
		}
		if !r.PostForm.Has("content") {
			http.Error(w, "no content to sign (a form with content=...)", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", contentText)
		w.Write([]byte(base64.StdEncoding.EncodeToString(s.sign(s.uuidRaw, r.PostForm.Get("content")))))
	case "pod/hmac/verify":
		if !s.post(w, r) {
			return
		}
		for _, f := range []string{"content", "uuid", "signature"} {
			if !r.PostForm.Has(f) {
				http.Error(w, "no "+f+" (a form with content=..., uuid=..., signature=...)", http.StatusBadRequest)
				return
			}
		}
		id, err := machineID(r.PostForm.Get("uuid"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sig, err := base64.StdEncoding.DecodeString(r.PostForm.Get("signature"))
		if err != nil || !hmac.Equal(sig, s.sign(id, r.PostForm.Get("content"))) {
			http.Error(w, "signature does not verify", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", contentText)
		w.Write([]byte("ok"))
	default:
		app, what, ok := strings.Cut(strings.TrimPrefix(path, "apps/"), "/")
		a, known := s.apps[app]
		switch {
		case !strings.HasPrefix(path, "apps/") || !ok:
			http.NotFound(w, r)
		case !known:
			http.Error(w, fmt.Sprintf("no app %q in the pod", app), http.StatusNotFound)
		case what == "annotations":
			s.get(w, r, contentJSON, a.annots)
		case what == "image/manifest":
			s.get(w, r, contentJSON, a.manifest)
		case what == "image/id":
			s.get(w, r, contentText, []byte(a.id))
		default:
			http.NotFound(w, r)
		}
	}
}

// get answers a GET (or HEAD) with body.
func (s *metadataService) get(w http.ResponseWriter, r *http.Request, contentType string, body []byte) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Write(body)
}

// post checks that r is a POST and parses its form (at most 1 MiB).
func (s *metadataService) post(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}
