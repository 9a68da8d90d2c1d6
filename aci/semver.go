package aci

import (
	"fmt"
	"strconv"
	"strings"
)

// SpecVersion is the appc spec version this package implements. Builders
// write it as acVersion.
const SpecVersion = "0.8.11"

// SemVer is a Semantic Versioning 2.0.0 version, as used for acVersion.
// Pre is the pre-release part (after '-') and Build the build metadata
// (after '+'), both without their leading separator.
type SemVer struct {
	Major, Minor, Patch uint64
	Pre                 string
	Build               string
}

// ParseSemVer parses a full MAJOR.MINOR.PATCH[-PRE][+BUILD] version. Short
// forms such as "0.8" are rejected, and so are leading zeros, as SemVer
// 2.0.0 requires.
func ParseSemVer(s string) (SemVer, error) {
	var v SemVer
	rest := s
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		v.Build = rest[i+1:]
		rest = rest[:i]
		if !validSemVerIdents(v.Build, false) {
			return SemVer{}, fmt.Errorf("%q is not a SemVer 2.0.0 version: bad build metadata %q", s, v.Build)
		}
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		v.Pre = rest[i+1:]
		rest = rest[:i]
		if !validSemVerIdents(v.Pre, true) {
			return SemVer{}, fmt.Errorf("%q is not a SemVer 2.0.0 version: bad pre-release %q", s, v.Pre)
		}
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return SemVer{}, fmt.Errorf("%q is not a SemVer 2.0.0 version (want MAJOR.MINOR.PATCH)", s)
	}
	nums := [3]*uint64{&v.Major, &v.Minor, &v.Patch}
	for i, p := range parts {
		if !numericIdent(p) {
			return SemVer{}, fmt.Errorf("%q is not a SemVer 2.0.0 version: %q is not a number without leading zeros", s, p)
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return SemVer{}, fmt.Errorf("%q is not a SemVer 2.0.0 version: %q is too large", s, p)
		}
		*nums[i] = n
	}
	return v, nil
}

func numericIdent(p string) bool {
	if p == "" || len(p) > 1 && p[0] == '0' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// validSemVerIdents checks dot-separated [0-9A-Za-z-]+ identifiers; numeric
// pre-release identifiers may not have leading zeros.
func validSemVerIdents(s string, pre bool) bool {
	if s == "" {
		return false
	}
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		digits := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				digits = false
			default:
				return false
			}
		}
		if pre && digits && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

// String formats the version.
func (v SemVer) String() string {
	s := strconv.FormatUint(v.Major, 10) + "." + strconv.FormatUint(v.Minor, 10) + "." + strconv.FormatUint(v.Patch, 10)
	if v.Pre != "" {
		s += "-" + v.Pre
	}
	if v.Build != "" {
		s += "+" + v.Build
	}
	return s
}

// IsZero reports whether v is 0.0.0 with nothing else, which the spec's
// reference rejects as an acVersion and which this package uses for "unset".
func (v SemVer) IsZero() bool { return v == SemVer{} }

// Compare orders versions by SemVer precedence (build metadata is ignored):
// -1 if v < w, 0 if equal, +1 if v > w.
func (v SemVer) Compare(w SemVer) int {
	for _, p := range [][2]uint64{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if p[0] != p[1] {
			if p[0] < p[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case v.Pre == w.Pre:
		return 0
	case v.Pre == "":
		return 1
	case w.Pre == "":
		return -1
	}
	a, b := strings.Split(v.Pre, "."), strings.Split(w.Pre, ".")
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		an, aerr := strconv.ParseUint(a[i], 10, 64)
		bn, berr := strconv.ParseUint(b[i], 10, 64)
		switch {
		case aerr == nil && berr == nil:
			if an < bn {
				return -1
			}
			return 1
		case aerr == nil:
			return -1 // numeric identifiers sort first
		case berr == nil:
			return 1
		case a[i] < b[i]:
			return -1
		default:
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// MarshalText writes the version string.
func (v SemVer) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText parses a version string with ParseSemVer.
func (v *SemVer) UnmarshalText(b []byte) error {
	p, err := ParseSemVer(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}
