package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/aci"
)

const arManifest = `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/test"}`

// arEntry is one entry of a tar built in a test.
type arEntry struct {
	name     string
	typ      byte
	body     string
	linkname string
	pax      map[string]string
}

func arReg(name, body string) arEntry { return arEntry{name: name, typ: tar.TypeReg, body: body} }
func arDir(name string) arEntry       { return arEntry{name: name, typ: tar.TypeDir} }

// arTar writes entries as an uncompressed tar, end-of-archive marker
// included.
func arTar(t testing.TB, entries ...arEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Name: e.name, Typeflag: e.typ, Linkname: e.linkname, Mode: 0o644,
			ModTime: time.Unix(1700000000, 0), PAXRecords: e.pax,
		}
		if e.typ == tar.TypeDir {
			hdr.Mode = 0o755
		}
		if e.typ == tar.TypeXGlobalHeader {
			hdr = &tar.Header{Typeflag: e.typ, Name: e.name, PAXRecords: e.pax}
		}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if e.pax != nil {
			hdr.Format = tar.FormatPAX
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("write header %s: %v", e.name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func arGzip(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func arSHA512ID(b []byte) string {
	sum := sha512.Sum512(b)
	return "sha512-" + hex.EncodeToString(sum[:])
}

func arValidEntries() []arEntry {
	return []arEntry{
		arReg("manifest", arManifest),
		arDir("rootfs/"),
		arDir("rootfs/bin/"),
		arReg("rootfs/bin/hello", "#!/bin/sh\necho hello\n"),
		{name: "rootfs/bin/hi", typ: tar.TypeLink, linkname: "rootfs/bin/hello"},
		{name: "rootfs/bin/sh", typ: tar.TypeSymlink, linkname: "/bin/busybox"},
	}
}

func TestWalkArchiveValid(t *testing.T) {
	raw := arTar(t, arValidEntries()...)
	for _, tc := range []struct {
		name string
		data []byte
		comp Compression
	}{
		{"tar", raw, CompressionNone},
		{"gzip", arGzip(t, raw), CompressionGzip},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			info, err := WalkArchive(bytes.NewReader(tc.data), func(hdr *tar.Header, body io.Reader) error {
				names = append(names, hdr.Name)
				if hdr.Name == "rootfs/bin/hello" {
					b, err := io.ReadAll(body)
					if err != nil || string(b) != "#!/bin/sh\necho hello\n" {
						t.Errorf("body of %s = %q, %v", hdr.Name, b, err)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := arSHA512ID(raw); info.ID.String() != want {
				t.Errorf("ID = %s, want %s", info.ID, want)
			}
			if info.Compression != tc.comp {
				t.Errorf("Compression = %v, want %v", info.Compression, tc.comp)
			}
			if string(info.ManifestJSON) != arManifest {
				t.Errorf("ManifestJSON = %q", info.ManifestJSON)
			}
			if info.Entries != 6 || info.TarSize != int64(len(raw)) || info.ArchiveSize != int64(len(tc.data)) {
				t.Errorf("counts: entries %d tar %d archive %d; want 6 %d %d",
					info.Entries, info.TarSize, info.ArchiveSize, len(raw), len(tc.data))
			}
			want := "rootfs rootfs/bin rootfs/bin/hello rootfs/bin/hi rootfs/bin/sh"
			if got := strings.Join(names, " "); got != want {
				t.Errorf("fn saw %q, want %q", got, want)
			}
		})
	}
}

func TestWalkArchiveLinkTargetCleaned(t *testing.T) {
	raw := arTar(t,
		arDir("./"), arReg("./manifest", arManifest), arDir("./rootfs/"),
		arReg("./rootfs/a", "x"),
		arEntry{name: "./rootfs/b", typ: tar.TypeLink, linkname: "./rootfs/a"})
	var link string
	_, err := WalkArchive(bytes.NewReader(raw), func(hdr *tar.Header, _ io.Reader) error {
		if hdr.Typeflag == tar.TypeLink {
			link = hdr.Name + " -> " + hdr.Linkname
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if link != "rootfs/b -> rootfs/a" {
		t.Errorf("link seen as %q", link)
	}
}

func TestWalkArchiveCallbackError(t *testing.T) {
	boom := errors.New("boom")
	raw := arTar(t, arValidEntries()...)
	_, err := WalkArchive(bytes.NewReader(arGzip(t, raw)), func(hdr *tar.Header, _ io.Reader) error {
		if hdr.Name == "rootfs/bin/hello" {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), `"rootfs/bin/hello"`) {
		t.Fatalf("err = %v, want boom naming the entry", err)
	}
	var ae *ArchiveError
	if errors.As(err, &ae) {
		t.Errorf("callback error reported as ArchiveError: %v", err)
	}
}

func TestWalkArchiveCallbackTruncated(t *testing.T) {
	raw := arTar(t, arReg("manifest", arManifest), arDir("rootfs"), arReg("rootfs/a", strings.Repeat("a", 4000)))
	_, err := WalkArchive(bytes.NewReader(arGzip(t, raw[:3000])), func(hdr *tar.Header, body io.Reader) error {
		_, err := io.Copy(io.Discard, body)
		return err
	})
	var ae *ArchiveError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), `truncated tar stream in entry "rootfs/a"`) {
		t.Fatalf("err = %v, want an ArchiveError about the truncated stream", err)
	}
}

type arFailingReader struct {
	r   io.Reader
	n   int
	err error
}

func (f *arFailingReader) Read(b []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if len(b) > f.n {
		b = b[:f.n]
	}
	n, err := f.r.Read(b)
	f.n -= n
	return n, err
}

func TestWalkArchiveInputError(t *testing.T) {
	disk := errors.New("disk on fire")
	big := strings.Repeat("x", 1<<20)
	data := arGzip(t, arTar(t, arReg("manifest", arManifest), arDir("rootfs"), arReg("rootfs/big", big)))
	_, err := WalkArchive(&arFailingReader{r: bytes.NewReader(data), n: 600, err: disk}, nil)
	if !errors.Is(err, disk) {
		t.Fatalf("err = %v, want the input's error", err)
	}
	var ae *ArchiveError
	if errors.As(err, &ae) {
		t.Errorf("input error reported as ArchiveError: %v", err)
	}
}

func TestWalkArchiveBad(t *testing.T) {
	valid := arTar(t, arValidEntries()...)
	gz := arGzip(t, valid)
	// Two zero blocks end the archive; cut them off to make a tar that
	// stops cleanly at an entry boundary.
	noEnd := valid[:len(valid)-2*512]
	for len(noEnd) > 0 && bytes.Equal(noEnd[len(noEnd)-512:], make([]byte, 512)) {
		noEnd = noEnd[:len(noEnd)-512]
	}
	trailing := append(bytes.Clone(valid), make([]byte, 512)...)
	trailing[len(trailing)-100] = 'x'
	corrupt := bytes.Clone(gz)
	for i := 20; i < 40; i++ {
		corrupt[i] ^= 0x55
	}

	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"extra top-level entry", arTar(t, arReg("manifest", arManifest), arDir("rootfs/"), arReg("README", "hi")),
			`entry "README": unexpected top-level name "README"`},
		{"rootfsX", arTar(t, arReg("manifest", arManifest), arDir("rootfs/"), arReg("rootfsX/a", "")),
			`entry "rootfsX/a": unexpected top-level name "rootfsX"`},
		{"duplicate", arTar(t, arReg("manifest", arManifest), arDir("rootfs/"), arReg("rootfs/a", ""), arReg("./rootfs/a", "")),
			`entry "./rootfs/a": duplicate entry: "rootfs/a"`},
		{"duplicate manifest", arTar(t, arReg("manifest", arManifest), arDir("rootfs/"), arReg("manifest", arManifest)),
			`entry "manifest": duplicate entry`},
		{"duplicate rootfs", arTar(t, arReg("manifest", arManifest), arDir("rootfs/"), arDir("./rootfs")),
			`entry "./rootfs": duplicate entry: "rootfs"`},
		{"manifest is a directory", arTar(t, arDir("manifest/"), arDir("rootfs/")),
			`entry "manifest/": manifest is not a regular file (type directory)`},
		{"manifest is a symlink", arTar(t, arEntry{name: "manifest", typ: tar.TypeSymlink, linkname: "rootfs/m"}, arDir("rootfs/")),
			`entry "manifest": manifest is not a regular file (type symlink)`},
		{"below manifest", arTar(t, arReg("manifest", arManifest), arDir("rootfs/"), arReg("manifest/x", "")),
			`entry "manifest/x": entry below "manifest"`},
		{"rootfs is a file", arTar(t, arReg("manifest", arManifest), arReg("rootfs", "")),
			`entry "rootfs": rootfs is not a directory (type regular file)`},
		{"missing manifest", arTar(t, arDir("rootfs/"), arReg("rootfs/a", "")),
			`no manifest`},
		{"missing rootfs", arTar(t, arReg("manifest", arManifest)),
			`no rootfs`},
		{"rootfs only implied", arTar(t, arReg("manifest", arManifest), arReg("rootfs/a", "")),
			`no rootfs`},
		{"absolute path", arTar(t, arReg("manifest", arManifest), arDir("rootfs/"), arReg("/rootfs/etc/passwd", "")),
			`entry "/rootfs/etc/passwd": absolute path`},
		{"dot-dot", arTar(t, arReg("manifest", arManifest), arDir("rootfs/"), arReg("rootfs/../../etc/passwd", "")),
			`entry "rootfs/../../etc/passwd": ".." in path`},
		{"dot-dot inside rootfs", arTar(t, arReg("manifest", arManifest), arDir("rootfs/"), arReg("rootfs/a/../b", "")),
			`entry "rootfs/a/../b": ".." in path`},
		{"hard link outside", arTar(t, arReg("manifest", arManifest), arDir("rootfs/"),
			arEntry{name: "rootfs/a", typ: tar.TypeLink, linkname: "manifest"}),
			`entry "rootfs/a": hard link to "manifest", which is not below rootfs/`},
		{"hard link forward", arTar(t, arReg("manifest", arManifest), arDir("rootfs/"),
			arEntry{name: "rootfs/a", typ: tar.TypeLink, linkname: "rootfs/b"}, arReg("rootfs/b", "")),
			`entry "rootfs/a": hard link to "rootfs/b", which is not an earlier entry`},
		{"hard link to itself", arTar(t, arReg("manifest", arManifest), arDir("rootfs/"),
			arEntry{name: "rootfs/a", typ: tar.TypeLink, linkname: "rootfs/a"}),
			`entry "rootfs/a": hard link to "rootfs/a", which is not an earlier entry`},
		{"hard link to directory", arTar(t, arReg("manifest", arManifest), arDir("rootfs/"), arDir("rootfs/d"),
			arEntry{name: "rootfs/a", typ: tar.TypeLink, linkname: "rootfs/d"}),
			`entry "rootfs/a": hard link to directory "rootfs/d"`},
		{"hard link dot-dot", arTar(t, arReg("manifest", arManifest), arDir("rootfs/"),
			arEntry{name: "rootfs/a", typ: tar.TypeLink, linkname: "rootfs/../manifest"}),
			`entry "rootfs/a": hard link target "rootfs/../manifest": ".." in path`},
		{"empty symlink", arTar(t, arReg("manifest", arManifest), arDir("rootfs/"),
			arEntry{name: "rootfs/a", typ: tar.TypeSymlink}),
			`entry "rootfs/a": symlink with an empty target`},
		{"global header", arTar(t, arEntry{name: "g", typ: tar.TypeXGlobalHeader, pax: map[string]string{"uid": "0"}},
			arReg("manifest", arManifest), arDir("rootfs/")),
			`pax global header with record "uid"`},
		{"dot is a file", arTar(t, arReg(".", ""), arReg("manifest", arManifest), arDir("rootfs/")),
			`entry ".": top-level "." entry is not a directory`},
		{"no end-of-archive marker", noEnd,
			`truncated tar stream after entry "rootfs/bin/sh": no end-of-archive marker`},
		{"data after end", trailing,
			`data after the end-of-archive marker at offset`},
		{"truncated tar in padding", valid[:700],
			`truncated tar stream after entry "manifest": no end-of-archive marker`},
		{"truncated tar in body", arTar(t, arReg("manifest", arManifest), arDir("rootfs"), arReg("rootfs/a", strings.Repeat("a", 4000)))[:3000],
			`truncated tar stream in or after entry "rootfs/a" (offset 3000 of the tar stream): unexpected EOF`},
		{"truncated tar in header", valid[:1024+100],
			`truncated tar stream in or after entry "manifest"`},
		{"truncated gzip", gz[:len(gz)/2],
			`truncated gzip stream`},
		{"gzip without trailer", gz[:len(gz)-4],
			`truncated gzip stream`},
		{"corrupt gzip", corrupt,
			`corrupt gzip stream`},
		{"garbage", []byte(strings.Repeat("garbage ", 100)),
			`not an ACI: unrecognised format`},
		{"empty file", nil,
			`not an ACI: empty file`},
		{"gzip header only", []byte{0x1f, 0x8b, 8},
			`not an ACI: truncated gzip header`},
		{"bad gzip header", []byte{0x1f, 0x8b, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0},
			`not an ACI: gzip: invalid header`},
		{"bad xz header", []byte{0xfd, '7', 'z', 'X', 'Z', 0, 9, 9, 9, 9, 9, 9, 9, 9},
			`not an ACI: xz: `},
		{"bzip2 garbage", []byte("BZh9 this is not bzip2 data at all"),
			`corrupt bzip2 stream at the start`},
		{"gzip of garbage", arGzip(t, []byte(strings.Repeat("garbage ", 100))),
			`invalid tar stream at the start (offset 512 of the tar stream): archive/tar: invalid tar header`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := WalkArchive(bytes.NewReader(tc.data), nil)
			if err == nil {
				t.Fatalf("accepted (ID %s), want error containing %q", info.ID, tc.want)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\n does not contain %q", err, tc.want)
			}
			var ae *ArchiveError
			if !errors.As(err, &ae) {
				t.Errorf("error %v is not an *ArchiveError", err)
			}
		})
	}
}

func TestWalkArchiveManifestLimit(t *testing.T) {
	big := strings.Repeat(" ", aci.MaxManifestSize+1)
	_, err := WalkArchive(bytes.NewReader(arTar(t, arReg("manifest", big), arDir("rootfs"))), nil)
	if err == nil || !strings.Contains(err.Error(), `entry "manifest": manifest is 4194305 bytes, more than the limit of 4194304`) {
		t.Fatalf("err = %v", err)
	}
}

func TestWalkArchiveGlobalComment(t *testing.T) {
	raw := arTar(t, append([]arEntry{{name: "pax_global_header", typ: tar.TypeXGlobalHeader,
		pax: map[string]string{"comment": "0123abc"}}}, arValidEntries()...)...)
	info, err := ValidateArchive(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if info.Entries != 6 {
		t.Errorf("Entries = %d, want 6", info.Entries)
	}
}

// TestWalkArchiveGNUTar makes ACIs with the system's GNU tar and compressors,
// the way a user would, and checks that they validate and get the ID that
// the matching `-dc | sha512sum` pipeline computes.
func TestWalkArchiveGNUTar(t *testing.T) {
	if _, err := exec.LookPath("tar"); err != nil {
		t.Fatal("GNU tar is required for this test: ", err)
	}
	src := t.TempDir()
	arWriteLayout(t, src)
	out := t.TempDir()
	for _, tc := range []struct {
		name   string
		args   []string
		decomp string // program to decompress with for the reference ID
		comp   Compression
	}{
		{"tar-czf", []string{"-czf"}, "gzip", CompressionGzip},
		{"tar-cjf", []string{"-cjf"}, "bzip2", CompressionBzip2},
		{"tar-cJf", []string{"-cJf"}, "xz", CompressionXz},
		{"tar-cf-gnu", []string{"--format=gnu", "-cf"}, "", CompressionNone},
		{"tar-cf-posix", []string{"--format=posix", "-cf"}, "", CompressionNone},
		{"tar-czf-posix-xattrs", []string{"--format=posix", "--xattrs", "-czf"}, "gzip", CompressionGzip},
		{"tar-czf-dot", []string{"-czf"}, "gzip", CompressionGzip},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.decomp != "" {
				if _, err := exec.LookPath(tc.decomp); err != nil {
					t.Fatalf("%s is required for this test: %v", tc.decomp, err)
				}
			}
			file := filepath.Join(out, tc.name+".aci")
			args := append([]string{"-C", src}, tc.args...)
			args = append(args, file)
			if strings.HasSuffix(tc.name, "-dot") {
				args = append(args, ".")
			} else {
				args = append(args, "manifest", "rootfs")
			}
			arRun(t, "tar", args...)
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			plain := data
			if tc.decomp != "" {
				plain = arRunOut(t, data, tc.decomp, "-dc")
			}
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			info, err := ValidateArchive(f)
			if err != nil {
				t.Fatal(err)
			}
			if want := arSHA512ID(plain); info.ID.String() != want {
				t.Errorf("ID = %s\nwant %s (%s -dc | sha512sum)", info.ID, want, tc.decomp)
			}
			if info.Compression != tc.comp {
				t.Errorf("Compression = %v, want %v", info.Compression, tc.comp)
			}
			if info.TarSize != int64(len(plain)) {
				t.Errorf("TarSize = %d, want %d", info.TarSize, len(plain))
			}
			if string(info.ManifestJSON) != arManifest {
				t.Errorf("manifest = %q", info.ManifestJSON)
			}
		})
	}
}

// arWriteLayout fills dir with a small image layout.
func arWriteLayout(t testing.TB, dir string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "manifest"), []byte(arManifest), 0o644))
	must(os.MkdirAll(filepath.Join(dir, "rootfs/bin"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "rootfs/etc/empty"), 0o700))
	must(os.WriteFile(filepath.Join(dir, "rootfs/bin/hello"), []byte("#!/bin/sh\necho hello\n"), 0o755))
	must(os.Link(filepath.Join(dir, "rootfs/bin/hello"), filepath.Join(dir, "rootfs/bin/hello2")))
	must(os.Symlink("hello", filepath.Join(dir, "rootfs/bin/hi")))
	must(os.WriteFile(filepath.Join(dir, "rootfs/etc/big"), bytes.Repeat([]byte("0123456789abcdef"), 1<<16), 0o600))
	long := filepath.Join(dir, "rootfs", strings.Repeat("long-directory-name/", 8))
	must(os.MkdirAll(long, 0o755))
	must(os.WriteFile(filepath.Join(long, strings.Repeat("f", 120)), []byte("deep"), 0o644))
}

