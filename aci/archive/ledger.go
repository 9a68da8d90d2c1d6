package archive

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// The name ledger is the walker's memory of the names it has met: what it
// needs to refuse duplicates, entries below a non-directory, an implicit
// parent turned into a non-directory, and hard links to anything but an
// earlier regular file. Keeping every name in memory made a million-entry
// archive cost hundreds of MB (issue 21), so the ledger keeps a bounded
// window in memory and logs every fact about a name (but a parent the
// window knows already, see apply) as a fixed-size record keyed by a
// 128-bit hash of the name. While the log fits in its budget,
// the in-memory map holds every name and each rule is applied as the entry
// arrives. Past the budget the log goes to partition files (by key) in a
// private temporary directory and the map starts afresh: rules that can
// only fail on a fact the map still holds are applied at once, the others
// (a hard link target the map no longer knows) are left to the end, when
// each partition is read back, its records grouped by name and replayed in
// archive order through the same rule (ledgerRule). Memory is then bounded
// by the budget and by one partition's records, not by the number of
// entries; the refusals are the same, only later.
const (
	ledgerMaxRecs  = 32 << 10 // records (and map keys) kept in memory
	ledgerMaxArena = 2 << 20  // bytes of names kept in memory for messages
	ledgerParts    = 128
)

// Operations logged for a name.
const (
	opEntry  = 'e' // an entry of this name, of a kind
	opParent = 'p' // the name is a parent directory of an entry
	opLink   = 'l' // a hard link names it as its target
)

type ledgerRec struct {
	key  [2]uint64
	seq  uint32 // archive order
	op   byte
	typ  byte   // opEntry: the tar type
	off  uint64 // where the entry's raw name and the argument are in the arena
	rlen uint16
	alen uint16
}

const ledgerRecSize = 16 + 4 + 1 + 1 + 8 + 2 + 2

// argIsRaw is a record's alen when its argument is its raw name, stored
// once (names are bounded far below it).
const argIsRaw = 0xffff

type nameLedger struct {
	seed1, seed2 maphash.Seed
	seen         map[[2]uint64]byte // names of the window and their kinds
	recs         []ledgerRec        // the window's records
	arena        []byte             // the window's names, for messages
	seq          uint32
	maxRecs      int // the window's bound on records and names

	spillDir string // where the private directory goes; "" means os.TempDir()
	tmp      string // the private directory, once spilled
	parts    []*bufio.Writer
	files    []*os.File
	strs     *os.File // every record's names, in order
	strsBuf  *bufio.Writer
	strsOff  uint64 // bytes written to strs
}

func newNameLedger(spillDir string, maxRecs int) *nameLedger {
	if maxRecs <= 0 {
		maxRecs = ledgerMaxRecs
	}
	return &nameLedger{
		maxRecs:  maxRecs,
		seed1:    maphash.MakeSeed(),
		seed2:    maphash.MakeSeed(),
		seen:     make(map[[2]uint64]byte),
		spillDir: spillDir,
	}
}

func (l *nameLedger) key(name string) [2]uint64 {
	return [2]uint64{maphash.String(l.seed1, name), maphash.String(l.seed2, name)}
}

// spilled reports whether the map no longer holds every name (tmp names
// the private directory, removed as soon as its files were made).
func (l *nameLedger) spilled() bool { return l.tmp != "" }

// log records one fact about the name of key k, met in the entry raw; arg
// is what a message about it names (the cleaned name, the parent, the
// link's target).
func (l *nameLedger) log(k [2]uint64, op, typ byte, raw, arg string) error {
	if len(raw) >= argIsRaw || len(arg) >= argIsRaw {
		// Names are bounded far below this by the walker's checks.
		return fmt.Errorf("name of %d bytes in the name ledger", max(len(raw), len(arg)))
	}
	r := ledgerRec{key: k, seq: l.seq, op: op, typ: typ,
		off: l.strsOff + uint64(len(l.arena)), rlen: uint16(len(raw)), alen: uint16(len(arg))}
	l.seq++
	l.arena = append(l.arena, raw...)
	if arg == raw {
		// An entry's clean name is most often its raw name: kept once.
		r.alen = argIsRaw
	} else {
		l.arena = append(l.arena, arg...)
	}
	l.recs = append(l.recs, r)
	if len(l.recs) >= l.maxRecs || len(l.arena) >= ledgerMaxArena || len(l.seen) >= l.maxRecs {
		return l.spill()
	}
	return nil
}

