package archive

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/acirun/acirun/internal/testenv"
	"golang.org/x/sys/unix"
)

// mergeLayers builds the two layers of an overlay in a test: lower is the
// layout's rootfs, upper an overlayfs upper directory beside it.
type mergeLayers struct {
	t            *testing.T
	lower, upper string
}

func (l mergeLayers) must(err error) {
	l.t.Helper()
	if err != nil {
		l.t.Fatal(err)
	}
}

// file writes content at rel below root (lower or upper), making parents.
func (l mergeLayers) file(root, rel, content string) {
	l.t.Helper()
	p := filepath.Join(root, rel)
	l.must(os.MkdirAll(filepath.Dir(p), 0o755))
	l.must(os.WriteFile(p, []byte(content), 0o644))
}

func (l mergeLayers) dir(root, rel string) {
	l.t.Helper()
	l.must(os.MkdirAll(filepath.Join(root, rel), 0o755))
}

// link makes newRel below newRoot a hard link of oldRel below oldRoot.
func (l mergeLayers) link(oldRoot, oldRel, newRoot, newRel string) {
	l.t.Helper()
	l.must(os.Link(filepath.Join(oldRoot, oldRel), filepath.Join(newRoot, newRel)))
}

func (l mergeLayers) symlink(root, target, rel string) {
	l.t.Helper()
	l.must(os.Symlink(target, filepath.Join(root, rel)))
}

// whiteout makes rel in upper an overlayfs whiteout, char device 0/0.
func (l mergeLayers) whiteout(rel string) {
	l.t.Helper()
	l.must(unix.Mknod(filepath.Join(l.upper, rel), unix.S_IFCHR, 0))
}

func (l mergeLayers) xattr(root, rel, name, value string) {
	l.t.Helper()
	l.must(unix.Lsetxattr(filepath.Join(root, rel), name, []byte(value), 0))
}

// mergeDescribe describes a tar entry for comparison: its type and what
// it holds, then its xattrs.
func mergeDescribe(hdr *tar.Header, body []byte) string {
	var s string
	switch hdr.Typeflag {
	case tar.TypeDir:
		s = "dir"
	case tar.TypeReg:
		s = "file " + string(body)
	case tar.TypeSymlink:
		s = "symlink " + hdr.Linkname
	case tar.TypeLink:
		s = "hardlink " + hdr.Linkname
	case tar.TypeChar:
		s = fmt.Sprintf("char %d,%d", hdr.Devmajor, hdr.Devminor)
	default:
		s = fmt.Sprintf("type %c", hdr.Typeflag)
	}
	if x := buildXattrString(hdr.PAXRecords); x != "" {
		s += " xattrs " + x
	}
	return s
}

