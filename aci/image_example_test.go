package aci_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/testenv"
)

func ExampleParseImageManifest() {
	_, err := aci.ParseImageManifest([]byte(`{
		"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/hello",
		"app": {"user": "0", "group": "0", "exec": ["bin/hello"],
			"ports": [{"name": "http", "protocol": "tcp", "port": 70000}],
			"isolators": [{"name": "resource/memory"}]}
	}`))
	if errs, ok := err.(aci.ErrorList); ok {
		for _, e := range errs {
			fmt.Println(e)
		}
	}
	// Output:
	// app.exec[0]: "bin/hello" is a relative path; use an absolute path or a bare command name
	// app.ports[0].port: 70000 out of range 1-65535
	// app.isolators[0].value: required for isolator resource/memory
}

func ExampleImageID_Short() {
	id, _ := aci.ParseImageID("sha512-8d3fffddf79e9a232ffd19f9ccaa4d6b37a6a243dbe0f23137b108a043d9da13121a9b505c804956b22e93c7f93969f4a7ba8ddea45bf4aab0bebc8f814e0990")
	fmt.Println(id.Short())
	// Output: sha512-8d3fffddf79e9a232ffd19f9ccaa4d6b
}

// The examples in testdata are copies of the spec's; when the shared copy
// is at hand (as in CI, at ../shared), they must not have drifted.
func TestExamplesMatchShared(t *testing.T) {
	shared := filepath.Join("..", "..", "shared", "appc-testdata", "examples")
	if _, err := os.Stat(shared); err != nil {
		shared = filepath.Join("..", "..", "..", "shared", "appc-testdata", "examples")
		if _, err := os.Stat(shared); err != nil {
			testenv.Unmet(t, "needs the shared appc-testdata next to the repository", "CI lays shared/ beside the clone")
		}
	}
	for _, name := range []string{"image.json", "pod_runtime.json", "pod_template.json"} {
		want, err := os.ReadFile(filepath.Join(shared, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("testdata", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("testdata/examples/%s differs from %s", name, shared)
		}
	}
}
