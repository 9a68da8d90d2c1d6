package userns

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Range is a span of host IDs a pod's IDs 0 to Count-1 map to.
type Range struct {
	First uint32 // the host ID of the pod's 0
	Count uint32 // how many IDs, at least 1
}

// The automatic ranges (Leases.Lease): AutoSize IDs each, from AutoFirst,
// all below AutoEnd.
const (
	AutoFirst = 0x80000
	AutoSize  = 0x10000
	AutoEnd   = 0x70000000
)

// MinCount is the smallest range an operator may give: a pod's images name
// users up to 65534 (nobody), and an ID outside the range is the overflow
// ID to the pod, so that its files would be nobody's.
const MinCount = 65536

// Auto is the value of --private-users that asks for an automatic range.
const Auto = "auto"

// ParseRange parses the value of --private-users: "auto" (or "", the flag
// given without a value) for an automatic range, which it returns as the
// zero Range, or UID:COUNT for that range of the host's IDs (the same
// numbers for groups). UID 0 is refused (the pod's root would be the
// host's), as are ranges below MinCount or past the last ID (4294967294:
// 4294967295 is no ID).
func ParseRange(s string) (Range, error) {
	if s == "" || s == Auto {
		return Range{}, nil
	}
	first, count, ok := strings.Cut(s, ":")
	if !ok {
		return Range{}, fmt.Errorf("--private-users=%q: want auto or UID:COUNT, e.g. %d:%d", s, AutoFirst, AutoSize)
	}
	f, err := strconv.ParseUint(first, 10, 32)
	if err != nil {
		return Range{}, fmt.Errorf("--private-users=%q: UID %q: not a number from 1 to 4294967294", s, first)
	}
	c, err := strconv.ParseUint(count, 10, 32)
	if err != nil {
		return Range{}, fmt.Errorf("--private-users=%q: COUNT %q: not a number", s, count)
	}
	r := Range{First: uint32(f), Count: uint32(c)}
	if err := r.Check(); err != nil {
		return Range{}, fmt.Errorf("--private-users=%q: %w", s, err)
	}
	return r, nil
}

// Check says what is wrong with r as a pod's range, if anything.
func (r Range) Check() error {
	switch {
	case r.First == 0:
		return errors.New("UID 0: the pod's root would be the host's root; give a range of unused IDs")
	case r.Count < MinCount:
		return fmt.Errorf("COUNT %d: want at least %d, so that every ID an image may name (nobody is 65534) is the pod's", r.Count, MinCount)
	case uint64(r.First)+uint64(r.Count) > 1<<32-1:
		return fmt.Errorf("%d IDs from %d run past the last ID, 4294967294", r.Count, r.First)
	}
	return nil
}

// String is r as ParseRange reads it, UID:COUNT.
func (r Range) String() string {
	return strconv.FormatUint(uint64(r.First), 10) + ":" + strconv.FormatUint(uint64(r.Count), 10)
}

// IsZero reports whether r is the zero Range (no range, or "auto").
func (r Range) IsZero() bool { return r == Range{} }

// end is one past r's last ID.
func (r Range) end() uint64 { return uint64(r.First) + uint64(r.Count) }

// Overlaps reports whether r and o share an ID.
func (r Range) Overlaps(o Range) bool {
	return uint64(r.First) < o.end() && uint64(o.First) < r.end()
}

// HostID is the host's ID for the pod's ID id, and whether the pod has id
// at all (id < Count).
func (r Range) HostID(id uint32) (uint32, bool) {
	if id >= r.Count {
		return 0, false
	}
	return r.First + id, true
}

// PodID is the pod's ID for the host's ID id, and whether the range has id
// at all (HostID's inverse). A user namespace of the range's map shows any
// other host ID as the overflow ID (/proc/sys/kernel/overflowuid).
func (r Range) PodID(id uint32) (uint32, bool) {
	if id < r.First || id-r.First >= r.Count {
		return 0, false
	}
	return id - r.First, true
}
