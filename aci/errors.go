package aci

import (
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

// add appends an entry.
func (l *ErrorList) add(path, msg string) {
	*l = append(*l, &Error{Path: path, Msg: msg})
}

// addList appends every entry of o whose path is not covered by a path in
// l already: when decoding already reported a value as malformed, the
// validation of the zero value left in its place would only repeat it.
func (l *ErrorList) addUncovered(o ErrorList) {
	for _, e := range o {
		covered := false
		for _, have := range *l {
			if pathCovers(have.Path, e.Path) {
				covered = true
				break
			}
		}
		if !covered {
			*l = append(*l, e)
		}
	}
}

// pathCovers reports whether path q is p or lies below p.
func pathCovers(p, q string) bool {
	if p == "" {
		return true
	}
	if !strings.HasPrefix(q, p) {
		return false
	}
	if len(q) == len(p) {
		return true
	}
	c := q[len(p)]
	return c == '.' || c == '['
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
