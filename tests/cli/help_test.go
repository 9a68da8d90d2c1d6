package cli

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestHelpNamesValuesAsManPage: --help names each flag's value as the man
// page does (--dir=DIR, never Go's type names such as --dir=string or
// --grace-period=duration), and a help line says the value's syntax once
// (run-prepared's --dns=IP|host|none used to repeat "IP|host|none:").
func TestHelpNamesValuesAsManPage(t *testing.T) {
	man := mustRun(t, "help", "--man").stdout
	manValue := regexp.MustCompile(`\\fB((?:\\-|[a-z])+)\\fR=\\fI([^\\]*(?:\\-[^\\]*)*)\\fR`)
	// flag name → its value placeholders in the man page (one per
	// command that has the flag)
	inMan := map[string][]string{}
	for _, m := range manValue.FindAllStringSubmatch(man, -1) {
		name := strings.ReplaceAll(m[1], `\-`, "-")
		inMan[name] = append(inMan[name], strings.ReplaceAll(m[2], `\-`, "-"))
	}
	if !slices.Equal(inMan["--dir"], []string{"DIR"}) {
		t.Fatalf("the man page does not name --dir's value DIR (found %q)", inMan["--dir"])
	}
	goType := regexp.MustCompile(`--[a-z-]+=(string|value|duration|int|uint|float)\b`)
	flagLine := regexp.MustCompile(`^  (--[a-z-]+)=(\S+)\s+(.*)$`)
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"run-prepared", "--help"}, {"gc", "--help"}, {"fetch", "--help"}, {"status", "--help"}} {
		help := mustRun(t, args...).stdout
		if m := goType.FindString(help); m != "" {
			t.Errorf("acirun %s: %s names a Go type:\n%s", strings.Join(args, " "), m, help)
		}
		checked := 0
		for _, l := range strings.Split(help, "\n") {
			m := flagLine.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			checked++
			// (A value with spaces, --volume's, is cut short here.)
			if want, ok := inMan[m[1]]; ok && !slices.ContainsFunc(want, func(v string) bool { return strings.HasPrefix(v, m[2]) }) {
				t.Errorf("acirun %s: %s=%s, the man page says %s=%q", strings.Join(args, " "), m[1], m[2], m[1], want)
			}
			if strings.HasPrefix(m[3], m[2]+":") {
				t.Errorf("acirun %s: the help of %s repeats its value syntax: %q", strings.Join(args, " "), m[1], l)
			}
		}
		if checked == 0 {
			t.Errorf("acirun %s: no --flag=VALUE lines read:\n%s", strings.Join(args, " "), help)
		}
	}
	if l := mustRun(t, "gc", "--help").stdout; !strings.Contains(l, "--grace-period=DURATION") {
		t.Errorf("gc --help: no --grace-period=DURATION:\n%s", l)
	}
	if l := mustRun(t, "run-prepared", "--help").stdout; !regexp.MustCompile(`\n  --dns=IP\|host\|none +name server`).MatchString(l) {
		t.Errorf("run-prepared --help: --dns's line does not start with its help:\n%s", l)
	}
}
