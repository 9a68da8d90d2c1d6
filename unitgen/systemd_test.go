package unitgen

// How systemd 252 reads what unitgen writes, written again for the tests
// alone (no Go library implements systemd's word splitting, specifiers or
// command-line variable expansion): config_parse_exec with
// extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE), unit_full_printf,
// conf-parser's line continuation, and replace_env_argv at exec time. Only
// what unitgen may legitimately produce is accepted: a prefix other than
// '@', a specifier other than "%%", a ${VAR} or a bare $VAR word is an
// error here, so that a test fails if unitgen ever writes one.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const whitespace = " \t\n\r"

// joinContinuations undoes line continuation as systemd does: the
// backslash that ends a line becomes a space and the next line is
// appended. go-systemd's Deserialize keeps "\\\n" in the value.
func joinContinuations(v string) string { return strings.ReplaceAll(v, "\\\n", " ") }

// extractWord is extract_first_word(&p, &word, NULL,
// EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE): leading separators skipped, quotes
// removed (they may open and close within a word), C escapes decoded.
// ok is false when only separators are left.
func extractWord(s string) (word, rest string, ok bool, err error) {
	s = strings.TrimLeft(s, whitespace)
	if s == "" {
		return "", "", false, nil
	}
	var b []byte
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			i++
			if i == len(s) {
				return "", "", false, errors.New("trailing backslash")
			}
			switch e := s[i]; e {
			case '\\', '"', '\'':
				b = append(b, e)
			case 'n':
				b = append(b, '\n')
			case 't':
				b = append(b, '\t')
			case 's':
				b = append(b, ' ')
			default:
				// systemd would warn and keep it verbatim: unitgen
				// never writes one.
				return "", "", false, fmt.Errorf("escape \\%c, which unitgen never writes", e)
			}
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				b = append(b, c)
			}
		case c == '"' || c == '\'':
			quote = c
		case strings.IndexByte(whitespace, c) >= 0:
			return string(b), s[i:], true, nil
		default:
			b = append(b, c)
		}
	}
	if quote != 0 {
		return "", "", false, errors.New("unbalanced quoting")
	}
	return string(b), "", true, nil
}

// splitWords splits a list value (LogExtraFields=, Documentation=).
func splitWords(v string) ([]string, error) {
	var words []string
	for rest := joinContinuations(v); ; {
		w, r, ok, err := extractWord(rest)
		if err != nil || !ok {
			return words, err
		}
		words, rest = append(words, w), r
	}
}

// unprintf resolves specifiers in a literal unit: only "%%" may appear.
func unprintf(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) || s[i+1] != '%' {
			return "", fmt.Errorf("specifier in %q", s)
		}
		b.WriteByte('%')
		i++
	}
	return b.String(), nil
}

// unitExec reads the value of ExecStart= (as Deserialize returns it) into
// the command systemd stores: the executable's path and argv before
// variable expansion (what the ExecStart property carries).
func unitExec(value string) (path string, argv []string, err error) {
	rest := joinContinuations(value)
	first, rest, ok, err := extractWord(rest)
	if err != nil || !ok {
		return "", nil, fmt.Errorf("no executable: %v", err)
	}
	f := first
	separateArgv0 := false
	for len(f) > 0 && strings.IndexByte("-@:+!", f[0]) >= 0 {
		if f[0] != '@' || separateArgv0 {
			return "", nil, fmt.Errorf("prefix %q read on %q", f[0], first)
		}
		separateArgv0 = true
		f = f[1:]
	}
	if path, err = unprintf(f); err != nil {
		return "", nil, err
	}
	if path == "" {
		return "", nil, fmt.Errorf("empty path in %q", value)
	}
	if !separateArgv0 {
		argv = append(argv, path)
	}
	for {
		trimmed := strings.TrimLeft(rest, whitespace)
		if strings.HasPrefix(trimmed, ";") && (len(trimmed) == 1 || strings.IndexByte(whitespace, trimmed[1]) >= 0) {
			return "", nil, fmt.Errorf("a second command after ';' in %q", value)
		}
		if strings.HasPrefix(trimmed, `\;`) && (len(trimmed) == 2 || strings.IndexByte(whitespace, trimmed[2]) >= 0) {
			argv = append(argv, ";")
			rest = trimmed[2:]
			continue
		}
		w, r, ok, err := extractWord(rest)
		if err != nil {
			return "", nil, err
		}
		if !ok {
			break
		}
		if w, err = unprintf(w); err != nil {
			return "", nil, err
		}
		argv, rest = append(argv, w), r
	}
	if len(argv) == 0 {
		return "", nil, fmt.Errorf("no argv[0] in %q", value)
	}
	return path, argv, nil
}

// expandArgv is replace_env_argv for a unit with no environment variables
// that unitgen could mean: "$$" is '$'; a ${VAR} or a word that is $VAR
// is an error.
func expandArgv(argv []string) ([]string, error) {
	out := make([]string, len(argv))
	for i, a := range argv {
		if len(a) > 1 && a[0] == '$' && a[1] != '{' && a[1] != '$' {
			return nil, fmt.Errorf("argument %q is a variable, split into words when expanded", a)
		}
		var b strings.Builder
		for j := 0; j < len(a); j++ {
			if a[j] != '$' || j+1 == len(a) {
				b.WriteByte(a[j])
				continue
			}
			switch a[j+1] {
			case '$':
				b.WriteByte('$')
				j++
			case '{':
				return nil, fmt.Errorf("argument %q holds a ${VAR}", a)
			default:
				b.WriteByte('$')
			}
		}
		out[i] = b.String()
	}
	return out, nil
}

// parseTimespan reads the time spans unitgen writes (5min, 30s, 1500ms,
// 10us) as µs; anything else is an error.
func parseTimespan(s string) (uint64, error) {
	for _, u := range []struct {
		suffix string
		us     uint64
	}{{"min", 60e6}, {"ms", 1e3}, {"us", 1}, {"s", 1e6}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseUint(n, 10, 64)
			return v * u.us, err
		}
	}
	return 0, fmt.Errorf("time span %q", s)
}

// parsePercent reads CPUQuota= as systemd 252 does (parse_permyriad: up to
// two decimals) and returns CPUQuotaPerSecUSec.
func parsePercent(s string) (uint64, error) {
	n, ok := strings.CutSuffix(s, "%")
	if !ok {
		return 0, fmt.Errorf("CPUQuota %q: no %%", s)
	}
	whole, frac, _ := strings.Cut(n, ".")
	if len(frac) > 2 {
		return 0, fmt.Errorf("CPUQuota %q: more than two decimals", s)
	}
	frac += strings.Repeat("0", 2-len(frac))
	permyriad, err := strconv.ParseUint(whole+frac, 10, 64)
	if err != nil {
		return 0, err
	}
	return permyriad * uint64(time.Second/time.Microsecond) / 10000, nil
}
