package extract

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// records keeps, with Options.Record, every entry's final metadata as the
// kernel reports it, so that a tree hash need not walk the tree afterwards.
// Recording stops for good when the tree is changed in a way the records do
// not follow; Entries then says so, and only a walk can tell.
type records struct {
	on       bool
	recs     []Entry
	finished bool // Finish has recorded the directories and sorted
	max      int  // recordsWindow
}

// record adds the entry name, whose metadata is final, as the file system
// reports it (dirfd and base name it; base "" means dirfd itself).
func (r *records) record(name string, dirfd int, base string, e Entry) error {
	if !r.on {
		return nil
	}
	if err := statEntry(dirfd, base, &e); err != nil {
		return err
	}
	e.Name = name
	r.add(e)
	return nil
}

// add adds an entry a writer recorded. Past recordsWindow entries the
// records stop (see bounds_linux.go): a tree hash walks the tree instead.
func (r *records) add(e Entry) {
	if !r.on {
		return
	}
	if len(r.recs) >= r.max {
		r.stop()
		return
	}
	r.recs = append(r.recs, e)
}

// stop ends recording for this extraction.
func (r *records) stop() {
	r.on, r.recs = false, nil
}

// finish sorts the records in walk order, once Finish has recorded the
// directories.
func (r *records) finish() {
	r.finished = true
	r.recs = sortWalkOrder(r.recs)
}

// entries fills in the regular files' digests (settled) and returns the
// records, or ok false if they do not describe the finished tree.
func (r *records) entries(d *contentDigests) ([]Entry, bool) {
	if !r.on || !r.finished {
		return nil, false
	}
	for i := range r.recs {
		e := &r.recs[i]
		if e.Mode&unix.S_IFMT == unix.S_IFREG {
			dg, ok := d.get(e.Name)
			if !ok || dg.Size != e.Size {
				return nil, false
			}
			e.Sum, e.Xattrs = dg.Sum, dg.Xattrs
		}
	}
	return r.recs, true
}

// statEntry fills in e's metadata from the entry base in the directory dirfd
// (dirfd itself if base is empty), as the kernel reports it.
func statEntry(dirfd int, base string, e *Entry) error {
	var st unix.Stat_t
	var err error
	if base == "" {
		err = unix.Fstat(dirfd, &st)
	} else {
		err = unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	e.Mode, e.Uid, e.Gid, e.Mtime = st.Mode, st.Uid, st.Gid, st.Mtim
	if st.Mode&unix.S_IFMT == unix.S_IFREG {
		e.Size = st.Size
	}
	return nil
}

// sortWalkOrder returns es sorted by name (relative, "." the root) as a
// walk finds them that visits a directory before its children and the names
// in each directory in byte order: "." < "a" < "a/b" < "a.b" < "b", which
// plain string order is not ("a.b" < "a/b", '.' being below '/'). It
// compares keys in which each '/' is a NUL, which no name holds and which
// sorts below every other byte, so that plain string comparison (memcmp)
// gives that order: comparing the names' components a byte at a time took a
// fifth of the time an import spends after its last byte.
func sortWalkOrder(es []Entry) []Entry {
	type keyed struct {
		key string
		i   int
	}
	ks := make([]keyed, len(es))
	for i := range es {
		k := ""
		if n := es[i].Name; n != "." {
			k = strings.ReplaceAll(n, "/", "\x00")
		}
		ks[i] = keyed{k, i}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	sorted := make([]Entry, len(es))
	for j, k := range ks {
		sorted[j] = es[k.i]
	}
	return sorted
}