// spill writes the window's records to the partition files and empties it.
func (l *nameLedger) spill() error {
	if l.tmp == "" {
		dir := l.spillDir
		if dir == "" {
			dir = os.TempDir()
		}
		tmp, err := os.MkdirTemp(dir, "aci-names-")
		if err != nil {
			return fmt.Errorf("name ledger: %w", err)
		}
		l.tmp = tmp
		for i := range ledgerParts {
			f, err := os.Create(filepath.Join(tmp, fmt.Sprintf("p%03d", i)))
			if err != nil {
				return fmt.Errorf("name ledger: %w", err)
			}
			l.files = append(l.files, f)
			l.parts = append(l.parts, bufio.NewWriterSize(f, 8<<10))
		}
		f, err := os.Create(filepath.Join(tmp, "names"))
		if err != nil {
			return fmt.Errorf("name ledger: %w", err)
		}
		l.strs, l.strsBuf = f, bufio.NewWriterSize(f, 64<<10)
		// Used through their descriptors only: unlinked at once, they
		// leave nothing behind whatever becomes of this process.
		if err := os.RemoveAll(tmp); err != nil {
			return fmt.Errorf("name ledger: %w", err)
		}
	}
	var b [ledgerRecSize]byte
	for i := range l.recs {
		r := &l.recs[i]
		encodeLedgerRec(b[:], r)
		if _, err := l.parts[r.key[0]%ledgerParts].Write(b[:]); err != nil {
			return fmt.Errorf("name ledger: %w", err)
		}
	}
	if _, err := l.strsBuf.Write(l.arena); err != nil {
		return fmt.Errorf("name ledger: %w", err)
	}
	l.strsOff += uint64(len(l.arena))
	l.recs, l.arena = l.recs[:0], l.arena[:0]
	clear(l.seen)
	return nil
}

func encodeLedgerRec(b []byte, r *ledgerRec) {
	binary.LittleEndian.PutUint64(b[0:], r.key[0])
	binary.LittleEndian.PutUint64(b[8:], r.key[1])
	binary.LittleEndian.PutUint32(b[16:], r.seq)
	b[20], b[21] = r.op, r.typ
	binary.LittleEndian.PutUint64(b[22:], r.off)
	binary.LittleEndian.PutUint16(b[30:], r.rlen)
	binary.LittleEndian.PutUint16(b[32:], r.alen)
}

func decodeLedgerRec(b []byte) ledgerRec {
	return ledgerRec{
		key:  [2]uint64{binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])},
		seq:  binary.LittleEndian.Uint32(b[16:]),
		op:   b[20],
		typ:  b[21],
		off:  binary.LittleEndian.Uint64(b[22:]),
		rlen: binary.LittleEndian.Uint16(b[30:]),
		alen: binary.LittleEndian.Uint16(b[32:]),
	}
}

// ledgerRule applies one fact (op, of the tar type typ for an entry) to
// the kind state a name has so far (0: never met) and returns its new kind,
// or what is wrong, as a message for the entry raw (arg names the name,
// parent or link target in question). It is the one statement of the
// rules, applied as entries arrive and when a spilled ledger is replayed.
func ledgerRule(state, op, typ byte, arg string) (byte, string) {
	switch op {
	case opEntry:
		if state != 0 {
			if state != kindImplicit {
				return state, fmt.Sprintf("duplicate entry: %q is already in the archive", arg)
			}
			if typ != 'd' && typ != '5' {
				return state, fmt.Sprintf("a parent directory of earlier entries must stay a directory (type %s)", tarTypeName(typ))
			}
		}
		return entryKind(typ), ""
	case opParent:
		switch state {
		case kindDir, kindImplicit:
			return state, ""
		case 0:
			return kindImplicit, ""
		}
		return state, fmt.Sprintf("parent %q is %s, not a directory", arg, kindName(state))
	case opLink:
		switch state {
		case 0, kindImplicit:
			return state, fmt.Sprintf("hard link to %q, which is not an earlier entry", arg)
		case kindDir:
			return state, fmt.Sprintf("hard link to directory %q", arg)
		case kindSymlink, kindOther:
			return state, fmt.Sprintf("hard link to %q, which is %s, not a regular file", arg, kindName(state))
		}
		return state, ""
	}
	return state, fmt.Sprintf("name ledger: unknown operation %q", op)
}

