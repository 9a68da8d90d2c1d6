package aci

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestImageManifestErrors(t *testing.T) {
	const base = `"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/test"`
	tests := []struct {
		doc       string
		path, msg string
	}{
		{`{"acVersion":"0.8.11","name":"a"}`, "acKind", "is not \"ImageManifest\""},
		{`{"acKind":"ImageManifst","acVersion":"0.8.11","name":"a"}`, "acKind", `"ImageManifst" is not "ImageManifest"`},
		{`{"acKind":"PodManifest","acVersion":"0.8.11","apps":[]}`, "acKind", `"PodManifest" is not "ImageManifest"`},
		{`{"acKind":"ImageManifest","name":"a"}`, "acVersion", "required"},
		{`{"acKind":"ImageManifest","acVersion":"0.8","name":"a"}`, "acVersion", `"0.8" is not a SemVer 2.0.0 version`},
		{`{"acKind":"ImageManifest","acVersion":"0.0.0","name":"a"}`, "acVersion", "0.0.0 is not a valid acVersion"},
		{`{"acKind":"ImageManifest","acVersion":8,"name":"a"}`, "acVersion", "want a string"},
		{`{"acKind":"ImageManifest","acVersion":"0.8.11"}`, "name", "required"},
		{`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"Example.com"}`, "name", `"Example.com" is not a valid AC Identifier`},
		{`{` + base + `,"labels":[{"name":"os","value":"plan9"}]}`, "labels[0].value", `os "plan9" is not one of`},
		{`{` + base + `,"labels":[{"name":"version"}]}`, "labels[0].value", "required"},
		{`{` + base + `,"labels":[{"name":"version","value":1}]}`, "labels[0].value", "1 is a number, want a string"},
		{`{` + base + `,"labels":[null]}`, "labels[0]", "null is not a label"},
		{`{` + base + `,"labels":{"version":"1"}}`, "labels", "want an array"},
		{`{` + base + `,"annotations":[{"name":"created","value":"now"}]}`, "annotations[0].value", "not an RFC 3339"},
		{`{` + base + `,"dependencies":[{"imageID":"sha512-abc"}]}`, "dependencies[0].imageName", "required"},
		{`{` + base + `,"dependencies":[{"imageName":"a","imageID":"sha256-abc"}]}`, "dependencies[0].imageID", `does not start with "sha512-"`},
		{`{` + base + `,"dependencies":[{"imageName":"a","size":-1}]}`, "dependencies[0].size", "out of range"},
		{`{` + base + `,"dependencies":[{"imageName":"a","labels":[{"name":"name","value":"x"}]}]}`, "dependencies[0].labels[0].name", `"name" is not allowed`},
		{`{` + base + `,"dependencies":[{"imageName":"a","imageId":"sha512-abc"}]}`, "dependencies[0].imageId", `did you mean "imageID"?`},
		{`{` + base + `,"pathWhitelist":["etc/passwd"]}`, "pathWhitelist[0]", "not an absolute path"},
		{`{` + base + `,"pathWhitelist":["/etc","/etc/"]}`, "pathWhitelist[1]", "listed twice"},
		{`{` + base + `,"pathWhitelist":[""]}`, "pathWhitelist[0]", "required"},
		{`{` + base + `,"extra":1}`, "extra", "unknown field"},
		{`{` + base + `,"name":"b"}`, "name", "duplicate field"},
		{`[]`, "", "want an object"},
		{`null`, "", "want an object"},
		{`{` + base + `} {}`, "", "data after the top-level value"},
		{`{` + base + `,}`, "", "invalid JSON"},
		{`{` + base, "", "unexpected end of input"},
		{"{\"acKind\":\"ImageManifest\",\"acVersion\":\"0.8.11\",\"name\":\"a\xff\"}", "", "not valid UTF-8"},
		{``, "", "invalid JSON"},
	}
	for _, tt := range tests {
		_, err := ParseImageManifest([]byte(tt.doc))
		wantErr(t, err, tt.path, tt.msg)
	}
}

