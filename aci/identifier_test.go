package aci

import (
	"fmt"
	"strings"
	"testing"
)

func TestACIdentifier(t *testing.T) {
	good := []string{
		"asdf", "foo-bar-baz", "zoo", "database", "example.com/database",
		"example.com/ourapp-1.0.0", "sub-domain.example.com/org/product/release-1.0.0",
		"a_b", "a~b", "a.b", "0", "1-2-3", "a/b/c/d",
	}
	// Each refusal names the identifier and the character or rule broken.
	bad := []struct{ s, why string }{
		{"", "empty"}, {"foo#", "character '#' at offset 3"}, {"EXAMPLE.com", "character 'E' at offset 0"},
		{"foo.com/BAR", "character 'B' at offset 8"}, {"-foo", "'-' at offset 0 must follow a letter or digit"},
		{"foo-", "must end with a letter or digit"}, {"foo--bar", "'-' at offset 4 must follow"},
		{"foo/", "must end with a letter or digit"}, {"/foo", "'/' at offset 0 must follow"},
		{"foo//bar", "'/' at offset 4 must follow"}, {"a.-b", "'-' at offset 2 must follow"},
		{"a_", "must end with a letter or digit"}, {"ünicode", "character 'ü' at offset 0"},
		{"foo bar", "character ' ' at offset 3"}, {"foo\x00", `character '\x00' at offset 3`},
	}
	for _, s := range good {
		if _, err := NewACIdentifier(s); err != nil {
			t.Errorf("NewACIdentifier(%q) = %v, want ok", s, err)
		}
	}
	for _, tc := range bad {
		if _, err := NewACIdentifier(tc.s); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q is not a valid AC Identifier: ", tc.s)) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("NewACIdentifier(%q) = %v, want an error naming it: %s", tc.s, err, tc.why)
		}
	}
}

func TestACName(t *testing.T) {
	good := []string{"asdf", "foo-bar-baz", "database", "a", "0", "a-1", "reduce-worker"}
	bad := []struct{ s, why string }{
		{"", "empty"}, {"foo#", "character '#' at offset 3"}, {"EXAMPLE", "character 'E' at offset 0"},
		{"example.com", "character '.' at offset 7"}, {"example/database", "character '/' at offset 7"},
		{"foo_bar", "character '_' at offset 3"}, {"-foo", "'-' at offset 0 must follow"},
		{"foo-", "must end with a letter or digit"}, {"foo--bar", "'-' at offset 4 must follow"},
		{"foo~bar", "character '~' at offset 3"}, {"foo bar", "character ' ' at offset 3"},
	}
	for _, s := range good {
		if _, err := NewACName(s); err != nil {
			t.Errorf("NewACName(%q) = %v, want ok", s, err)
		}
	}
	for _, tc := range bad {
		if _, err := NewACName(tc.s); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q is not a valid AC Name: ", tc.s)) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("NewACName(%q) = %v, want an error naming it: %s", tc.s, err, tc.why)
		}
	}
}

func TestSanitizeACName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"example.com/reduce-worker", "example-com-reduce-worker"},
		{"Hello World", "hello-world"},
		{"--a__b--", "a-b"},
		{"abc", "abc"},
		{"ünïcode", "n-code"},
	}
	for _, tt := range tests {
		got, err := SanitizeACName(tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("SanitizeACName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("SanitizeACName(%q) gave invalid %q", tt.in, got)
		}
	}
	for _, in := range []string{"", "---", "ÄÖÜ"} {
		if got, err := SanitizeACName(in); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q: no letters or digits", in)) {
			t.Errorf("SanitizeACName(%q) = %q, %v; want an error: no letters or digits", in, got, err)
		}
	}
}

func TestIdentifierErrors(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{ACIdentifier("").Validate(), `"" is not a valid AC Identifier: empty`},
		{ACIdentifier("Example.com").Validate(), `"Example.com" is not a valid AC Identifier: character 'E' at offset 0 (only a-z, 0-9 and -._~/ are allowed)`},
		{ACIdentifier("example.com//app").Validate(), `"example.com//app" is not a valid AC Identifier: '/' at offset 12 must follow a letter or digit`},
		{ACIdentifier("example.com/app/").Validate(), `"example.com/app/" is not a valid AC Identifier: it must end with a letter or digit`},
		{ACIdentifier("ünicode").Validate(), `"ünicode" is not a valid AC Identifier: character 'ü' at offset 0 (only a-z, 0-9 and -._~/ are allowed)`},
		{ACIdentifier("a\xffb").Validate(), `"a\xffb" is not a valid AC Identifier: byte 0xff at offset 1 (only a-z, 0-9 and -._~/ are allowed)`},
		{ACName("foo_bar").Validate(), `"foo_bar" is not a valid AC Name: character '_' at offset 3 (only a-z, 0-9 and - are allowed)`},
		{ACName("-foo").Validate(), `"-foo" is not a valid AC Name: '-' at offset 0 must follow a letter or digit`},
	} {
		if tt.err == nil || tt.err.Error() != tt.want {
			t.Errorf("error %v, want %s", tt.err, tt.want)
		}
	}
}
