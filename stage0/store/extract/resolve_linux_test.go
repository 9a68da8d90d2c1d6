package extract

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCleanName(t *testing.T) {
	long := strings.Repeat("n", MaxNameLen)
	// 15 directories of MaxNameLen and a last component: 4095 bytes.
	deepest := strings.Repeat(long+"/", 15) + long
	for _, tc := range []struct {
		name, want, err string
	}{
		{name: "a", want: "a"},
		{name: "a/b/c", want: "a/b/c"},
		{name: "./a//b/./c/", want: "a/b/c"},
		{name: ".", want: "."},
		{name: "./", want: "."},
		{name: "./././/", want: "."},
		{name: "...", want: "..."},
		{name: ".hidden/..x/x..", want: ".hidden/..x/x.."},
		{name: long, want: long},
		{name: deepest, want: deepest},
		{name: "", err: "empty name"},
		{name: "..", err: `".." component`},
		{name: "../a", err: `".." component`},
		{name: "a/..", err: `".." component`},
		{name: "a/../a", err: `".." component`},
		{name: "./../a", err: `".." component`},
		{name: "/", err: "absolute name"},
		{name: "/etc/passwd", err: "absolute name"},
		{name: "//a", err: "absolute name"},
		{name: "a\x00b", err: "NUL byte"},
		{name: "a/\x00/..", err: "NUL byte"},
		{name: long + "n", err: "component is 256 bytes long"},
		{name: "a/" + long + "n/b", err: "component is 256 bytes long"},
		{name: deepest + "/n", err: "name is 4097 bytes long"},
		{name: strings.Repeat("a/", MaxPathLen), err: "more than 4096"},
	} {
		got, err := CleanName(tc.name)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("CleanName(%.40q): %v", tc.name, err)
		case tc.err == "" && got != tc.want:
			t.Errorf("CleanName(%.40q) = %.40q, want %.40q", tc.name, got, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("CleanName(%.40q) = %.40q, %v; want an error with %q", tc.name, got, err, tc.err)
		}
	}
}

// newTestResolver opens root like New does, without bookkeeping.
func newTestResolver(t testing.TB, root string, overwrite bool) *resolver {
	t.Helper()
	fd, _, err := openRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	r := &resolver{fd: fd, overwrite: overwrite}
	t.Cleanup(func() { r.close() })
	return r
}

// createIn makes the regular file name (raw, as an archive gives it) below
// r's root the way the extractor does: a clean name, its parent from the
// resolver, and the create of newFile. It returns the new file's identity.
func createIn(r *resolver, name string) (fileID, error) {
	clean, err := CleanName(name)
	if err != nil {
		return fileID{}, err
	}
	if clean == "." {
		return fileID{}, errors.New("the root is not a file")
	}
	pfd, base, err := r.parent(clean)
	if err != nil {
		return fileID{}, err
	}
	f := newFile{name: clean, base: base, mode: 0o600}
	fd, err := f.create(pfd)
	if err != nil {
		return fileID{}, err
	}
	defer unix.Close(fd)
	return fdID(fd)
}

// fileID is where a file is: its inode, and its path while that fits in
// PATH_MAX ("" beyond).
type fileID struct {
	dev, ino uint64
	path     string
}

func fdID(fd int) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fileID{}, err
	}
	p, err := fdPath(fd)
	if err != nil && !errors.Is(err, unix.ENAMETOOLONG) {
		return fileID{}, err
	}
	return fileID{st.Dev, st.Ino, p}, nil
}

