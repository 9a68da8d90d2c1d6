package unitgen

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
)

// TestNewService: a persistent service's unit file runs the command given,
// escaped, with the pod unit's settings, a stop timeout of the pod's, and
// an [Install] section; bad input is refused.
func TestNewService(t *testing.T) {
	u, err := NewService(Service{
		Images:      []string{"example.com/web:1.0"},
		Command:     []string{"/usr/local/bin/acirun", "run", "--set-env=A=$HOME%n", "example.com/web:1.0"},
		StopTimeout: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := u.File()
	if err != nil {
		t.Fatal(err)
	}
	opts, err := unit.DeserializeOptions(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	checkSettings(t, opts, string(b), map[string]string{
		"Unit.Description":         "App Container pod example.com/web:1.0",
		"Service.Type":             "notify",
		"Service.KillMode":         "mixed",
		"Service.ExecStart":        `/usr/local/bin/acirun run --set-env=A=$$HOME%%n example.com/web:1.0`,
		"Service.TimeoutStopSec":   "23s",
		"Service.Delegate":         "yes",
		"Service.SyslogIdentifier": "%N",
		"Install.WantedBy":         "multi-user.target",
	})
	if _, err := u.Properties(); err == nil || !strings.Contains(err.Error(), "is no transient unit: it is a persistent service") {
		t.Errorf("a service's unit's transient properties: %v, want a refusal saying it is only a file", err)
	}
	for _, s := range []Service{
		{Command: []string{"/bin/acirun", "run", "x"}},
		{Images: []string{"x"}, Command: []string{"acirun", "run", "x"}},
		{Images: []string{"x"}, Command: []string{"/bin/acirun", "run", "x"}, StopTimeout: -time.Second},
	} {
		if _, err := NewService(s); err == nil || !strings.Contains(err.Error(), "unit of a service") {
			t.Errorf("NewService(%+v) = %v, want an error", s, err)
		}
	}
	// A line break cannot be in a unit file's command line.
	u, _ = NewService(Service{Images: []string{"x"}, Command: []string{"/bin/acirun", "run", "a\nb"}})
	if _, err := u.File(); err == nil || !strings.Contains(err.Error(), `ExecStart=: the command's argument 2 "a\nb" holds a line break`) {
		t.Errorf("a unit file with a line break in an argument: %v, want a refusal naming the argument", err)
	}
}
