package aci

import "testing"

func TestACIdentifier(t *testing.T) {
	good := []string{
		"asdf", "foo-bar-baz", "zoo", "database", "example.com/database",
		"example.com/ourapp-1.0.0", "sub-domain.example.com/org/product/release-1.0.0",
		"a_b", "a~b", "a.b", "0", "1-2-3", "a/b/c/d",
	}
	bad := []string{
		"", "foo#", "EXAMPLE.com", "foo.com/BAR",
		"-foo", "foo-", "foo--bar", "foo/", "/foo", "foo//bar", "a.-b", "a_", "ünicode",
		"foo bar", "foo\x00",
	}
	for _, s := range good {
		if _, err := NewACIdentifier(s); err != nil {
			t.Errorf("NewACIdentifier(%q) = %v, want ok", s, err)
		}
	}
	for _, s := range bad {
		if _, err := NewACIdentifier(s); err == nil {
			t.Errorf("NewACIdentifier(%q) ok, want error", s)
		}
	}
}

func TestACName(t *testing.T) {
	good := []string{"asdf", "foo-bar-baz", "database", "a", "0", "a-1", "reduce-worker"}
	bad := []string{
		"", "foo#", "EXAMPLE", "example.com", "example/database", "foo_bar", "-foo", "foo-",
		"foo--bar", "foo~bar", "foo bar",
	}
	for _, s := range good {
		if _, err := NewACName(s); err != nil {
			t.Errorf("NewACName(%q) = %v, want ok", s, err)
		}
	}
	for _, s := range bad {
		if _, err := NewACName(s); err == nil {
			t.Errorf("NewACName(%q) ok, want error", s)
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
		if got, err := SanitizeACName(in); err == nil {
			t.Errorf("SanitizeACName(%q) = %q, want error", in, got)
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
