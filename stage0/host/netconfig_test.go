package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseNetworkFile(t *testing.T) {
	for _, tc := range []struct {
		in, publish, err string
	}{
		{`{"rktKind": "network", "rktVersion": "v1", "publish": "loopback"}`, "loopback", ""},
		{`{"rktKind": "network", "rktVersion": "v1", "publish": "none"}`, "none", ""},
		{`{"rktKind": "network", "rktVersion": "v1", "publish": "all"}`, "all", ""},
		{`{"rktKind": "network", "rktVersion": "v1"}`, "", ""},
		{`{"rktKind": "network", "rktVersion": "v1", "publish": "everywhere"}`, "", `publish "everywhere": want all`},
		{`{"rktKind": "network", "rktVersion": "v1", "publsh": "none"}`, "", `unknown field "publsh"`},
		{`{"rktKind": "auth", "rktVersion": "v1"}`, "", `rktKind "auth" is not "network"`},
		{`{"rktVersion": "v1"}`, "", "no rktKind"},
		{`{"rktKind": "network", "rktVersion": "v2"}`, "", `rktVersion "v2" of kind network: want v1`},
		{`{"rktKind": "network", "rktVersion": "v1"} {}`, "", "more than one JSON value"},
		{`publish = none`, "", "invalid character"},
		{``, "", "EOF"},
	} {
		f, err := parseNetworkFile([]byte(tc.in))
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: error %v, want %q", tc.in, err, tc.err)
			continue
		}
		if f.Publish != tc.publish {
			t.Errorf("%s: publish %q, want %q", tc.in, f.Publish, tc.publish)
		}
	}
}

func FuzzParseNetworkFile(f *testing.F) {
	f.Add(`{"rktKind": "network", "rktVersion": "v1", "publish": "loopback"}`)
	f.Add(`{"rktKind": "network", "rktVersion": "v1"}`)
	f.Add(`{"rktKind": "auth"}`)
	f.Fuzz(func(t *testing.T, in string) {
		nf, err := parseNetworkFile([]byte(in))
		if err != nil {
			return
		}
		switch nf.Publish {
		case "", "all", "loopback", "none":
		default:
			t.Fatalf("%q: publish %q accepted", in, nf.Publish)
		}
	})
}

// TestNetworkConfig: the system's network.d, then the local one, each in
// name order, the last setting winning; a bad file is an error naming it.
func TestNetworkConfig(t *testing.T) {
	dir := t.TempDir()
	sys, local := filepath.Join(dir, "usr"), filepath.Join(dir, "etc")
	h := New(Config{SystemConfig: sys, LocalConfig: local})
	if nc, err := h.NetworkConfig(); err != nil || nc.Publish != "all" || nc.Source != "" {
		t.Fatalf("no files: %+v, %v; want all", nc, err)
	}
	write := func(base, name, publish string) string {
		p := filepath.Join(base, NetworkConfigDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(`{"rktKind": "network", "rktVersion": "v1", "publish": "`+publish+`"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write(sys, "10-vendor.json", "none")
	want := write(local, "10-a.json", "loopback")
	write(local, "00-first.json", "none")
	write(local, "ignored.conf", "bogus")
	if nc, err := h.NetworkConfig(); err != nil || nc.Publish != "loopback" || nc.Source != want {
		t.Errorf("got %+v, %v; want loopback from %s", nc, err, want)
	}
	bad := write(local, "20-bad.json", "sometimes")
	if nc, err := h.NetworkConfig(); err == nil || !strings.Contains(err.Error(), "network config "+bad+": publish \"sometimes\"") {
		t.Errorf("bad file: %+v, %v", nc, err)
	}
}
