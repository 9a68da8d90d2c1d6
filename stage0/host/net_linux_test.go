package host

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/netns"
)

// TestCheckNetworks: the built-in networks (and none given) need no
// configuration; a named one must be in LocalConfig/net.d.
func TestCheckNetworks(t *testing.T) {
	local := t.TempDir()
	netd := filepath.Join(local, "net.d")
	if err := os.Mkdir(netd, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(netd, "10-lo.conflist"),
		[]byte(`{"cniVersion": "1.0.0", "name": "lo", "plugins": [{"type": "loopback"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(netd, "20-new.conflist"),
		[]byte(`{"cniVersion": "9.0.0", "name": "new", "plugins": [{"type": "loopback"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	h := New(Config{LocalConfig: local, RunDir: t.TempDir()})
	for _, tc := range []struct{ net, err string }{
		{"", ""}, {"default", ""}, {"default-restricted", ""}, {"host", ""}, {"none", ""},
		{"web", "unknown network web: the networks in " + netd + " are lo, new"},
		{"lo,web", "unknown network web"},
		{"lo:", "network lo: nothing after ':'"},
		{"new", "network new (" + netd + "/20-new.conflist): [plugin loopback does not support config version \"9.0.0\"]"},
	} {
		err := h.CheckNetworks(context.Background(), tc.net, nil)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CheckNetworks(%q) = %v, want %q", tc.net, err, tc.err)
		}
	}
	// Its plugin is Debian's containernetworking-plugins' (scripts/setup).
	if err := h.CheckNetworks(context.Background(), "lo", nil); err != nil {
		t.Errorf("CheckNetworks(lo) = %v", err)
	}
	if err := h.CheckNetworks(context.Background(), "lo", []aci.ExposedPort{{Name: "http", HostPort: 80}}); err == nil ||
		!strings.Contains(err.Error(), "port http is to be published (--port), and no plugin of --net=lo has the portMappings capability") {
		t.Errorf("CheckNetworks(lo) of a pod with --port = %v", err)
	}
}

// TestWarnWaitingLookupFails: gc says why it cannot name what holds an
// ended pod's link, rather than nothing. The link here is loopback (index
// 1 in every network namespace), which has no other end: LinkHolders
// fails on it. It fails when warnWaiting drops LinkHolders' error.
func TestWarnWaitingLookupFails(t *testing.T) {
	var warnings bytes.Buffer
	h := New(Config{Warnings: &warnings})
	h.warnWaiting([]netns.Waiting{{Addr: netip.MustParseAddr("10.9.0.2"), Owner: "/pods/a", Link: "lo", Index: 1}})
	if got := warnings.String(); !strings.Contains(got, "pod a keeps its addresses 10.9.0.2 while its link lo is there") || !strings.Contains(got, "could not be found") {
		t.Errorf("warnings %q; want one saying that what holds lo's namespace could not be found", got)
	}
}
