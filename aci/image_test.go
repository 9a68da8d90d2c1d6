package aci

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readExample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// roundTripImage checks decode → encode → decode gives an equal value.
func roundTripImage(t testing.TB, m *ImageManifest) {
	t.Helper()
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	m2, err := ParseImageManifest(out)
	if err != nil {
		t.Fatalf("re-parse of %s: %v", out, err)
	}
	if !reflect.DeepEqual(m, m2) {
		t.Fatalf("round trip differs:\nfirst  %#v\nsecond %#v\njson %s", m, m2, out)
	}
}

func TestSpecExampleImage(t *testing.T) {
	m, err := ParseImageManifest(readExample(t, "image.json"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "example.com/reduce-worker" || m.App == nil || len(m.App.Isolators) != 5 {
		t.Fatalf("unexpected manifest %+v", m)
	}
	cpu, ok := m.App.Isolators.CPU()
	if !ok || cpu.LimitMilli != 20 || cpu.RequestMilli != 20 {
		t.Errorf("cpu = %+v, %v; want 20m/20m", cpu, ok)
	}
	mem, ok := m.App.Isolators.Memory()
	if !ok || mem.Limit != 1e9 || mem.Request != 1e9 {
		t.Errorf("memory = %+v, %v; want 1G", mem, ok)
	}
	if !m.App.Isolators.NoNewPrivileges() {
		t.Error("no-new-privileges not set")
	}
	if sc, ok := m.App.Isolators.SeccompRemove(); !ok || sc.Errno != "EACCESS" || len(sc.Set) != 3 {
		t.Errorf("seccomp = %+v", sc)
	}
	if m.Dependencies[0].ImageID.IsFull() {
		t.Error("the placeholder dependency ID sha512-... reported as full")
	}
	if m.App.Ports[0].Count != 1 {
		t.Errorf("port count default = %d, want 1", m.App.Ports[0].Count)
	}
	roundTripImage(t, m)
}

func TestSpecExamplePods(t *testing.T) {
	rt, err := ParsePodManifest(readExample(t, "pod_runtime.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !rt.IsReified() {
		t.Errorf("pod_runtime.json not reified: %v", rt.ValidateReified(nil))
	}
	if v := rt.Volumes[0]; v.Kind != VolumeHost || !v.Recursive || !v.ReadOnly {
		t.Errorf("host volume = %+v", v)
	}
	if v := rt.Volumes[1]; v.Kind != VolumeEmpty || v.Mode != "0777" {
		t.Errorf("empty volume = %+v", v)
	}
	roundTripPod(t, rt)

	tmpl, err := ParsePodManifest(readExample(t, "pod_template.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The spec's template names two of its three apps by name and labels
	// only: it is valid but not reified.
	if tmpl.IsReified() {
		t.Fatal("pod_template.json reported reified")
	}
	err = tmpl.ValidateReified(nil)
	el, ok := err.(ErrorList)
	if !ok || len(el) != 2 || el[0].Path != "apps[1].image.id" || el[1].Path != "apps[2].image.id" {
		t.Fatalf("ValidateReified = %v", err)
	}
	if !strings.Contains(el[0].Msg, "not reified") {
		t.Errorf("message %q does not say the pod is not reified", el[0].Msg)
	}
	roundTripPod(t, tmpl)
}

func roundTripPod(t testing.TB, m *PodManifest) {
	t.Helper()
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	m2, err := ParsePodManifest(out)
	if err != nil {
		t.Fatalf("re-parse of %s: %v", out, err)
	}
	if !reflect.DeepEqual(m, m2) {
		t.Fatalf("round trip differs:\nfirst  %#v\nsecond %#v\njson %s", m, m2, out)
	}
}
