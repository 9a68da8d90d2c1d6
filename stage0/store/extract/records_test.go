package extract

import (
	"archive/tar"
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/testenv"
)

// walkEntries describes the tree below root as Entries should: every
// directory, regular file, symlink and FIFO, read back from disk in walk
// order (filepath.WalkDir visits a directory before its children and each
// directory's names sorted). Directory mtimes are left zero: tree hashes
// leave them out.
func walkEntries(t testing.TB, root string) []Entry {
	t.Helper()
	var out []Entry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		e := Entry{Name: rel, Mode: st.Mode, Uid: st.Uid, Gid: st.Gid, Mtime: st.Mtim}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			e.Mtime = unix.Timespec{}
			if e.Xattrs, err = pathXattrs(p); err != nil {
				return err
			}
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.Size, e.Sum = st.Size, sha256.Sum256(b)
			if e.Xattrs, err = pathXattrs(p); err != nil {
				return err
			}
		case unix.S_IFLNK:
			if e.Linkname, err = os.Readlink(p); err != nil {
				return err
			}
		case unix.S_IFIFO:
		default:
			return nil
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return out
}

func pathXattrs(p string) ([][2]string, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return ReadXattrs(fd)
}

func describeEntries(es []Entry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%q %o %d:%d %d %d.%d %x %q %q\n", e.Name, e.Mode, e.Uid, e.Gid, e.Size, e.Mtime.Sec, e.Mtime.Nsec, e.Sum[:4], e.Linkname, e.Xattrs)
	}
	return b.String()
}

// checkEntries fails unless x's records of root are exactly what a walk of
// root finds, in the same order.
func checkEntries(t testing.TB, x *Extractor, root string) {
	t.Helper()
	got, ok := x.Entries()
	if !ok {
		t.Fatal("Entries: not recorded")
	}
	for i := range got {
		if got[i].Mode&unix.S_IFMT == unix.S_IFDIR {
			got[i].Mtime = unix.Timespec{}
		}
	}
	want := walkEntries(t, root)
	if !slices.EqualFunc(got, want, func(a, b Entry) bool { return describeEntries([]Entry{a}) == describeEntries([]Entry{b}) }) {
		t.Fatalf("recorded entries differ from a walk:\nrecorded:\n%swalk:\n%s", describeEntries(got), describeEntries(want))
	}
}

// tarChecked extracts a tar stream like Tar, recording (in strict mode),
// and when the extraction succeeds checks the records against a walk.
func tarChecked(t testing.TB, r io.Reader, root string, opts Options) (Result, error) {
	t.Helper()
	opts.Record = !opts.Overwrite
	x, err := New(root, opts)
	if err != nil {
		return Result{}, err
	}
	defer x.Close()
	if err := x.addTar(context.Background(), r); err != nil {
		return x.Result(), err
	}
	res, err := x.Finish(context.Background())
	if err == nil && opts.Record {
		checkEntries(t, x, root)
	}
	return res, err
}

