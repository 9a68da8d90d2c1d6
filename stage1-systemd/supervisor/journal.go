package supervisor

import (
	"errors"
	"io"
)

// Each app's output reaches the journal as entries of its own (see
// journal_linux.go): stage1 run reads the app's stdout and stderr from
// pipes and cuts what it reads into entries the way journald cuts a
// service's stdout stream (journald-stream.c), so that an app logs the same
// under acirun as it would as a service of its own.

// journalLineMax is the longest entry an app's output makes: journald's
// LineMax= default. A longer line becomes several entries of this size, in
// order, the last one ending the line.
const journalLineMax = 48 * 1024

// lineBreak says how an entry's line ended (journald's LINE_BREAK_*).
type lineBreak int

const (
	breakNewline lineBreak = iota // a '\n'
	breakNUL                      // a NUL byte, which journald also takes for the end of a line
	breakLineMax                  // journalLineMax bytes without an end: the line goes on in the next entry
	breakEOF                      // the output ended without a newline
)

// String is the value of the ACIRUN_LINE_BREAK field of an entry that did
// not end with a newline (journald's _LINE_BREAK=, which only journald may
// set).
func (b lineBreak) String() string {
	switch b {
	case breakNUL:
		return "nul"
	case breakLineMax:
		return "line-max"
	case breakEOF:
		return "eof"
	}
	return "newline"
}

// splitLines reads r to its end and calls emit with each line, without its
// terminator, and how it ended. A line longer than max is emitted in pieces
// of max bytes; what follows the last terminator is emitted at the end of r.
// line is only valid during the call. An error of r or of emit ends the
// loop, after the bytes read are emitted: emit's is returned as is, r's
// unless it is io.EOF.
func splitLines(r io.Reader, max int, emit func(line []byte, brk lineBreak) error) error {
	buf := make([]byte, max)
	n := 0 // bytes of buf that hold the line so far
	for {
		m, rerr := r.Read(buf[n:])
		start, end := 0, n+m
		for i := n; i < end; i++ {
			if c := buf[i]; c == '\n' || c == 0 {
				brk := breakNewline
				if c == 0 {
					brk = breakNUL
				}
				if err := emit(buf[start:i], brk); err != nil {
					return err
				}
				start = i + 1
			}
		}
		n = copy(buf, buf[start:end])
		if n == max {
			if err := emit(buf, breakLineMax); err != nil {
				return err
			}
			n = 0
		}
		if rerr != nil {
			if n > 0 {
				if err := emit(buf[:n], breakEOF); err != nil {
					return err
				}
			}
			if errors.Is(rerr, io.EOF) {
				return nil
			}
			return rerr
		}
	}
}

// levelPrefix parses the sd-daemon(3) priority prefix of a line ("<3>…"),
// as journald does for a service's stdout (SyslogLevelPrefix=yes, the
// default): "<N>", "<0N>" or "<00N>" with N from 0 (emerg) to 7 (debug). It
// returns the priority and the line without the prefix, or ok false and
// the line untouched.
func levelPrefix(line []byte) (prio int, rest []byte, ok bool) {
	if len(line) < 3 || line[0] != '<' {
		return 0, line, false
	}
	v := 0
	for i := 1; i < len(line) && i <= 4; i++ {
		c := line[i]
		if c == '>' {
			if i == 1 || v > 7 {
				return 0, line, false
			}
			return v, line[i+1:], true
		}
		if c < '0' || c > '9' {
			return 0, line, false
		}
		v = v*10 + int(c-'0')
	}
	return 0, line, false
}
