package aci

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func addSeeds(f *testing.F, files ...string) {
	for _, file := range files {
		f.Add(readExample(f, file))
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"a","app":{"user":"0","group":"0","supplementaryGids":[1],"isolators":[{"name":"x/y","value":{"a":[1e3]}},{"name":"resource/cpu","value":{"request":"1.5","limit":"2e3m"}}]}}`))
	f.Add([]byte(`{"acKind":"PodManifest","acVersion":"1.0.0-rc.1+b","apps":[{"name":"a","image":{"id":"sha512-..."},"mounts":[{"volume":"v","path":"/v","appVolume":{"name":"v","kind":"host","source":"/s","recursive":false}}]}],"ports":[{"name":"p","hostPort":1,"hostIP":"1.2.3.4","podPort":{"name":"p","protocol":"tcp","port":2,"count":3}}],"isolators":[{"name":"os/unix/sysctl","value":{"a.b":"c"}},{"name":"os/linux/oom-score-adj","value":-1000}]}`))
}

// checkParse is the fuzz oracle of a manifest parser: what it refuses comes
// as a non-empty ErrorList and no manifest; whatever parses must validate,
// encode, decode to an equal value, and encode to the same bytes again. It
// returns the manifest, nil when refused.
func checkParse[M interface {
	Validate() error
	*ImageManifest | *PodManifest
}](t *testing.T, data []byte, parse func([]byte) (M, error)) M {
	m, err := parse(data)
	if err != nil {
		if m != nil {
			t.Fatal("manifest returned with an error")
		}
		if _, ok := err.(ErrorList); !ok || len(err.(ErrorList)) == 0 {
			t.Fatalf("error %T %v is not a non-empty ErrorList", err, err)
		}
		return nil
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("parsed manifest does not validate: %v", err)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	m2, err := parse(out)
	if err != nil {
		t.Fatalf("re-parse of %s: %v", out, err)
	}
	if !reflect.DeepEqual(m, m2) {
		t.Fatalf("round trip differs:\n%#v\n%#v\n%s", m, m2, out)
	}
	out2, err := json.Marshal(m2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, out2) {
		t.Fatalf("encoding not stable:\n%s\n%s", out, out2)
	}
	return m
}

func FuzzParseImageManifest(f *testing.F) {
	addSeeds(f, "image.json", "pod_runtime.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, data, ParseImageManifest)
	})
}

func FuzzParsePodManifest(f *testing.F) {
	addSeeds(f, "pod_runtime.json", "pod_template.json", "image.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		if m := checkParse(t, data, ParsePodManifest); m != nil {
			_ = m.IsReified()
		}
	})
}
