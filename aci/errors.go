package aci

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is one problem found in a manifest. Path is the JSON path of the
// offending value in the form a reader would type it ("app.ports[1].port",
// "apps[0].image.id"); it is empty for a problem with the document as a
// whole. Msg says what is wrong and quotes the bad value.
type Error struct {
	Path string
	Msg  string
}

// Error returns "path: message", or just the message when there is no path.
func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// ErrorList collects every problem found while decoding or validating a
// manifest, so that a user fixing a manifest sees all of them at once rather
// than one per run. A nil or empty ErrorList means no problem; use Err to turn
// it into an error value.
type ErrorList []*Error

// Error joins the entries, one per line.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Err returns nil for an empty list and the list itself otherwise. It exists
// because a nil ErrorList stored in an error interface is not a nil error.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Unwrap gives errors.Is and errors.As access to the entries.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// maxErrors bounds how many errors a parse reports: past a hundred, more
// lines help nobody and a hostile manifest could make millions.
const maxErrors = 100

// truncated returns l cut to maxErrors entries, with a last entry saying
// how many were left out.
func (l ErrorList) truncated() ErrorList {
	if len(l) <= maxErrors {
		return l
	}
	out := append(ErrorList(nil), l[:maxErrors]...)
	return append(out, &Error{Msg: fmt.Sprintf("... and %d more errors", len(l)-maxErrors)})
}

// add appends an entry.
func (l *ErrorList) add(path, msg string) {
	*l = append(*l, &Error{Path: path, Msg: msg})
}

// addUncovered appends every entry of o whose path is not covered by a path
// in l already: when decoding already reported a value as malformed, the
// validation of the zero value left in its place would only repeat it.
// It runs in time linear in the sizes of both lists.
func (l *ErrorList) addUncovered(o ErrorList) {
	decoded := make(map[string]bool, len(*l))
	for _, e := range *l {
		decoded[e.Path] = true
	}
	for _, e := range o {
		if !coveredBy(decoded, e.Path) {
			*l = append(*l, e)
		}
	}
}

// coveredBy reports whether path q or one of its ancestors is in set.
func coveredBy(set map[string]bool, q string) bool {
	if set[""] {
		return true
	}
	for {
		if set[q] {
			return true
		}
		i := strings.LastIndexAny(q, ".[")
		if i <= 0 {
			return false
		}
		q = q[:i]
	}
}

// join builds a child path for an object member.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// index builds a child path for an array element.
func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// seen remembers where each key first appeared, so that duplicates in long
// lists are found in linear time.
type seen[K comparable] map[K]int

// dup returns the index of k's first appearance and true if k was seen
// before; otherwise it records k at i.
func (s seen[K]) dup(k K, i int) (int, bool) {
	if j, ok := s[k]; ok {
		return j, true
	}
	s[k] = i
	return 0, false
}
