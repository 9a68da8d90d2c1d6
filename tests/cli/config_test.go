package cli

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// TestConfig: acirun config prints the paths in use, one auth entry per
// domain (local over system) with secrets REDACTED unless
// --show-credentials, and the trusted keys that `acirun trust` added.
func TestConfig(t *testing.T) {
	dir := t.TempDir()
	data, local, system := filepath.Join(dir, "data"), filepath.Join(dir, "etc"), filepath.Join(dir, "lib")
	write := func(path, body string) {
		must(t, os.MkdirAll(filepath.Dir(path), 0o755))
		must(t, os.WriteFile(path, []byte(body), 0o600))
	}
	write(filepath.Join(system, "auth.d", "sys.json"), `{"rktKind":"auth","rktVersion":"v1","domains":["a.example","b.example"],"type":"basic","credentials":{"user":"sys","password":"sys-secret"}}`)
	write(filepath.Join(local, "auth.d", "mine.json"), `{"rktKind":"auth","rktVersion":"v1","domains":["a.example"],"type":"oauth","credentials":{"token":"tok-secret"}}`)
	e, err := openpgp.NewEntity("alice", "", "alice@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	must(t, err)
	key := filepath.Join(dir, "alice.gpg")
	f, err := os.Create(key)
	must(t, err)
	must(t, e.Serialize(f))
	f.Close()
	globals := []string{"--dir", data, "--local-config", local, "--system-config", system}
	mustRun(t, append(globals, "trust", "--prefix=example.com/hello", "--skip-fingerprint-review", key)...)

	type entry map[string]any
	config := func(args ...string) (string, []entry) {
		out := mustRun(t, append(append(globals, "config"), args...)...).stdout
		var doc struct{ Stage0 []entry }
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("config printed no JSON: %v\n%s", err, out)
		}
		return out, doc.Stage0
	}
	out, entries := config()
	byKind := map[string][]entry{}
	for _, e := range entries {
		if e["rktVersion"] != "v1" {
			t.Errorf("entry without rktVersion v1: %v", e)
		}
		k, _ := e["rktKind"].(string)
		byKind[k] = append(byKind[k], e)
	}
	auth := byKind["auth"]
	if len(auth) != 2 || auth[0]["type"] != "oauth" || auth[1]["type"] != "basic" ||
		!strings.Contains(out, `"domains": [`+"\n"+`        "a.example"`) || auth[0]["source"] != filepath.Join(local, "auth.d", "mine.json") {
		t.Errorf("auth entries: %v", auth)
	}
	if strings.Contains(out, "secret") || strings.Count(out, `"REDACTED"`) != 2 || !strings.Contains(out, `"user": "sys"`) {
		t.Errorf("secrets not redacted:\n%s", out)
	}
	if p := byKind["paths"]; len(p) != 1 || p[0]["data"] != data || p[0]["local-config"] != local || p[0]["system-config"] != system || p[0]["run"] != filepath.Join(data, "run") {
		t.Errorf("paths: %v", p)
	}
	if s := byKind["stage1"]; len(s) != 1 || s[0]["location"] != filepath.Join(filepath.Dir(acirunBin), "acirun-stage1") {
		t.Errorf("stage1: %v", s)
	}
	if n := byKind["network"]; len(n) != 1 || n[0]["publish"] != "all" || n[0]["source"] != nil ||
		n[0]["subnet"] != "172.16.28.0/24" || n[0]["subnet6"] != "fd61:6369:7275::/64" {
		t.Errorf("network: %v, want publish all and the built-in subnets by default", n)
	}
	netconf := filepath.Join(local, "network.d", "publish.json")
	write(netconf, `{"rktKind":"network","rktVersion":"v1","publish":"loopback","subnet":"none","subnet6":"fd00:1::/64"}`)
	if _, es := config(); !slices.ContainsFunc(es, func(e entry) bool {
		return e["rktKind"] == "network" && e["publish"] == "loopback" && e["source"] == netconf && e["subnet"] == "none" && e["subnet6"] == "fd00:1::/64"
	}) {
		t.Errorf("network with %s: %v", netconf, es)
	}
	keys := byKind["trustedKey"]
	if len(keys) != 1 || keys[0]["prefix"] != "example.com/hello" || keys[0]["fingerprint"] != hex.EncodeToString(e.PrimaryKey.Fingerprint) || keys[0]["status"] != "trusted" {
		t.Errorf("trusted keys: %v", keys)
	}
	out, _ = config("--show-credentials")
	if !strings.Contains(out, `"password": "sys-secret"`) || !strings.Contains(out, `"token": "tok-secret"`) || strings.Contains(out, "REDACTED") {
		t.Errorf("--show-credentials:\n%s", out)
	}
	// A broken auth.d file is the same error fetch would give.
	write(filepath.Join(local, "auth.d", "bad.json"), `{"rktKind":"auth"`)
	if r := acirun(t, append(globals, "config")...); r.code != 254 || !strings.Contains(r.stderr, filepath.Join(local, "auth.d", "bad.json")) {
		t.Errorf("config with a broken auth.d file: exit %d, stderr %q", r.code, r.stderr)
	}
}
