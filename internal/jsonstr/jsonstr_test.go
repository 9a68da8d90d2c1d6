package jsonstr

import (
	"encoding/json"
	"testing"
)

// TestAppend: every kind of character Append treats apart, compared with
// encoding/json's Marshal.
func TestAppend(t *testing.T) {
	for _, s := range []string{
		"", "app", "sha512-0123abcd", `q"b\s`, "\b\f\n\r\t\x00\x01\x1f\x7f",
		"<a>&b", "héllo 世界 🙂", "\u2028\u2029x", "\xff\xfe", "a\xc3", "\xe2\x80", "\xed\xa0\x80",
	} {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := Append([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("Append(%q) = %s, encoding/json writes %s", s, got[1:], want)
		}
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "app", "<&>\u2028\"\\\n\x01", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := Append(nil, s); string(got) != string(want) {
			t.Fatalf("Append(%q) = %s, encoding/json writes %s", s, got, want)
		}
	})
}
