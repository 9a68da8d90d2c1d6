package e2e

// acirun export in the box: the root of an app that created, changed and
// deleted files, as an ACI that actool accepts and that holds the pod's
// changes and no overlayfs whiteout, from an overlay pod and a --no-overlay
// one; a running pod refused; --app in a pod of two.

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/tests/testimage"
)

// exportChangesImage is an image whose app creates, changes and deletes
// files (a file and a directory), and its manifest.
func exportChangesImage(p *boxPod) (img string, manifest []byte) {
	p.t.Helper()
	manifest = podManifest(p.t, "example.com/exported", nil,
		"write", "/change", "new", "+", "write", "/created", "made", "+", "rm", "/gone", "+", "rm", "/d")
	return p.image(podImage(p.t, manifest, &testimage.Options{
		Files: map[string]string{"/keep": "keep", "/gone": "gone", "/change": "old", "/d/x": "x"},
	})), manifest
}

// exportedRootfs extracts the ACI out with tar and returns its rootfs.
func exportedRootfs(t *testing.T, out string) string {
	t.Helper()
	x := t.TempDir()
	if b, err := exec.Command("tar", "-xzf", out, "-C", x).CombinedOutput(); err != nil {
		t.Fatalf("tar -x of the export: %v\n%s", err, b)
	}
	return filepath.Join(x, "rootfs")
}

// checkExportedFiles checks an exported rootfs of exportChangesImage: the
// app's changes are there, and no device node (a whiteout) is.
func checkExportedFiles(t *testing.T, root string) {
	t.Helper()
	want := map[string]string{"/keep": "keep", "/change": "new", "/created": "made"}
	for name, content := range want {
		if b, err := os.ReadFile(filepath.Join(root, name)); err != nil || string(b) != content {
			t.Errorf("%s in the export: %q, %v; want %q", name, b, err, content)
		}
	}
	for _, gone := range []string{"/gone", "/d"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("%s, deleted by the app, is in the export: %v", gone, err)
		}
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&fs.ModeCharDevice != 0 {
			t.Errorf("a device node (a whiteout?) in the export: %s", p)
		}
		return nil
	})
}

// TestExportPod: an overlay pod's app, exported. actool's check of what
// acirun export writes is here (TestActoolAcceptsOurACIs has the others).
func TestExportPod(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	img, manifest := exportChangesImage(p)
	r := p.runInBox(ctx, "run", "--insecure-options=image", "--net=none", "--uuid-file-save="+filepath.Join(p.dir, "uuid"), img)
	if r.code != 0 || strings.Count(r.stdout, " ok") != 4 {
		t.Fatalf("run: want four ok lines: %s", r)
	}
	out := filepath.Join(p.dir, "out.aci")
	if r := p.runInBox(ctx, "export", "--uuid-file="+filepath.Join(p.dir, "uuid"), out); r.code != 0 {
		t.Fatalf("export: %s", r)
	}
	if r := p.runInBox(ctx, "export", "--uuid-file="+filepath.Join(p.dir, "uuid"), out); r.code == 0 || !strings.Contains(r.stderr, "--overwrite") {
		t.Errorf("export over an existing file: want an error naming --overwrite: %s", r)
	}
	checkWithActool(t, goTool(t, "github.com/appc/spec/actool", t.TempDir()), "export", out, manifest)

	checkExportedFiles(t, exportedRootfs(t, out))
}