func arRun(t testing.TB, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func arRunOut(t testing.TB, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

func TestReadImage(t *testing.T) {
	raw := arTar(t, arValidEntries()...)
	m, info, err := ReadImage(bytes.NewReader(arGzip(t, raw)))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name.String() != "example.com/test" || info.ID.String() != arSHA512ID(raw) {
		t.Errorf("got name %v ID %v", m.Name, info.ID)
	}
	if !info.ID.IsFull() || len(info.ID.Short()) != aci.ShortImageIDLen {
		t.Errorf("ID %v is not a full ImageID", info.ID)
	}

	bad := arTar(t, arReg("manifest", `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"Not A Name"}`), arDir("rootfs"))
	_, _, err = ReadImage(bytes.NewReader(bad))
	var ae *ArchiveError
	var el aci.ErrorList
	if !errors.As(err, &ae) || !errors.As(err, &el) || !strings.Contains(err.Error(), `entry "manifest": invalid image manifest: name: `) {
		t.Fatalf("err = %v, want an ArchiveError wrapping the manifest's ErrorList", err)
	}

	file := filepath.Join(t.TempDir(), "x.aci")
	os.WriteFile(file, bad, 0o644)
	if _, _, err := OpenImage(file); err == nil || !strings.HasPrefix(err.Error(), file+": ") {
		t.Errorf("OpenImage error %v does not start with the file name", err)
	}
}

func TestWalkArchiveEntryLimit(t *testing.T) {
	entries := []arEntry{arReg("manifest", arManifest), arDir("rootfs/")}
	for i := range 10 {
		entries = append(entries, arReg("rootfs/"+strconv.Itoa(i), ""))
	}
	raw := arTar(t, entries...)
	if _, err := walkArchive(bytes.NewReader(raw), nil, walkConfig{maxEntries: 12}); err != nil {
		t.Fatalf("12 entries refused with a limit of 12: %v", err)
	}
	_, err := walkArchive(bytes.NewReader(raw), nil, walkConfig{maxEntries: 11})
	if want := `entry "rootfs/9": more than 11 entries in the archive`; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

// TestWalkArchiveAbortPipeline stops walks of archives larger than one
// pipeline chunk early, with the producer goroutine running, and checks
// that nothing is left behind.
func TestWalkArchiveAbortPipeline(t *testing.T) {
	entries := []arEntry{arReg("manifest", arManifest), arDir("rootfs/")}
	body := strings.Repeat("0123456789abcdef", 4096)
	for i := range 200 {
		entries = append(entries, arReg("rootfs/f"+strconv.Itoa(i), body))
	}
	good := arTar(t, entries...)
	bad := arTar(t, append(entries, arReg("extra", ""))...)
	before := runtime.NumGoroutine()
	for _, data := range [][]byte{good, arGzip(t, good)} {
		info, err := ValidateArchive(bytes.NewReader(data))
		if err != nil || info.ID.String() != arSHA512ID(good) || info.Entries != 202 {
			t.Fatalf("valid large archive: %v, %+v", err, info)
		}
		stop := errors.New("stop")
		_, err = WalkArchive(bytes.NewReader(data), func(hdr *tar.Header, _ io.Reader) error {
			if hdr.Name == "rootfs/f20" {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) {
			t.Fatalf("err = %v, want the callback's", err)
		}
	}
	for _, data := range [][]byte{bad, arGzip(t, bad)} {
		if _, err := ValidateArchive(bytes.NewReader(data)); err == nil || !strings.Contains(err.Error(), `entry "extra"`) {
			t.Fatalf("err = %v, want the extra entry named", err)
		}
	}
	// stop returns once the goroutines have signalled their end, a moment
	// before the runtime has retired them: give them that moment.
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(2 * time.Second); after > before && time.Now().Before(deadline); after = runtime.NumGoroutine() {
		time.Sleep(time.Millisecond)
	}
	if after > before {
		t.Errorf("%d goroutines before, %d after: the producer leaked", before, after)
	}
}

// TestWalkArchiveTrailerBomb: zeros after the end-of-archive marker are
// hashed (they are part of the image ID) but only up to a bound, so a small
// gzip of endless zeros cannot make a reader hash gigabytes.
func TestWalkArchiveTrailerBomb(t *testing.T) {
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	tw.WriteHeader(&tar.Header{Name: "manifest", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("{}"))
	tw.WriteHeader(&tar.Header{Name: "rootfs/", Mode: 0o755, Typeflag: tar.TypeDir})
	tw.Close()
	for _, tc := range []struct {
		pad  int
		fail bool
	}{{10 << 10, false}, {maxTrailer - 4096, false}, {maxTrailer + 1<<20, true}} {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(tarball.Bytes())
		zw.Write(make([]byte, tc.pad))
		zw.Close()
		_, err := WalkArchive(bytes.NewReader(gz.Bytes()), func(*tar.Header, io.Reader) error { return nil })
		var ae *ArchiveError
		switch {
		case tc.fail && (!errors.As(err, &ae) || !strings.Contains(err.Error(), "zero padding")):
			t.Errorf("padding %d: want an ArchiveError about zero padding, got %v", tc.pad, err)
		case !tc.fail && err != nil:
			t.Errorf("padding %d: %v", tc.pad, err)
		}
	}
}
