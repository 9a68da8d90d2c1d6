package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const helloManifest = `{
  "acKind": "ImageManifest",
  "acVersion": "0.8.11",
  "name": "example.com/hello",
  "labels": [{"name": "version", "value": "1.0.0"}, {"name": "os", "value": "linux"}, {"name": "arch", "value": "amd64"}],
  "app": {"exec": ["/bin/hello"], "user": "0", "group": "0",
          "ports": [{"name": "www", "protocol": "tcp", "port": 8080}]}
}`

// imageDir lays out DIR/manifest and DIR/rootfs with a few kinds of entry.
func imageDir(t *testing.T, manifest string) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "manifest"), []byte(manifest), 0o644))
	root := filepath.Join(dir, "rootfs")
	must(t, os.MkdirAll(filepath.Join(root, "bin"), 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "bin", "hello"), []byte("#!/bin/sh\necho hello\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "etc", "motd"), []byte("welcome\n"), 0o644))
	must(t, os.Link(filepath.Join(root, "etc", "motd"), filepath.Join(root, "etc", "motd.link")))
	must(t, os.Symlink("motd", filepath.Join(root, "etc", "motd.sym")))
	return dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestPlainTarImagesValidate checks that ACIs made with GNU tar and each of
// its compressions validate, with the ID that the plain tools compute.
func TestPlainTarImagesValidate(t *testing.T) {
	dir := imageDir(t, helloManifest)
	cases := []struct{ name, create, cat string }{
		{"hello.aci", "tar -cf", "cat"},
		{"hello-gz.aci", "tar -czf", "gzip -dc"},
		{"hello-bz2.aci", "tar -cjf", "bzip2 -dc"},
		{"hello-xz.aci", "tar -cJf", "xz -dc"},
		{"hello-posix.aci", "tar --format=posix -czf", "gzip -dc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), tc.name)
			sh(t, dir, tc.create+" "+out+" manifest rootfs")
			want := "sha512-" + strings.Fields(sh(t, dir, tc.cat+" "+out+" | sha512sum"))[0]
			r := mustRun(t, "image", "validate", out)
			if got := strings.TrimSpace(r.stdout); got != out+": ok "+want {
				t.Errorf("validate printed %q, want %q", got, out+": ok "+want)
			}
		})
	}
}

// TestBuildListsWithGNUTar builds with our builder and reads the result back
// with GNU tar and with validate.
func TestBuildListsWithGNUTar(t *testing.T) {
	dir := imageDir(t, helloManifest)
	for _, comp := range []string{"gzip", "none", "bzip2", "xz"} {
		t.Run(comp, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "hello.aci")
			mustRun(t, "image", "build", "--compression="+comp, dir, out)
			listing := sh(t, dir, "tar -tvf "+out)
			for _, want := range []string{"manifest", "rootfs/bin/hello", "rootfs/etc/motd.link link to rootfs/etc/motd", "rootfs/etc/motd.sym -> motd"} {
				if !strings.Contains(listing, want) {
					t.Errorf("tar -tvf lacks %q:\n%s", want, listing)
				}
			}
			r := mustRun(t, "image", "validate", out)
			if !strings.HasPrefix(r.stdout, out+": ok sha512-") {
				t.Errorf("validate: %q", r.stdout)
			}
			// Building the same tree again gives the same bytes.
			again := filepath.Join(t.TempDir(), "again.aci")
			mustRun(t, "image", "build", "--compression="+comp, dir, again)
			a, _ := os.ReadFile(out)
			b, _ := os.ReadFile(again)
			if string(a) != string(b) {
				t.Errorf("two builds of the same tree differ")
			}
		})
	}
}

