package fetch

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-9/10", "bytes 100-199/*", "bytes 5-4/10", "bytes */10", "bytes 0-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, size, err := parseContentRange(s)
		if err != nil {
			return
		}
		if start < 0 || end < start || (size != -1 && size <= end) {
			t.Fatalf("parseContentRange(%q) = %d %d %d", s, start, end, size)
		}
		sz := "*"
		if size >= 0 {
			sz = fmt.Sprint(size)
		}
		again := fmt.Sprintf("bytes %d-%d/%s", start, end, sz)
		s2, e2, z2, err := parseContentRange(again)
		if err != nil || s2 != start || e2 != end || z2 != size {
			t.Fatalf("%q and its canonical form %q disagree", s, again)
		}
	})
}

func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{"max-age=3600", "no-cache, max-age=60", `max-age="1"`, "no-store", "max-age=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		maxAge, _, _ := parseCacheControl(s)
		if maxAge < 0 || maxAge > maxMaxAge {
			t.Fatalf("parseCacheControl(%q) max-age %v", s, maxAge)
		}
		c := CacheInfo{MaxAge: maxAge, FetchedAt: time.Unix(1e9, 0)}
		c.Fresh(time.Unix(2e9, 0)) // must not overflow or panic
	})
}

func FuzzParseAuthFile(f *testing.F) {
	for _, s := range []string{
		`{"rktKind":"auth","rktVersion":"v1","domains":["a.com"],"type":"basic","credentials":{"user":"u","password":"p"}}`,
		`{"rktKind":"auth","rktVersion":"v1","domains":["a.com:1"],"type":"oauth","credentials":{"token":"t"}}`,
		`{"rktKind":"dockerAuth","rktVersion":"v1"}`, `{}`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		domains, c, err := parseAuthFile(raw)
		if err != nil {
			return
		}
		for _, d := range domains {
			if d == "" || d != strings.ToLower(d) || strings.ContainsAny(d, "/@?# ") {
				t.Fatalf("bad domain %q accepted", d)
			}
		}
		if len(domains) > 0 {
			switch c.Type {
			case "basic":
				if c.User == "" || c.Password == "" || strings.Contains(c.User, ":") {
					t.Fatalf("bad basic credentials accepted: %+v", c)
				}
			case "oauth":
				if c.Token == "" {
					t.Fatal("empty token accepted")
				}
			default:
				t.Fatalf("type %q accepted", c.Type)
			}
		}
	})
}

func FuzzParseDockerAuthFile(f *testing.F) {
	f.Add([]byte(`{"rktKind":"dockerAuth","rktVersion":"v1","registries":["quay.io:443"],"credentials":{"user":"u","password":"p"}}`))
	f.Add([]byte(`{"rktKind":"auth"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		regs, c, err := parseDockerAuthFile(raw)
		if err != nil || len(regs) == 0 {
			return
		}
		for _, r := range regs {
			if r == "" || r != strings.ToLower(r) || strings.ContainsAny(r, "/@?# ") {
				t.Fatalf("bad registry %q accepted", r)
			}
		}
		if c.Type != "basic" || c.User == "" || c.Password == "" {
			t.Fatalf("bad credentials accepted: %+v", c)
		}
	})
}
