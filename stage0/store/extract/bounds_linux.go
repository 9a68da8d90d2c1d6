package extract

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Memory bounds of one extraction (issue 21: a million-entry archive took
// hundreds of MB). Everything the extractor remembers per entry is kept
// in a window of bounded size; what lies beyond it is either on disk or
// left to the file system to tell:
//
//   - seen (the kind of every name, for duplicates, hard link targets and
//     files not made yet) is emptied when it holds seenWindow names. A
//     name it no longer knows is judged by what is on disk: a second
//     entry of a name fails to be created (O_EXCL, EEXIST), a directory
//     met again is merged (image archives reach the extractor through
//     archive.WalkArchive, whose name ledger refuses a second explicit
//     directory), a hard link's target must be a regular file there, and
//     a missing parent may be a batched file, so the writers are drained
//     before it is made.
//   - dirs (the metadata of every directory, applied in Finish) goes to a
//     spill file in Options.SpillDir when it holds dirsWindow
//     directories; Finish applies the spilled records in the order they
//     came (a later record of a name wins, a name no longer a directory
//     is skipped), then the window's, deepest first.
//   - The records (Options.Record) and content digests (HashContent) are
//     dropped when they reach recordsWindow and digestsWindow: a tree hash
//     then walks the tree and reads the files it has no digest of,
//     which costs a read of the content but no memory.
const (
	seenWindow    = 32 << 10
	dirsWindow    = 8 << 10
	recordsWindow = 32 << 10
	digestsWindow = 32 << 10
)

// windows are the bounds above, as one extraction applies them (tests make
// them small).
type windows struct {
	seen, dirs int
}

// dirSpill is the file the directories' metadata goes to past dirsWindow.
type dirSpill struct {
	f *os.File
	w *bufio.Writer
}

// spillDirs writes the window of directory metadata to the spill file
// (made in dir, "" meaning os.TempDir(), and unlinked at once) and empties
// the window. The records stop: they describe only a tree whose
// directories are all in the window.
func (x *Extractor) spillDirs() error {
	if x.spill.f == nil {
		dir := x.opts.SpillDir
		if dir == "" {
			dir = os.TempDir()
		}
		f, err := os.CreateTemp(dir, "extract-dirs-")
		if err != nil {
			return fmt.Errorf("spill directory metadata: %w", err)
		}
		os.Remove(f.Name())
		x.spill = dirSpill{f: f, w: bufio.NewWriterSize(f, 64<<10)}
	}
	x.recs.stop()
	var b []byte
	for name, m := range x.dirs {
		b = appendDirMeta(b[:0], name, m)
		if _, err := x.spill.w.Write(b); err != nil {
			return fmt.Errorf("spill directory metadata: %w", err)
		}
	}
	clear(x.dirs)
	return nil
}

// setDir records the metadata of the directory name, spilling the window
// when it is full.
func (x *Extractor) setDir(name string, m *meta) error {
	if _, ok := x.dirs[name]; !ok && len(x.dirs) >= x.win.dirs {
		if err := x.spillDirs(); err != nil {
			return err
		}
	}
	x.dirs[name] = m
	return nil
}

func appendDirMeta(b []byte, name string, m *meta) []byte {
	b = binary.AppendUvarint(b, uint64(len(name)))
	b = append(b, name...)
	b = binary.AppendUvarint(b, uint64(m.mode))
	b = binary.AppendUvarint(b, uint64(m.uid))
	b = binary.AppendUvarint(b, uint64(m.gid))
	for _, t := range []time.Time{m.atime, m.mtime} {
		if t.IsZero() {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		b = binary.AppendVarint(b, t.Unix())
		b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
	}
	if m.implicit {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(m.xattrs)))
	for _, kv := range m.xattrs {
		for _, s := range kv {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
	}
	return b
}

// readDirMeta reads one record appendDirMeta wrote; io.EOF at the end.
func readDirMeta(r *bufio.Reader) (string, *meta, error) {
	str := func() (string, error) {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return "", err
		}
		if n > 1<<20 {
			return "", errors.New("corrupt spill file")
		}
		b := make([]byte, n)
		_, err = io.ReadFull(r, b)
		return string(b), err
	}
	num := func() uint64 {
		v, _ := binary.ReadUvarint(r)
		return v
	}
	name, err := str()
	if err != nil {
		return "", nil, err // io.EOF at a record boundary
	}
	m := &meta{mode: uint32(num()), uid: int(num()), gid: int(num())}
	for _, t := range []*time.Time{&m.atime, &m.mtime} {
		if set, _ := r.ReadByte(); set == 1 {
			sec, _ := binary.ReadVarint(r)
			*t = time.Unix(sec, int64(num()))
		}
	}
	imp, _ := r.ReadByte()
	m.implicit = imp == 1
	n := num()
	if n > MaxXattrs {
		return "", nil, errors.New("corrupt spill file")
	}
	for range n {
		k, err := str()
		if err != nil {
			return "", nil, noEOF(err)
		}
		v, err := str()
		if err != nil {
			return "", nil, noEOF(err)
		}
		m.xattrs = append(m.xattrs, [2]string{k, v})
	}
	return name, m, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// finishSpilled applies the spilled directory metadata, in the order it
// came; restricted (unprivileged extraction only) collects the directories
// whose mode would keep the extractor out of what is below them, given
// u+rwx for now, for the caller to finish deepest first.
func (x *Extractor) finishSpilled(restricted map[string]uint32) error {
	if x.spill.f == nil {
		return nil
	}
	if err := x.spill.w.Flush(); err != nil {
		return fmt.Errorf("spill directory metadata: %w", err)
	}
	if _, err := x.spill.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("spill directory metadata: %w", err)
	}
	r := bufio.NewReaderSize(x.spill.f, 64<<10)
	for {
		name, m, err := readDirMeta(r)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read directory metadata back: %w", err)
		}
		if _, later := x.dirs[name]; later {
			continue // the window's record is the later one
		}
		if x.opts.NoOwnership && m.mode&0o700 != 0o700 {
			restricted[name] = m.mode
			m.mode |= 0o700
		} else {
			delete(restricted, name)
		}
		if err := x.finishDir(name, m, nil); err != nil {
			return err
		}
	}
}

// closeSpill releases the spill file (already unlinked).
func (x *Extractor) closeSpill() {
	if x.spill.f != nil {
		x.spill.f.Close()
		x.spill = dirSpill{}
	}
}