func TestManifestLimits(t *testing.T) {
	// Size cap: checked before any parsing.
	big := append([]byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"a","annotations":[{"name":"x","value":"`),
		bytes.Repeat([]byte("a"), MaxManifestSize)...)
	big = append(big, `"}]}`...)
	_, err := ParseImageManifest(big)
	wantErr(t, err, "", "more than the limit")
	_, err = ParsePodManifest(big)
	wantErr(t, err, "", "more than the limit")

	// A manifest just under the cap parses.
	pad := MaxManifestSize - 200
	ok := []byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"a","annotations":[{"name":"x","value":"` +
		strings.Repeat("a", pad) + `"}]}`)
	if _, err := ParseImageManifest(ok); err != nil {
		t.Errorf("manifest of %d bytes: %v", len(ok), err)
	}

	// Nesting is bounded (inside an unknown isolator's value).
	deep := imageWithIsolators(`[{"name":"example.com/x","value":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}]`)
	_, err = ParseImageManifest(deep)
	wantErr(t, err, "", "nested more than")
	shallow := imageWithIsolators(`[{"name":"example.com/x","value":` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + `}]`)
	if _, err := ParseImageManifest(shallow); err != nil {
		t.Errorf("50 levels: %v", err)
	}
}

func TestParseManifest(t *testing.T) {
	for file, kind := range map[string]ACKind{
		"image.json": ACKindImageManifest, "pod_runtime.json": ACKindPodManifest, "pod_template.json": ACKindPodManifest,
	} {
		data := readExample(t, file)
		k, err := DetectKind(data)
		if err != nil || k != kind {
			t.Errorf("DetectKind(%s) = %q, %v", file, k, err)
		}
		m, err := ParseManifest(data)
		if err != nil || m.Kind() != kind {
			t.Errorf("ParseManifest(%s) = %v, %v", file, m, err)
		}
		if err := m.Validate(); err != nil {
			t.Errorf("%s: Validate() = %v", file, err)
		}
	}
	for _, tc := range []struct{ doc, want string }{
		{`{}`, "acKind: required"}, {`{"acKind":"Pod"}`, `acKind: "Pod" is not "ImageManifest" or "PodManifest"`},
		{`{"acKind":1}`, "acKind: 1 is a number, want a string"}, {`[]`, "manifest is an array, not a JSON object"},
		{`{"acKind":null}`, "acKind: required"}, {`nope`, "invalid JSON at byte 0"},
	} {
		if k, err := DetectKind([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DetectKind(%s) = %q, %v; want %q", tc.doc, k, err, tc.want)
		}
		if m, err := ParseManifest([]byte(tc.doc)); err == nil || m != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseManifest(%s) = %v, %v; want %q", tc.doc, m, err, tc.want)
		}
	}
	m, err := ParseManifest([]byte(`{"acKind":"PodManifest","acVersion":"0.8.11","apps":[]}`))
	if err == nil || m != nil || !strings.Contains(err.Error(), "apps: a pod needs at least one app") {
		t.Errorf("invalid pod: %v, %v; want a refusal naming apps", m, err)
	}
}

// An ImageManifest inside another document is decoded just as strictly.
func TestImageManifestUnmarshalJSON(t *testing.T) {
	var wrapper struct {
		M ImageManifest `json:"m"`
	}
	good := `{"m":` + string(readExample(t, "image.json")) + `}`
	if err := json.Unmarshal([]byte(good), &wrapper); err != nil || wrapper.M.Name != "example.com/reduce-worker" {
		t.Fatalf("Unmarshal: %v", err)
	}
	bad := `{"m":{"acKind":"ImageManifest","acVersion":"0.8.11","name":"a","bogus":1}}`
	if err := json.Unmarshal([]byte(bad), &wrapper); err == nil || !strings.Contains(err.Error(), "bogus: unknown field") {
		t.Errorf("unknown field through json.Unmarshal: %v, want a refusal naming it", err)
	}
}

func TestImageManifestEncoding(t *testing.T) {
	m := &ImageManifest{
		ACVersion: SemVer{Major: 0, Minor: 8, Patch: 11},
		Name:      "example.com/hello",
		Labels:    Labels{{"version", "1.0"}, {"os", "linux"}, {"arch", "amd64"}},
		App: &App{
			Exec: []string{"/hello"}, User: "0", Group: "0",
			SupplementaryGIDs: []uint32{10},
			Ports:             []Port{{Name: "http", Protocol: "tcp", Port: 8080}},
			Isolators:         Isolators{NewIsolator(ResourceMemory{Limit: 1 << 20})},
		},
	}
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "acKind") {
		t.Errorf("Validate without acKind: %v", err)
	}
	m.ACKind = ACKindImageManifest
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"acKind":"ImageManifest"`, `"acVersion":"0.8.11"`, `"supplementaryGIDs":[10]`, `"count":1`, `"limit":"1048576"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("encoding lacks %s: %s", want, out)
		}
	}
	m2, err := ParseImageManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	// The port count default is now explicit; a zero request stays zero.
	if m2.App.Ports[0].Count != 1 || m2.App.Isolators[0].Value.(ResourceMemory).Request != 0 {
		t.Errorf("decoded %+v", m2.App)
	}
	roundTripImage(t, m2)
}

// A manifest within the size cap but made of tiny values is refused before
// it costs much memory.
func TestManifestValueCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"a","pathWhitelist":[`)
	for i := 0; i < maxValues; i++ {
		b.WriteString(`0,`)
	}
	b.WriteString(`0]}`)
	_, err := ParseImageManifest([]byte(b.String()))
	wantErr(t, err, "", "more than 262144 JSON values")
}
