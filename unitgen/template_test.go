package unitgen

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
)

// TestTemplateFileIsGenerated: units/aci@.service is what unitgen writes
// for the template (go generate ./unitgen writes it).
func TestTemplateFileIsGenerated(t *testing.T) {
	shipped, err := os.ReadFile("../units/aci@.service")
	if err != nil {
		t.Fatal(err)
	}
	if want := TemplateFile(); !bytes.Equal(shipped, want) {
		t.Fatalf("units/aci@.service is not what unitgen writes: run go generate ./unitgen\n--- shipped\n%s\n--- unitgen\n%s", shipped, want)
	}
	opts, err := unit.DeserializeOptions(bytes.NewReader(shipped))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Template().Options()
	if !unit.AllMatch(opts, want) {
		t.Errorf("units/aci@.service reads as\n%v\nwant\n%v", opts, want)
	}
}

// TestTemplate: the template is a pod's unit with the instance as the image.
func TestTemplate(t *testing.T) {
	opts, err := Template().Options()
	if err != nil {
		t.Fatal(err)
	}
	checkSettings(t, opts, "", map[string]string{
		"Unit.Description":         "App Container pod %I",
		"Service.ExecStart":        "acirun run %I",
		"Service.Type":             "notify",
		"Service.KillMode":         "mixed",
		"Service.Delegate":         "yes",
		"Service.Slice":            "machine.slice",
		"Service.TimeoutStopSec":   "30s",
		"Service.TimeoutStartSec":  "5min",
		"Service.SyslogIdentifier": "%N",
		"Install.WantedBy":         "multi-user.target",
	})
}

// TestReadmeRecipe: the README's systemd-run recipe is the template's
// settings as -p arguments.
func TestReadmeRecipe(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	recipe := "systemd-run --unit=hello"
	for _, p := range Template().SystemdRunProperties() {
		if strings.ContainsAny(p, " \t'\"\\$`;&|<>()*?[]#~%") {
			t.Fatalf("property %q would need shell quoting in the README", p)
		}
		recipe += " -p " + p
	}
	recipe += " acirun run /srv/hello.aci"
	if !strings.Contains(strings.Join(strings.Fields(string(readme)), " "), recipe) {
		t.Errorf("README.md lacks the recipe %q", recipe)
	}
}