// TestBuildMerge builds, for each case, an ACI from a lower tree (the
// layout's rootfs) and an overlayfs upper directory, reads the tar back
// with archive/tar and compares every entry below rootfs/ with what an
// overlay mount of the two shows.
func TestBuildMerge(t *testing.T) {
	testenv.NeedRoot(t, "whiteouts are character devices 0/0 (mknod) and overlayfs's attributes are trusted.* xattrs")
	const up = "upper"
	for _, tc := range []struct {
		name  string
		setup func(l mergeLayers)
		want  map[string]string // every entry below rootfs/, described by mergeDescribe
		// wantErr, when set, is what Build's error must contain besides
		// the upper path named by errPath.
		wantErr, errPath string
	}{{
		name: "merged directory",
		setup: func(l mergeLayers) {
			l.file(l.lower, "d/old", "old")
			l.file(l.lower, "d/both", "lower")
			l.file(l.upper, "d/both", "upper")
			l.file(l.upper, "d/new", "new")
		},
		want: map[string]string{"d/": "dir", "d/old": "file old", "d/both": "file upper", "d/new": "file new"},
	}, {
		name: "file whiteout",
		setup: func(l mergeLayers) {
			l.file(l.lower, "gone", "gone")
			l.file(l.lower, "kept", "kept")
			l.whiteout("gone")
			l.whiteout("never-in-lower")
		},
		want: map[string]string{"kept": "file kept"},
	}, {
		name: "directory whiteout",
		setup: func(l mergeLayers) {
			l.file(l.lower, "d/x", "x")
			l.file(l.lower, "d/sub/y", "y")
			l.file(l.lower, "kept", "kept")
			l.whiteout("d")
		},
		want: map[string]string{"kept": "file kept"},
	}, {
		name: "opaque directory",
		setup: func(l mergeLayers) {
			l.file(l.lower, "d/old", "old")
			l.file(l.lower, "d/sub/deep", "deep")
			l.file(l.lower, "d/both", "lower")
			l.file(l.upper, "d/both", "upper")
			l.file(l.upper, "d/new", "new")
			l.xattr(l.upper, "d", overlayOpaque, "y")
		},
		want: map[string]string{"d/": "dir", "d/both": "file upper", "d/new": "file new"},
	}, {
		name: "overlay attributes dropped, user attributes kept",
		setup: func(l mergeLayers) {
			l.file(l.lower, "lowerfile", "l")
			l.xattr(l.lower, "lowerfile", "user.lower", "kept")
			l.file(l.upper, "d/f", "f")
			l.xattr(l.upper, "d/f", "trusted.overlay.origin", "\x00\xfb")
			l.xattr(l.upper, "d/f", "user.mine", "kept")
			l.xattr(l.upper, "d", "trusted.overlay.impure", "y")
			l.xattr(l.upper, "d", "user.dir", "kept")
			l.xattr(l.upper, "d", overlayOpaque, "n") // not opaque: nothing hidden
			l.file(l.lower, "d/fromlower", "fl")
		},
		want: map[string]string{
			"lowerfile":   `file l xattrs user.lower="kept"`,
			"d/":          `dir xattrs user.dir="kept"`,
			"d/f":         `file f xattrs user.mine="kept"`,
			"d/fromlower": "file fl",
		},
	}, {
		name: "redirect_dir refused",
		setup: func(l mergeLayers) {
			l.file(l.lower, "elsewhere/x", "x")
			l.dir(l.upper, "d")
			l.xattr(l.upper, "d", overlayRedirect, "/elsewhere")
		},
		wantErr: overlayRedirect, errPath: "d",
	}, {
		name: "metacopy refused",
		setup: func(l mergeLayers) {
			l.file(l.lower, "d/f", "data")
			l.dir(l.upper, "d")
			l.must(os.WriteFile(filepath.Join(l.upper, "d/f"), nil, 0o600))
			l.xattr(l.upper, "d/f", overlayMetacopy, "")
		},
		wantErr: overlayMetacopy, errPath: "d/f",
	}, {
		name: "hard links inside the upper directory",
		setup: func(l mergeLayers) {
			l.file(l.upper, "a", "shared")
			l.dir(l.upper, "sub")
			l.link(l.upper, "a", l.upper, "sub/b")
		},
		want: map[string]string{"a": "file shared", "sub/": "dir", "sub/b": "hardlink rootfs/a"},
	}, {
		name: "hard links between the layers",
		setup: func(l mergeLayers) {
			// a1, a2: linked in lower, untouched: still one file.
			l.file(l.lower, "a1", "a")
			l.link(l.lower, "a1", l.lower, "a2")
			// b1 copied up (a new inode), b2 still lower's: two files.
			l.file(l.lower, "b1", "b")
			l.link(l.lower, "b1", l.lower, "b2")
			l.file(l.upper, "b1", "b changed")
			// c1 deleted: c2 is stored whole, not as a link to a name
			// that is not there.
			l.file(l.lower, "c1", "c")
			l.link(l.lower, "c1", l.lower, "c2")
			l.whiteout("c1")
			// An upper file linked to a lower one (one filesystem):
			// the same data under two names.
			l.file(l.lower, "d1", "d")
			l.link(l.lower, "d1", l.upper, "d2")
		},
		want: map[string]string{
			"a1": "file a", "a2": "hardlink rootfs/a1",
			"b1": "file b changed", "b2": "file b",
			"c2": "file c",
			"d1": "file d", "d2": "hardlink rootfs/d1",
		},
	}, {
		name: "file replaced by a directory and directory by a file",
		setup: func(l mergeLayers) {
			l.file(l.lower, "f", "was a file")
			l.file(l.upper, "f/inner", "inner")
			l.file(l.lower, "d/x", "x")
			l.file(l.lower, "d/sub/y", "y")
			l.file(l.upper, "d", "now a file")
		},
		want: map[string]string{"f/": "dir", "f/inner": "file inner", "d": "file now a file"},
	}, {
		name: "symlinks",
		setup: func(l mergeLayers) {
			l.file(l.lower, "target", "t")
			l.symlink(l.lower, "target", "kept")
			l.symlink(l.upper, "/abs/new", "new")
			// An upper symlink in place of a lower directory.
			l.file(l.lower, "wasdir/x", "x")
			l.symlink(l.upper, "target", "wasdir")
			// An upper directory in place of a lower symlink: nothing
			// of the lower link's target shows through.
			l.file(l.lower, "real/y", "y")
			l.symlink(l.lower, "real", "waslink")
			l.file(l.upper, "waslink/z", "z")
		},
		want: map[string]string{
			"target": "file t", "kept": "symlink target", "new": "symlink /abs/new",
			"wasdir": "symlink target",
			"real/":  "dir", "real/y": "file y",
			"waslink/": "dir", "waslink/z": "file z",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			layout := filepath.Join(base, "layout")
			l := mergeLayers{t: t, lower: filepath.Join(layout, RootfsEntry), upper: filepath.Join(base, up)}
			l.dir(base, "layout/"+RootfsEntry)
			l.dir(base, up)
			l.must(os.WriteFile(filepath.Join(layout, ManifestEntry), []byte(arManifest), 0o644))
			tc.setup(l)
			var buf bytes.Buffer
			err := Build(layout, &buf, BuildOptions{Compression: CompressionNone, Upper: l.upper})
			if tc.wantErr != "" {
				p := filepath.Join(l.upper, tc.errPath)
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), p+":") {
					t.Fatalf("Build: %v; want an error naming %s and %s", err, p, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			got := map[string]string{}
			tr := tar.NewReader(&buf)
			for {
				hdr, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("read the tar back: %v", err)
				}
				body, err := io.ReadAll(tr)
				if err != nil {
					t.Fatalf("read %s: %v", hdr.Name, err)
				}
				switch name, ok := strings.CutPrefix(hdr.Name, RootfsEntry+"/"); {
				case hdr.Name == ManifestEntry || hdr.Name == RootfsEntry+"/":
				case ok:
					got[name] = mergeDescribe(hdr, body)
				default:
					t.Errorf("entry %q outside rootfs/", hdr.Name)
				}
			}
			var names []string
			for n := range got {
				names = append(names, n)
			}
			for n := range tc.want {
				if _, ok := got[n]; !ok {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			for _, n := range names {
				if got[n] != tc.want[n] {
					t.Errorf("rootfs/%s: got %q, want %q", n, got[n], tc.want[n])
				}
			}
		})
	}
}
