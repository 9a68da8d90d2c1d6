package extract

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/testenv"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"
)

// ent is one tar entry of a test archive.
type ent struct {
	name, link string
	typ        byte
	mode       int64
	body       string
	size       int64 // announced size, if different from len(body)
	pax        map[string]string
	uid, gid   int
	devmaj     int64
	mtime      time.Time // default 2017-07-14T02:40:00Z
}

func file(name, body string) ent           { return ent{name: name, typ: tar.TypeReg, body: body} }
func dir(name string) ent                  { return ent{name: name, typ: tar.TypeDir} }
func symlink(name, target string) ent      { return ent{name: name, typ: tar.TypeSymlink, link: target} }
func hardlink(name, target string) ent     { return ent{name: name, typ: tar.TypeLink, link: target} }
func mkTar(t testing.TB, es ...ent) []byte { return mkTarBytes(t, es) }

func mkTarBytes(t testing.TB, es []ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{
			Name:       e.name,
			Linkname:   e.link,
			Typeflag:   e.typ,
			Mode:       e.mode,
			Uid:        e.uid,
			Gid:        e.gid,
			ModTime:    e.mtime,
			PAXRecords: e.pax,
			Devmajor:   e.devmaj,
			Format:     tar.FormatPAX,
		}
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1500000000, 0)
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if e.typ == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
			if e.size != 0 {
				h.Size = e.size
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("write header %q: %v", e.name, err)
		}
		if e.body != "" {
			if _, err := io.WriteString(tw, e.body); err != nil && e.size == 0 {
				t.Fatalf("write %q: %v", e.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil && !strings.Contains(err.Error(), "missed writing") {
		t.Fatalf("close tar: %v", err)
	}
	return buf.Bytes()
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// snapshot describes every file below dir (names, types, modes, owners,
// sizes, content hashes, link targets and mtimes) so that any change shows.
func snapshot(t testing.TB, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		line := fmt.Sprintf("%s %o %d:%d %d %d.%d", rel, st.Mode, st.Uid, st.Gid, st.Size, st.Mtim.Sec, st.Mtim.Nsec)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %x", sha256.Sum256(b))
		case unix.S_IFLNK:
			l, _ := os.Readlink(p)
			line += " -> " + l
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// setupCanary makes BASE/target (empty) and BASE/canary (a directory with a
// secret file and a subdirectory) and returns the three paths.
func setupCanary(t testing.TB) (base, target, canary string) {
	t.Helper()
	base = t.TempDir()
	target = filepath.Join(base, "target")
	canary = filepath.Join(base, "canary")
	for _, d := range []string{target, canary, filepath.Join(canary, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(canary, "secret"), []byte("do not touch"), 0o600); err != nil {
		t.Fatal(err)
	}
	return base, target, canary
}

func TestHostileArchives(t *testing.T) {
	testenv.NeedRoot(t, "to restore owners and make fifos as the store does")
	big := strings.Repeat("x", 300)
	type check func(t *testing.T, target string, res Result)
	cases := []struct {
		name    string
		data    func(t *testing.T, canary string) []byte // raw ACI-ish bytes (maybe compressed)
		opts    Options
		wantErr string // "" means the documented harmless outcome, checked by check
		check   check
	}{
		{name: "dotdot breakout", wantErr: `".." component`, data: func(t *testing.T, c string) []byte {
			return mkTar(t, file("../canary/secret", "pwned"))
		}},
		{name: "nested dotdot", wantErr: `".." component`, data: func(t *testing.T, c string) []byte {
			return mkTar(t, dir("a"), file("a/../../canary/x", "pwned"))
		}},
		{name: "absolute name", wantErr: "absolute name", data: func(t *testing.T, c string) []byte {
			return mkTar(t, file(c+"/secret", "pwned"))
		}},
		{name: "symlink then file through it", wantErr: "is a symlink", data: func(t *testing.T, c string) []byte {
			return mkTar(t, symlink("l", "../canary"), file("l/secret", "pwned"))
		}},
		{name: "absolute symlink then file through it", wantErr: "is a symlink", data: func(t *testing.T, c string) []byte {
			return mkTar(t, symlink("l", c), file("l/new", "pwned"))
		}},
		{name: "symlink to root then deep file", wantErr: "is a symlink", data: func(t *testing.T, c string) []byte {
			return mkTar(t, symlink("root", "/"), file("root/"+strings.TrimPrefix(c, "/")+"/secret", "pwned"))
		}},
		{name: "symlink to file then overwrite it", wantErr: "duplicate entry", data: func(t *testing.T, c string) []byte {
			return mkTar(t, symlink("l", "../canary/secret"), file("l", "pwned"))
		}},
		{name: "symlink then directory through it", wantErr: "is a symlink", data: func(t *testing.T, c string) []byte {
			return mkTar(t, symlink("l", "../canary"), dir("l/sub/newdir"))
		}},
		{name: "hardlink to outside", wantErr: `".." component`, data: func(t *testing.T, c string) []byte {
			return mkTar(t, hardlink("h", "../canary/secret"))
		}},
		{name: "hardlink absolute", wantErr: "absolute name", data: func(t *testing.T, c string) []byte {
			return mkTar(t, hardlink("h", c+"/secret"))
		}},
		{name: "hardlink to planted symlink", wantErr: "not an earlier regular file", data: func(t *testing.T, c string) []byte {
			return mkTar(t, symlink("s", "../canary/secret"), hardlink("h", "s"))
		}},
		{name: "hardlink through symlinked dir", wantErr: "not an earlier regular file", data: func(t *testing.T, c string) []byte {
			return mkTar(t, symlink("d", "../canary"), hardlink("h", "d/secret"))
		}},
		{name: "hardlink to later file", wantErr: "not an earlier regular file", data: func(t *testing.T, c string) []byte {
			return mkTar(t, hardlink("h", "f"), file("f", "x"))
		}},
		{name: "hardlink to directory", wantErr: "not an earlier regular file", data: func(t *testing.T, c string) []byte {
			return mkTar(t, dir("d"), hardlink("h", "d"))
		}},
		{name: "hardlink to itself", wantErr: "duplicate entry", data: func(t *testing.T, c string) []byte {
			return mkTar(t, file("f", "x"), hardlink("f", "f"))
		}},
		{name: "dir replaced by symlink", wantErr: "duplicate entry", data: func(t *testing.T, c string) []byte {
			return mkTar(t, dir("d"), symlink("d", "../canary"), file("d/secret", "pwned"))
		}},
		{name: "symlink replaced by dir", wantErr: "duplicate entry", data: func(t *testing.T, c string) []byte {
			return mkTar(t, symlink("d", "../canary"), dir("d"), file("d/secret", "pwned"))
		}},
		{name: "file then dir of same name", wantErr: "duplicate entry", data: func(t *testing.T, c string) []byte {
			return mkTar(t, file("f", "x"), dir("f"))
		}},
		{name: "duplicate regular file", wantErr: "duplicate entry", data: func(t *testing.T, c string) []byte {
			return mkTar(t, file("f", "x"), file("f", "y"))
		}},
		{name: "implicit parent turned into file", wantErr: "must stay a directory", data: func(t *testing.T, c string) []byte {
			return mkTar(t, file("a/b", "x"), file("a", "y"))
		}},
		{name: "file under a file", wantErr: "not a directory", data: func(t *testing.T, c string) []byte {
			return mkTar(t, file("f", "x"), file("f/g", "y"))
		}},
		{name: "truncated tar", wantErr: "unexpected EOF", data: func(t *testing.T, c string) []byte {
			b := mkTar(t, file("f", strings.Repeat("z", 5000)))
			return b[:512+2000]
		}},
		{name: "truncated gzip", wantErr: "unexpected EOF", data: func(t *testing.T, c string) []byte {
			b := gzipped(t, mkTar(t, file("f", strings.Repeat("0123456789", 50000))))
			return b[:len(b)/2]
		}},
		{name: "gzip bomb bounded by MaxBytes", opts: Options{MaxBytes: 1 << 20}, wantErr: "image content over the size limit", data: func(t *testing.T, c string) []byte {
			// 256 MiB of zeros in about 300 KiB: gzip members concatenated
			// (a multistream gzip) so that building it costs nothing.
			var raw bytes.Buffer
			tw := tar.NewWriter(&raw)
			tw.WriteHeader(&tar.Header{Name: "zeros", Mode: 0o644, Size: 256 << 20, Typeflag: tar.TypeReg})
			tw.Flush()
			b := gzipped(t, raw.Bytes())
			zeros := gzipped(t, make([]byte, 1<<20))
			for i := 0; i < 256; i++ {
				b = append(b, zeros...)
			}
			if len(b) > 1<<20 {
				t.Fatalf("bomb is %d bytes, want a small file", len(b))
			}
			return b
		}},
		{name: "entry count bomb", opts: Options{MaxEntries: 100}, wantErr: "more than 100 entries", data: func(t *testing.T, c string) []byte {
			var es []ent
			for i := 0; i < 1000; i++ {
				es = append(es, file(fmt.Sprintf("f%d", i), ""))
			}
			return gzipped(t, mkTar(t, es...))
		}},
		{name: "huge PAX header", wantErr: "too long", data: func(t *testing.T, c string) []byte {
			return hugePAX(t, 2<<20)
		}},
		{name: "overlong name", wantErr: "more than 4096", data: func(t *testing.T, c string) []byte {
			return mkTar(t, file(strings.Repeat("a/", 2100)+"f", "x"))
		}},
		{name: "overlong component", wantErr: "more than 255", data: func(t *testing.T, c string) []byte {
			return mkTar(t, file("d/"+big, "x"))
		}},
		{name: "overlong symlink target", wantErr: "more than 4096", data: func(t *testing.T, c string) []byte {
			return mkTar(t, symlink("l", strings.Repeat("x", 5000)))
		}},
		{name: "empty symlink target", wantErr: "empty target", data: func(t *testing.T, c string) []byte {
			return mkTar(t, symlink("l", ""))
		}},
		{name: "root as a file", wantErr: "root must be a directory", data: func(t *testing.T, c string) []byte {
			return mkTar(t, file(".", "x"))
		}},
		{name: "unknown entry type", wantErr: "unsupported entry type", data: func(t *testing.T, c string) []byte {
			return mkTar(t, ent{name: "v", typ: 'V'})
		}},
		{name: "size larger than content", wantErr: "unexpected EOF", data: func(t *testing.T, c string) []byte {
			b := mkTar(t, file("f", strings.Repeat("q", 600)))
			return b[:512+512] // header + one block of a two-block body, no trailer
		}},
		{name: "char device skipped", data: func(t *testing.T, c string) []byte {
			return mkTar(t, ent{name: "sda", typ: tar.TypeChar, mode: 0o666, devmaj: 8}, ent{name: "loop", typ: tar.TypeBlock, mode: 0o666, devmaj: 7})
		}, check: func(t *testing.T, target string, res Result) {
			if _, err := os.Lstat(filepath.Join(target, "sda")); !os.IsNotExist(err) {
				t.Errorf("device node was created: %v", err)
			}
			if strings.Join(res.SkippedDevices, ",") != "sda,loop" {
				t.Errorf("SkippedDevices = %q", res.SkippedDevices)
			}
		}},
		{name: "fifo created harmless", data: func(t *testing.T, c string) []byte {
			return mkTar(t, ent{name: "p", typ: tar.TypeFifo, mode: 0o620})
		}, check: func(t *testing.T, target string, res Result) {
			fi, err := os.Lstat(filepath.Join(target, "p"))
			if err != nil || fi.Mode().Type() != fs.ModeNamedPipe || fi.Mode().Perm() != 0o620 {
				t.Errorf("fifo: %v %v", fi, err)
			}
		}},
		{name: "setuid kept with owner", data: func(t *testing.T, c string) []byte {
			return mkTar(t, ent{name: "su", typ: tar.TypeReg, mode: 0o4755, body: "#!", uid: 0},
				ent{name: "sg", typ: tar.TypeDir, mode: 0o2775, gid: 50})
		}, check: func(t *testing.T, target string, res Result) {
			var st unix.Stat_t
			unix.Lstat(filepath.Join(target, "su"), &st)
			if st.Mode&0o7777 != 0o4755 || st.Uid != 0 {
				t.Errorf("setuid file: mode %o uid %d", st.Mode&0o7777, st.Uid)
			}
			unix.Lstat(filepath.Join(target, "sg"), &st)
			if st.Mode&0o7777 != 0o2775 || st.Gid != 50 {
				t.Errorf("setgid dir: mode %o gid %d", st.Mode&0o7777, st.Gid)
			}
		}},
		{name: "setuid dropped without ownership", opts: Options{NoOwnership: true}, data: func(t *testing.T, c string) []byte {
			return mkTar(t, ent{name: "su", typ: tar.TypeReg, mode: 0o6755, body: "#!", uid: 1234})
		}, check: func(t *testing.T, target string, res Result) {
			var st unix.Stat_t
			unix.Lstat(filepath.Join(target, "su"), &st)
			if st.Mode&0o7777 != 0o755 || st.Uid == 1234 {
				t.Errorf("mode %o uid %d", st.Mode&0o7777, st.Uid)
			}
		}},
		{name: "xattrs filtered", data: func(t *testing.T, c string) []byte {
			e := file("x", "data")
			e.pax = map[string]string{
				"SCHILY.xattr.user.keep":                "yes",
				"SCHILY.xattr.trusted.overlay.redirect": "/etc",
				"SCHILY.xattr.trusted.overlay.opaque":   "y",
				"SCHILY.xattr.security.selinux":         "system_u:object_r:shadow_t:s0",
				"SCHILY.xattr.system.posix_acl_access":  "\x02\x00\x00\x00",
			}
			return mkTar(t, e)
		}, check: func(t *testing.T, target string, res Result) {
			p := filepath.Join(target, "x")
			if _, err := unix.Lgetxattr(p, "trusted.overlay.redirect", nil); err == nil {
				t.Errorf("trusted.overlay.redirect was set")
			}
			if res.DroppedXattrs != 4 {
				t.Errorf("DroppedXattrs = %d, want 4", res.DroppedXattrs)
			}
			buf := make([]byte, 16)
			if n, err := unix.Lgetxattr(p, "user.keep", buf); err == nil && string(buf[:n]) != "yes" {
				t.Errorf("user.keep = %q", buf[:n])
			}
		}},
		{name: "dangling absolute symlink kept verbatim", data: func(t *testing.T, c string) []byte {
			return mkTar(t, symlink("etc-passwd", "../../../../etc/passwd"), symlink("abs", c+"/secret"))
		}, check: func(t *testing.T, target string, res Result) {
			if l, _ := os.Readlink(filepath.Join(target, "etc-passwd")); l != "../../../../etc/passwd" {
				t.Errorf("symlink target %q", l)
			}
		}},
		{name: "dot-slash names cleaned", data: func(t *testing.T, c string) []byte {
			return mkTar(t, dir("./a/"), file("./a//b", "ok"), hardlink("a/c", "./a/b"))
		}, check: func(t *testing.T, target string, res Result) {
			b, err := os.ReadFile(filepath.Join(target, "a/c"))
			if err != nil || string(b) != "ok" {
				t.Errorf("a/c: %q %v", b, err)
			}
		}},
	}
	if len(cases) < 25 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base, target, canary := setupCanary(t)
			before := snapshot(t, canary)
			data := tc.data(t, canary)
			r, err := decompress(data)
			var res Result
			if err == nil {
				res, err = tarChecked(t, r, target, tc.opts)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error = %v, want one containing %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Errorf("unexpected error: %v", err)
			} else if tc.check != nil {
				tc.check(t, target, res)
			}
			if after := snapshot(t, canary); after != before {
				t.Errorf("canary changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			names, _ := os.ReadDir(base)
			if len(names) != 2 {
				t.Errorf("base holds %d entries, want target and canary only", len(names))
			}
			var du int64
			filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
				if fi, err := os.Lstat(p); err == nil {
					du += fi.Size()
				}
				return nil
			})
			if du > 2<<20 {
				t.Errorf("target holds %d bytes", du)
			}
		})
	}
}

// hugePAX makes a tar whose first entry is a PAX extended header of n bytes
// (archive/tar refuses to write one that large, so the block is patched).
func hugePAX(t testing.TB, n int) []byte {
	rec := "comment=" + strings.Repeat("A", n)
	l := len(rec) + 2
	for len(fmt.Sprintf("%d %s\n", l, rec)) != l {
		l++
	}
	body := fmt.Sprintf("%d %s\n", l, rec)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "pax", Typeflag: tar.TypeReg, Size: int64(len(body)), Mode: 0o644, Format: tar.FormatUSTAR})
	io.WriteString(tw, body)
	tw.WriteHeader(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatUSTAR})
	tw.Close()
	b := buf.Bytes()
	b[156] = tar.TypeXHeader
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b[:512] {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// decompress undoes gzip when the data starts with its magic (the store
// uses archive.Decompress; this package does not depend on aci).
func decompress(b []byte) (io.Reader, error) {
	if bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		return gzip.NewReader(bytes.NewReader(b))
	}
	return bytes.NewReader(b), nil
}