// The extractor's records of what it made are what a walk of the tree
// finds: types, modes (setuid, sticky), owners, mtimes to the nanosecond,
// sizes, content digests (across the hasher's buffers), symlink targets,
// kept xattrs, hard links, FIFOs, implicit parents, names whose walk order
// is not their string order, and skipped devices.
func TestEntriesMatchWalk(t *testing.T) {
	root := os.Geteuid() == 0
	if !root && os.Getenv("CI") == "true" {
		t.Fatal("CI runs as root: owners and setuid bits must be checked")
	}
	owned := func(e ent, uid, gid int) ent { e.uid, e.gid = uid, gid; return e }
	moded := func(e ent, m int64) ent { e.mode = m; return e }
	fcaps := string([]byte{1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	big := strings.Repeat("0123456789abcdef", 3*hashBufferSize/16+7)
	// More small files than one batch holds, by count and by bytes, in
	// several directories, with owners and modes of their own, a file
	// just over the batched size among them, hard links to batched files
	// (made before the link), and a file under one of them's sibling
	// directory made as an implicit parent.
	var many []ent
	for i := range 3 * batchFiles {
		e := file(fmt.Sprintf("d%d/f%03d", i%5, i), strings.Repeat(string(rune('a'+i%26)), i*7%4000))
		if i%3 == 0 {
			e = moded(e, 0o640)
		}
		if i%7 == 0 {
			e = owned(e, 100+i, 200+i)
		}
		many = append(many, e)
		switch i {
		case 100:
			many = append(many, file("d0/large", strings.Repeat("L", maxBatched+1)), hardlink("d0/link", "d1/f001"))
		case 600:
			many = append(many, hardlink("link2", "d4/f599"), file("new/sub/f", "implicit"))
		}
	}
	many = append(many, file("exact", strings.Repeat("E", maxBatched)))
	cases := []struct {
		name string
		ents []ent
	}{
		{"empty", nil},
		{"root entry", []ent{moded(dir("."), 0o750), file("f", "x")}},
		{"walk order", []ent{file("a.b", "1"), dir("a"), file("a/b", "2"), file("a-b", "3"), file("a b", "4"), file("a/b.c/d", "5"), file("ä", "6"), file("A", "7")}},
		{"implicit parents", []ent{file("x/y/z/f", "deep"), dir("x/y"), file("x/g", "")}},
		{"modes", []ent{moded(file("suid", "s"), 0o4755), moded(file("sgid", "s"), 0o2711), moded(dir("tmp"), 0o1777), moded(file("none", ""), 0), moded(file("private", "p"), 0o600)}},
		{"owners", []ent{owned(file("o", "x"), 1234, 5678), owned(dir("d"), 42, 43), owned(symlink("d/l", "../o"), 7, 8), owned(moded(file("d/s", "x"), 0o4750), 1000, 1000)}},
		{"links", []ent{file("f", "content"), hardlink("h", "f"), dir("d"), hardlink("d/h2", "h"), symlink("s", "/abs/target"), symlink("d/rel", "../f")}},
		{"fifo and devices", []ent{{name: "p", typ: tar.TypeFifo, mode: 0o620}, {name: "sda", typ: tar.TypeChar, mode: 0o666, devmaj: 8}, {name: "loop", typ: tar.TypeBlock, devmaj: 7}}},
		{"xattrs", []ent{
			{name: "x", typ: tar.TypeReg, mode: 0o755, body: "x", pax: map[string]string{"SCHILY.xattr.user.b": "2", "SCHILY.xattr.user.a": "1", "SCHILY.xattr.trusted.x": "no", "SCHILY.xattr.security.capability": fcaps}},
			{name: "d", typ: tar.TypeDir, mode: 0o755, pax: map[string]string{"SCHILY.xattr.user.dir": "yes"}},
			hardlink("d/x", "x"),
		}},
		{"many small files", many},
		{"many directories", manyDirs()},
		{"big and empty content", []ent{file("big", big), file("empty", ""), file("small", "s"), hardlink("big2", "big")}},
		{"nanosecond times", []ent{{name: "t", typ: tar.TypeReg, body: "t", mtime: time.Unix(1500000000, 123456789)}, {name: "l", typ: tar.TypeSymlink, link: "t", mtime: time.Unix(1600000000, 987654321)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !root {
				for _, e := range tc.ents {
					if e.uid != 0 || e.gid != 0 {
						testenv.NeedRoot(t, "files owned by others than root")
					}
				}
			}
			target := t.TempDir()
			r, _ := decompress(mkTar(t, tc.ents...))
			if _, err := tarChecked(t, r, target, Options{NoOwnership: !root}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Records are not given where they could be wrong: before Finish, in
// Overwrite mode, and after Prune, LinkFrom or Implicit changed the tree.
func TestEntriesNotRecorded(t *testing.T) {
	ctx := context.Background()
	add := func(t *testing.T, x *Extractor, es ...ent) {
		t.Helper()
		tr := tar.NewReader(mustReader(t, mkTar(t, es...)))
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := x.Add(ctx, hdr, tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	srcFD, err := unix.Open(src, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(srcFD)
	cases := []struct {
		name   string
		opts   Options
		change func(t *testing.T, x *Extractor)
	}{
		{"overwrite", Options{Overwrite: true}, nil},
		{"not asked", Options{HashContent: true}, nil},
		{"prune", Options{}, func(t *testing.T, x *Extractor) {
			if err := x.Prune(ctx, func(n string, isDir bool) bool { return n != "a/f" }); err != nil {
				t.Fatal(err)
			}
		}},
		{"link from", Options{}, func(t *testing.T, x *Extractor) {
			if err := x.LinkFrom(ctx, "a/linked", srcFD, "f"); err != nil {
				t.Fatal(err)
			}
		}},
		{"implicit", Options{}, func(t *testing.T, x *Extractor) {
			if err := x.Implicit(ctx, "new/dir"); err != nil {
				t.Fatal(err)
			}
		}},
		// Finish would have to record the directories again.
		{"add after finish", Options{}, func(t *testing.T, x *Extractor) {
			if _, err := x.Finish(ctx); err != nil {
				t.Fatal(err)
			}
			add(t, x, file("late", "z"))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Record = !tc.opts.HashContent
			opts.NoOwnership = os.Geteuid() != 0
			x, err := New(t.TempDir(), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			add(t, x, dir("a"), file("a/f", "x"), file("a/g", "y"))
			if tc.change != nil {
				tc.change(t, x)
			}
			if _, ok := x.Entries(); ok {
				t.Error("Entries before Finish: ok")
			}
			if _, err := x.Finish(ctx); err != nil {
				t.Fatal(err)
			}
			if _, ok := x.Entries(); ok {
				t.Error("Entries: ok, want no records")
			}
		})
	}
}

func mustReader(t testing.TB, b []byte) io.Reader {
	t.Helper()
	r, err := decompress(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// walkCompare agrees with the order of a real walk.
func TestWalkCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{".", ".", 0}, {".", "a", -1}, {"-", ".", 1}, {"a", "a/b", -1}, {"a/b", "a.b", -1},
		{"a.b", "a/b", 1}, {"a/b/c", "a/b.c", -1}, {"a b", "a", 1}, {"a", "b", -1}, {"b/a", "a/b", 1},
		{"ab", "a/b", 1}, {"a/z", "aa", -1},
	} {
		if got := walkCompare(tc.a, tc.b); got != tc.want {
			t.Errorf("walkCompare(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// sortWalkOrder, which Finish uses, sorts as walkCompare does, on names
// chosen to have their first difference at a '/', a '.' and the bytes
// around them.
func TestSortWalkOrder(t *testing.T) {
	parts := []string{"a", "b", "-", ".x", "a.b", "a b", "\x01", "\xff", "a/b", "ab"}
	var es []Entry
	for _, p := range parts {
		es = append(es, Entry{Name: p})
		for _, q := range parts {
			es = append(es, Entry{Name: p + "/" + q})
		}
	}
	es = append(es, Entry{Name: "."})
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
	got := sortWalkOrder(es)
	if len(got) != len(es) {
		t.Fatalf("%d entries sorted, want %d", len(got), len(es))
	}
	if got[0].Name != "." {
		t.Errorf("first is %q, want the root", got[0].Name)
	}
	for i := 1; i < len(got); i++ {
		if walkCompare(got[i-1].Name, got[i].Name) > 0 {
			t.Errorf("%q sorted before %q", got[i-1].Name, got[i].Name)
		}
	}
}

// walkCompare orders relative names (of one tree, "." its root) as a walk
// does that visits a directory before its children and the names in each
// directory in byte order: "a" < "a/b" < "a.b" < "b". It is a comparison
// of the names' components, which plain string order is not ("a.b" <
// "a/b" as strings, '.' being below '/'). It is the tests' oracle for
// sortWalkOrder, written as the definition, not as the fast keys.
func walkCompare(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == ".":
		return -1
	case b == ".":
		return 1
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		switch {
		case ca == cb:
			continue
		case ca == '/':
			return -1
		case cb == '/':
			return 1
		case ca < cb:
			return -1
		default:
			return 1
		}
	}
	return cmp.Compare(len(a), len(b))
}

// manyDirs is an archive of directories enough at each depth for Finish to
// do them side by side (finishDirs), each with a mode, owner, time or
// attribute of its own, some implicit, with a file in each.
func manyDirs() []ent {
	var es []ent
	for i := range 3 * minDirsEach * 4 {
		d := dir(fmt.Sprintf("t%d/u%d/v%d", i%3, i%(2*minDirsEach+5), i))
		d.mode = []int64{0o755, 0o700, 0o555, 0o1777, 0o2750}[i%5]
		d.mtime = time.Unix(1400000000+int64(i)*3600, int64(i)*1000)
		if i%4 == 0 {
			d.uid, d.gid = 300+i, 400+i
		}
		if i%6 == 0 {
			d.pax = map[string]string{"SCHILY.xattr.user.n": fmt.Sprint(i)}
		}
		es = append(es, d, file(d.name+"/f", fmt.Sprint(i)))
		if i%2 == 0 {
			// (i and i+111 differ in parity: no duplicate.)
			p := dir(fmt.Sprintf("t%d/u%d", i%3, i%(2*minDirsEach+5)))
			p.mode = 0o711 + int64(i%2)*0o40
			es = append(es, p)
		}
	}
	return es
}

// TestFinishDirsMetadata: directories finished side by side (finishDirs)
// each get their own entry's mode, owner, time and attributes.
func TestFinishDirsMetadata(t *testing.T) {
	testenv.NeedRoot(t, "directories owned by others")
	es := manyDirs()
	root := t.TempDir()
	r, _ := decompress(mkTar(t, es...))
	if _, err := tarChecked(t, r, root, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.typ != tar.TypeDir {
			continue
		}
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, e.name), &st); err != nil {
			t.Fatal(err)
		}
		if st.Mode&0o7777 != uint32(e.mode) || int(st.Uid) != e.uid || int(st.Gid) != e.gid {
			t.Errorf("%s: mode %o, owner %d:%d; want %o, %d:%d", e.name, st.Mode&0o7777, st.Uid, st.Gid, e.mode, e.uid, e.gid)
		}
		// Timespec.Unix, not its fields: they are int32 on 386 (GOARCH=386 vet).
		if sec, nsec := st.Mtim.Unix(); !e.mtime.IsZero() && (sec != e.mtime.Unix() || nsec != int64(e.mtime.Nanosecond())) {
			t.Errorf("%s: mtime %v, want %v", e.name, time.Unix(st.Mtim.Unix()), e.mtime)
		}
		v, ok := e.pax["SCHILY.xattr.user.n"]
		got := make([]byte, 64)
		n, err := unix.Lgetxattr(filepath.Join(root, e.name), "user.n", got)
		if ok && (err != nil || string(got[:n]) != v) || !ok && err == nil {
			t.Errorf("%s: user.n %q (%v), want %q", e.name, got[:max(n, 0)], err, v)
		}
	}
}

// unprivilegedRun is the environment variable that tells a test run as
// nobody by TestFinishDirsUnprivileged that it is the child.
const unprivilegedRun = "EXTRACT_TEST_UNPRIVILEGED"

// TestFinishDirsUnprivileged: an unprivileged extractor (NoOwnership)
// gives directories modes that take its own search or write permission
// away (0600, 0500, 0070, 0100), and user attributes and times to such
// directories, nested, many at a depth. As root the test runs itself as
// nobody; root's permissions would hide what it checks.
func TestFinishDirsUnprivileged(t *testing.T) {
	if os.Geteuid() == 0 && os.Getenv(unprivilegedRun) == "" {
		// The test binary, copied where nobody may run it (t.TempDir's
		// parent is root's alone).
		dir, err := os.MkdirTemp("", "extract-nobody-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		self, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(dir, "extract.test")
		if err := os.WriteFile(bin, self, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-test.run=^TestFinishDirsUnprivileged$", "-test.v")
		cmd.Env = append(os.Environ(), unprivilegedRun+"=1", "TMPDIR="+dir, "GOCOVERDIR=")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestFinishDirsUnprivileged") {
			t.Fatalf("as nobody: %v\n%s", err, out)
		}
		return
	}
	var es []ent
	for i := range 3 * minDirsEach * 2 {
		d := dir(fmt.Sprintf("t%d/u%d/v%d", i%3, i%(minDirsEach+5), i))
		d.mode = []int64{0o755, 0o500, 0o070, 0o100, 0o600}[i%5]
		d.mtime = time.Unix(1400000000+int64(i)*3600, 0)
		d.pax = map[string]string{"SCHILY.xattr.user.n": fmt.Sprint(i)}
		es = append(es, file(d.name+"/f", "x"), d)
		if i < minDirsEach+5 {
			p := dir(fmt.Sprintf("t%d/u%d", i%3, i))
			p.mode = []int64{0o500, 0o100, 0o070, 0o600}[i%4]
			es = append(es, p)
		}
	}
	root := t.TempDir()
	t.Cleanup(func() {
		filepath.WalkDir(root, func(p string, _ fs.DirEntry, _ error) error { os.Chmod(p, 0o700); return nil })
	})
	r, _ := decompress(mkTar(t, es...))
	x, err := New(root, Options{NoOwnership: true})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if err := x.addTar(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Only what nobody can still reach is looked at: below a directory
	// without its owner's search permission, nothing.
	modes := map[string]int64{}
	for _, e := range es {
		if e.typ == tar.TypeDir {
			modes[e.name] = e.mode
		}
	}
	reachable := func(name string) bool {
		for d := filepath.Dir(name); d != "."; d = filepath.Dir(d) {
			if m, ok := modes[d]; ok && m&0o100 == 0 {
				return false
			}
		}
		return true
	}
	for _, e := range es {
		if !reachable(e.name) {
			continue
		}
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, e.name), &st); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeDir && st.Mode&0o7777 != uint32(e.mode) {
			t.Errorf("%s: mode %o, want %o", e.name, st.Mode&0o7777, e.mode)
		}
		if sec, _ := st.Mtim.Unix(); !e.mtime.IsZero() && sec != e.mtime.Unix() {
			t.Errorf("%s: mtime %d, want %d", e.name, sec, e.mtime.Unix())
		}
	}
}
