package aci

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseSemVer(t *testing.T) {
	good := map[string]SemVer{
		"0.8.11":                {0, 8, 11, "", ""},
		"1.0.0":                 {1, 0, 0, "", ""},
		"9.0.0":                 {9, 0, 0, "", ""},
		"1.2.3-alpha.1":         {1, 2, 3, "alpha.1", ""},
		"1.2.3+git.abc":         {1, 2, 3, "", "git.abc"},
		"1.2.3-rc.1+build.5":    {1, 2, 3, "rc.1", "build.5"},
		"1.0.0-0A.is.legal":     {1, 0, 0, "0A.is.legal", ""},
		"0.0.0":                 {},
		"1.0.0+0001":            {1, 0, 0, "", "0001"},
		"10.20.30-x-y-z.--":     {10, 20, 30, "x-y-z.--", ""},
		"1.0.0-alpha+beta-gamm": {1, 0, 0, "alpha", "beta-gamm"},
	}
	for s, want := range good {
		got, err := ParseSemVer(s)
		if err != nil || got != want {
			t.Errorf("ParseSemVer(%q) = %+v, %v; want %+v", s, got, err, want)
			continue
		}
		if got.String() != s {
			t.Errorf("ParseSemVer(%q).String() = %q", s, got.String())
		}
	}
	bad := []string{
		"", "0.8", "1", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "v1.2.3", "1.2.3-", "1.2.3+",
		"1.2.3-01", "1.2.3-a..b", "1.2.3-a_b", "1.2.-3", "a.b.c", "1.2.3 ", "99999999999999999999.0.0",
	}
	for _, s := range bad {
		if v, err := ParseSemVer(s); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q is not a SemVer 2.0.0 version", s)) {
			t.Errorf("ParseSemVer(%q) = %+v, %v; want an error naming it", s, v, err)
		}
	}
}

func TestSemVerCompare(t *testing.T) {
	order := []string{
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0",
	}
	for i := range order {
		for j := range order {
			a, _ := ParseSemVer(order[i])
			b, _ := ParseSemVer(order[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("%s.Compare(%s) = %d, want %d", order[i], order[j], got, want)
			}
		}
	}
}