// idBelow finds rel below root independently of the resolver: one
// component at a time from a descriptor, never following a symlink.
func idBelow(t testing.TB, root, rel string) fileID {
	t.Helper()
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range strings.Split(rel, "/") {
		next, err := unix.Openat(fd, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatalf("%s below %s: %v", rel, root, err)
		}
		fd = next
	}
	defer unix.Close(fd)
	id, err := fdID(fd)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func fdPath(fd int) (string, error) {
	return os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
}

// within reports whether p is root or below it.
func within(root, p string) bool {
	return p == root || strings.HasPrefix(p, root+"/")
}

// checkContained fails t when the canary changed or when anything besides
// the root and the canary appeared beside them.
func checkContained(t testing.TB, base, canary, before string) {
	t.Helper()
	if after := snapshot(t, canary); after != before {
		t.Fatalf("canary changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if names, _ := os.ReadDir(base); len(names) != 2 {
		t.Fatalf("base holds %d entries, want target and canary only", len(names))
	}
}

// TestResolver runs hostile trees through the resolver: whatever is
// planted in the root (symlinks out of it, absolute, dangling, looping, a
// file where a directory is needed), a file is made inside the root or
// not at all, strict mode refuses the symlink by name, and layering
// (overwrite) replaces it with a directory instead of following it.
func TestResolver(t *testing.T) {
	type plant struct{ name, link string } // link "" makes a regular file
	for _, tc := range []struct {
		name      string
		plants    []plant
		create    string
		overwrite bool
		err       string // "" for success
		want      string // where the file is, relative to the root
	}{
		{name: "nested parents are made", create: "a/b/c/f", want: "a/b/c/f"},
		{name: "dot components", create: "./a/./b//f", want: "a/b/f"},
		{name: "file in the root", create: "f", want: "f"},
		{name: "dotdot", create: "../canary/x", err: `".." component`},
		{name: "dotdot inside", create: "a/../../canary/x", err: `".." component`},
		{name: "absolute", create: "/tmp/x", err: "absolute name"},
		{name: "NUL", create: "a\x00/x", err: "NUL byte"},
		{name: "overlong component", create: strings.Repeat("x", MaxNameLen+1), err: "component is 256 bytes"},
		{name: "overlong path", create: strings.Repeat("d/", MaxPathLen/2) + "f", err: "more than 4096"},
		{name: "longest path", create: strings.Repeat(strings.Repeat("d", MaxNameLen)+"/", 15) + strings.Repeat("f", MaxNameLen),
			want: strings.Repeat(strings.Repeat("d", MaxNameLen)+"/", 15) + strings.Repeat("f", MaxNameLen)},
		{name: "symlinked parent out", plants: []plant{{"l", "../canary"}}, create: "l/x", err: "parent l is a symlink"},
		{name: "symlinked parent out, existing name", plants: []plant{{"l", "../canary"}}, create: "l/secret", err: "parent l is a symlink"},
		{name: "absolute symlinked parent", plants: []plant{{"l", "@canary"}}, create: "l/sub/x", err: "parent l is a symlink"},
		{name: "symlink to / as parent", plants: []plant{{"l", "/"}}, create: "l/tmp/x", err: "parent l is a symlink"},
		{name: "symlink deep in the path", plants: []plant{{"a/b", "../../canary"}}, create: "a/b/c/x", err: "parent a/b is a symlink"},
		{name: "symlink to a directory inside", plants: []plant{{"real/x", ""}, {"l", "real"}}, create: "l/y", err: "parent l is a symlink"},
		{name: "dangling symlink as parent", plants: []plant{{"l", "nowhere"}}, create: "l/x", err: "parent l is a symlink"},
		{name: "looping symlink as parent", plants: []plant{{"l", "l"}}, create: "l/x", err: "parent l is a symlink"},
		{name: "file as parent", plants: []plant{{"f", ""}}, create: "f/x", err: "parent f is not a directory"},
		{name: "symlink out at the last component", plants: []plant{{"l", "../canary/secret"}}, create: "l", err: "duplicate entry"},
		{name: "dangling symlink out at the last component", plants: []plant{{"l", "../canary/new"}}, create: "l", err: "duplicate entry"},
		{name: "existing file", plants: []plant{{"f", ""}}, create: "f", err: "duplicate entry"},

		{name: "layering: symlinked parent replaced", overwrite: true, plants: []plant{{"l", "../canary"}}, create: "l/secret", want: "l/secret"},
		{name: "layering: symlink to / replaced", overwrite: true, plants: []plant{{"l", "/"}}, create: "l/tmp/x", want: "l/tmp/x"},
		{name: "layering: deep symlink replaced", overwrite: true, plants: []plant{{"a/b", "@canary"}}, create: "a/b/sub/x", want: "a/b/sub/x"},
		{name: "layering: file as parent replaced", overwrite: true, plants: []plant{{"f", ""}}, create: "f/x", want: "f/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, root, canary := setupCanary(t)
			for _, p := range tc.plants {
				path := filepath.Join(root, p.name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				var err error
				if p.link == "" {
					err = os.WriteFile(path, nil, 0o644)
				} else {
					err = os.Symlink(strings.Replace(p.link, "@canary", canary, 1), path)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			before := snapshot(t, canary)
			r := newTestResolver(t, root, tc.overwrite)
			got, err := createIn(r, tc.create)
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("create %.40q: made %+v, error %v; want an error with %q", tc.create, got, err, tc.err)
			case tc.err == "" && err != nil:
				t.Errorf("create %.40q: %v", tc.create, err)
			case tc.err == "" && (got.dev != idBelow(t, root, tc.want).dev || got.ino != idBelow(t, root, tc.want).ino):
				t.Errorf("create %.40q made %+v, want %.40s", tc.create, got, filepath.Join(root, tc.want))
			}
			checkContained(t, base, canary, before)
		})
	}
}

// TestResolverLookups covers the other ways names are resolved: a hard
// link's target (an existing regular file, reached without following a
// symlink) and removal (of a symlink, never of what it points to).
func TestResolverLookups(t *testing.T) {
	base, root, canary := setupCanary(t)
	for _, d := range []string{"d", "d/sub"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range [][2]string{{"out", "../canary"}, {"secret", "../canary/secret"}, {"d/sub/abs", canary}, {"d/up", "../../canary/secret"}} {
		if err := os.Symlink(l[1], filepath.Join(root, l[0])); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "d/f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, canary)
	r := newTestResolver(t, root, false)
	for _, tc := range []struct{ name, err string }{
		{"d/f", ""},
		{"out/secret", "parent out is a symlink"},
		{"secret", "not a regular file"},
		{"d/up", "not a regular file"},
		{"d/sub/abs/secret", "parent d/sub/abs is a symlink"},
		{"d", "not a regular file"},
		{"missing", "no such file"},
	} {
		fd, b, err := r.openFile(tc.name)
		if err == nil {
			p, _ := fdPath(fd)
			unix.Close(fd)
			if tc.err != "" || filepath.Join(p, b) != filepath.Join(root, tc.name) {
				t.Errorf("openFile(%s) found %s/%s", tc.name, p, b)
			}
		} else if tc.err == "" || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("openFile(%s): %v, want %q", tc.name, err, tc.err)
		}
	}
	// Removing a symlink to the canary, and a directory holding some,
	// removes the links only.
	for _, name := range []string{"out", "secret", "d"} {
		if err := r.removeAt(r.fd, name, name); err != nil {
			t.Fatalf("remove %s: %v", name, err)
		}
	}
	if names, _ := os.ReadDir(root); len(names) != 0 {
		t.Errorf("root still holds %v", names)
	}
	checkContained(t, base, canary, before)
}

// A parent replaced by a symlink after the resolver opened it redirects
// nothing: creates go on into the directory the descriptor holds (inside
// the root, wherever it was moved), and the next lookup of the name refuses
// the symlink.
func TestResolverParentSwapped(t *testing.T) {
	base, root, canary := setupCanary(t)
	before := snapshot(t, canary)
	r := newTestResolver(t, root, false)
	if _, err := createIn(r, "a/f1"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(root, "a"), filepath.Join(root, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../canary", filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	// The cached parent is the directory, not the name.
	got, err := createIn(r, "a/f2")
	if err != nil || got.path != filepath.Join(root, "moved/f2") {
		t.Fatalf("create through the cached parent: %+v, %v", got, err)
	}
	r.dropCache()
	if got, err := createIn(r, "a/f3"); err == nil || !strings.Contains(err.Error(), "parent a is a symlink") {
		t.Fatalf("create after the swap: made %+v, error %v", got, err)
	}
	checkContained(t, base, canary, before)
}

// The same race, run many times while another goroutine swaps a parent
// directory with a symlink out of the root (RENAME_EXCHANGE, atomic):
// every create that succeeds lands inside the root, and the canary never
// changes, whichever way each lookup falls.
func TestResolverParentSwapRace(t *testing.T) {
	base, root, canary := setupCanary(t)
	if err := os.Mkdir(filepath.Join(root, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../canary/sub", filepath.Join(root, "swap")); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, canary)
	r := newTestResolver(t, root, false)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if err := unix.Renameat2(unix.AT_FDCWD, filepath.Join(root, "a"), unix.AT_FDCWD, filepath.Join(root, "swap"), unix.RENAME_EXCHANGE); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	made, refused := 0, 0
	for i := range 3000 {
		r.dropCache()
		got, err := createIn(r, fmt.Sprintf("a/x/f%d", i))
		if err != nil {
			refused++
			continue
		}
		made++
		if !within(root, got.path) {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("create %d landed at %s, outside %s", i, got.path, root)
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d made, %d refused", made, refused)
	checkContained(t, base, canary, before)
}

// under reports whether the directory fd is the root (dev, ino) or below
// it, walking up by ".." from the descriptor: it holds whatever the path,
// however long, and whatever the resolver did to get there.
func under(t testing.TB, root unix.Stat_t, fd int) bool {
	t.Helper()
	cur, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { unix.Close(cur) }()
	for {
		var st unix.Stat_t
		if err := unix.Fstat(cur, &st); err != nil {
			t.Fatal(err)
		}
		if st.Dev == root.Dev && st.Ino == root.Ino {
			return true
		}
		up, err := unix.Openat(cur, "..", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		var ust unix.Stat_t
		if err := unix.Fstat(up, &ust); err != nil {
			t.Fatal(err)
		}
		unix.Close(cur)
		cur = up
		if ust.Dev == st.Dev && ust.Ino == st.Ino {
			return false // "/"
		}
	}
}

// FuzzResolve runs scripts of creates, symlinks, hard links and removals
// through the resolver, one operation a line ("d NAME" directory, "f NAME"
// file, "s NAME TARGET" symlink, "l NAME TARGET" hard link, "r NAME"
// remove, "c" drop the cached parent; "@" in a symlink target is the
// canary's absolute path), in strict and layering mode. Every directory
// the resolver hands out to create in is the root or below it, a hard link
// never reaches a file outside, and the canary directory beside the root
// never changes.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"s l ../canary\nf l/secret",
		"s l @\nd l/sub/x\nf l/sub/new",
		"s l /\nf l/tmp/x",
		"d a/b\ns a/b/c ../../../canary\nf a/b/c/x",
		"f x\nl h x\ns s ../canary/secret\nl h2 s\nl h3 ../canary/secret",
		"d a\ns a/l ..\nf a/l/x\nf a/l/l/x",
		"f a/x\nr a\ns a ../canary\nf a/y",
		"s d ../canary\nr d\nd d/sub",
		"d a/b\nc\nr a\ns a @\nf a/b/x",
		"s l l\nf l/x\nd ./l/./y",
		"f f\nd f/x\nf f/x/y",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, script string, overwrite bool) {
		base, root, canary := setupCanary(t)
		before := snapshot(t, canary)
		inCanary := map[[2]uint64]bool{}
		filepath.WalkDir(canary, func(p string, _ os.DirEntry, _ error) error {
			var st unix.Stat_t
			if unix.Lstat(p, &st) == nil {
				inCanary[[2]uint64{st.Dev, st.Ino}] = true
			}
			return nil
		})
		r := newTestResolver(t, root, overwrite)
		var rst unix.Stat_t
		if err := unix.Fstat(r.fd, &rst); err != nil {
			t.Fatal(err)
		}
		// parent resolves name's parent for a create, as the extractor
		// does, and checks where it is.
		parent := func(name string) (int, string, bool) {
			pfd, b, err := r.parent(name)
			if err != nil {
				return -1, "", false
			}
			if !under(t, rst, pfd) || strings.Contains(b, "/") || b == ".." || b == "." || b == "" {
				t.Fatalf("parent of %q: %q in a directory outside the root", name, b)
			}
			if overwrite {
				if err := r.removeAt(pfd, b, name); err != nil {
					return -1, "", false
				}
			}
			return pfd, b, true
		}
		lines := strings.Split(script, "\n")
		for _, line := range lines[:min(len(lines), 64)] {
			op, rest, _ := strings.Cut(line, " ")
			name, arg, _ := strings.Cut(rest, " ")
			if op == "c" {
				r.dropCache()
				continue
			}
			clean, err := CleanName(name)
			if err != nil || clean == "." {
				continue
			}
			switch op {
			case "d":
				if fd, err := r.openDir(clean, true); err == nil {
					if !under(t, rst, fd) {
						t.Fatalf("directory %q outside the root", name)
					}
					unix.Close(fd)
				}
			case "f":
				if pfd, b, ok := parent(clean); ok {
					nf := newFile{name: clean, base: b, mode: 0o600}
					if fd, err := nf.create(pfd); err == nil {
						unix.Close(fd)
					}
				}
			case "s":
				if pfd, b, ok := parent(clean); ok && arg != "" {
					unix.Symlinkat(strings.ReplaceAll(arg, "@", canary), pfd, b)
				}
			case "l":
				target, err := CleanName(arg)
				if err != nil || target == "." {
					continue
				}
				tfd, tb, err := r.openFile(target)
				if err != nil {
					continue
				}
				var st unix.Stat_t
				if err := unix.Fstatat(tfd, tb, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
					t.Fatal(err)
				}
				if !under(t, rst, tfd) || inCanary[[2]uint64{st.Dev, st.Ino}] {
					t.Fatalf("hard link target %q resolved outside the root", arg)
				}
				if pfd, b, ok := parent(clean); ok {
					unix.Linkat(tfd, tb, pfd, b, 0)
				}
				unix.Close(tfd)
			case "r":
				if pfd, b, err := r.parent(clean); err == nil {
					r.removeAt(pfd, b, clean)
				}
			}
		}
		checkContained(t, base, canary, before)
	})
}
