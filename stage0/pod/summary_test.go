package pod

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/acirun/acirun/aci"
)

var (
	summaryID1 = "sha512-" + strings.Repeat("ab", 64)
	summaryID2 = "sha512-" + strings.Repeat("01", 64)
)

func summaryApps(t testing.TB, fields ...string) []AppStatus {
	t.Helper()
	var apps []AppStatus
	for i := 0; i < len(fields); i += 3 {
		id, err := aci.ParseImageID(fields[i+2])
		if err != nil {
			t.Fatal(err)
		}
		apps = append(apps, AppStatus{Name: fields[i], ImageName: fields[i+1], ImageID: id})
	}
	return apps
}

// TestSummaryParse: what encodeSummary writes, and what list may find
// instead (another version, a cut or damaged file), each refused with a
// reason rather than read as something else.
func TestSummaryParse(t *testing.T) {
	const h = "acirun pod summary 1\n"
	tests := []struct {
		name, in string
		want     []AppStatus // nil with err
		err      string
	}{
		{"one app", h + "app web example.com/web " + summaryID1 + "\nend\n", summaryApps(t, "web", "example.com/web", summaryID1), ""},
		{"two apps, one image name empty", h + "app a example.com/a " + summaryID1 + "\napp b  " + summaryID2 + "\nend\n",
			summaryApps(t, "a", "example.com/a", summaryID1, "b", "", summaryID2), ""},
		{"no apps", h + "end\n", []AppStatus{}, ""},
		{"empty file", "", nil, "not a summary of version 1"},
		{"another version", "acirun pod summary 2\nend\n", nil, "not a summary of version 1"},
		{"cut before the end line", h + "app web example.com/web " + summaryID1 + "\n", nil, "cut short"},
		{"cut in the end line", h + "end", nil, "cut short"},
		{"cut in an app line", h + "app web example.com/web sha512-ab", nil, "cut short"},
		{"text after the end", h + "end\nend\n", nil, "after the end line"},
		{"unknown line", h + "volume x\nend\n", nil, "neither an app nor the end"},
		{"two fields", h + "app web " + summaryID1 + "\nend\n", nil, "fewer than 3 fields"},
		{"four fields", h + "app web example.com/web " + summaryID1 + " x\nend\n", nil, "image ID"},
		{"bad app name", h + "app Web example.com/web " + summaryID1 + "\nend\n", nil, "AC Name"},
		{"empty app name", h + "app  example.com/web " + summaryID1 + "\nend\n", nil, "AC Name"},
		{"bad image name", h + "app web example.com//web " + summaryID1 + "\nend\n", nil, "AC Identifier"},
		{"partial image ID", h + "app web example.com/web sha512-abab\nend\n", nil, "hex digits"},
		{"no image ID", h + "app web example.com/web \nend\n", nil, "image ID"},
		{"CRLF", strings.ReplaceAll(h+"app web example.com/web "+summaryID1+"\nend\n", "\n", "\r\n"), nil, "not a summary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sp summaryParser
			got, err := sp.parse([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || got != nil {
					t.Errorf("parse = %+v, %v; want an error saying %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parse = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestSummaryEncode: a pod manifest's summary parses back to its apps, and
// a parser that saw the same app before gives the same strings, not new
// copies of them.
func TestSummaryEncode(t *testing.T) {
	pm := summaryManifest(t, summaryApps(t, "a", "example.com/a", summaryID1, "b", "example.com/b", summaryID2))
	b, err := encodeSummary(pm)
	if err != nil {
		t.Fatal(err)
	}
	want := "acirun pod summary 1\napp a example.com/a " + summaryID1 + "\napp b example.com/b " + summaryID2 + "\nend\n"
	if string(b) != want {
		t.Errorf("summary\n%s\nwant\n%s", b, want)
	}
	var sp summaryParser
	first, err := sp.parse(b)
	if err != nil || len(first) != 2 || first[1].ImageID.String() != summaryID2 {
		t.Fatalf("parse = %+v, %v", first, err)
	}
	again, err := sp.parse(bytes.Clone(b))
	if err != nil || !reflect.DeepEqual(again, first) {
		t.Fatalf("second parse = %+v, %v", again, err)
	}
	if s1, s2 := first[0].ImageID.String(), again[0].ImageID.String(); unsafe.StringData(s1) != unsafe.StringData(s2) {
		t.Error("the second pod's image ID is a new string, not the first's")
	}
	if allocs := testing.AllocsPerRun(100, func() { sp.parse(b) }); allocs > 1 {
		t.Errorf("parse of a summary seen before: %.0f allocations, want 1 (the apps)", allocs)
	}

	// What the reader would refuse is not written.
	bad := summaryManifest(t, summaryApps(t, "a", "example.com/a", summaryID1))
	bad.Apps[0].Image.ID = aci.ImageID{}
	if b, err := encodeSummary(bad); err == nil {
		t.Errorf("summary of an app without an image ID: %q, want an error", b)
	}
}

func summaryManifest(t testing.TB, apps []AppStatus) *aci.PodManifest {
	t.Helper()
	pm := &aci.PodManifest{}
	for _, a := range apps {
		pm.Apps = append(pm.Apps, aci.RuntimeApp{Name: aci.ACName(a.Name), Image: aci.RuntimeImage{Name: aci.ACIdentifier(a.ImageName), ID: a.ImageID}})
	}
	return pm
}

// FuzzParseSummary: whatever list finds in a summary, it parses it to apps
// that encode back to the very same bytes, or refuses it.
func FuzzParseSummary(f *testing.F) {
	f.Add([]byte("acirun pod summary 1\napp web example.com/web " + summaryID1 + "\nend\n"))
	f.Add([]byte("acirun pod summary 1\napp a  " + summaryID2 + "\napp b x " + summaryID1 + "\nend\n"))
	f.Add([]byte("acirun pod summary 1\nend\n"))
	f.Add([]byte("acirun pod summary 1\napp web example.com/web sha512-ab\nend"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var sp summaryParser
		apps, err := sp.parse(b)
		if err != nil {
			return
		}
		out, err := encodeSummary(summaryManifest(t, apps))
		if err != nil {
			t.Fatalf("parsed %q to %+v, which does not encode: %v", b, apps, err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("parsed %q, encoded back %q", b, out)
		}
	})
}
