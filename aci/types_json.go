package aci

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
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
	pos  int // byte offset in the document, to sort errors
	b    bool
	s    string // string value, or the literal text of a number
	arr  []*jval
	obj  []jmember
}

type jmember struct {
	key string
	val *jval
}

// parseJSON decodes exactly one JSON value (RFC 8259) from data. Syntax
// errors, invalid UTF-8, lone UTF-16 surrogates in escapes, excessive
// nesting or size, and trailing data are errors; duplicate keys are not (the
// caller reports them with their paths).
func parseJSON(data []byte) (*jval, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("manifest is %d bytes, more than the limit of %d", len(data), MaxManifestSize)
	}
	if !utf8.Valid(data) {
		return nil, errors.New("manifest is not valid UTF-8")
	}
	p := &jparser{data: data}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos < len(data) {
		return nil, p.errorf("data after the top-level value")
	}
	return v, nil
}

// jparser is a strict recursive-descent JSON parser. It is several times
// faster than encoding/json's token stream and keeps what the decoder needs:
// member order, duplicates, and the literal text of numbers.
type jparser struct {
	data   []byte
	pos    int
	values int
}

func (p *jparser) errorf(format string, args ...any) error {
	if p.pos >= len(p.data) {
		return errors.New("invalid JSON: unexpected end of input")
	}
	return fmt.Errorf("invalid JSON at byte %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *jparser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jparser) value(depth int) (*jval, error) {
	p.space()
	if p.pos >= len(p.data) {
		return nil, p.errorf("")
	}
	start := p.pos
	v, err := p.value1(depth)
	if v != nil {
		v.pos = start
	}
	return v, err
}

// open enters the object or array whose opening bracket is at p.pos, at
// depth: false when it is empty (closer follows), p then past closer.
func (p *jparser) open(depth int, closer byte) (bool, error) {
	if depth >= maxDepth {
		return false, p.errorf("nested more than %d levels deep", maxDepth)
	}
	p.pos++
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == closer {
		p.pos++
		return false, nil
	}
	return true, nil
}

// next reads what follows an element of an object or array (what): ','
// before another element (true), or closer, which ends it (false).
func (p *jparser) next(closer byte, what string) (bool, error) {
	p.space()
	if p.pos >= len(p.data) {
		return false, p.errorf("")
	}
	switch p.data[p.pos] {
	case ',':
		p.pos++
		return true, nil
	case closer:
		p.pos++
		return false, nil
	}
	return false, p.errorf("want ',' or '%c' in %s", closer, what)
}

func (p *jparser) value1(depth int) (*jval, error) {
	if p.values++; p.values > maxValues {
		return nil, fmt.Errorf("invalid JSON: more than %d JSON values", maxValues)
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		v := &jval{kind: jobject}
		more, err := p.open(depth, '}')
		for ; more; more, err = p.next('}', "object") {
			p.space()
			if p.pos >= len(p.data) || p.data[p.pos] != '"' {
				return nil, p.errorf("want a string as object key")
			}
			key, err := p.str()
			if err != nil {
				return nil, err
			}
			p.space()
			if p.pos >= len(p.data) || p.data[p.pos] != ':' {
				return nil, p.errorf("want ':' after object key")
			}
			p.pos++
			e, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			v.obj = append(v.obj, jmember{key, e})
		}
		if err != nil {
			return nil, err
		}
		return v, nil
	case c == '[':
		v := &jval{kind: jarray}
		more, err := p.open(depth, ']')
		for ; more; more, err = p.next(']', "array") {
			e, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			v.arr = append(v.arr, e)
		}
		if err != nil {
			return nil, err
		}
		return v, nil
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &jval{kind: jstring, s: s}, nil
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return p.literal("true", &jval{kind: jbool, b: true})
	case c == 'f':
		return p.literal("false", &jval{kind: jbool})
	case c == 'n':
		return p.literal("null", &jval{kind: jnull})
	}
	return nil, p.errorf("unexpected character %q", rune(p.data[p.pos]))
}

func (p *jparser) literal(word string, v *jval) (*jval, error) {
	if !bytes.HasPrefix(p.data[p.pos:], []byte(word)) {
		return nil, p.errorf("invalid literal")
	}
	p.pos += len(word)
	return v, nil
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and keeps its
// text.
func (p *jparser) number() (*jval, error) {
	start := p.pos
	d := p.data
	digits := func() int {
		n := 0
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if d[p.pos] == '-' {
		p.pos++
	}
	if p.pos < len(d) && d[p.pos] == '0' {
		p.pos++
	} else if digits() == 0 {
		return nil, p.errorf("invalid number")
	}
	if p.pos < len(d) && d[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return nil, p.errorf("invalid number: no digits after '.'")
		}
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return nil, p.errorf("invalid number: no digits in exponent")
		}
	}
	return &jval{kind: jnumber, s: string(d[start:p.pos])}, nil
}

// str scans a string starting at the opening quote.
func (p *jparser) str() (string, error) {
	d := p.data
	p.pos++ // opening quote
	start := p.pos
	// Fast path: no escapes.
	for p.pos < len(d) {
		c := d[p.pos]
		if c == '"' {
			s := string(d[start:p.pos])
			p.pos++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.errorf("control character %q in string", rune(c))
		}
		p.pos++
	}
	buf := append([]byte(nil), d[start:p.pos]...)
	for p.pos < len(d) {
		c := d[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), nil
		case c < 0x20:
			return "", p.errorf("control character %q in string", rune(c))
		case c != '\\':
			buf = append(buf, c)
			p.pos++
			continue
		}
		if p.pos+1 >= len(d) {
			p.pos = len(d)
			return "", p.errorf("")
		}
		e := d[p.pos+1]
		p.pos += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errorf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				if p.pos+1 < len(d) && d[p.pos] == '\\' && d[p.pos+1] == 'u' {
					p.pos += 2
					r2, ok := p.hex4()
					if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
						buf = utf8.AppendRune(buf, dec)
						continue
					}
				}
				return "", p.errorf("invalid \\u escape: unpaired UTF-16 surrogate")
			}
			buf = utf8.AppendRune(buf, r)
		default:
			p.pos--
			return "", p.errorf("invalid escape '\\%c'", rune(e))
		}
	}
	return "", p.errorf("")
}

