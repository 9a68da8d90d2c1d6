// Package testimage builds ACI test images around the static test program
// tests/testapp for end-to-end tests: an image directory (manifest and
// rootfs/) laid out under a test's temporary directory, and the .aci tar of
// it, made with nothing but the standard library as a user would with tar.
package testimage

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/acirun/acirun/internal/testenv"
)

// AppPath is where Build puts testapp in the rootfs.
const AppPath = "/testapp"

// Binary compiles tests/testapp (CGO_ENABLED=0, so static) into a temporary
// directory of t and returns its path. The go command's build cache makes
// repeated calls cheap.
func Binary(t testing.TB) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "testapp")
	if err := testenv.GoBuild("", out, "github.com/acirun/acirun/tests/testapp"); err != nil {
		t.Fatal(err)
	}
	return out
}

// Options adds content to a test image's rootfs besides testapp.
type Options struct {
	// Files maps a path in the rootfs to its content (mode 0644; parents 0755).
	Files map[string]string
	// Symlinks maps a path in the rootfs to a symlink target, taken as is:
	// hostile images use absolute or escaping targets on purpose.
	Symlinks map[string]string
	// Dirs are directories to create (mode 0755).
	Dirs []string
	// Copies maps a path in the rootfs to a file of the host copied there
	// with its mode (a host program and its libraries, say).
	Copies map[string]string
	// NoApp leaves testapp out (an image of files only).
	NoApp bool
}

// Build lays out an image directory at dir: dir/manifest holding manifest
// as given, and dir/rootfs holding testapp at AppPath (compiled from binary,
// or afresh when binary is "") plus what opt adds. It returns dir.
func Build(t testing.TB, dir string, manifest []byte, binary string, opt *Options) string {
	t.Helper()
	if opt == nil {
		opt = &Options{}
	}
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest"), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	inRoot := func(p string) string {
		if !filepath.IsAbs(p) || strings.Contains(p, "..") {
			t.Fatalf("testimage: path %q must be absolute without ..", p)
		}
		return filepath.Join(rootfs, p)
	}
	if !opt.NoApp {
		if binary == "" {
			binary = Binary(t)
		}
		b, err := os.ReadFile(binary)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(inRoot(AppPath), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range opt.Dirs {
		if err := os.MkdirAll(inRoot(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, content := range opt.Files {
		if err := os.MkdirAll(filepath.Dir(inRoot(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(inRoot(p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, src := range opt.Copies {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(inRoot(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(inRoot(p), b, st.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range opt.Symlinks {
		if err := os.MkdirAll(filepath.Dir(inRoot(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, inRoot(p)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Manifest returns a minimal image manifest named name whose app runs
// testapp with args as root, labelled for this machine's os and arch.
func Manifest(name string, args ...string) []byte {
	arch := runtime.GOARCH
	if arch == "arm64" {
		arch = "aarch64" // appc's name
	}
	m := map[string]any{
		"acKind":    "ImageManifest",
		"acVersion": "0.8.11",
		"name":      name,
		"labels": []map[string]string{
			{"name": "os", "value": "linux"},
			{"name": "arch", "value": arch},
		},
		"app": map[string]any{
			"exec":  append([]string{AppPath}, args...),
			"user":  "0",
			"group": "0",
		},
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		panic(err) // a map of strings always marshals
	}
	return b
}

// WriteACI writes the image directory dir as an uncompressed ACI (a tar of
// manifest and rootfs/) to out, the way `tar -C dir -cf out manifest rootfs`
// would.
func WriteACI(t testing.TB, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, top := range []string{"manifest", "rootfs"} {
		err := filepath.Walk(filepath.Join(dir, top), func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			name, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			link := ""
			if fi.Mode()&os.ModeSymlink != 0 {
				if link, err = os.Readlink(p); err != nil {
					return err
				}
			}
			hdr, err := tar.FileInfoHeader(fi, link)
			if err != nil {
				return err
			}
			hdr.Name = filepath.ToSlash(name)
			if fi.IsDir() {
				hdr.Name += "/"
			}
			hdr.Uname, hdr.Gname = "", ""
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if fi.Mode().IsRegular() {
				src, err := os.Open(p)
				if err != nil {
					return err
				}
				defer src.Close()
				if _, err := io.Copy(tw, src); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("write %s: %v", out, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("write %s: %v", out, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("write %s: %v", out, err)
	}
}
