package store

import (
	"fmt"
	"strings"
	"testing"

	"github.com/acirun/acirun/stage0/store/extract"
)

func TestParseWhiteout(t *testing.T) {
	for _, tc := range []struct {
		name   string
		kind   whiteoutKind
		target string
		err    bool
	}{
		{name: "usr/bin/ls", kind: notWhiteout},
		{name: ".", kind: notWhiteout},
		{name: "etc/.wh.passwd", kind: whiteoutFile, target: "etc/passwd"},
		{name: ".wh.etc", kind: whiteoutFile, target: "etc"},
		{name: ".wh..hidden", kind: whiteoutFile, target: ".hidden"},
		{name: "var/.wh..wh..opq", kind: whiteoutOpaqueDir, target: "var"},
		{name: ".wh..wh..opq", kind: whiteoutOpaqueDir, target: "."},
		{name: "a/.wh..wh.plnk", kind: whiteoutMeta},
		{name: "a/.wh..wh.plnk/123", kind: notWhiteout}, // below the AUFS directory: extracted, harmlessly
		{name: "a/.wh.", err: true},
		{name: "a/.wh..", err: true},
		{name: "a/.wh...", err: true},
		{name: "a/x.wh.y", kind: notWhiteout},
	} {
		kind, target, err := parseWhiteout(tc.name)
		if (err != nil) != tc.err || err != nil && err.Error() != fmt.Sprintf("whiteout %q names no entry of its directory", tc.name) || kind != tc.kind || target != tc.target {
			t.Errorf("parseWhiteout(%q) = %v %q %v; want %v %q, error %v", tc.name, kind, target, err, tc.kind, tc.target, tc.err)
		}
	}
}

// FuzzParseWhiteout: for any clean name, a whiteout's target is a clean
// name in the same directory as the whiteout (never the directory itself,
// never above it), and an opaque marker names its own directory.
func FuzzParseWhiteout(f *testing.F) {
	for _, s := range []string{"a/.wh.b", ".wh..wh..opq", "x/.wh...", ".wh.", "a/b/.wh..wh.plnk"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		name, err := extract.CleanName(raw)
		if err != nil {
			return
		}
		kind, target, err := parseWhiteout(name)
		if err != nil || kind == notWhiteout || kind == whiteoutMeta {
			return
		}
		c, cerr := extract.CleanName(target)
		if cerr != nil || c != target {
			t.Fatalf("%q: target %q is not a clean name (%v)", name, target, cerr)
		}
		dir := "."
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			dir = name[:i]
		}
		switch kind {
		case whiteoutOpaqueDir:
			if target != dir {
				t.Fatalf("%q: opaque %q, want %q", name, target, dir)
			}
		case whiteoutFile:
			tdir := "."
			if i := strings.LastIndexByte(target, '/'); i >= 0 {
				tdir = target[:i]
			}
			if tdir != dir || target == "." {
				t.Fatalf("%q: removes %q, outside its directory %q", name, target, dir)
			}
		}
	})
}
