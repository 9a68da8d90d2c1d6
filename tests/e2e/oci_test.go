package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acirun/acirun/stage0/oci"
	"github.com/acirun/acirun/stage0/oci/ocitest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ociTestImage is a two-layer OCI image running testapp: the upper layer
// deletes a file of the lower one (a whiteout) and adds another; the
// config sets the command, environment, working directory and a user
// named in the image's /etc/passwd.
func ociTestImage(t *testing.T, cmd ...string) v1.Image {
	t.Helper()
	app, err := os.ReadFile(e.testapp)
	if err != nil {
		t.Fatal(err)
	}
	base := ocitest.Layer(t, ocitest.Gzip,
		ocitest.Exec("testapp", string(app)),
		ocitest.Dir("etc"), ocitest.File("etc/passwd", "root:x:0:0::/:/testapp\napp:x:1000:1000::/data:/testapp\n"),
		ocitest.File("etc/group", "root:x:0:\napp:x:1000:\n"),
		ocitest.File("etc/msg", "first"),
		ocitest.Entry{Name: "data", Type: '5', Mode: 0o777})
	upper := ocitest.Layer(t, ocitest.Zstd, ocitest.Whiteout("etc", "msg"), ocitest.File("etc/msg2", "second"))
	return ocitest.Image(t, oci.HostPlatform(), v1.Config{
		Entrypoint: []string{"/testapp"},
		Cmd:        cmd,
		Env:        []string{"GREETING=hi"},
		WorkingDir: "/data",
		User:       "app",
	}, base, upper)
}

// TestRunOCILayout: acirun run oci:DIR:TAG runs an OCI image as a pod: its
// layers composed (the whiteout applied), its config the app's command,
// environment, working directory and user; -- replaces the config's Cmd.
// image list shows its reference and manifest digest; image export writes
// it as an ACI; image rm takes its layers with it.
func TestRunOCILayout(t *testing.T) {
	h := podHost(t)
	dir := filepath.Join(h.dir, "layout")
	ocitest.WriteLayout(t, dir, "1", ociTestImage(t, "stat", "/etc/msg", "+", "cat", "/etc/msg2", "+", "ids", "+", "cwd", "+", "env"))
	ref := "oci:" + dir + ":1"

	// A tag is not verified content.
	h.fails([]string{"named by tag, not by digest", "--insecure-options=image"}, "fetch", ref)
	if ids := h.storeIDs(); len(ids) != 0 {
		t.Fatalf("refused, yet stored: %v", ids)
	}

	r := h.pod("--net=none", ref)
	wantExit(t, r, 0)
	for _, want := range []string{"second", "uid=1000", "gid=1000", "cwd=/data", "GREETING=hi", "stat /etc/msg error=ENOENT"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r)
		}
	}
	r = h.pod("--net=none", ref, "--", "print", "overridden")
	wantExit(t, r, 0)
	if strings.TrimSpace(r.stdout) != "overridden" {
		t.Errorf("-- ARGS did not replace the config's Cmd: %s", r)
	}

	r = h.ok("image", "list", "--fields=name,source,digest", "--no-legend")
	if !strings.Contains(r.stdout, "layout:1") || !strings.Contains(r.stdout, ref) || !strings.Contains(r.stdout, "sha256:") {
		t.Errorf("image list: %s", r)
	}
	out := filepath.Join(h.dir, "layout.aci")
	h.ok("image", "export", "layout:1", out)
	r = h.ok("image", "validate", out)
	if !strings.Contains(r.stdout, ": ok sha512-") {
		t.Errorf("exported ACI: %s", r)
	}

	h.ok("image", "rm", "layout:1")
	layers, err := os.ReadDir(filepath.Join(h.data, "store", "ocilayers"))
	if err != nil || len(layers) != 0 {
		t.Errorf("layers left after image rm: %v %v", layers, err)
	}
}
