package host

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acirun/acirun/internal/podcontract"
)

// TestNetworkSubnets: network.d's subnet and subnet6 for the default
// network, checked file by file and together, the last file's winning.
func TestNetworkSubnets(t *testing.T) {
	for _, tc := range []struct {
		in, subnet, subnet6, err string
	}{
		{`{"rktKind": "network", "rktVersion": "v1", "subnet": "10.88.0.0/16"}`, "10.88.0.0/16", "", ""},
		{`{"rktKind": "network", "rktVersion": "v1", "subnet6": "fd00:1::/64"}`, "", "fd00:1::/64", ""},
		{`{"rktKind": "network", "rktVersion": "v1", "subnet": "none"}`, "none", "", ""},
		{`{"rktKind": "network", "rktVersion": "v1", "subnet6": "none", "subnet": "10.0.0.0/30"}`, "10.0.0.0/30", "none", ""},
		{`{"rktKind": "network", "rktVersion": "v1", "subnet": "none", "subnet6": "none"}`, "", "", "needs IPv4, IPv6 or both"},
		{`{"rktKind": "network", "rktVersion": "v1", "subnet": "10.0.0.0/31"}`, "", "", "want an IPv4 subnet of at least 4 addresses"},
		{`{"rktKind": "network", "rktVersion": "v1", "subnet6": "fd00::/127"}`, "", "", "want an IPv6 subnet of at least 4 addresses"},
		{`{"rktKind": "network", "rktVersion": "v1", "subnet": "fd00::/64"}`, "", "", "want an IPv4 subnet like 172.16.28.0/24"},
		{`{"rktKind": "network", "rktVersion": "v1", "subnet6": "10.0.0.0/8"}`, "", "", "want an IPv6 subnet like fd61:6369:7275::/64"},
		{`{"rktKind": "network", "rktVersion": "v1", "subnet6": "fd00::1/64"}`, "", "", "write it as fd00::/64"},
		{`{"rktKind": "network", "rktVersion": "v1", "subnet": 24}`, "", "", "cannot unmarshal number"},
	} {
		f, err := parseNetworkFile([]byte(tc.in))
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: error %v, want %q", tc.in, err, tc.err)
			continue
		}
		if f.Subnet != tc.subnet || f.Subnet6 != tc.subnet6 {
			t.Errorf("%s: subnets %q %q, want %q %q", tc.in, f.Subnet, f.Subnet6, tc.subnet, tc.subnet6)
		}
	}

	dir := t.TempDir()
	sys, local := filepath.Join(dir, "usr"), filepath.Join(dir, "etc")
	h := New(Config{SystemConfig: sys, LocalConfig: local})
	write := func(base, name, body string) {
		p := filepath.Join(base, NetworkConfigDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(`{"rktKind": "network", "rktVersion": "v1", `+body+`}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if nc, err := h.NetworkConfig(); err != nil || nc.Subnet != "" || nc.Subnet6 != "" {
		t.Fatalf("no files: %+v, %v; want the defaults", nc, err)
	}
	write(sys, "10-vendor.json", `"subnet": "10.1.0.0/16", "subnet6": "fd00:1::/64"`)
	write(local, "10-v6.json", `"subnet6": "fd00:2::/64"`)
	if nc, err := h.NetworkConfig(); err != nil || nc.Subnet != "10.1.0.0/16" || nc.Subnet6 != "fd00:2::/64" {
		t.Errorf("system then local: %+v, %v", nc, err)
	}
	// Each file keeps a family, but together they keep none.
	write(local, "20-no4.json", `"subnet": "none"`)
	write(local, "30-no6.json", `"subnet6": "none"`)
	if nc, err := h.NetworkConfig(); err == nil || !strings.Contains(err.Error(), "needs IPv4, IPv6 or both") {
		t.Errorf("no family left: %+v, %v", nc, err)
	}
}

// FuzzNetworkFileSubnets: whatever parseNetworkFile accepts as subnets
// stage1 accepts as its flags.
func FuzzNetworkFileSubnets(f *testing.F) {
	f.Add("10.88.0.0/16", "fd00:1::/64")
	f.Add("none", "fd00::/126")
	f.Add("10.0.0.0/31", "none")
	f.Add("", "::ffff:10.0.0.0/120")
	f.Fuzz(func(t *testing.T, subnet, subnet6 string) {
		raw := []byte(`{"rktKind": "network", "rktVersion": "v1", "subnet": ` + quote(subnet) + `, "subnet6": ` + quote(subnet6) + `}`)
		nf, err := parseNetworkFile(raw)
		if err != nil {
			return
		}
		var flags []string
		if nf.Subnet != "" {
			flags = append(flags, "--subnet="+nf.Subnet)
		}
		if nf.Subnet6 != "" {
			flags = append(flags, "--subnet6="+nf.Subnet6)
		}
		if _, err := podcontract.ParseRecordedFlags(flags); err != nil {
			t.Fatalf("%s accepted, but stage1 refuses %q: %v", raw, flags, err)
		}
	})
}

// quote is s as a JSON string.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
