package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestGeneratedDocsCoverTheCommandTable: the manual page and both shells'
// completions name every command of the table and every flag of each
// (its own and the globals), so that a command or flag cannot be added
// without them. A command that parses its own arguments must describe its
// flags (docFlags), or none of the three would know them.
func TestGeneratedDocsCoverTheCommandTable(t *testing.T) {
	var man, bash, zsh bytes.Buffer
	writeManPage(&man)
	writeBashCompletion(&bash)
	writeZshCompletion(&zsh)
	section := func(name string) string {
		s := man.String()
		i := strings.Index(s, `.SS "acirun `+roffEscape(name)+`"`+"\n")
		if i < 0 {
			return ""
		}
		s = s[i+1:]
		if j := strings.Index(s, ".SS "); j >= 0 {
			s = s[:j]
		}
		return s
	}
	bashFlags := func(name string) string {
		s := bash.String()
		s = s[strings.Index(s, "_acirun_flags() {"):]
		prefix := "\t\"" + name + "\") echo \""
		i := strings.Index(s, prefix)
		if i < 0 {
			return ""
		}
		s = s[i+len(prefix):]
		return " " + s[:strings.Index(s, "\n")]
	}
	for _, cmd := range commands() {
		if cmd.hidden {
			continue
		}
		if cmd.rawArgs && cmd.docFlags == nil {
			t.Errorf("%s parses its own arguments but does not describe its flags (docFlags)", cmd.name)
		}
		sec := section(cmd.name)
		if sec == "" {
			t.Errorf("the manual page has no section for %s", cmd.name)
		}
		bf := bashFlags(cmd.name)
		if bf == "" && cmd.name != "" {
			t.Errorf("the bash completion has no flags entry for %s", cmd.name)
		}
		last := strings.Fields(cmd.name)
		if !strings.Contains(zsh.String(), "\n"+last[len(last)-1]+":") && !strings.Contains(zsh.String(), "'"+last[len(last)-1]+":") {
			t.Errorf("the zsh completion does not offer %s", cmd.name)
		}
		docs := cmd.flagDocs()
		if cmd.flags != nil && len(docs) == 0 && len(flagSetDocs(cmd.flags)) > 0 {
			t.Errorf("%s: flags not described", cmd.name)
		}
		for _, f := range docs {
			if !strings.Contains(sec, `\fB\-\-`+roffEscape(f.Name)+`\fR`) {
				t.Errorf("the manual page's section on %s lacks --%s", cmd.name, f.Name)
			}
			if !strings.Contains(bf, " --"+f.Name) {
				t.Errorf("the bash completion of %s lacks --%s", cmd.name, f.Name)
			}
			if !strings.Contains(zsh.String(), "--"+f.Name) {
				t.Errorf("the zsh completion lacks --%s of %s", f.Name, cmd.name)
			}
			if f.Help == "" {
				t.Errorf("%s --%s has no help text", cmd.name, f.Name)
			}
		}
	}
	for _, f := range globalFlagDocs() {
		if !strings.Contains(man.String(), `\fB\-\-`+roffEscape(f.Name)+`\fR`) || !strings.Contains(bashFlags(""), " --"+f.Name) {
			t.Errorf("global flag --%s missing from the manual page or the bash completion", f.Name)
		}
	}
}

func TestRoffEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"--dir", `\-\-dir`},
		{`a\b`, `a\eb`},
		{".hidden", `\&.hidden`},
		{"'quote", `\&'quote`},
		{"fields=…", `fields=\[u2026]`},
		{"plain", "plain"},
	} {
		if got := roffEscape(tc.in); got != tc.want {
			t.Errorf("roffEscape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
