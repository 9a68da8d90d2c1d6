package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/stage0/store/extract"
)

// TestStoreConfig: maxImageSize from the system's store.d, then the local
// one, the last setting winning; a bad file or size is an error naming the
// file; without any, the extractor's default.
func TestStoreConfig(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sys, local string // a store.d/a.json of each, "" for none
		want       int64
		stall      time.Duration // 0: the default
		err        string
	}{
		{name: "default", want: extract.DefaultMaxBytes},
		{name: "local", local: `{"rktKind": "store", "rktVersion": "v1", "maxImageSize": "16Gi"}`, want: 16 << 30},
		{name: "local over system", sys: `{"rktKind": "store", "rktVersion": "v1", "maxImageSize": "1Gi"}`, local: `{"rktKind": "store", "rktVersion": "v1", "maxImageSize": "500M"}`, want: 500e6},
		{name: "system", sys: `{"rktKind": "store", "rktVersion": "v1", "maxImageSize": "2147483648"}`, want: 2 << 30},
		{name: "no setting", local: `{"rktKind": "store", "rktVersion": "v1"}`, want: extract.DefaultMaxBytes},
		{name: "bad quantity", local: `{"rktKind": "store", "rktVersion": "v1", "maxImageSize": "16GB"}`, err: `etc/store.d/a.json: "16GB" is not a valid quantity`},
		{name: "too small", local: `{"rktKind": "store", "rktVersion": "v1", "maxImageSize": "1k"}`, err: `less than 1Mi`},
		{name: "negative", local: `{"rktKind": "store", "rktVersion": "v1", "maxImageSize": "-1Gi"}`, err: `not a valid quantity`},
		{name: "misspelt", local: `{"rktKind": "store", "rktVersion": "v1", "maxImgSize": "1Gi"}`, err: `unknown field "maxImgSize"`},
		{name: "wrong kind", local: `{"rktKind": "network", "rktVersion": "v1"}`, err: `rktKind "network" is not "store"`},
		{name: "stall timeout", local: `{"rktKind": "store", "rktVersion": "v1", "stallTimeout": "30s"}`, want: extract.DefaultMaxBytes, stall: 30 * time.Second},
		{name: "stall timeout never", local: `{"rktKind": "store", "rktVersion": "v1", "stallTimeout": "0"}`, want: extract.DefaultMaxBytes, stall: -1},
		{name: "stall timeout local over system", sys: `{"rktKind": "store", "rktVersion": "v1", "stallTimeout": "5m", "maxImageSize": "1Gi"}`, local: `{"rktKind": "store", "rktVersion": "v1", "stallTimeout": "2m"}`, want: 1 << 30, stall: 2 * time.Minute},
		{name: "stall timeout not a duration", local: `{"rktKind": "store", "rktVersion": "v1", "stallTimeout": "30"}`, err: `etc/store.d/a.json: stallTimeout: stall timeout "30" is not a duration`},
		{name: "stall timeout too short", local: `{"rktKind": "store", "rktVersion": "v1", "stallTimeout": "10ms"}`, err: `stall timeout "10ms" is less than 1s`},
		{name: "stall timeout negative", local: `{"rktKind": "store", "rktVersion": "v1", "stallTimeout": "-1m"}`, err: `stall timeout "-1m" is less than 1s`},
		{name: "number", local: `{"rktKind": "store", "rktVersion": "v1", "maxImageSize": 5}`, err: `cannot unmarshal number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sys, local := filepath.Join(dir, "usr"), filepath.Join(dir, "etc")
			for base, content := range map[string]string{sys: tc.sys, local: tc.local} {
				if content == "" {
					continue
				}
				if err := os.MkdirAll(filepath.Join(base, StoreConfigDir), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(base, StoreConfigDir, "a.json"), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			sc, err := New(Config{SystemConfig: sys, LocalConfig: local}).StoreConfig()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || sc.MaxImageSize != tc.want || sc.StallTimeout != tc.stall {
				t.Fatalf("StoreConfig() = %+v, %v; want MaxImageSize %d, StallTimeout %v", sc, err, tc.want, tc.stall)
			}
			if (sc.StallSource != "") != (tc.stall != 0) {
				t.Errorf("StallSource %q for StallTimeout %v", sc.StallSource, sc.StallTimeout)
			}
		})
	}
}

func FuzzParseStoreFile(f *testing.F) {
	f.Add(`{"rktKind": "store", "rktVersion": "v1", "maxImageSize": "16Gi"}`)
	f.Add(`{"rktKind": "store", "rktVersion": "v1"}`)
	f.Add(`{"rktKind": "store", "rktVersion": "v1", "maxImageSize": "1e9"}`)
	f.Add(`{"rktKind": "store", "rktVersion": "v1", "stallTimeout": "1m30s"}`)
	f.Fuzz(func(t *testing.T, in string) {
		set, err := parseStoreFile([]byte(in))
		if err != nil {
			return
		}
		if n := set.maxImageSize; n != 0 && n < 1<<20 {
			t.Fatalf("%q: maxImageSize %d accepted, less than 1Mi", in, n)
		}
		if d := set.stallTimeout; d != 0 && d != -1 && d < time.Second {
			t.Fatalf("%q: stallTimeout %v accepted, less than 1s and not never", in, d)
		}
	})
}
