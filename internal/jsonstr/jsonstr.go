// Package jsonstr appends a string as a JSON string, byte for byte as
// encoding/json's Marshal writes it. It is for the few records that are
// written by hand instead of through encoding/json: the exit record and
// app-process arguments that the pod's PID 1 writes after it has shed the
// pages of its setup (where the reflection-based encoder would be paged
// back in), and acirun list --format=json, where encoding/json's
// reflection and indenting pass were most of the command's time.
package jsonstr

import "unicode/utf8"

// Append appends s to b as a JSON string, as encoding/json encodes it
// (HTML escaping on): quotes and backslashes escaped, \b \f \n \r \t in
// their short forms and other control characters as \u00XX, <, > and & as
// \u003c, \u003e and \u0026, U+2028 and U+2029 escaped, each byte of
// invalid UTF-8 as \ufffd, and everything else as it is.
func Append(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&15])
		default:
			i += n
			continue
		}
		i += n
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