func TestBuildRefusesOverwriteAndBadManifest(t *testing.T) {
	dir := imageDir(t, helloManifest)
	out := filepath.Join(t.TempDir(), "hello.aci")
	mustRun(t, "image", "build", dir, out)
	if r := acirun(t, "image", "build", dir, out); r.code != 254 || !strings.Contains(r.stderr, out) {
		t.Errorf("second build without --overwrite: exit %d, stderr %q", r.code, r.stderr)
	}
	mustRun(t, "image", "build", "--overwrite", dir, out)

	bad := imageDir(t, strings.Replace(helloManifest, `"port": 8080`, `"port": 70000`, 1))
	badOut := filepath.Join(t.TempDir(), "bad.aci")
	r := acirun(t, "image", "build", bad, badOut)
	if r.code != 254 || !strings.Contains(r.stderr, "app.ports[0].port") || !strings.Contains(r.stderr, "70000") {
		t.Errorf("build of a bad manifest: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(badOut); !os.IsNotExist(err) {
		t.Errorf("a failed build left %s behind", badOut)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(badOut), "*")); len(m) != 0 {
		t.Errorf("a failed build left files: %v", m)
	}
}

func TestValidateReportsEveryError(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	must(t, os.WriteFile(bad, []byte(`{"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "Example.com/x",
	  "app": {"exec": ["bin/x"], "user": "0", "group": "0", "ports": [{"name": "a", "protocol": "tcp", "port": 1}, {"name": "b", "protocol": "tcp", "port": 70000}]}}`), 0o644))
	good := filepath.Join(dir, "good.json")
	must(t, os.WriteFile(good, []byte(helloManifest), 0o644))
	r := acirun(t, "image", "validate", good, bad)
	if r.code != 254 {
		t.Fatalf("exit %d, want 254; stdout %q", r.code, r.stdout)
	}
	for _, want := range []string{good + ": ok", bad + ": name:", bad + ": app.exec[0]:", bad + ": app.ports[1].port: 70000 out of range 1-65535"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("validate output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestValidateSpecExamples(t *testing.T) {
	for _, f := range []string{"image.json", "pod_runtime.json", "pod_template.json"} {
		path := filepath.Join("..", "..", "aci", "testdata", "examples", f)
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("spec example %s: %v", f, err)
		}
		r := mustRun(t, "image", "validate", path)
		if !strings.Contains(r.stdout, ": ok") {
			t.Errorf("%s: %s", f, r.stdout)
		}
		if f == "pod_template.json" && !strings.Contains(r.stdout, "not reified") {
			t.Errorf("the pod template is not reified, validate should say so: %s", r.stdout)
		}
	}
}

func TestValidateRejectsBadArchives(t *testing.T) {
	dir := imageDir(t, helloManifest)
	must(t, os.WriteFile(filepath.Join(dir, "extra"), []byte("x"), 0o644))
	cases := []struct{ name, script, want string }{
		{"extra top-level entry", "tar -czf OUT manifest rootfs extra", "extra"},
		{"no manifest", "tar -czf OUT rootfs", "manifest"},
		{"not an archive", "echo hello > OUT", "not a tar"},
		{"truncated gzip", "tar -czf full.tgz manifest rootfs && head -c 100 full.tgz > OUT && rm full.tgz", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "bad.aci")
			sh(t, dir, strings.ReplaceAll(tc.script, "OUT", out))
			r := acirun(t, "image", "validate", out)
			if r.code != 254 || !strings.HasPrefix(r.stdout, out+": ") || !strings.Contains(r.stdout, tc.want) {
				t.Errorf("exit %d, stdout %q, want 254 and %q", r.code, r.stdout, tc.want)
			}
		})
	}
}

func TestCatManifest(t *testing.T) {
	dir := imageDir(t, helloManifest)
	out := filepath.Join(t.TempDir(), "hello.aci")
	sh(t, dir, "tar -cJf "+out+" manifest rootfs")
	r := mustRun(t, "image", "cat-manifest", out)
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("cat-manifest printed no JSON: %v\n%s", err, r.stdout)
	}
	if m["name"] != "example.com/hello" || !strings.Contains(r.stdout, "\n  \"") {
		t.Errorf("cat-manifest: %s", r.stdout)
	}
}

