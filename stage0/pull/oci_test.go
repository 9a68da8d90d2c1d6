package pull

import (
	"archive/tar"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/oci"
	"github.com/acirun/acirun/stage0/oci/ocitest"
	"github.com/acirun/acirun/stage0/store"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func ociPuller(t *testing.T, insecure fetch.Insecure) (*Puller, *strings.Builder) {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var w strings.Builder
	return &Puller{Store: st, Fetcher: fetch.New(fetch.Options{Insecure: insecure}), Insecure: insecure, Warnings: &w}, &w
}

// webImage is an image whose config uses every field that maps onto the
// app.
func webImage(t *testing.T) v1.Image {
	base := ocitest.Layer(t, ocitest.Gzip,
		ocitest.Dir("etc"), ocitest.File("etc/passwd", "root:x:0:0::/root:/bin/sh\nweb:x:1000:1001::/home/web:/bin/sh\n"),
		ocitest.Dir("srv"), ocitest.Exec("srv/run", "#!/bin/sh\n"))
	app := ocitest.Layer(t, ocitest.Zstd, ocitest.File("srv/index.html", "hello"))
	return ocitest.Image(t, oci.HostPlatform(), v1.Config{
		Entrypoint:   []string{"./run"},
		Cmd:          []string{"--port", "80"},
		Env:          []string{"PATH=/usr/bin:/bin", "MODE=a", "MODE=b"},
		WorkingDir:   "/srv",
		User:         "web",
		ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}, "8000-8002": {}},
		Volumes:      map[string]struct{}{"/srv/data": {}},
		Labels:       map[string]string{"org.opencontainers.image.version": "1.2", "homepage": "not a URL"},
		StopSignal:   "SIGQUIT",
	}, base, app)
}

// TestPullOCILayout: oci:DIR:TAG is fetched into the store under its
// directory's name and tag, its config mapped onto the app, only with
// --insecure-options=image (a tag is not verified content), and a second
// pull takes it from the store.
func TestPullOCILayout(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "web")
	ocitest.WriteLayout(t, dir, "1.0", webImage(t))
	ref := "oci:" + dir + ":1.0"

	strict, _ := ociPuller(t, 0)
	if _, err := strict.Pull(ctx, ref); err == nil || !strings.Contains(err.Error(), "--insecure-options=image") {
		t.Fatalf("a tag without --insecure-options=image: %v", err)
	}
	if imgs, _ := strict.Store.List(store.Filter{}); len(imgs) != 0 {
		t.Fatalf("refused, yet stored: %v", imgs)
	}

	p, warnings := ociPuller(t, fetch.InsecureImage)
	img, err := p.Pull(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warnings.String(), "signature of "+ref+" not checked") {
		t.Errorf("warnings %q", warnings.String())
	}
	m, err := img.ImageManifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "web" {
		t.Errorf("name %q", m.Name)
	}
	if v, _ := m.Labels.Get("version"); v != "1.0" {
		t.Errorf("version %q", v)
	}
	if a, _ := m.Labels.Get("arch"); a == "" {
		t.Errorf("no arch label: %v", m.Labels)
	}
	app := m.App
	if got := strings.Join(app.Exec, " "); got != "/srv/run --port 80" {
		t.Errorf("exec %q", got)
	}
	if app.User != "web" || app.Group != "1001" {
		t.Errorf("user %q group %q, want web 1001 (from /etc/passwd)", app.User, app.Group)
	}
	if app.WorkingDirectory != "/srv" {
		t.Errorf("working directory %q", app.WorkingDirectory)
	}
	if v, _ := app.Environment.Get("MODE"); v != "b" {
		t.Errorf("MODE=%q", v)
	}
	var ports []string
	for _, p := range app.Ports {
		ports = append(ports, string(p.Name))
	}
	if got := strings.Join(ports, " "); got != "53-udp 80-tcp 8000-tcp" || app.Ports[2].Count != 3 {
		t.Errorf("ports %q (%+v)", got, app.Ports)
	}
	if len(app.MountPoints) != 1 || app.MountPoints[0].Path != "/srv/data" || app.MountPoints[0].Name != "volume-srv-data" {
		t.Errorf("mount points %+v", app.MountPoints)
	}
	for name, want := range map[aci.ACIdentifier]string{
		"org.opencontainers.image.version": "1.2",
		"oci/label/homepage":               "not a URL",
		oci.AnnotationStopSignal:           "SIGQUIT",
		oci.AnnotationReference:            ref,
		oci.AnnotationDigest:               img.OCI.Digest,
	} {
		if v, _ := m.Annotations.Get(name); v != want {
			t.Errorf("annotation %s = %q, want %q", name, v, want)
		}
	}
	tree, err := p.Store.TreePath(img.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(tree, "rootfs/srv/index.html")); err != nil || string(b) != "hello" {
		t.Errorf("index.html: %q %v", b, err)
	}

	again, err := p.Pull(ctx, ref)
	if err != nil || again.ID != img.ID {
		t.Errorf("second pull: %v %v", again, err)
	}
}