// TestExportPodNoOverlay: a --no-overlay pod's app is exported from its
// private copy, with the same changes.
func TestExportPodNoOverlay(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	img, _ := exportChangesImage(p)
	uuidFile := filepath.Join(p.dir, "uuid")
	r := p.runInBox(ctx, "run", "--insecure-options=image", "--net=none", "--no-overlay", "--uuid-file-save="+uuidFile, img)
	if r.code != 0 || strings.Count(r.stdout, " ok") != 4 {
		t.Fatalf("run --no-overlay: want four ok lines: %s", r)
	}
	uuid, err := os.ReadFile(uuidFile)
	if err != nil {
		t.Fatal(err)
	}
	appDir := filepath.Join(p.data, "pods", strings.TrimSpace(string(uuid)), "apps", "exported")
	if _, err := os.Lstat(filepath.Join(appDir, "upper")); !os.IsNotExist(err) {
		t.Fatalf("a --no-overlay pod has an upper directory (%v): this test would not take the private copy's path", err)
	}
	out := filepath.Join(p.dir, "out.aci")
	if r := p.runInBox(ctx, "export", "--uuid-file="+uuidFile, out); r.code != 0 {
		t.Fatalf("export: %s", r)
	}
	checkExportedFiles(t, exportedRootfs(t, out))
}

// TestExportPodRunningAndApps: a running pod is refused, and nothing is
// written; in a stopped pod of two apps export needs --app (the error
// names both) and with it writes that app's root under its image's
// manifest.
func TestExportPodRunningAndApps(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	one := p.image(podImage(t, podManifest(t, "example.com/export-one", nil, "write", "/one", "1", "+", "sleep", "1h"), nil))
	two := p.image(podImage(t, podManifest(t, "example.com/export-two", nil, "write", "/two", "2", "+", "sleep", "1h"), nil))
	uuid, _, _ := p.runDetached(ctx, "--insecure-options=image", "--net=none", one, two)
	for _, w := range []string{"write /one ok", "write /two ok"} {
		p.waitEntries(ctx, w, "ACIRUN_POD_UUID="+uuid)
	}

	out := filepath.Join(p.dir, "out.aci")
	if r := p.runInBox(ctx, "export", "--app=export-two", uuid, out); r.code == 0 || !strings.Contains(r.stderr, "running") || !strings.Contains(r.stderr, "acirun stop "+uuid) {
		t.Errorf("export of a running pod: want an error saying it runs and how to stop it: %s", r)
	}
	if _, err := os.Lstat(out); !os.IsNotExist(err) {
		t.Errorf("export of a running pod left %s: %v", out, err)
	}

	if r := p.runInBox(ctx, "stop", uuid); r.code != 0 {
		t.Fatalf("stop: %s", r)
	}
	r := p.runInBox(ctx, "export", uuid, out)
	if r.code == 0 || !strings.Contains(r.stderr, "--app") || !strings.Contains(r.stderr, "export-one") || !strings.Contains(r.stderr, "export-two") {
		t.Errorf("export of a two-app pod without --app: want an error naming --app and both apps: %s", r)
	}
	if _, err := os.Lstat(out); !os.IsNotExist(err) {
		t.Errorf("export without --app left %s: %v", out, err)
	}
	if r := p.runInBox(ctx, "export", "--app=nosuch", uuid, out); r.code == 0 || !strings.Contains(r.stderr, `"nosuch"`) || !strings.Contains(r.stderr, "export-one, export-two") {
		t.Errorf("export --app of an unknown app: want an error naming it and the pod's apps: %s", r)
	}

	if r := p.runInBox(ctx, "export", "--app=export-two", uuid, out); r.code != 0 {
		t.Fatalf("export --app=export-two: %s", r)
	}
	root := exportedRootfs(t, out)
	if b, err := os.ReadFile(filepath.Join(root, "two")); err != nil || string(b) != "2" {
		t.Errorf("/two in export-two's export: %q, %v; want \"2\"", b, err)
	}
	if _, err := os.Lstat(filepath.Join(root, "one")); !os.IsNotExist(err) {
		t.Errorf("/one, export-one's file, is in export-two's export: %v", err)
	}
	m, err := os.ReadFile(filepath.Join(filepath.Dir(root), "manifest"))
	if err != nil || !strings.Contains(string(m), `"example.com/export-two"`) {
		t.Errorf("export-two's manifest: %s, %v; want its image's", m, err)
	}
}