// TestUsageAndHelp checks exit codes and that every command has --help.
func TestUsageAndHelp(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"image"}, {"image", "validate"}, {"image", "build", "x"}, {"image", "validate", "--no-such-flag", "x"}, {"version", "extra"}} {
		if r := acirun(t, args...); r.code != 2 {
			t.Errorf("acirun %v: exit %d, want 2 (stderr %q)", args, r.code, r.stderr)
		}
	}
	cmds := helpCommands(t)
	for _, c := range cmds {
		args := append(strings.Fields(c), "--help")
		r := mustRun(t, args...)
		if !strings.Contains(r.stdout, "Usage: acirun "+c) {
			t.Errorf("acirun %s --help: %q", c, r.stdout)
		}
	}
	if r := mustRun(t, "version"); !strings.Contains(r.stdout, "appc version 0.8.11") {
		t.Errorf("version: %q", r.stdout)
	}
	// Global flags work before and after the command name.
	dir := imageDir(t, helloManifest)
	out := filepath.Join(t.TempDir(), "h.aci")
	mustRun(t, "--debug", "image", "build", dir, out)
	mustRun(t, "image", "validate", out, "--dir", t.TempDir(), "--debug")
}

// TestRunTakesGlobalFlags: run and prepare accept the global flags among
// their own, before and after the images; a boolean one takes no value.
// --insecure-options is one of them (rkt's `rkt --insecure-options=image
// run`): an unsigned image is prepared with it wherever it is given, and
// refused without it.
func TestRunTakesGlobalFlags(t *testing.T) {
	img := filepath.Join(t.TempDir(), "hello.aci")
	mustRun(t, "image", "build", imageDir(t, helloManifest), img)
	for _, args := range [][]string{
		{"prepare", "--dir", "DATA", "--debug", "--insecure-options=image", img},
		{"--insecure-options=image", "prepare", img, "--dir", "DATA", "--debug"},
		{"prepare", "--insecure-options", "image", img, "--name", "x", "--debug", "--dir=DATA"},
	} {
		data := t.TempDir()
		for i := range args {
			args[i] = strings.ReplaceAll(args[i], "DATA", data)
		}
		// Had --debug taken the next word as its value, the command line
		// would have been a usage error (exit 2).
		r := mustRun(t, args...)
		if !strings.Contains(r.stderr, "--insecure-options=image") {
			t.Errorf("%q: the relaxation is not reported: %q", args, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(data, "pods", strings.TrimSpace(r.stdout))); err != nil {
			t.Errorf("%q: pod %q not under --dir: %v", args, r.stdout, err)
		}
	}
	if r := acirun(t, "prepare", "--dir", t.TempDir(), img); r.code != 254 || !strings.Contains(r.stderr, "signature") {
		t.Errorf("an unsigned image without --insecure-options: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := acirun(t, "run", img, "--insecure-options=imgae"); r.code != 2 || !strings.Contains(r.stderr, `unknown insecure option "imgae"`) {
		t.Errorf("a bad --insecure-options: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestRunDir: the store's lock files go to --run-dir/store, or, with --dir
// but no --run-dir, to DIR/run/store, never into the store itself, so that
// they do not outlive a boot (/run/acirun by default) and two stores never
// share them.
func TestRunDir(t *testing.T) {
	img := filepath.Join(t.TempDir(), "hello.aci")
	mustRun(t, "image", "build", imageDir(t, helloManifest), img)
	locks := func(dir string) []string {
		m, _ := filepath.Glob(filepath.Join(dir, "sha512-*.lock"))
		return m
	}

	data := t.TempDir()
	mustRun(t, "--dir", data, "fetch", "--insecure-options=image", img)
	if got := locks(filepath.Join(data, "run", "store")); len(got) != 1 {
		t.Errorf("--dir only: lock files in DIR/run/store: %q, want the image's", got)
	}

	data, run := t.TempDir(), t.TempDir()
	mustRun(t, "fetch", "--dir", data, "--run-dir", run, "--insecure-options=image", img)
	if got := locks(filepath.Join(run, "store")); len(got) != 1 {
		t.Errorf("--run-dir: lock files in RUN-DIR/store: %q, want the image's", got)
	}
	if _, err := os.Stat(filepath.Join(data, "run")); !os.IsNotExist(err) {
		t.Errorf("--run-dir given, yet DIR/run exists: %v", err)
	}
	if got, _ := filepath.Glob(filepath.Join(data, "store", "locks", "*")); len(got) != 0 {
		t.Errorf("lock files in the store: %q", got)
	}
}