func (p *jparser) hex4() (rune, bool) {
	if p.pos+4 > len(p.data) {
		p.pos = len(p.data)
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.pos : p.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.pos += 4
	return r, true
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

// offsetOf returns the byte offset of the value at path in the document
// rooted at v, or of its nearest ancestor present there (a missing field
// sorts with its parent). Keys may contain '.' and '[', so each step tries
// the members whose key is followed in the path by a separator.
func (v *jval) offsetOf(path string) int {
	best := v.pos
	for path != "" {
		switch {
		case v.kind == jarray && path[0] == '[':
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return best
			}
			i, err := strconv.Atoi(path[1:end])
			if err != nil || i < 0 || i >= len(v.arr) {
				return best
			}
			v, path = v.arr[i], path[end+1:]
		case v.kind == jobject:
			path = strings.TrimPrefix(path, ".")
			var next *jval
			rest := ""
			for _, m := range v.obj {
				if strings.HasPrefix(path, m.key) {
					r := path[len(m.key):]
					if r == "" || r[0] == '.' || r[0] == '[' {
						if next == nil || len(m.key) > len(path)-len(rest) {
							next, rest = m.val, r
						}
					}
				}
			}
			if next == nil {
				return best
			}
			v, path = next, rest
		default:
			return best
		}
		best = v.pos
	}
	return best
}

// sortErrors orders errors as their values appear in the document, so that
// a user reads them top to bottom; errors without a path come first. Past
// a few times maxErrors (a hostile document) the order is left alone: each
// lookup walks the document's objects.
func sortErrors(root *jval, errs ErrorList) {
	if len(errs) < 2 || len(errs) > 4*maxErrors || root == nil {
		return
	}
	offs := make(map[*Error]int, len(errs))
	for _, e := range errs {
		offs[e] = -1
		if e.Path != "" {
			offs[e] = root.offsetOf(e.Path)
		}
	}
	slices.SortStableFunc(errs, func(a, b *Error) int { return offs[a] - offs[b] })
}
