package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/testenv"
	"golang.org/x/sys/unix"
)

// buildTestLayout makes a layout exercising what Build must keep. It reports
// whether xattrs could be set (the filesystem may not support user xattrs).
func buildTestLayout(t *testing.T) (dir string, xattrs bool) {
	t.Helper()
	dir = t.TempDir()
	arWriteLayout(t, dir)
	root := filepath.Join(dir, "rootfs")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(root, "bin/suid"), []byte("suid"), 0o755))
	must(unix.Chmod(filepath.Join(root, "bin/suid"), 0o4755))
	must(unix.Chmod(filepath.Join(root, "etc/empty"), 0o1777))
	must(unix.Mkfifo(filepath.Join(root, "etc/fifo"), 0o600))
	must(os.WriteFile(filepath.Join(root, "etc/owned"), []byte("owned"), 0o640))
	if os.Geteuid() == 0 {
		must(os.Lchown(filepath.Join(root, "etc/owned"), 1234, 5678))
		must(unix.Mknod(filepath.Join(root, "etc/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	}
	err := unix.Setxattr(filepath.Join(root, "bin/hello"), "user.acirun.test", []byte("value\x00with nul"), 0)
	if err == nil {
		must(unix.Setxattr(filepath.Join(root, "etc"), "user.acirun.dir", []byte("d"), 0))
		xattrs = true
	} else {
		testenv.UnmetPart(t, fmt.Sprintf("the xattr round trip: the file system of %s takes no user xattrs (%v)", root, err),
			"CI's temporary directory is on ext4, which takes user xattrs")
	}
	// Times with sub-second parts, set last (after the xattrs, which
	// do not change mtime, and after creating children).
	for i, p := range []string{"bin/hello", "bin/suid", "etc/owned", "etc/fifo", "etc", "bin", "."} {
		ts := time.Unix(1600000000+int64(i)*1000, 123456789)
		must(unix.Lutimes(filepath.Join(root, p), []unix.Timeval{unix.NsecToTimeval(ts.UnixNano()), unix.NsecToTimeval(ts.UnixNano())}))
	}
	return dir, xattrs
}

// buildFSEntry is what a round trip must preserve of one file.
type buildFSEntry struct {
	typ      byte
	mode     int64
	uid, gid int
	mtime    int64
	size     int64
	content  [32]byte
	link     string
	dev      string
	xattrs   string
}

func (e buildFSEntry) String() string {
	return fmt.Sprintf("type %c mode %o owner %d:%d mtime %d size %d link %q dev %s xattrs %s content %x",
		e.typ, e.mode, e.uid, e.gid, e.mtime, e.size, e.link, e.dev, e.xattrs, e.content[:4])
}

func buildXattrString(pax map[string]string) string {
	var kv []string
	for k, v := range pax {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			kv = append(kv, fmt.Sprintf("%s=%q", name, v))
		}
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// buildTreeFromArchive reads an ACI with WalkArchive into a map of entries.
func buildTreeFromArchive(t *testing.T, data []byte) (map[string]buildFSEntry, *ArchiveInfo) {
	t.Helper()
	tree := map[string]buildFSEntry{}
	info, err := WalkArchive(bytes.NewReader(data), func(hdr *tar.Header, body io.Reader) error {
		h := sha256.New()
		if _, err := io.Copy(h, body); err != nil {
			return err
		}
		e := buildFSEntry{typ: hdr.Typeflag, mode: hdr.Mode, uid: hdr.Uid, gid: hdr.Gid,
			mtime: hdr.ModTime.UnixNano(), size: hdr.Size, link: hdr.Linkname, xattrs: buildXattrString(hdr.PAXRecords)}
		copy(e.content[:], h.Sum(nil))
		if hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock {
			e.dev = fmt.Sprintf("%d,%d", hdr.Devmajor, hdr.Devminor)
		}
		tree[hdr.Name] = e
		return nil
	})
	if err != nil {
		t.Fatalf("WalkArchive of built archive: %v", err)
	}
	return tree, info
}

// buildTreeFromDir describes the files below dir/rootfs the way the archive
// should: mtimes to the second, hard links as links to the first name in
// walk order.
func buildTreeFromDir(t *testing.T, dir string) map[string]buildFSEntry {
	t.Helper()
	tree := map[string]buildFSEntry{}
	inodes := map[uint64]string{}
	err := filepath.WalkDir(filepath.Join(dir, "rootfs"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		e := buildFSEntry{mode: int64(st.Mode & 0o7777), uid: int(st.Uid), gid: int(st.Gid),
			mtime: time.Unix(st.Mtim.Unix()).Truncate(time.Second).UnixNano()}
		var content []byte
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			e.typ = tar.TypeReg
			if first, ok := inodes[st.Ino]; ok && st.Nlink > 1 {
				e.typ, e.link = tar.TypeLink, first
			} else {
				inodes[st.Ino] = rel
				content, err = os.ReadFile(p)
				if err != nil {
					return err
				}
				e.size = st.Size
			}
		case unix.S_IFDIR:
			e.typ = tar.TypeDir
		case unix.S_IFLNK:
			e.typ = tar.TypeSymlink
			e.link, _ = os.Readlink(p)
		case unix.S_IFIFO:
			e.typ = tar.TypeFifo
		case unix.S_IFCHR:
			e.typ = tar.TypeChar
			e.dev = fmt.Sprintf("%d,%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		e.content = sha256.Sum256(content)
		pax := map[string]string{}
		xs, err := buildXattrs(p)
		if err != nil {
			return err
		}
		for k, v := range xs {
			pax["SCHILY.xattr."+k] = v
		}
		e.xattrs = buildXattrString(pax)
		tree[rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func TestBuildRoundTrip(t *testing.T) {
	dir, xattrs := buildTestLayout(t)
	want := buildTreeFromDir(t, dir)
	if xattrs && !strings.Contains(want["rootfs/bin/hello"].xattrs, "user.acirun.test") {
		t.Fatalf("xattr not seen on the source: %v", want["rootfs/bin/hello"])
	}
	for _, comp := range []Compression{CompressionUnknown, CompressionGzip, CompressionNone, CompressionBzip2, CompressionXz} {
		t.Run(comp.String(), func(t *testing.T) {
			var buf bytes.Buffer
			if err := Build(dir, &buf, BuildOptions{Compression: comp}); err != nil {
				t.Fatal(err)
			}
			got, info := buildTreeFromArchive(t, buf.Bytes())
			wantComp := comp
			if comp == CompressionUnknown {
				wantComp = CompressionGzip
			}
			if info.Compression != wantComp {
				t.Errorf("compression %v, want %v", info.Compression, wantComp)
			}
			if string(info.ManifestJSON) != arManifest {
				t.Errorf("manifest %q", info.ManifestJSON)
			}
			for name, w := range want {
				g, ok := got[name]
				if !ok {
					t.Errorf("%s: missing from the archive", name)
					continue
				}
				if g != w {
					t.Errorf("%s:\n got %v\nwant %v", name, g, w)
				}
			}
			for name := range got {
				if _, ok := want[name]; !ok {
					t.Errorf("%s: in the archive but not in the tree", name)
				}
			}
			if got["rootfs/bin/hello2"].typ != tar.TypeLink || got["rootfs/bin/hello2"].link != "rootfs/bin/hello" {
				t.Errorf("hard link not kept: %v", got["rootfs/bin/hello2"])
			}
		})
	}
}

// TestBuildOrder checks the documented entry order: manifest, then a sorted
// depth-first walk of rootfs.
func TestBuildOrder(t *testing.T) {
	dir := t.TempDir()
	arWriteLayout(t, dir)
	if err := os.Mkdir(filepath.Join(dir, "rootfs/a"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"rootfs/b", "rootfs/a.b", "rootfs/a/z", "rootfs/A"} {
		if err := os.WriteFile(filepath.Join(dir, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := Build(dir, &buf, BuildOptions{Compression: CompressionNone}); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(hdr.Name, "long-directory-name") {
			names = append(names, hdr.Name)
		}
	}
	want := "manifest rootfs/ rootfs/A rootfs/a/ rootfs/a/z rootfs/a.b rootfs/b rootfs/bin/ rootfs/bin/hello rootfs/bin/hello2 rootfs/bin/hi rootfs/etc/ rootfs/etc/big rootfs/etc/empty/"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("order\n got %s\nwant %s", got, want)
	}
}

func TestBuildDeterministic(t *testing.T) {
	dir, _ := buildTestLayout(t)
	for _, comp := range []Compression{CompressionGzip, CompressionNone, CompressionBzip2, CompressionXz} {
		var a, b bytes.Buffer
		if err := Build(dir, &a, BuildOptions{Compression: comp}); err != nil {
			t.Fatal(err)
		}
		if err := Build(dir, &b, BuildOptions{Compression: comp}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%v: two builds of the same tree differ", comp)
		}
	}
}

// TestBuildGNUTar checks that GNU tar lists and extracts our output.
func TestBuildGNUTar(t *testing.T) {
	dir, xattrs := buildTestLayout(t)
	out := filepath.Join(t.TempDir(), "img.aci")
	if err := BuildFile(dir, out, BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("tar", "-tvf", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	listing, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("tar -tvf: %v\n%s", err, stderr.Bytes())
	}
	for _, want := range []string{
		"-rw-r--r-- ", " manifest\n",
		"rootfs/bin/hello2 link to rootfs/bin/hello\n",
		"rootfs/bin/hi -> hello\n",
		"-rwsr-xr-x ", "rootfs/bin/suid\n",
		"drwxrwxrwt ", "rootfs/etc/empty/\n",
		"prw------- ", "rootfs/etc/fifo\n",
		"2020-09-13 12:26 rootfs/bin/hello\n",
	} {
		if !bytes.Contains(listing, []byte(want)) {
			t.Errorf("tar -tvf output lacks %q:\n%s", want, listing)
		}
	}
	if !bytes.HasPrefix(listing, []byte("-rw-r--r--")) || !bytes.Contains(bytes.SplitN(listing, []byte("\n"), 2)[0], []byte(" manifest")) {
		t.Errorf("manifest is not the first entry:\n%s", listing)
	}

	// Extract with GNU tar and compare with the source tree.
	x := t.TempDir()
	arRun(t, "tar", "-C", x, "--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", out)
	if err := os.Remove(filepath.Join(x, "manifest")); err != nil {
		t.Fatal(err)
	}
	want, got := buildTreeFromDir(t, dir), buildTreeFromDir(t, x)
	for name, w := range want {
		if name == "rootfs" {
			continue // the extraction directory itself
		}
		if !xattrs {
			w.xattrs = ""
		}
		if g := got[name]; g != w {
			t.Errorf("%s after GNU tar extraction:\n got %v\nwant %v", name, g, w)
		}
	}
}

func TestBuildLayoutErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"extra top-level entries", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "README"), nil, 0o644)
			os.Mkdir(filepath.Join(dir, "rootfs2"), 0o755)
		}, `unexpected "README", "rootfs2" at the top level`},
		{"no manifest", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "manifest")) }, "no manifest file"},
		{"no rootfs", func(t *testing.T, dir string) { os.RemoveAll(filepath.Join(dir, "rootfs")) }, "no rootfs directory"},
		{"manifest is a directory", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "manifest"))
			os.Mkdir(filepath.Join(dir, "manifest"), 0o755)
		}, "manifest is not a regular file (a directory)"},
		{"manifest is a symlink", func(t *testing.T, dir string) {
			os.Rename(filepath.Join(dir, "manifest"), filepath.Join(dir, "rootfs/m"))
			os.Symlink("rootfs/m", filepath.Join(dir, "manifest"))
		}, "manifest is not a regular file (a symlink)"},
		{"rootfs is a symlink", func(t *testing.T, dir string) {
			os.Rename(filepath.Join(dir, "rootfs"), filepath.Join(t.TempDir(), "r"))
			os.Symlink("/", filepath.Join(dir, "rootfs"))
		}, "rootfs is not a directory (a symlink)"},
		{"invalid manifest", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "manifest"), []byte(`{"acKind":`), 0o644)
		}, "invalid image manifest"},
		{"manifest with a bad name", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "manifest"), []byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"Bad Name"}`), 0o644)
		}, "invalid image manifest:\nname: "},
		{"socket", func(t *testing.T, dir string) {
			l, err := net.Listen("unix", filepath.Join(dir, "rootfs/etc/sock"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
		}, "rootfs/etc/sock: a socket cannot be stored in an ACI"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			arWriteLayout(t, dir)
			tc.setup(t, dir)
			var buf bytes.Buffer
			err := Build(dir, &buf, BuildOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name the layout %s", err, dir)
			}
			if !strings.Contains(tc.name, "socket") && buf.Len() > 0 {
				t.Errorf("%d bytes written before the layout was checked", buf.Len())
			}
		})
	}
}

func TestBuildFile(t *testing.T) {
	dir := t.TempDir()
	arWriteLayout(t, dir)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "img.aci")
	if err := BuildFile(dir, out, BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o644 {
		t.Errorf("output mode %v, want 0644", fi.Mode().Perm())
	}

	// Existing output: refused without Overwrite, replaced with it.
	os.WriteFile(filepath.Join(dir, "rootfs/new"), []byte("new"), 0o644)
	err = BuildFile(dir, out, BuildOptions{})
	if err == nil || !strings.Contains(err.Error(), out+" already exists") {
		t.Fatalf("err = %v, want refusal naming %s", err, out)
	}
	if now, _ := os.ReadFile(out); !bytes.Equal(now, first) {
		t.Error("refused build changed the output")
	}
	if err := BuildFile(dir, out, BuildOptions{Overwrite: true, Compression: CompressionXz}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(out)
	info, err := ValidateArchive(f)
	f.Close()
	if err != nil || info.Compression != CompressionXz {
		t.Fatalf("overwritten output: %v, %v", info, err)
	}

	// A failing build leaves neither the output nor a temporary file.
	os.WriteFile(filepath.Join(dir, "manifest"), []byte("{"), 0o644)
	out2 := filepath.Join(outDir, "bad.aci")
	if err := BuildFile(dir, out2, BuildOptions{}); err == nil || !strings.Contains(err.Error(), "manifest") || !strings.Contains(err.Error(), "invalid JSON") {
		t.Fatalf("build with an invalid manifest: %v, want a refusal naming the manifest's JSON", err)
	}
	os.WriteFile(filepath.Join(dir, "manifest"), []byte(arManifest), 0o644)
	l, err := net.Listen("unix", filepath.Join(dir, "rootfs/zz.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := BuildFile(dir, out2, BuildOptions{}); err == nil || !strings.Contains(err.Error(), "zz.sock") {
		t.Fatalf("err = %v, want failure on the socket", err)
	}
	ents, _ := os.ReadDir(outDir)
	if len(ents) != 1 || ents[0].Name() != "img.aci" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("output directory holds %v after failed builds, want only img.aci", names)
	}

	// The output may not be inside the layout.
	err = BuildFile(dir, filepath.Join(dir, "rootfs/self.aci"), BuildOptions{})
	if err == nil || !strings.Contains(err.Error(), "inside the image layout") {
		t.Errorf("err = %v, want refusal of an output inside the layout", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "rootfs/self.aci")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output inside the layout was written: %v", err)
	}
}

// TestBuildRendered: a rendered rootfs is stored under a manifest without
// the dependencies and pathWhitelist it already reflects, and with every
// other field as it was; otherwise the manifest is stored byte for byte.
func TestBuildRendered(t *testing.T) {
	const full = `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/app",` +
		`"labels":[{"name":"version","value":"1.0"},{"name":"os","value":"linux"}],` +
		`"app":{"exec":["/bin/hello"],"user":"0","group":"0"},` +
		`"annotations":[{"name":"authors","value":"someone"}],` +
		`"dependencies":[{"imageName":"example.com/base","labels":[{"name":"version","value":"2"}]}],` +
		`"pathWhitelist":["/bin/hello","/etc/big"]}`
	for _, tc := range []struct {
		name     string
		manifest string
		rendered bool
		same     bool // stored byte for byte
	}{
		{"rendered, with dependencies and whitelist", full, true, false},
		{"not rendered", full, false, true},
		{"rendered, nothing to drop", arManifest, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			arWriteLayout(t, dir)
			if err := os.WriteFile(filepath.Join(dir, "manifest"), []byte(tc.manifest), 0o644); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := Build(dir, &buf, BuildOptions{Compression: CompressionNone, Rendered: tc.rendered}); err != nil {
				t.Fatalf("Build: %v", err)
			}
			tr := tar.NewReader(&buf)
			hdr, err := tr.Next()
			if err != nil || hdr.Name != ManifestEntry {
				t.Fatalf("first entry: %v, %v; want the manifest", hdr, err)
			}
			stored, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if tc.same {
				if string(stored) != tc.manifest {
					t.Errorf("stored manifest %s, want it unchanged: %s", stored, tc.manifest)
				}
				return
			}
			got, err := aci.ParseImageManifest(stored)
			if err != nil {
				t.Fatalf("stored manifest does not parse: %v\n%s", err, stored)
			}
			if len(got.Dependencies) != 0 || len(got.PathWhitelist) != 0 {
				t.Errorf("stored manifest keeps dependencies %v, pathWhitelist %v", got.Dependencies, got.PathWhitelist)
			}
			want, _ := aci.ParseImageManifest([]byte(tc.manifest))
			want.Dependencies, want.PathWhitelist = nil, nil
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			if !bytes.Equal(gj, wj) {
				t.Errorf("stored manifest\n%s\nwant the image's other fields unchanged\n%s", gj, wj)
			}
		})
	}
}
