package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// storeWithVersions fetches example.com/hello 1.0.0 and 2.0.0 into a new
// data directory and returns it with their full IDs.
func storeWithVersions(t *testing.T) (data, v1, v2 string) {
	t.Helper()
	data = t.TempDir()
	ids := make([]string, 2)
	for i, v := range []string{"1.0.0", "2.0.0"} {
		img := filepath.Join(t.TempDir(), "hello.aci")
		mustRun(t, "image", "build", imageDir(t, strings.Replace(helloManifest, "1.0.0", v, 1)), img)
		ids[i] = strings.TrimSpace(mustRun(t, "--dir", data, "fetch", "--full", "--insecure-options=image", img).stdout)
	}
	return data, ids[0], ids[1]
}

// TestImageCommandsTakeNames: every image command finds a stored image by
// its name and version as well as by its ID; a name that fits two images
// is refused with both IDs, and nothing is done.
func TestImageCommandsTakeNames(t *testing.T) {
	data, v1, v2 := storeWithVersions(t)
	out := t.TempDir()
	mustRun(t, "--dir", data, "image", "export", "example.com/hello:2.0.0", filepath.Join(out, "v2.aci"))
	if r := mustRun(t, "image", "validate", filepath.Join(out, "v2.aci")); !strings.Contains(r.stdout, v2) {
		t.Errorf("export by name wrote another image: %s", r.stdout)
	}
	mustRun(t, "--dir", data, "image", "render", "example.com/hello:1.0.0,os=linux", filepath.Join(out, "render"))
	mustRun(t, "--dir", data, "image", "extract", "example.com/hello:1.0.0", filepath.Join(out, "extract"))
	if r := mustRun(t, "--dir", data, "image", "verify", "example.com/hello:2.0.0"); !strings.Contains(r.stdout, v2[:len("sha512-")+32]+": ok") {
		t.Errorf("verify by name: %q", r.stdout)
	}
	for _, args := range [][]string{
		{"image", "rm", "example.com/hello"},
		{"image", "export", "example.com/hello", filepath.Join(out, "x.aci")},
		{"image", "extract", "example.com/hello", filepath.Join(out, "x")},
		{"image", "render", "example.com/hello", filepath.Join(out, "x")},
		{"image", "cat-manifest", "example.com/hello"},
		{"image", "verify", "example.com/hello"},
	} {
		r := acirun(t, append([]string{"--dir", data}, args...)...)
		if r.code != 254 || !strings.Contains(r.stderr, v1[:len("sha512-")+32]+" (example.com/hello:1.0.0)") || !strings.Contains(r.stderr, v2[:len("sha512-")+32]) {
			t.Errorf("acirun %s: exit %d, stderr %q; want 254 and both candidates", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	for _, p := range []string{"x.aci", "x"} {
		if _, err := os.Lstat(filepath.Join(out, p)); !os.IsNotExist(err) {
			t.Errorf("an ambiguous name left %s", p)
		}
	}
	if r := acirun(t, "--dir", data, "image", "rm", "example.com/hello:3.0"); r.code != 254 || !strings.Contains(r.stderr, "acirun fetch example.com/hello:3.0") {
		t.Errorf("rm of a name not stored: exit %d, stderr %q", r.code, r.stderr)
	}
	// "latest" is the newest; rm by name removes that one only.
	if r := mustRun(t, "--dir", data, "image", "rm", "example.com/hello:latest"); !strings.Contains(r.stdout, v2[:len("sha512-")+32]) {
		t.Errorf("rm example.com/hello:latest: %q, want %s removed", r.stdout, v2)
	}
	r := mustRun(t, "--dir", data, "image", "cat-manifest", "example.com/hello")
	if !strings.Contains(r.stdout, `"value": "1.0.0"`) {
		t.Errorf("the one image left, by name: %s", r.stdout)
	}
}

// TestCatManifestOfStoredImage: cat-manifest prints the manifest of a
// stored image, by ID or name, as of a file; an existing path is a file.
func TestCatManifestOfStoredImage(t *testing.T) {
	data, v1, _ := storeWithVersions(t)
	byID := mustRun(t, "--dir", data, "image", "cat-manifest", v1[:20]).stdout
	byName := mustRun(t, "--dir", data, "image", "cat-manifest", "example.com/hello:1.0.0").stdout
	file := filepath.Join(t.TempDir(), "hello.aci")
	mustRun(t, "image", "build", imageDir(t, helloManifest), file)
	fromFile := mustRun(t, "image", "cat-manifest", file).stdout
	if byID != byName || byID != fromFile {
		t.Errorf("by ID:\n%s\nby name:\n%s\nfrom the file:\n%s", byID, byName, fromFile)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(byID), &m); err != nil || m["name"] != "example.com/hello" {
		t.Errorf("cat-manifest: %v\n%s", err, byID)
	}
	compact := mustRun(t, "--dir", data, "image", "cat-manifest", "--pretty-print=false", v1).stdout
	if strings.Count(compact, "\n") != 1 || !strings.Contains(compact, `"name":"example.com/hello"`) {
		t.Errorf("--pretty-print=false: %q", compact)
	}
	// A file whose name looks like an image name is read as the file.
	dir := t.TempDir()
	mustRun(t, "image", "build", imageDir(t, strings.Replace(helloManifest, "example.com/hello", "example.com/other", 1)), filepath.Join(dir, "example.com"))
	got := sh(t, dir, acirunBin+" --dir "+data+" image cat-manifest example.com")
	if !strings.Contains(got, `"name": "example.com/other"`) {
		t.Errorf("cat-manifest of the file ./example.com: %s", got)
	}
}

// TestExtractRenderFlags: --rootfs-only writes only the rootfs' contents;
// an existing non-empty DIR is refused (and untouched) unless --overwrite,
// which replaces it whole.
func TestExtractRenderFlags(t *testing.T) {
	data, _, _ := storeWithVersions(t)
	for _, cmd := range []string{"extract", "render"} {
		t.Run(cmd, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			mustRun(t, "--dir", data, "image", cmd, "example.com/hello:1.0.0", dir)
			for _, p := range []string{"manifest", "rootfs/bin/hello", "rootfs/etc/motd.sym"} {
				if _, err := os.Lstat(filepath.Join(dir, p)); err != nil {
					t.Errorf("image %s: %v", cmd, err)
				}
			}
			r := acirun(t, "--dir", data, "image", cmd, "--rootfs-only", "example.com/hello:2.0.0", dir)
			if r.code != 254 || !strings.Contains(r.stderr, dir+" exists and is not empty") || !strings.Contains(r.stderr, "--overwrite") {
				t.Errorf("into a non-empty DIR: exit %d, stderr %q", r.code, r.stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "manifest")); err != nil {
				t.Errorf("a refused %s touched DIR: %v", cmd, err)
			}
			mustRun(t, "--dir", data, "image", cmd, "--rootfs-only", "--overwrite", "example.com/hello:2.0.0", dir)
			ents, _ := os.ReadDir(dir)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			if strings.Join(names, " ") != "bin etc" {
				t.Errorf("after --rootfs-only --overwrite DIR holds %v, want bin etc", names)
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".*")); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}
