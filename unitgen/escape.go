package unitgen

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/coreos/go-systemd/v22/unit"
)

// This file writes values in unit-file syntax, the part go-systemd's unit
// package leaves to its caller: unit.Serialize writes each value as given.
// The rules are systemd's (systemd.syntax(7), systemd.unit(5) "Specifiers",
// systemd.service(5) "Command lines"), checked against systemd 252:
//
//   - Every value: a newline or carriage return ends the line, so they
//     cannot be written; a line ending in a backslash continues on the next
//     one; whitespace at either end is dropped.
//   - Values that take specifiers (Description, SyslogIdentifier, command
//     lines, LogExtraFields): "%%" is a '%'.
//   - Values that are lists of words (command lines, LogExtraFields): words
//     are split at whitespace and unquoted; in double quotes, "\\" is a '\'
//     and "\"" a '"'.
//   - Command lines: a word ";" ends the command; the executable's leading
//     '-', '@', ':', '+' and '!' are prefixes; "$$" is a '$' in the
//     arguments (not in the executable's path) when the command runs.
//
// go-systemd's unit.DeserializeOptions trims Unicode whitespace at the ends of a
// value and keeps a continuation's backslash and newline in it, and it
// refuses lines of unit.SYSTEMD_LINE_MAX bytes or more (the limit of older
// systemd too); the writers below stay within what both read the same way.

// text is a value for a unit: literal text, or, in a template only, text in
// which systemd is meant to expand specifiers such as %I.
type text struct {
	s         string
	specifier bool
}

func literal(s string) text { return text{s: s} }

// unitSpecifiers is text written as is for systemd to expand.
func unitSpecifiers(s string) text { return text{s: s, specifier: true} }

// printf escapes t for a setting that expands specifiers.
func (t text) printf() string {
	if t.specifier {
		return t.s
	}
	return strings.ReplaceAll(t.s, "%", "%%")
}

// checkLine tells why value cannot be the value of a unit-file line.
func checkLine(value string) error {
	switch {
	case strings.ContainsAny(value, "\n\r"):
		return fmt.Errorf("%q holds a line break, which cannot be written in a unit file", value)
	case strings.ContainsRune(value, 0):
		return fmt.Errorf("%q holds a NUL byte", value)
	case strings.TrimFunc(value, unicode.IsSpace) != value:
		return fmt.Errorf("%q begins or ends with white space, which a unit file drops", value)
	case strings.HasSuffix(value, `\`):
		return fmt.Errorf("%q ends with a backslash, which continues a unit file's line", value)
	}
	return nil
}

// quoteWord writes word (already escaped for specifiers and variables) so
// that systemd's word splitting gives it back whole: in double quotes when
// it is empty, holds white space, a control character, a quote or a
// backslash, or begins with '#' or ';' (a word ";" ends a command, and a
// continuation line beginning with either would read as a comment to
// go-systemd).
func quoteWord(word string) string {
	quote := word == "" || strings.HasPrefix(word, "#") || strings.HasPrefix(word, ";")
	for _, r := range word {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '"' || r == '\'' || r == '\\' {
			quote = true
			break
		}
	}
	if !quote {
		return word
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(word); i++ {
		if c := word[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(word[i])
	}
	b.WriteByte('"')
	return b.String()
}

// joinWords writes the words of the setting name as one value, continued
// on further lines (a trailing backslash) where one line would be too long
// for unit.Deserialize. The line breaks fall between words; a word that
// does not fit on a line of its own is an error naming it.
func joinWords(name string, words []string, what func(i int) string) (string, error) {
	const limit = unit.SYSTEMD_LINE_MAX - 1 // bytes before the newline
	var b strings.Builder
	line := len(name) + 1 // "Name="
	for i, w := range words {
		sep := min(i, 1)
		// Room for the word, and for " \" after it should the next one
		// not fit.
		if line+sep+len(w)+2 > limit {
			if i == 0 || len(w)+2 > limit {
				return "", fmt.Errorf("%s is %d bytes long: a unit file's lines hold less than %d", what(i), len(w), limit)
			}
			b.WriteString(" \\\n")
			line = 0
		} else if sep > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String(), nil
}
