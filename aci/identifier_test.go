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
