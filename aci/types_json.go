package aci

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxManifestSize is the largest manifest, in bytes, that the parsers accept.
// Real manifests are a few KiB; the cap bounds the memory a hostile image can
// make us spend before any validation has happened.
const MaxManifestSize = 4 << 20

// maxDepth bounds the nesting of a manifest's JSON. The deepest legitimate
// structure (a pod's app's isolator value) is well under ten levels; the
// rest of the budget is for unknown isolator values, which are kept verbatim.
const maxDepth = 64

// maxValues bounds the number of JSON values (scalars, arrays, objects) in a
// manifest. Each costs about a hundred bytes decoded; the cap keeps a
// hostile manifest of MaxManifestSize bytes of "[0,0,0,…" from turning into
// hundreds of megabytes. Real manifests have a few hundred values.
const maxValues = 1 << 18

// jkind is the type of a JSON value.
type jkind int

const (
	jnull jkind = iota
	jbool
	jnumber
	jstring
	jarray
	jobject
)

func (k jkind) String() string {
	switch k {
	case jnull:
		return "null"
	case jbool:
		return "a boolean"
	case jnumber:
		return "a number"
	case jstring:
		return "a string"
	case jarray:
		return "an array"
	case jobject:
		return "an object"
	}
	return "?"
}

// jval is a decoded JSON value that keeps what encoding/json throws away:
// the order and the duplicates of object members and the exact text of
// numbers. It lets the decoder report unknown and repeated fields and quote
// numbers exactly as written.
type jval struct {
	kind jkind
	b    bool
	s    string // string value, or the literal text of a number
	arr  []*jval
	obj  []jmember
}

type jmember struct {
	key string
	val *jval
}

// parseJSON decodes exactly one JSON value from data. Syntax errors, invalid
// UTF-8, excessive nesting and trailing data are errors; duplicate keys are
// not (the caller reports them with their paths).
func parseJSON(data []byte) (*jval, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("manifest is %d bytes, more than the limit of %d", len(data), MaxManifestSize)
	}
	if !utf8.Valid(data) {
		return nil, errors.New("manifest is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	r := &jreader{dec: dec}
	v, err := r.value(0)
	if err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, errors.New("invalid JSON: data after the top-level value")
		}
		return nil, jsonError(err)
	}
	return v, nil
}

func jsonError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d: %s", se.Offset, se.Error())
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("invalid JSON: unexpected end of input")
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// jreader builds a jval tree from a token stream, within maxDepth and
// maxValues.
type jreader struct {
	dec    *json.Decoder
	values int
}

