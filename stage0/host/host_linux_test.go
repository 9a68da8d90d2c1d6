package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/pod"
)

func TestLockDir(t *testing.T) {
	for _, tc := range []struct {
		dir, runDir, want string
	}{
		{"/var/lib/acirun", "", "/run/acirun"},
		{"/var/lib/acirun/", "", "/run/acirun"},
		{"/var/lib//acirun", "", "/run/acirun"},
		{"/srv/acirun", "", "/srv/acirun/run"},
		{"data", "", "data/run"},
		{"/srv/acirun", "/run/acirun-srv", "/run/acirun-srv"},
		{"/var/lib/acirun", "/tmp/r", "/tmp/r"},
	} {
		c := Config{DataDir: tc.dir, RunDir: tc.runDir}
		if got := c.LockDir(); got != tc.want {
			t.Errorf("DataDir %q, RunDir %q: lock directory %q, want %q", tc.dir, tc.runDir, got, tc.want)
		}
	}
}

// newHost returns a Host over a data directory of the test's own.
func newHost(t *testing.T) *Host {
	t.Helper()
	dir := t.TempDir()
	return New(Config{DataDir: filepath.Join(dir, "data"), LocalConfig: filepath.Join(dir, "etc"), SystemConfig: filepath.Join(dir, "lib")})
}

// buildACI writes an ACI of the manifest (name, and the dependencies'
// JSON if any) into dir and returns its path.
func buildACI(t *testing.T, dir, name, deps string) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(filepath.Join(src, "rootfs", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "rootfs", "bin", strings.ReplaceAll(name, "/", "-")), []byte(name), 0o755); err != nil {
		t.Fatal(err)
	}
	m := `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"` + name + `","app":{"exec":["/bin/true"],"user":"0","group":"0"}`
	if deps != "" {
		m += `,"dependencies":` + deps
	}
	if err := os.WriteFile(filepath.Join(src, "manifest"), []byte(m+"}"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, strings.ReplaceAll(name, "/", "-")+".aci")
	if err := aci.BuildFile(src, out, aci.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	return out
}

// unsigned fetches without signatures: these tests are about the store and
// the pods, not trust.
var unsigned = FetchOptions{Insecure: fetch.InsecureImage}

func fetchOne(t *testing.T, h *Host, ref string) string {
	t.Helper()
	imgs, err := h.Fetch(context.Background(), unsigned, ref)
	if err != nil {
		t.Fatal(err)
	}
	return imgs[0].ID
}

// TestImageGCKeepsWhatPodsUse: the in-use rule. A prepared pod keeps its
// images and, transitively, the dependencies their trees were composed
// from, against both image rm and image gc; once the pod is gone, gc takes
// them.
func TestImageGCKeepsWhatPodsUse(t *testing.T) {
	ctx := context.Background()
	h := newHost(t)
	dir := t.TempDir()
	base := fetchOne(t, h, buildACI(t, dir, "example.com/base", ""))
	app := fetchOne(t, h, buildACI(t, dir, "example.com/app", `[{"imageName":"example.com/base","imageID":"`+base+`"}]`))
	other := fetchOne(t, h, buildACI(t, dir, "example.com/other", ""))

	pd, err := h.Prepare(ctx, &pod.RunRequest{Apps: []pod.AppRequest{{Image: app}}, Net: "none"}, PrepareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inUse, err := h.InUseImages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(inUse) != 2 || !inUse[app] || !inUse[base] {
		t.Errorf("in use %v, want the pod's image and its dependency", inUse)
	}
	for _, id := range []string{app, base} {
		if _, err := h.RemoveImage(ctx, id); !errors.Is(err, ErrImageInUse) {
			t.Errorf("RemoveImage(%s) = %v, want ErrImageInUse", id, err)
		}
	}

	res, err := h.ImageGC(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(res.InUse)
	want := []string{app, base}
	slices.Sort(want)
	if !slices.Equal(res.Removed, []string{other}) || !slices.Equal(res.InUse, want) {
		t.Errorf("gc removed %v and kept %v, want removed [%s] and kept %v", res.Removed, res.InUse, other, want)
	}

	// A prepared pod is not garbage for the pods' gc, whatever its age.
	if removed, err := h.GCPods(ctx, 0); err != nil || len(removed) != 0 {
		t.Errorf("GCPods = %v, %v; want nothing removed", removed, err)
	}
	if _, err := h.RemovePod(ctx, pd.UUID[:8]); err != nil {
		t.Fatal(err)
	}
	if res, err = h.ImageGC(ctx, 0); err != nil {
		t.Fatal(err)
	}
	slices.Sort(res.Removed)
	if !slices.Equal(res.Removed, want) {
		t.Errorf("gc after the pod went removed %v, want %v", res.Removed, want)
	}
	// The grace period spares recent images.
	fetchOne(t, h, buildACI(t, dir, "example.com/fresh", ""))
	if res, err = h.ImageGC(ctx, time.Hour); err != nil || len(res.Removed) != 0 {
		t.Errorf("gc with a grace period removed %v (%v)", res, err)
	}
}

func TestSameRef(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	file := buildACI(t, dir, "example.com/one", "")
	link := filepath.Join(t.TempDir(), "link.aci")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ ref, want string }{
		{"example.com-one.aci", "file://" + real},
		{"./example.com-one.aci", "file://" + real},
		{file, "file://" + real},
		{"file://" + file, "file://" + real},
		{link, "file://" + real},
		{"example.com/one:1.0", "example.com/one:1.0"},
		{"https://example.com/one.aci", "https://example.com/one.aci"},
		{"sha512-0123", "sha512-0123"},
	} {
		if got := sameRef(tc.ref); got != tc.want {
			t.Errorf("sameRef(%q) = %q, want %q", tc.ref, got, tc.want)
		}
	}
}

// TestResolverPullsOnce: one image named several times in one prepare,
// however it is spelled, is pulled once and held once per naming. The file
// is gone after the first naming: pulling it again would fail.
func TestResolverPullsOnce(t *testing.T) {
	h := newHost(t)
	dir := t.TempDir()
	t.Chdir(dir)
	file := buildACI(t, dir, "example.com/one", "")
	p, err := h.Puller(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := NewResolver(p)
	var held []*pod.Image
	defer func() {
		for _, img := range held {
			img.Release()
		}
	}()
	for _, ref := range []string{file, "./example.com-one.aci", "file://" + file} {
		img, err := r.ResolveImage(ctx, ref)
		if err != nil {
			t.Fatalf("ResolveImage(%q): %v", ref, err)
		}
		held = append(held, img)
		if len(held) == 1 {
			if err := os.Remove(file); err != nil {
				t.Fatal(err)
			}
		}
		if img.ID != held[0].ID || img.Manifest.Name != "example.com/one" || !filepath.IsAbs(img.Tree) {
			t.Errorf("ResolveImage(%q) = %s %s %s", ref, img.ID, img.Manifest.Name, img.Tree)
		}
	}
	if imgs, err := h.Images(ctx); err != nil || len(imgs) != 1 {
		t.Errorf("store holds %d images (%v), want 1", len(imgs), err)
	}
	// By the ID of a pod manifest's image too.
	img, err := r.ResolveRuntimeImage(ctx, aci.RuntimeImage{ID: held[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	held = append(held, img)
	if img.ID != held[0].ID {
		t.Errorf("ResolveRuntimeImage by ID = %s, want %s", img.ID, held[0].ID)
	}
}
