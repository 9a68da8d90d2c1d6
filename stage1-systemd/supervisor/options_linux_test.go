package supervisor

import (
	"io"
	"strings"
	"testing"
)

// TestParseOptions: `stage1 run` takes the flags of a start
// (podcontract.ParseRunFlags, which stage1's tests cover) and one POD-DIR;
// what the supervisor alone sets for PID 1 is no flag of its.
func TestParseOptions(t *testing.T) {
	o, err := parseOptions([]string{"--net=host", "--no-overlay", "/pods/x"}, io.Discard)
	if err != nil || o.Net != "host" || !o.NoOverlay || o.podDir != "/pods/x" {
		t.Errorf("parsed %+v, %v", o, err)
	}
	if o, err := parseOptions([]string{"p"}, io.Discard); err != nil || o.Net != "default" || o.RunDir != "/run/acirun" {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "want exactly one POD-DIR, got 0 arguments"},
		{[]string{"a", "b"}, "want exactly one POD-DIR, got 2 arguments"},
		{[]string{"--control-fd=3", "p"}, "flag provided but not defined: -control-fd"},
		{[]string{"--id-range=100000:65536", "p"}, "flag provided but not defined: -id-range"},
		{[]string{"--run-dir=run", "p"}, `--run-dir="run": want an absolute path`},
	} {
		if _, err := parseOptions(tc.args, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseOptions(%q) = %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
}
