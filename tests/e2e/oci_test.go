package e2e

import (
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acirun/acirun/stage0/oci"
	"github.com/acirun/acirun/stage0/oci/ocitest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
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

	h.ok("image", "rm", ref)
	layers, err := os.ReadDir(filepath.Join(h.data, "store", "ocilayers"))
	if err != nil || len(layers) != 0 {
		t.Errorf("layers left after image rm: %v %v", layers, err)
	}
}

// TestRunRegistryDigest: acirun run docker://127.0.0.1:PORT/NAME@sha256:…
// fetches from a registry over https (a test CA trusted through
// SSL_CERT_FILE) and runs the image without --insecure-options: a digest
// is verified content, and nothing warns. The same image by tag needs
// --insecure-options=image; plain http needs --insecure-options=http.
// (The registry is go-containerregistry's, in this process; tests/ has
// Debian's docker-registry for the real thing.)
func TestRunRegistryDigest(t *testing.T) {
	h := podHost(t)
	srv := httptest.NewTLSServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := srv.Listener.Addr().String()
	img := ociTestImage(t, "cat", "/etc/msg2")
	ref, err := name.ParseReference(host + "/team/web:1.0")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithTransport(srv.Client().Transport)); err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(h.dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	h.env = append(h.env, "SSL_CERT_FILE="+ca)

	pinned := "docker://" + host + "/team/web@" + digest.String()
	r := h.run("run", "--net=none", pinned)
	wantExit(t, r, 0)
	if strings.TrimSpace(r.stdout) != "second" || strings.Contains(r.stderr, "warning") {
		t.Errorf("run %s: %s", pinned, r)
	}
	h.noLeftovers()
	r = h.ok("image", "list", "--fields=name,source,digest,signer", "--no-legend")
	if !strings.Contains(r.stdout, strings.ReplaceAll(host, ":", "-")+"/team/web") || !strings.Contains(r.stdout, digest.String()) {
		t.Errorf("image list: %s", r)
	}

	h.fails([]string{"named by tag, not by digest", "@sha256:"}, "fetch", "docker://"+host+"/team/web:1.0")
	plain := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(plain.Close)
	h.fails([]string{"--insecure-options=http"}, "fetch", "--insecure-options=image", "docker://"+plain.Listener.Addr().String()+"/team/web:1.0")
}
