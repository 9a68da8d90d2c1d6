package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type entry struct {
	line string
	brk  lineBreak
}

func collect(t *testing.T, r io.Reader, max int) ([]entry, error) {
	t.Helper()
	var got []entry
	err := splitLines(r, max, func(line []byte, brk lineBreak) error {
		if len(line) > max {
			t.Fatalf("entry of %d bytes, max %d", len(line), max)
		}
		got = append(got, entry{string(line), brk})
		return nil
	})
	return got, err
}

func TestSplitLines(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		max  int
		want []entry
	}{
		{"empty", "", 8, nil},
		{"one line", "hello\n", 8, []entry{{"hello", breakNewline}}},
		{"empty lines", "\n\na\n", 8, []entry{{"", breakNewline}, {"", breakNewline}, {"a", breakNewline}}},
		{"no trailing newline", "a\nbc", 8, []entry{{"a", breakNewline}, {"bc", breakEOF}}},
		{"NUL ends a line", "a\x00b\n", 8, []entry{{"a", breakNUL}, {"b", breakNewline}}},
		{"exactly max then newline", "12345678\n", 8, []entry{{"12345678", breakLineMax}, {"", breakNewline}}},
		{"one less than max", "1234567\n", 8, []entry{{"1234567", breakNewline}}},
		{"longer than max", "0123456789abcdefXY\n", 8,
			[]entry{{"01234567", breakLineMax}, {"89abcdef", breakLineMax}, {"XY", breakNewline}}},
		{"longer than max, no newline", "0123456789", 8, []entry{{"01234567", breakLineMax}, {"89", breakEOF}}},
		{"carriage return kept", "a\r\n", 8, []entry{{"a\r", breakNewline}}},
		{"bytes kept", "\xff\x01=x\n", 8, []entry{{"\xff\x01=x", breakNewline}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Whole, and a byte a read: where reads end must not matter.
			for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				got, err := collect(t, r, tc.max)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("splitLines(%q, %d) = %+v, want %+v", tc.in, tc.max, got, tc.want)
				}
			}
		})
	}
}

func TestSplitLinesErrors(t *testing.T) {
	// A read error ends the loop after what was read is out.
	boom := errors.New("boom")
	got, err := collect(t, io.MultiReader(strings.NewReader("a\nb"), iotest.ErrReader(boom)), 8)
	if !errors.Is(err, boom) || fmt.Sprint(got) != fmt.Sprint([]entry{{"a", breakNewline}, {"b", breakEOF}}) {
		t.Errorf("read error: %+v, %v", got, err)
	}
	// emit's error stops at once and is returned.
	n := 0
	err = splitLines(strings.NewReader("a\nb\nc\n"), 8, func([]byte, lineBreak) error {
		n++
		return boom
	})
	if !errors.Is(err, boom) || n != 1 {
		t.Errorf("emit error: %d calls, %v", n, err)
	}
}

func TestLevelPrefix(t *testing.T) {
	for _, tc := range []struct {
		in   string
		prio int
		rest string
		ok   bool
	}{
		{"<3>boom", 3, "boom", true},
		{"<0>", 0, "", true},
		{"<7>x", 7, "x", true},
		{"<07>x", 7, "x", true},
		{"<007>x", 7, "x", true},
		{"<0007>x", 0, "<0007>x", false},
		{"<8>x", 0, "<8>x", false},
		{"<10>x", 0, "<10>x", false}, // a facility: not for a stream's line
		{"<>x", 0, "<>x", false},
		{"<a>x", 0, "<a>x", false},
		{"<3", 0, "<3", false},
		{"3>x", 0, "3>x", false},
		{" <3>x", 0, " <3>x", false},
		{"", 0, "", false},
	} {
		prio, rest, ok := levelPrefix([]byte(tc.in))
		if prio != tc.prio || string(rest) != tc.rest || ok != tc.ok {
			t.Errorf("levelPrefix(%q) = %d, %q, %v; want %d, %q, %v", tc.in, prio, rest, ok, tc.prio, tc.rest, tc.ok)
		}
	}
}

// FuzzSplitLines: whatever the input and however it is read, the entries
// are at most max bytes, hold no terminator, and give the input back when
// joined with the terminators their breaks name.
func FuzzSplitLines(f *testing.F) {
	f.Add([]byte("a\nb\x00c"), uint8(4), false)
	f.Add([]byte("0123456789\n\n"), uint8(3), true)
	f.Fuzz(func(t *testing.T, in []byte, m uint8, oneByte bool) {
		max := int(m%64) + 1
		var r io.Reader = bytes.NewReader(in)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		var back []byte
		last := breakNewline
		err := splitLines(r, max, func(line []byte, brk lineBreak) error {
			if len(line) > max || bytes.ContainsAny(line, "\n\x00") {
				t.Fatalf("entry %q (max %d)", line, max)
			}
			if brk == breakLineMax && len(line) != max {
				t.Fatalf("line-max entry of %d bytes, max %d", len(line), max)
			}
			if last == breakEOF {
				t.Fatal("an entry after eof")
			}
			back = append(back, line...)
			switch brk {
			case breakNewline:
				back = append(back, '\n')
			case breakNUL:
				back = append(back, 0)
			}
			last = brk
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back, in) {
			t.Fatalf("entries give %q back, not %q", back, in)
		}
	})
}

func FuzzLevelPrefix(f *testing.F) {
	f.Add([]byte("<3>x"))
	f.Add([]byte("<007>"))
	f.Fuzz(func(t *testing.T, in []byte) {
		prio, rest, ok := levelPrefix(in)
		if !ok {
			if prio != 0 || !bytes.Equal(rest, in) {
				t.Fatalf("levelPrefix(%q) not ok but returned %d, %q", in, prio, rest)
			}
			return
		}
		if prio < 0 || prio > 7 || !bytes.HasSuffix(in, rest) || len(in)-len(rest) < 3 || len(in)-len(rest) > 5 {
			t.Fatalf("levelPrefix(%q) = %d, %q", in, prio, rest)
		}
	})
}
