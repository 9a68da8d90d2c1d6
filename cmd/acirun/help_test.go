package main

import (
	"os"
	"strings"
	"testing"
)

// The README's table of the flags of run and prepare is what
// `acirun run --help` prints: one definition (runFlagDefs, and the parser's
// own list of --insecure-options words) for the parser, the help and the
// README.
func TestREADMERunFlags(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "The flags of `run` and `prepare`")
	if i < 0 {
		t.Fatal("README: no section on the flags of run and prepare")
	}
	start := strings.Index(s[i:], "```\n")
	end := strings.Index(s[i+start+4:], "```\n")
	if start < 0 || end < 0 {
		t.Fatal("README: the flags of run and prepare are not in a code block")
	}
	readme := strings.TrimSpace(s[i+start+4 : i+start+4+end])
	if help := strings.TrimSpace(runFlagsHelp()); readme != help {
		t.Errorf("README's flags of run differ from the help; the help says:\n%s", help)
	}
}

func TestClosestCommands(t *testing.T) {
	names := []string{"fetch", "gc", "help", "image", "list", "prepare", "rm", "run", "run-prepared", "status", "trust", "version"}
	for _, tc := range []struct {
		typed string
		want  string
	}{
		{"stauts", "status"},
		{"statsu", "status"},
		{"lsit", "list"},
		{"rn", "rm run"},
		{"run-prep", "run-prepared"},
		{"prepar", "prepare"},
		{"imgae", "image"},
		{"ls", ""},
		{"x", ""},
		{"frobnicate", ""},
	} {
		if got := strings.Join(closest(tc.typed, names), " "); got != tc.want {
			t.Errorf("closest(%q) = %q, want %q", tc.typed, got, tc.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"status", "status", 0},
		{"stauts", "status", 1}, // one transposition
		{"statsu", "status", 1},
		{"kitten", "sitting", 3},
		{"ca", "abc", 3}, // optimal string alignment: no edit of a transposed pair
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := editDistance(tc.b, tc.a); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.b, tc.a, got, tc.want)
		}
	}
}