// apply logs a fact about name (its key k) and applies the rule to what
// the window knows of it. It returns the name's kind before (0: not in the
// window) and a refusal, if any: a hard link to a name the window does not
// hold is refused only while nothing was spilled, since the target may be
// in a partition (the replay at the end decides).
//
// A parent met again that the window knows as a directory is not logged:
// most entries' parent is such a one, and logging it doubled the records,
// which made an image of 17k files spill (and replay 34k records at the
// end of its walk, 80 ms). The replay loses nothing by it: the window knew
// the name from an earlier record of this window, and if the replay's
// state before that record was not a directory's (a file of an earlier
// window), that record is refused already, and earlier.
func (l *nameLedger) apply(k [2]uint64, op, typ byte, raw, arg string) (byte, error) {
	state, known := l.seen[k]
	if op == opParent && known && (state == kindDir || state == kindImplicit) {
		return state, nil
	}
	next, msg := ledgerRule(state, op, typ, arg)
	if msg != "" && !(op == opLink && !known && l.spilled()) {
		return state, badEntry(raw, "%s", msg)
	}
	if op != opLink && (next != state || !known) {
		l.seen[k] = next
	}
	if err := l.log(k, op, typ, raw, arg); err != nil {
		return state, err
	}
	return state, nil
}

// finish replays the spilled records, if any, through ledgerRule and
// returns the refusal of the earliest entry that breaks a rule, and the
// number of distinct names met.
func (l *nameLedger) finish() (names int, err error) {
	if !l.spilled() {
		return len(l.seen), nil
	}
	defer l.close()
	if err := l.spill(); err != nil {
		return 0, err
	}
	for _, w := range l.parts {
		if err := w.Flush(); err != nil {
			return 0, fmt.Errorf("name ledger: %w", err)
		}
	}
	if err := l.strsBuf.Flush(); err != nil {
		return 0, fmt.Errorf("name ledger: %w", err)
	}
	// The earliest record that breaks a rule, and its name's state then;
	// only its names are read back, for the message.
	var first *ledgerRec
	var firstState byte
	var recs []ledgerRec
	for _, f := range l.files {
		b, err := readAllAt(f)
		if err != nil {
			return 0, fmt.Errorf("name ledger: %w", err)
		}
		recs = recs[:0]
		for off := 0; off+ledgerRecSize <= len(b); off += ledgerRecSize {
			recs = append(recs, decodeLedgerRec(b[off:]))
		}
		slices.SortFunc(recs, func(a, b ledgerRec) int {
			if c := cmpKey(a.key, b.key); c != 0 {
				return c
			}
			return int(a.seq) - int(b.seq)
		})
		var state byte
		for i := range recs {
			r := &recs[i]
			if i == 0 || r.key != recs[i-1].key {
				state = 0
				names++
			}
			if first != nil && r.seq >= first.seq {
				continue
			}
			next, msg := ledgerRule(state, r.op, r.typ, "")
			if msg != "" {
				rc := *r
				first, firstState = &rc, state
				continue
			}
			state = next
		}
	}
	if first != nil {
		raw, err := l.name(first.off, first.rlen)
		if err != nil {
			return 0, err
		}
		arg := raw
		if first.alen != argIsRaw {
			if arg, err = l.name(first.off+uint64(first.rlen), first.alen); err != nil {
				return 0, err
			}
		}
		_, msg := ledgerRule(firstState, first.op, first.typ, arg)
		return names, badEntry(raw, "%s", msg)
	}
	return names, nil
}

// name reads n bytes of names at off.
func (l *nameLedger) name(off uint64, n uint16) (string, error) {
	b := make([]byte, n)
	if _, err := l.strs.ReadAt(b, int64(off)); err != nil {
		return "", fmt.Errorf("name ledger: %w", err)
	}
	return string(b), nil
}

func readAllAt(f *os.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

func cmpKey(a, b [2]uint64) int {
	switch {
	case a[0] != b[0]:
		if a[0] < b[0] {
			return -1
		}
		return 1
	case a[1] < b[1]:
		return -1
	case a[1] > b[1]:
		return 1
	}
	return 0
}

// close releases the spill files, if any.
func (l *nameLedger) close() {
	if l.tmp == "" {
		return
	}
	for _, f := range l.files {
		f.Close()
	}
	if l.strs != nil {
		l.strs.Close()
	}
	l.tmp, l.files, l.parts, l.strs = "", nil, nil, nil
}
