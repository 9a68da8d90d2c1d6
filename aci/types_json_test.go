package aci

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// toAny converts a jval to what encoding/json with UseNumber produces
// (duplicate keys: last wins, as there).
func (v *jval) toAny() any {
	switch v.kind {
	case jbool:
		return v.b
	case jnumber:
		return json.Number(v.s)
	case jstring:
		return v.s
	case jarray:
		out := []any{}
		for _, e := range v.arr {
			out = append(out, e.toAny())
		}
		return out
	case jobject:
		out := map[string]any{}
		for _, m := range v.obj {
			out[m.key] = m.val.toAny()
		}
		return out
	}
	return nil
}

// checkJSONAgainstStdlib is a differential oracle: our parser accepts what
// encoding/json accepts (but lone surrogates, which it replaces silently),
// rejects what it rejects, and yields the same value.
func checkJSONAgainstStdlib(t *testing.T, data []byte) {
	v, err := parseJSON(data)
	var want any
	var stdErr error = errInvalid
	if json.Valid(data) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		stdErr = dec.Decode(&want)
	}
	switch {
	case err == nil && stdErr != nil:
		t.Fatalf("%q: we accept, encoding/json says %v", data, stdErr)
	case err != nil && stdErr == nil:
		msg := err.Error()
		if strings.Contains(msg, "surrogate") || strings.Contains(msg, "nested more than") || strings.Contains(msg, "JSON values") || strings.Contains(msg, "UTF-8") {
			return
		}
		t.Fatalf("%q: we reject (%v), encoding/json accepts", data, err)
	case err == nil:
		if got := v.toAny(); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: we decode %#v, encoding/json %#v", data, got, want)
		}
		// compact is valid JSON that decodes to the same value.
		var b bytes.Buffer
		v.compact(&b)
		v2, err := parseJSON(b.Bytes())
		if err != nil || !reflect.DeepEqual(v2.toAny(), want) {
			t.Fatalf("%q: compact form %s: %v", data, b.Bytes(), err)
		}
	}
}

var errInvalid = errors.New("invalid per json.Valid")

func TestParseJSON(t *testing.T) {
	inputs := []string{
		`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1.5e+10`, `-1E-2`, `"x"`, ` {"a" : [1, 2, {"b":null}] } `,
		`"\u00e9\ud83d\ude00\n\t\"\\\/\b\f\r"`, `"é😀"`, `{"a":1,"a":2}`, `[[[[]]]]`, "\t\n\r [ ] \n",
		// invalid
		``, ` `, `{`, `[`, `[1,]`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{a:1}`, `[1 2]`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`,
		`+1`, `0x10`, `tru`, `nul`, `True`, `"abc`, `"\x"`, `"\u12"`, `"\u12G4"`, "\"a\x01b\"", `'a'`, `[1]]`, `{}{}`,
		`"\ud800"`, `"\udc00\ud800"`, `"\ud800\u0041"`, `NaN`, `Infinity`, `[-]`, `{"a":1 "b":2}`, `[,1]`, `,`,
	}
	for _, in := range inputs {
		t.Run("", func(t *testing.T) { checkJSONAgainstStdlib(t, []byte(in)) })
	}
	// Our own strictness beyond encoding/json.
	for _, tc := range []struct{ in, want string }{
		{`"\ud800"`, "unpaired UTF-16 surrogate"},
		{"\"\xff\"", "not valid UTF-8"},
		{strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), "nested more than 64 levels deep"},
	} {
		if _, err := parseJSON([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseJSON(%.40q) = %v, want an error saying %q", tc.in, err, tc.want)
		}
	}
	if _, err := parseJSON([]byte(strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth))); err != nil {
		t.Errorf("%d levels: %v", maxDepth, err)
	}
	_, err := parseJSON([]byte(`{"a": tru}`))
	if err == nil || !strings.Contains(err.Error(), "at byte 6") {
		t.Errorf("error %v lacks the offset", err)
	}
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,-2.5e3,"x\u00e9",true,null,{}]}`, `"\ud83d\ude00"`, `[[]]`} {
		f.Add([]byte(s))
	}
	f.Add(readExample(f, "image.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkJSONAgainstStdlib(t, data)
	})
}

func TestOffsetOf(t *testing.T) {
	doc := `{"a":{"b.c":[10,{"d":1}],"b":2},"sys":{"net.ipv4.x":"1","net":"2"}}`
	root, err := parseJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"":                  `{"a"`,
		"a":                 `{"b.c"`,
		"a.b.c":             `[10`,
		"a.b.c[1]":          `{"d"`,
		"a.b.c[1].d":        `1}`,
		"a.b.c[0]":          `10,`,
		"a.b":               `2}`,
		"a.b.c[7]":          `[10`,    // no such element: the array
		"a.missing":         `{"b.c"`, // missing field: its parent
		"sys.net.ipv4.x":    `"1"`,
		"sys.net":           `"2"`,
		"sys.net.ipv4.x.zz": `"1"`,
	} {
		off := root.offsetOf(path)
		if !strings.HasPrefix(doc[off:], want) {
			t.Errorf("offsetOf(%q) = %d (%q), want at %q", path, off, doc[off:], want)
		}
	}
}
