// Package journal reads systemd's journal export format
// (https://systemd.io/JOURNAL_EXPORT_FORMATS/), what `journalctl -o export`
// writes. acirun is built with CGO_ENABLED=0, so go-systemd's sdjournal,
// which binds libsystemd through cgo, is not available to it; journalctl is
// the supported reader of the journal files (their format is systemd's
// internal business), and the export format is its stable, lossless output:
// binary-safe, every field of every entry, cursors included.
package journal

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// MaxFieldSize bounds one field's value. journald itself keeps entries far
// smaller (its LineMax= is 48KiB for a stream); a longer length is a
// damaged stream, refused before anything that long is read.
const MaxFieldSize = 64 << 20

// maxNameLen bounds a field name: journald's are at most 64 bytes.
const maxNameLen = 64

// Field is one field of an entry: a name and its value, which may hold any
// bytes.
type Field struct {
	Name  string
	Value []byte
}

// Entry is one journal entry, its fields in the order of the stream. A
// name may occur more than once (journald allows repeated fields).
type Entry struct {
	Fields []Field
}

// Get returns the value of the first field called name.
func (e *Entry) Get(name string) ([]byte, bool) {
	for _, f := range e.Fields {
		if f.Name == name {
			return f.Value, true
		}
	}
	return nil, false
}

// MarshalJSON writes the entry as journalctl -o json does: an object whose
// values are strings, or arrays of byte values for values that are not
// UTF-8 text, and arrays of those for a name that occurs more than once.
func (e *Entry) MarshalJSON() ([]byte, error) {
	values := make(map[string][]any, len(e.Fields))
	var order []string
	for _, f := range e.Fields {
		if _, ok := values[f.Name]; !ok {
			order = append(order, f.Name)
		}
		var v any = string(f.Value)
		if !utf8.Valid(f.Value) {
			b := make([]int, len(f.Value))
			for i, c := range f.Value {
				b[i] = int(c)
			}
			v = b
		}
		values[f.Name] = append(values[f.Name], v)
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, name := range order {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		var v any = values[name]
		if vs := values[name]; len(vs) == 1 {
			v = vs[0]
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// Reader reads entries from an export stream.
type Reader struct {
	r *bufio.Reader
}

// NewReader returns a Reader of the export stream r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10)}
}

// ErrFormat is wrapped by every error about a stream that is not in the
// export format.
var ErrFormat = errors.New("not the journal export format")

// Next returns the next entry, or io.EOF after the last one. An entry is a
// run of fields ended by an empty line: a text field is NAME=VALUE and a
// line break; a binary field is NAME, a line break, the value's length as a
// little-endian uint64, the value and a line break. A stream that ends
// inside an entry is an error wrapping io.ErrUnexpectedEOF: the entry may
// lack fields, so it is not returned.
func (r *Reader) Next() (*Entry, error) {
	var e Entry
	for {
		line, err := r.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A text field longer than the buffer: gather it whole.
			var long []byte
			long = append(long, line...)
			for errors.Is(err, bufio.ErrBufferFull) && len(long) <= MaxFieldSize+maxNameLen {
				line, err = r.r.ReadSlice('\n')
				long = append(long, line...)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, fmt.Errorf("journal entry: a field longer than %d bytes: %w", MaxFieldSize, ErrFormat)
			}
			line = long
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if len(line) == 0 && len(e.Fields) == 0 {
					return nil, io.EOF
				}
				return nil, fmt.Errorf("journal entry: the stream ends inside an entry: %w", io.ErrUnexpectedEOF)
			}
			return nil, fmt.Errorf("journal entry: %w", err)
		}
		line = line[:len(line)-1]
		if len(line) == 0 {
			if len(e.Fields) == 0 {
				continue // no entry between two empty lines
			}
			return &e, nil
		}
		if i := bytes.IndexByte(line, '='); i >= 0 {
			name := string(line[:i])
			if err := checkName(name); err != nil {
				return nil, err
			}
			e.Fields = append(e.Fields, Field{Name: name, Value: bytes.Clone(line[i+1:])})
			continue
		}
		name := string(line)
		if err := checkName(name); err != nil {
			return nil, err
		}
		v, err := r.binary(name)
		if err != nil {
			return nil, err
		}
		e.Fields = append(e.Fields, Field{Name: name, Value: v})
	}
}

// binary reads the length, value and line break of the binary field name.
func (r *Reader) binary(name string) ([]byte, error) {
	var size [8]byte
	if _, err := io.ReadFull(r.r, size[:]); err != nil {
		return nil, fmt.Errorf("journal field %s: its length: %w", name, unexpected(err))
	}
	n := binary.LittleEndian.Uint64(size[:])
	if n > MaxFieldSize {
		return nil, fmt.Errorf("journal field %s: a value of %d bytes, more than %d: %w", name, n, MaxFieldSize, ErrFormat)
	}
	// CopyN grows the buffer as the data comes: a damaged length does not
	// allocate its size before the stream proves it.
	var v bytes.Buffer
	if _, err := io.CopyN(&v, r.r, int64(n)); err != nil {
		return nil, fmt.Errorf("journal field %s: its %d bytes: %w", name, n, unexpected(err))
	}
	c, err := r.r.ReadByte()
	if err != nil {
		return nil, fmt.Errorf("journal field %s: %w", name, unexpected(err))
	}
	if c != '\n' {
		return nil, fmt.Errorf("journal field %s: %d bytes of value and then %q, not a line break: %w", name, n, c, ErrFormat)
	}
	return v.Bytes(), nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// checkName accepts journal field names: upper-case letters, digits and
// underscores, not starting with a digit (journalctl's own start with "__").
func checkName(name string) error {
	ok := name != "" && len(name) <= maxNameLen && !(name[0] >= '0' && name[0] <= '9')
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
	}
	if !ok {
		return fmt.Errorf("journal field name %q: want upper-case letters, digits and '_': %w", name, ErrFormat)
	}
	return nil
}
