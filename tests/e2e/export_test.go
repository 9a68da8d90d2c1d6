package e2e

// acirun export in the box: the root of an app that created, changed and
// deleted files, as an ACI that actool accepts and that holds the pod's
// changes and no overlayfs whiteout.

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

func TestExportPod(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	manifest := podManifest(t, "example.com/exported", nil,
		"write", "/change", "new", "+", "write", "/created", "made", "+", "rm", "/gone", "+", "rm", "/d")
	img := p.image(podImage(t, manifest, &testimage.Options{
		Files: map[string]string{"/keep": "keep", "/gone": "gone", "/change": "old", "/d/x": "x"},
	}))
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

	x := t.TempDir()
	if b, err := exec.Command("tar", "-xzf", out, "-C", x).CombinedOutput(); err != nil {
		t.Fatalf("tar -x of the export: %v\n%s", err, b)
	}
	root := filepath.Join(x, "rootfs")
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
