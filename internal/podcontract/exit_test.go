package podcontract

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// checkExitAgainstJSON checks that the hand-written encoder says what
// encoding/json says: both decode to the same record, and ParseExit reads
// it back.
func checkExitAgainstJSON(t *testing.T, e *Exit) {
	t.Helper()
	ours := e.AppendJSON(nil)
	theirs, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var a, b Exit
	if err := json.Unmarshal(ours, &a); err != nil {
		t.Fatalf("%q: %v", ours, err)
	}
	if err := json.Unmarshal(theirs, &b); err != nil {
		t.Fatal(err)
	}
	if a.Apps == nil {
		a.Apps = []AppExit{}
	}
	if b.Apps == nil {
		b.Apps = []AppExit{}
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("AppendJSON %q decodes as %+v; encoding/json %q as %+v", ours, a, theirs, b)
	}
	p, err := ParseExit(ours)
	if err != nil || !reflect.DeepEqual(*p, a) {
		t.Fatalf("ParseExit(%q) = %+v, %v; want %+v", ours, p, err, a)
	}
}

func TestExitRoundTrip(t *testing.T) {
	for _, e := range []*Exit{
		{ExitCode: 0},
		{ExitCode: 254, Apps: []AppExit{}},
		{ExitCode: 137, Apps: []AppExit{{Name: "web", ExitCode: 137, Signal: "SIGKILL"}, {Name: "db", ExitCode: 0}}},
		{ExitCode: -1, Apps: []AppExit{{Name: "a\"b\\c\n\t\x00\x1f\x7f", ExitCode: math.MaxInt}}},
		{ExitCode: 3, Apps: []AppExit{{Name: "é✓", Signal: "\xff\xfe"}, {Name: "x\xc3"}}},
	} {
		checkExitAgainstJSON(t, e)
	}
}

func TestWriteExit(t *testing.T) {
	dir := t.TempDir()
	want := &Exit{ExitCode: 2, Apps: []AppExit{{Name: "a", ExitCode: 2}}}
	if err := WriteExit(dir, want); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ExitFile))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseExit(b)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("read back %+v, %v; want %+v", got, err, want)
	}
}

func TestParseExitDamaged(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "unexpected end of JSON input"}, {"{", "unexpected end of JSON input"}, {"[]", "cannot unmarshal array"},
		{`{"apps":[]}`, "no exitCode"}, {`{"exitCode":"1"}`, "cannot unmarshal string"},
		{`{"exitCode":1,"apps":[{"name":"a"}]}`, `app "a": no exitCode`}, {`{"exitCode":1.5}`, "cannot unmarshal number 1.5"},
	} {
		if e, err := ParseExit([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseExit(%q) = %+v, %v; want an error saying %q", tc.in, e, err, tc.want)
		}
	}
}

// FuzzExitEncoding compares the hand-written encoder with encoding/json.
func FuzzExitEncoding(f *testing.F) {
	f.Add(0, "web", 137, "SIGKILL")
	f.Add(-5, "a\"\\\x00", 1, "\xff")
	f.Add(254, "é", 0, "")
	f.Fuzz(func(t *testing.T, code int, name string, appCode int, signal string) {
		checkExitAgainstJSON(t, &Exit{ExitCode: code, Apps: []AppExit{{Name: name, ExitCode: appCode, Signal: signal}, {Name: strings.ToUpper(name)}}})
	})
}

func TestPIDFile(t *testing.T) {
	dir := t.TempDir()
	if err := WritePID(dir, PIDFile, 4242); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, PIDFile))
	if err != nil || string(b) != "4242\n" {
		t.Fatalf("%q, %v", b, err)
	}
	if pid, err := ParsePID(b); err != nil || pid != 4242 {
		t.Errorf("ParsePID(%q) = %d, %v", b, pid, err)
	}
	for _, s := range []string{"", "x", "0", "-1", "1 2"} {
		if pid, err := ParsePID([]byte(s)); err == nil || err.Error() != fmt.Sprintf("%q is not a PID", s) {
			t.Errorf("ParsePID(%q) = %d, %v; want a refusal naming it", s, pid, err)
		}
	}
}
