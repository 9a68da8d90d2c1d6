package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStallTimeoutEverywhere: the stall deadline reaches every command
// that fetches, from its flag or from store.d. A server on loopback that
// answers an image request with its headers and then a byte every 100ms
// (a 100 KiB image: three hours) is given up on within seconds by fetch,
// prepare and run given --stall-timeout=1s, and by fetch given nothing
// but store.d's stallTimeout of 1s; each exits 254 with one line naming
// the URL once, the stall once, and what to do, and stores nothing. (It
// said "fetch URL: import image: read archive: fetch URL: after 10 bytes:
// GET URL: transfer stalled: … : transfer stalled".) A bad value is refused naming the flag or
// the file.
func TestStallTimeoutEverywhere(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ".aci") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", "102400")
		w.WriteHeader(http.StatusOK)
		for range 102400 {
			if _, err := w.Write([]byte{0}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}))
	defer srv.Close()
	url := srv.URL + "/trickle.aci"
	ins := "--insecure-options=image,http"

	withStoreD := t.TempDir()
	if err := os.MkdirAll(filepath.Join(withStoreD, "store.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(withStoreD, "store.d", "stall.json"), []byte(`{"rktKind": "store", "rktVersion": "v1", "stallTimeout": "1s"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"fetch --stall-timeout", []string{"fetch", ins, "--stall-timeout=1s", url}},
		{"fetch with store.d", []string{"--local-config", withStoreD, "fetch", ins, url}},
		{"prepare --stall-timeout", []string{"prepare", ins, "--stall-timeout=1s", "--net=none", url}},
		{"run --stall-timeout", []string{"run", ins, "--stall-timeout=1s", "--net=none", url}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			data := t.TempDir()
			start := time.Now()
			r := acirun(t, append([]string{"--dir", data}, tc.args...)...)
			took := time.Since(start)
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			last := lines[len(lines)-1]
			if r.code != 254 || !strings.HasPrefix(last, "acirun: GET "+url+": transfer stalled after ") || strings.Count(last, url) != 1 ||
				strings.Count(last, "stalled") != 1 || !strings.HasSuffix(last, "give a longer --stall-timeout, or set stallTimeout in LOCAL-CONFIG/store.d)") {
				t.Errorf("exit %d, want 254 and a last line naming %s and the stall once and what to do:\n%s", r.code, url, r.stderr)
			}
			// Up to 6 resumes, each given up on after a second.
			if took > 30*time.Second {
				t.Errorf("given up on after %v", took)
			}
			t.Logf("given up on after %v", took)
			if left := storeLeftovers(t, data); len(left) != 0 {
				t.Errorf("the stalled fetch left %v in the store", left)
			}
		})
	}

	badStoreD := t.TempDir()
	if err := os.MkdirAll(filepath.Join(badStoreD, "store.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badStoreD, "store.d", "stall.json"), []byte(`{"rktKind": "store", "rktVersion": "v1", "stallTimeout": "5"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"fetch", "--stall-timeout=5", url}, 2, `invalid value "5" for flag -stall-timeout: stall timeout "5" is not a duration`},
		{[]string{"run", "--stall-timeout=10ms", url}, 2, `stall timeout "10ms" is less than 1s`},
		{[]string{"--local-config", badStoreD, "fetch", ins, url}, 254, filepath.Join(badStoreD, "store.d", "stall.json") + `: stallTimeout: stall timeout "5" is not a duration`},
	} {
		r := acirun(t, append([]string{"--dir", t.TempDir()}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("acirun %q: exit %d, want %d saying %q:\n%s", tc.args, r.code, tc.code, tc.want, r.stderr)
		}
	}
}
