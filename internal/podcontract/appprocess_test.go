package podcontract

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/acirun/acirun/internal/jsonstr"
)

func TestAppProcessRoundTrip(t *testing.T) {
	for _, p := range []*AppProcess{
		{PID: 2},
		{PID: 7, Insecure: InsecureCapabilities | InsecureSeccomp, MetadataURL: "http://172.16.28.1:18112/tok", NotifySocket: "@acirun/u/web"},
		{PID: 1 << 22, Insecure: InsecureAllRun, MetadataURL: "a\"b\\c\n\x00\x7f", NotifySocket: "é\xff"},
	} {
		b := p.AppendJSON(nil)
		if !json.Valid(b) {
			t.Fatalf("AppendJSON(%+v) = %q: not JSON", p, b)
		}
		got, err := ParseAppProcess(b)
		if err != nil {
			t.Fatalf("ParseAppProcess(%q): %v", b, err)
		}
		want := *p
		// Invalid UTF-8 reads back as U+FFFD, as encoding/json writes it.
		var s string
		_ = json.Unmarshal(jsonstr.Append(nil, p.NotifySocket), &s)
		want.NotifySocket = s
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("ParseAppProcess(%q) = %+v, want %+v", b, *got, want)
		}
	}
}

func TestParseAppProcessRefuses(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{``, "unexpected end of JSON input"}, {`{}`, "no app PID (above 1)"}, {`[]`, "cannot unmarshal array"},
		{`{"pid":1}`, "no app PID (above 1)"}, {`{"pid":0}`, "no app PID (above 1)"}, {`{"pid":-5}`, "no app PID (above 1)"},
		{`{"pid":"7"}`, "cannot unmarshal string"},
		{`{"pid":7,"insecureOptions":"image"}`, `insecureOptions "image": only run relaxations apply to an app`},
		{`{"pid":7,"insecureOptions":"bogus"}`, `unknown insecure option "bogus"`},
	} {
		if p, err := ParseAppProcess([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseAppProcess(%q) = %+v, %v; want an error saying %q", tc.in, p, err, tc.want)
		}
	}
}

func TestWriteReadRemoveAppProcess(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(AppDir(dir, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadAppProcess(dir, "web"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadAppProcess before any record: %v, want fs.ErrNotExist", err)
	}
	want := &AppProcess{PID: 3, Insecure: InsecurePaths}
	if err := WriteAppProcess(dir, "web", want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadAppProcess(dir, "web")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ReadAppProcess = %+v, %v; want %+v", got, err, want)
	}
	for range 2 { // removing twice is no error
		if err := RemoveAppProcess(dir, "web"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ReadAppProcess(dir, "web"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadAppProcess after removal: %v, want fs.ErrNotExist", err)
	}
}

func FuzzParseAppProcess(f *testing.F) {
	f.Add([]byte(`{"pid":2,"insecureOptions":"none","metadataURL":"","notifySocket":""}`))
	f.Add([]byte(`{"pid":9,"insecureOptions":"all-run"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseAppProcess(b)
		if err != nil {
			return
		}
		if p.PID < 2 || p.Insecure&^InsecureAllRun != 0 {
			t.Fatalf("ParseAppProcess(%q) accepted %+v", b, p)
		}
		q, err := ParseAppProcess(p.AppendJSON(nil))
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip of %+v: %+v, %v", p, q, err)
		}
	})
}