func (r *jreader) value(depth int) (*jval, error) {
	dec := r.dec
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if r.values++; r.values > maxValues {
		return nil, fmt.Errorf("more than %d JSON values", maxValues)
	}
	switch t := tok.(type) {
	case nil:
		return &jval{kind: jnull}, nil
	case bool:
		return &jval{kind: jbool, b: t}, nil
	case json.Number:
		return &jval{kind: jnumber, s: string(t)}, nil
	case string:
		return &jval{kind: jstring, s: t}, nil
	case json.Delim:
		if depth >= maxDepth {
			return nil, fmt.Errorf("nested more than %d levels deep", maxDepth)
		}
		switch t {
		case '[':
			v := &jval{kind: jarray}
			for dec.More() {
				e, err := r.value(depth + 1)
				if err != nil {
					return nil, err
				}
				v.arr = append(v.arr, e)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return v, nil
		case '{':
			v := &jval{kind: jobject}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is %v, not a string", kt)
				}
				e, err := r.value(depth + 1)
				if err != nil {
					return nil, err
				}
				v.obj = append(v.obj, jmember{key, e})
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return v, nil
		}
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// compact writes v as compact JSON, members in their original order. Strings
// are written the way encoding/json writes them so that a value kept verbatim
// (an unknown isolator's) is stable across encode and decode.
func (v *jval) compact(b *bytes.Buffer) {
	switch v.kind {
	case jnull:
		b.WriteString("null")
	case jbool:
		b.WriteString(strconv.FormatBool(v.b))
	case jnumber:
		b.WriteString(v.s)
	case jstring:
		writeJSONString(b, v.s)
	case jarray:
		b.WriteByte('[')
		for i, e := range v.arr {
			if i > 0 {
				b.WriteByte(',')
			}
			e.compact(b)
		}
		b.WriteByte(']')
	case jobject:
		b.WriteByte('{')
		for i, m := range v.obj {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, m.key)
			b.WriteByte(':')
			m.val.compact(b)
		}
		b.WriteByte('}')
	}
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a string always marshals
	b.Write(enc)
}

// quote renders v for an error message: strings quoted, numbers as written,
// containers abbreviated, everything cut to a readable length.
func (v *jval) quote() string {
	switch v.kind {
	case jnull:
		return "null"
	case jbool:
		return strconv.FormatBool(v.b)
	case jnumber:
		return clip(v.s)
	case jstring:
		return strconv.Quote(clip(v.s))
	}
	var b bytes.Buffer
	v.compact(&b)
	return clip(b.String())
}

func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// decoder walks a jval tree into manifest types, collecting every error with
// its path.
type decoder struct {
	errs ErrorList
}

func (d *decoder) errorf(path, format string, args ...any) {
	d.errs.add(path, fmt.Sprintf(format, args...))
}

// wrongType reports a value of the wrong JSON type.
func (d *decoder) wrongType(path string, v *jval, want string) {
	if v.kind == jnull {
		d.errorf(path, "null, want %s", want)
		return
	}
	d.errorf(path, "%s is %s, want %s", v.quote(), v.kind, want)
}

// object is a JSON object being decoded. Each member must be claimed with
// get; done reports the ones nobody claimed, and duplicates.
type object struct {
	d    *decoder
	path string
	v    *jval
	used []bool
}

// object returns v as an object, or nil after reporting an error. A null is
// reported too: callers handle optional nulls before calling.
func (d *decoder) object(v *jval, path string) *object {
	if v.kind != jobject {
		d.wrongType(path, v, "an object")
		return nil
	}
	o := &object{d: d, path: path, v: v, used: make([]bool, len(v.obj))}
	keys := seen[string]{}
	for i, m := range v.obj {
		if _, dup := keys.dup(m.key, i); dup {
			d.errorf(join(path, m.key), "duplicate field")
			o.used[i] = true // reported already; not "unknown" too
		}
	}
	return o
}

// get returns the member named key (or one of its aliases), or nil if it is
// absent or null. JSON null means "absent" throughout: encoders commonly
// write nil lists as null.
func (o *object) get(key string, aliases ...string) *jval {
	var found *jval
	for i, m := range o.v.obj {
		if m.key == key || contains(aliases, m.key) {
			if found == nil {
				found = m.val
			} else if !o.used[i] {
				o.d.errorf(join(o.path, m.key), "field given twice (also as %q)", key)
			}
			o.used[i] = true
		}
	}
	if found != nil && found.kind == jnull {
		return nil
	}
	return found
}

// done reports members that were never claimed. Unknown fields are errors:
// a misspelt "readonly" silently ignored would mount a volume read-write.
func (o *object) done(known ...string) {
	for i, m := range o.v.obj {
		if o.used[i] {
			continue
		}
		msg := "unknown field"
		for _, k := range known {
			if strings.EqualFold(k, m.key) {
				msg = fmt.Sprintf("unknown field (did you mean %q?)", k)
				break
			}
		}
		o.d.errorf(join(o.path, m.key), "%s", msg)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// str decodes a string.
func (d *decoder) str(v *jval, path string) string {
	if v == nil {
		return ""
	}
	if v.kind != jstring {
		d.wrongType(path, v, "a string")
		return ""
	}
	return v.s
}

// boolean decodes a bool. Strings such as "true" are rejected: the spec
// defines these fields as JSON booleans.
func (d *decoder) boolean(v *jval, path string) bool {
	if v == nil {
		return false
	}
	if v.kind != jbool {
		d.wrongType(path, v, "true or false")
		return false
	}
	return v.b
}

// integer decodes a JSON number that must be a whole number in [lo, hi].
// ok is false (and an error recorded) otherwise.
func (d *decoder) integer(v *jval, path string, lo, hi int64) (n int64, ok bool) {
	if v.kind != jnumber {
		d.wrongType(path, v, "an integer")
		return 0, false
	}
	n, err := strconv.ParseInt(v.s, 10, 64)
	if err != nil {
		// Allow 1e3 and 80.0, which are integers written differently.
		f, ferr := strconv.ParseFloat(v.s, 64)
		if ferr == nil && f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
			n, err = int64(f), nil
		}
		if err != nil {
			if ferr == nil && f != math.Trunc(f) {
				d.errorf(path, "%s is not an integer", v.quote())
			} else {
				d.errorf(path, "%s out of range %d-%d", v.quote(), lo, hi)
			}
			return 0, false
		}
	}
	if n < lo || n > hi {
		d.errorf(path, "%s out of range %d-%d", v.quote(), lo, hi)
		return 0, false
	}
	return n, true
}

// stringList decodes an array of strings; a missing list is nil and so is an
// empty one, so that decode → encode → decode is stable.
func (d *decoder) stringList(v *jval, path string) []string {
	if v == nil {
		return nil
	}
	if v.kind != jarray {
		d.wrongType(path, v, "an array of strings")
		return nil
	}
	var out []string
	for i, e := range v.arr {
		out = append(out, d.str(e, index(path, i)))
	}
	return out
}

// array returns the elements of an array, or nil after reporting an error.
func (d *decoder) array(v *jval, path string) []*jval {
	if v == nil {
		return nil
	}
	if v.kind != jarray {
		d.wrongType(path, v, "an array")
		return nil
	}
	return v.arr
}

// stringMap decodes an object of string values (userAnnotations, userLabels,
// sysctl). Keys keep no order; duplicates are errors.
func (d *decoder) stringMap(v *jval, path string) map[string]string {
	if v == nil {
		return nil
	}
	o := d.object(v, path)
	if o == nil {
		return nil
	}
	var m map[string]string
	for i, mem := range v.obj {
		if o.used[i] { // duplicate, reported
			continue
		}
		o.used[i] = true
		if m == nil {
			m = make(map[string]string, len(v.obj))
		}
		m[mem.key] = d.str(mem.val, join(path, mem.key))
	}
	return m
}

// sortedKeys returns the keys of m in order, for stable error output.
func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
