package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// bin is the export form of a binary field.
func bin(name, value string) string {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(value)))
	return name + "\n" + string(n[:]) + value + "\n"
}

func readAll(s string) ([]*Entry, error) {
	r := NewReader(strings.NewReader(s))
	var out []*Entry
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
}

func entry(kv ...string) *Entry {
	e := &Entry{}
	for i := 0; i < len(kv); i += 2 {
		e.Fields = append(e.Fields, Field{kv[i], []byte(kv[i+1])})
	}
	return e
}

func TestReader(t *testing.T) {
	long := strings.Repeat("x", 100<<10) // longer than the reader's buffer
	tests := []struct {
		name    string
		in      string
		want    []*Entry
		wantErr error
	}{
		{"empty", "", nil, nil},
		{"one entry", "__CURSOR=s=1\nMESSAGE=hello\n\n", []*Entry{entry("__CURSOR", "s=1", "MESSAGE", "hello")}, nil},
		{"two entries", "MESSAGE=a\n\nMESSAGE=b\nACIRUN_APP=web\n\n",
			[]*Entry{entry("MESSAGE", "a"), entry("MESSAGE", "b", "ACIRUN_APP", "web")}, nil},
		{"value with =", "MESSAGE=a=b\n\n", []*Entry{entry("MESSAGE", "a=b")}, nil},
		{"empty value", "MESSAGE=\n\n", []*Entry{entry("MESSAGE", "")}, nil},
		{"binary field", "A=1\n" + bin("MESSAGE", "line\nbreak\x00nul") + "B=2\n\n",
			[]*Entry{entry("A", "1", "MESSAGE", "line\nbreak\x00nul", "B", "2")}, nil},
		{"empty binary field", bin("MESSAGE", "") + "\n", []*Entry{entry("MESSAGE", "")}, nil},
		{"repeated field", "X=1\nX=2\n\n", []*Entry{entry("X", "1", "X", "2")}, nil},
		{"long text field", "MESSAGE=" + long + "\n\n", []*Entry{entry("MESSAGE", long)}, nil},
		{"extra empty lines", "\n\nMESSAGE=a\n\n\n", []*Entry{entry("MESSAGE", "a")}, nil},
		{"no final empty line", "MESSAGE=a\n", nil, io.ErrUnexpectedEOF},
		{"no line break", "MESSAGE=a", nil, io.ErrUnexpectedEOF},
		{"truncated length", "MESSAGE\n\x05\x00", nil, io.ErrUnexpectedEOF},
		{"truncated value", "MESSAGE\n\x05\x00\x00\x00\x00\x00\x00\x00ab", nil, io.ErrUnexpectedEOF},
		{"value without line break", "MESSAGE\n\x01\x00\x00\x00\x00\x00\x00\x00ab\n", nil, ErrFormat},
		{"huge length", "MESSAGE\n\xff\xff\xff\xff\xff\xff\xff\xff", nil, ErrFormat},
		{"lower-case name", "message=a\n\n", nil, ErrFormat},
		{"empty name", "=a\n\n", nil, ErrFormat},
		{"name starts with a digit", "1A=a\n\n", nil, ErrFormat},
		{"name too long", strings.Repeat("A", 65) + "=a\n\n", nil, ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEntryJSON(t *testing.T) {
	e := entry("MESSAGE", "hi \"there\"", "X", "1", "X", "2", "BIN", "\xff\x00")
	b, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"MESSAGE":"hi \"there\"","X":["1","2"],"BIN":[255,0]}`
	if string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	if v, ok := e.Get("X"); !ok || string(v) != "1" {
		t.Errorf("Get(X) = %q, %v, want the first", v, ok)
	}
	if _, ok := e.Get("NONE"); ok {
		t.Error("Get(NONE) found a field")
	}
}

// encode writes entries in the export format, every field binary.
func encode(entries []*Entry) string {
	var b strings.Builder
	for _, e := range entries {
		for _, f := range e.Fields {
			b.WriteString(bin(f.Name, string(f.Value)))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// FuzzReader: any input is read without panic; what is read is written
// again (binary fields) and reads back the same.
func FuzzReader(f *testing.F) {
	f.Add("__CURSOR=s=1\nMESSAGE=hello\n\n")
	f.Add("A=1\n" + bin("MESSAGE", "a\nb") + "\n\nB=2\n\n")
	f.Add("MESSAGE\n\xff\xff\xff\xff\xff\xff\xff\xff")
	f.Add("MESSAGE=a")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := readAll(in)
		if err != nil {
			return
		}
		again, err := readAll(encode(got))
		if err != nil {
			t.Fatalf("re-encoded entries: %v", err)
		}
		if len(again) != len(got) {
			t.Fatalf("re-encoded: %d entries, want %d", len(again), len(got))
		}
		for i := range got {
			if len(again[i].Fields) != len(got[i].Fields) {
				t.Fatalf("entry %d re-read: %d fields, want %d", i, len(again[i].Fields), len(got[i].Fields))
			}
			for j := range got[i].Fields {
				a, b := got[i].Fields[j], again[i].Fields[j]
				if a.Name != b.Name || !bytes.Equal(a.Value, b.Value) {
					t.Fatalf("entry %d field %d: %q=%q, re-read %q=%q", i, j, a.Name, a.Value, b.Name, b.Value)
				}
			}
		}
	})
}
