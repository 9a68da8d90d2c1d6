package e2e

// What acirun writes as ACIs is checked by the appc spec's own tool, actool
// (github.com/appc/spec/actool, pinned in go.mod as a tool dependency):
// `actool validate` accepts every ACI that `acirun image build` (each
// compression) and `acirun image export` write, without a warning, and
// `actool cat-manifest` reads back the manifest that went in. What
// `acirun export` writes from a pod is checked with the same
// checkWithActool in TestExportPod (export_test.go), where the pod is.

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/tests/testimage"
)

// actool runs the spec's actool and returns its stdout, stderr and exit code.
func actool(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("actool %s: %v", strings.Join(args, " "), err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// jsonValue decodes a JSON document into plain values, for comparing
// documents that differ only in layout.
func jsonValue(t *testing.T, what string, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", what, err, b)
	}
	return v
}

// checkWithActool fails t unless actool validates aci silently and
// cat-manifest gives the manifest want (compared as JSON values).
func checkWithActool(t *testing.T, bin, what, aci string, want []byte) {
	t.Helper()
	if out, errOut, code := actool(t, bin, "validate", aci); code != 0 || out != "" || errOut != "" {
		t.Errorf("%s: actool validate: exit %d, want 0 and no output:\n%s%s", what, code, out, errOut)
	}
	if out, errOut, code := actool(t, bin, "--debug", "validate", aci); code != 0 || !strings.Contains(errOut, "valid app container image") {
		t.Errorf("%s: actool --debug validate: exit %d, not said to be an app container image:\n%s%s", what, code, out, errOut)
	}
	out, errOut, code := actool(t, bin, "cat-manifest", aci)
	if code != 0 {
		t.Errorf("%s: actool cat-manifest: exit %d:\n%s%s", what, code, out, errOut)
		return
	}
	if got, w := jsonValue(t, "actool cat-manifest", []byte(out)), jsonValue(t, "the manifest", want); !reflect.DeepEqual(got, w) {
		t.Errorf("%s: actool cat-manifest:\n%s\nwant the manifest that went in:\n%s", what, out, want)
	}
}

// TestActoolAcceptsOurACIs: image build with every compression, over a
// rootfs with what tar can hold (directories, files, an executable, a hard
// link, symlinks, an empty directory, a long path, a FIFO, an xattr), and
// image export of a stored image, each checked by actool.
func TestActoolAcceptsOurACIs(t *testing.T) {
	needRoot(t)
	bin := goTool(t, "github.com/appc/spec/actool", t.TempDir())
	h := newHost(t)

	m := manifest("example.com/actool-check", map[string]string{"version": "1.0"}, map[string]any{
		"annotations": []map[string]string{{"name": "authors", "value": "acirun <acirun@example.com>"}},
	}, "exit", "0")
	var mm map[string]any
	if err := json.Unmarshal(m, &mm); err != nil {
		t.Fatal(err)
	}
	app := mm["app"].(map[string]any)
	app["eventHandlers"] = []map[string]any{{"name": "pre-start", "exec": []string{"/testapp", "exit", "0"}}}
	app["mountPoints"] = []map[string]any{{"name": "data", "path": "/data", "readOnly": true}}
	app["ports"] = []map[string]any{{"name": "http", "protocol": "tcp", "port": 8080}}
	app["isolators"] = []map[string]any{{"name": "resource/memory", "value": map[string]string{"limit": "64M"}}}
	app["environment"] = []map[string]string{{"name": "GREETING", "value": "hello"}}
	app["workingDirectory"] = "/srv"
	m, err := json.MarshalIndent(mm, "", "  ")
	if err != nil {
		t.Fatal(err)
	}

	long := "/" + strings.Repeat("deep/", 25) + "file-with-a-path-longer-than-100-bytes"
	layout := testimage.Build(t, filepath.Join(t.TempDir(), "layout"), m, e.testapp, &testimage.Options{
		Files:    map[string]string{"/etc/app.conf": "a = 1\n", "/srv/file with spaces": "x", long: "deep\n"},
		Symlinks: map[string]string{"/bin/app": "../testapp", "/etc/abs": "/etc/app.conf"},
		Dirs:     []string{"/var/empty", "/data"},
	})
	rootfs := filepath.Join(layout, "rootfs")
	if err := os.Link(filepath.Join(rootfs, "etc/app.conf"), filepath.Join(rootfs, "etc/app.conf.link")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(rootfs, "srv/fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(filepath.Join(rootfs, "etc/app.conf"), "user.acirun.test", []byte("v"), 0); err != nil {
		t.Fatalf("setxattr on the test's temporary directory: %v", err)
	}

	// The oracle refuses what is not an ACI: a tar of the manifest alone.
	dir := t.TempDir()
	bad := filepath.Join(dir, "no-rootfs.aci")
	sh(t, "tar -C "+layout+" -cf "+bad+" manifest")
	if out, errOut, code := actool(t, bin, "validate", bad); code == 0 || !strings.Contains(errOut, "rootfs") {
		t.Errorf("actool validate of an archive without rootfs: exit %d, want a refusal naming rootfs:\n%s%s", code, out, errOut)
	}

	var gzipped string
	for _, comp := range []string{"gzip", "none", "bzip2", "xz"} {
		out := filepath.Join(dir, "built-"+comp+".aci")
		if b, err := exec.Command(e.acirun, "image", "build", "--compression="+comp, layout, out).CombinedOutput(); err != nil {
			t.Fatalf("image build --compression=%s: %v\n%s", comp, err, b)
		}
		checkWithActool(t, bin, "image build --compression="+comp, out, m)
		if comp == "gzip" {
			gzipped = out
		}
	}

	// image export of a stored image: what it writes actool takes too,
	// with the same image ID as the file that was fetched.
	id := h.fetchID("--insecure-options=image", "--full", gzipped)
	exported := filepath.Join(dir, "exported.aci")
	h.ok("image", "export", id, exported)
	checkWithActool(t, bin, "image export", exported, m)
	if r := h.ok("image", "validate", exported); !strings.Contains(r.stdout, id) {
		t.Errorf("image export wrote an image of another ID (want %s): %s", id, r.stdout)
	}
}