// TestPullOCIPlatform: from an index the host's platform is chosen; an
// index without it is an error naming those it has.
func TestPullOCIPlatform(t *testing.T) {
	ctx := context.Background()
	host := oci.HostPlatform()
	other := v1.Platform{OS: "linux", Architecture: "s390x"}
	if host.Architecture == "s390x" {
		other.Architecture = "ppc64le"
	}
	mk := func(body string, p v1.Platform) v1.Image {
		return ocitest.Image(t, p, v1.Config{Cmd: []string{"/which"}}, ocitest.Layer(t, ocitest.Gzip, ocitest.File("which", body)))
	}
	dir := filepath.Join(t.TempDir(), "multi")
	ocitest.WriteLayout(t, dir, "both", ocitest.Index(t, ocitest.ForPlatform{Platform: other, Image: mk("other", other)}, ocitest.ForPlatform{Platform: host, Image: mk("host", host)}))
	ocitest.WriteLayout(t, dir, "foreign", ocitest.Index(t, ocitest.ForPlatform{Platform: other, Image: mk("other", other)}))

	p, _ := ociPuller(t, fetch.InsecureImage)
	img, err := p.Pull(ctx, "oci:"+dir+":both")
	if err != nil {
		t.Fatal(err)
	}
	tree, _ := p.Store.TreePath(img.ID)
	if b, _ := os.ReadFile(filepath.Join(tree, "rootfs/which")); string(b) != "host" {
		t.Errorf("chose %q, want the host's image", b)
	}
	_, err = p.Pull(ctx, "oci:"+dir+":foreign")
	if err == nil || !strings.Contains(err.Error(), "linux/"+other.Architecture) || !strings.Contains(err.Error(), "no variant for this host") {
		t.Errorf("no matching platform: %v", err)
	}
	_, err = p.Pull(ctx, "oci:"+dir+":nosuchtag")
	if err == nil || !strings.Contains(err.Error(), "both, foreign") {
		t.Errorf("unknown tag: %v", err)
	}
	_, err = p.Pull(ctx, "oci:"+dir)
	if err == nil || !strings.Contains(err.Error(), "name one as oci:") {
		t.Errorf("several images, no tag: %v", err)
	}
}

// TestPullDockerArchive: what docker save writes is fetched as
// docker-archive:FILE, named after the file.
func TestPullDockerArchive(t *testing.T) {
	file := filepath.Join(t.TempDir(), "web.tar")
	ocitest.WriteDockerArchive(t, file, "example.com/web:1.0", webImage(t))
	p, _ := ociPuller(t, fetch.InsecureImage)
	img, err := p.Pull(context.Background(), "docker-archive:"+file)
	if err != nil {
		t.Fatal(err)
	}
	tree, _ := p.Store.TreePath(img.ID)
	if b, err := os.ReadFile(filepath.Join(tree, "rootfs/srv/index.html")); err != nil || string(b) != "hello" {
		t.Errorf("index.html: %q %v", b, err)
	}
	if img.Name != "web" {
		t.Errorf("name %q", img.Name)
	}
}

// TestPullOCIArchive: oci-archive:FILE:TAG (a tar of a layout, as skopeo
// and podman write it) is unpacked aside, read as the layout, and the
// unpacked copy removed.
func TestPullOCIArchive(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	ocitest.WriteLayout(t, dir, "1.0", webImage(t))
	file := filepath.Join(t.TempDir(), "web.tar")
	tarDir(t, dir, file)
	p, _ := ociPuller(t, fetch.InsecureImage)
	p.PartialDir = t.TempDir()
	img, err := p.Pull(context.Background(), "oci-archive:"+file+":1.0")
	if err != nil {
		t.Fatal(err)
	}
	if img.Name != "web" {
		t.Errorf("name %q", img.Name)
	}
	tree, _ := p.Store.TreePath(img.ID)
	if b, err := os.ReadFile(filepath.Join(tree, "rootfs/srv/index.html")); err != nil || string(b) != "hello" {
		t.Errorf("index.html: %q %v", b, err)
	}
	if left, _ := os.ReadDir(p.PartialDir); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	notTar := filepath.Join(t.TempDir(), "x.tar")
	os.WriteFile(notTar, []byte("not a tar at all, not even close to one, which is plain to see"), 0o644)
	if _, err := p.Pull(context.Background(), "oci-archive:"+notTar); err == nil || !strings.Contains(err.Error(), "not an oci-archive") {
		t.Errorf("not a tar: %v", err)
	}
}

// tarDir writes the tree below dir as a tar file, names relative to dir.
func tarDir(t *testing.T, dir, file string) {
	t.Helper()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		h.Name, _ = filepath.Rel(dir, path)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			tw.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}
