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
	"github.com/acirun/acirun/aci/archive"
	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/pod"
	"github.com/acirun/acirun/stage0/store"
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
	return New(Config{DataDir: filepath.Join(dir, "data"), LocalConfig: filepath.Join(dir, "etc"), SystemConfig: filepath.Join(dir, "lib"),
		FetchExecutable: fetchExe})
}

// buildACI writes an ACI of the manifest (name, and the dependencies'
// JSON if any) into dir and returns its path.
func buildACI(t *testing.T, dir, name, deps string) string {
	t.Helper()
	extra := ""
	if deps != "" {
		extra = `,"dependencies":` + deps
	}
	return buildACIWith(t, filepath.Join(dir, strings.ReplaceAll(name, "/", "-")+".aci"), name, extra)
}

// buildACIWith writes the ACI out of an image called name whose manifest
// ends with extra (JSON members after a comma, or "").
func buildACIWith(t *testing.T, out, name, extra string) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(filepath.Join(src, "rootfs", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "rootfs", "bin", strings.ReplaceAll(name, "/", "-")), []byte(out), 0o755); err != nil {
		t.Fatal(err)
	}
	m := `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"` + name + `","app":{"exec":["/bin/true"],"user":"0","group":"0"}` + extra
	if err := os.WriteFile(filepath.Join(src, "manifest"), []byte(m+"}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := archive.BuildFile(src, out, archive.BuildOptions{}); err != nil {
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

// fetchBaseAndApp fetches into h two images built in dir: example.com/base,
// and example.com/app, which depends on it; it returns their IDs.
func fetchBaseAndApp(t *testing.T, h *Host, dir string) (base, app string) {
	t.Helper()
	base = fetchOne(t, h, buildACI(t, dir, "example.com/base", ""))
	app = fetchOne(t, h, buildACI(t, dir, "example.com/app", `[{"imageName":"example.com/base","imageID":"`+base+`"}]`))
	return base, app
}

// TestImageGCKeepsWhatPodsUse: the in-use rule. A prepared pod keeps its
// images and, transitively, the dependencies their trees were composed
// from, against both image rm and image gc; once the pod is gone, gc takes
// them.
func TestImageGCKeepsWhatPodsUse(t *testing.T) {
	ctx := context.Background()
	h := newHost(t)
	dir := t.TempDir()
	base, app := fetchBaseAndApp(t, h, dir)
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
	if imgs, errs, err := h.RemoveImages(ctx, []string{app, base}); err != nil || imgs[0] != nil || imgs[1] != nil ||
		!errors.Is(errs[0], ErrImageInUse) || !errors.Is(errs[1], ErrImageInUse) {
		t.Errorf("RemoveImages(%s, %s) = %v, %v, %v; want ErrImageInUse for both", app, base, imgs, errs, err)
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

	// A prepared pod is not garbage for the pods' gc unless it expired.
	if res, err := h.GCPods(ctx, GCOptions{ExpirePrepared: time.Hour}); err != nil || len(res.Removed) != 0 {
		t.Errorf("GCPods = %v, %v; want nothing removed", res, err)
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
	r, err := h.NewResolver(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
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

// TestFindImage: the one way a command names a stored image, by ID (whole,
// a prefix, "sha512-" left out) or by name with version and labels; a name
// matching several images is refused with their IDs, except "latest", the
// newest.
func TestFindImage(t *testing.T) {
	ctx := context.Background()
	h := newHost(t)
	dir := t.TempDir()
	labels := func(version, arch string) string {
		return `,"labels":[{"name":"version","value":"` + version + `"},{"name":"os","value":"linux"},{"name":"arch","value":"` + arch + `"}]`
	}
	v1 := fetchOne(t, h, buildACIWith(t, filepath.Join(dir, "v1.aci"), "example.com/hello", labels("1.0", "amd64")))
	v1arm := fetchOne(t, h, buildACIWith(t, filepath.Join(dir, "v1arm.aci"), "example.com/hello", labels("1.0", "aarch64")))
	v2 := fetchOne(t, h, buildACIWith(t, filepath.Join(dir, "v2.aci"), "example.com/hello", labels("2.0", "amd64")))
	other := fetchOne(t, h, buildACI(t, dir, "example.com/other", ""))

	for _, tc := range []struct {
		ref, want string
		err       error  // wrapped by the error, if any
		mention   string // in the error
	}{
		{ref: v1, want: v1},
		{ref: v1[:20], want: v1},
		{ref: strings.TrimPrefix(v2, "sha512-")[:16], want: v2},
		{ref: "example.com/hello:2.0", want: v2},
		{ref: "example.com/hello:1.0,arch=aarch64", want: v1arm},
		{ref: "example.com/hello,arch=aarch64", want: v1arm},
		{ref: "example.com/hello:latest", want: v2},
		{ref: "example.com/other", want: other},
		{ref: "example.com/hello", err: ErrAmbiguousImage, mention: v1[:aci.ShortImageIDLen] + " (example.com/hello:1.0)"},
		{ref: "example.com/hello:1.0", err: ErrAmbiguousImage, mention: v1arm[:aci.ShortImageIDLen]},
		{ref: "example.com/hello:3.0", err: store.ErrNotFound, mention: "acirun fetch example.com/hello:3.0"},
		{ref: "example.com/nothing", err: store.ErrNotFound},
		{ref: "sha512-ffff", err: store.ErrNotFound},
		{ref: "Not A Name", mention: "neither an image ID"},
	} {
		img, err := h.FindImage(ctx, tc.ref)
		switch {
		case tc.want != "" && (err != nil || img.ID != tc.want):
			t.Errorf("FindImage(%q) = %v, %v; want %s", tc.ref, img, err, tc.want)
		case tc.want == "" && err == nil:
			t.Errorf("FindImage(%q) = %s, want an error", tc.ref, img.ID)
		case tc.want == "" && tc.err != nil && !errors.Is(err, tc.err):
			t.Errorf("FindImage(%q) error %v, want it to wrap %v", tc.ref, err, tc.err)
		case tc.want == "" && !strings.Contains(err.Error(), tc.mention):
			t.Errorf("FindImage(%q) error %q does not mention %q", tc.ref, err, tc.mention)
		}
	}
	// The image commands take names: rm by name removes that image only.
	if imgs, errs, err := h.RemoveImages(ctx, []string{"example.com/hello:2.0"}); err != nil || errs[0] != nil || imgs[0].ID != v2 {
		t.Fatalf("RemoveImages by name = %v, %v, %v", imgs, errs, err)
	}
	if imgs, _ := h.Images(ctx); len(imgs) != 3 {
		t.Errorf("%d images left, want 3", len(imgs))
	}
}

// TestWriteDirAtomic: an output directory appears whole or not at all; an
// existing one is replaced only when empty or with overwrite.
func TestWriteDirAtomic(t *testing.T) {
	fill := func(out string) error {
		if err := os.Mkdir(out, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(out, "new"), nil, 0o644)
	}
	failing := func(out string) error {
		if err := fill(out); err != nil {
			return err
		}
		return errors.New("disk on fire")
	}
	for _, tc := range []struct {
		name      string
		before    func(dir string) // lays out what is there first
		overwrite bool
		fill      func(string) error
		want      string // file in dir afterwards
		err       string // in the error, if any
	}{
		{name: "absent", fill: fill, want: "new"},
		{name: "empty dir", before: func(d string) { os.Mkdir(d, 0o755) }, fill: fill, want: "new"},
		{name: "non-empty dir", before: func(d string) { os.Mkdir(d, 0o755); os.WriteFile(filepath.Join(d, "old"), nil, 0o644) }, fill: fill, want: "old", err: "use --overwrite"},
		{name: "non-empty dir, overwrite", before: func(d string) { os.Mkdir(d, 0o755); os.WriteFile(filepath.Join(d, "old"), nil, 0o644) }, overwrite: true, fill: fill, want: "new"},
		{name: "a file", before: func(d string) { os.WriteFile(d, nil, 0o644) }, overwrite: true, fill: fill, err: "not a directory"},
		{name: "fill fails", fill: failing, err: "disk on fire"},
		{name: "fill fails, overwrite", before: func(d string) { os.Mkdir(d, 0o755); os.WriteFile(filepath.Join(d, "old"), nil, 0o644) }, overwrite: true, fill: failing, want: "old", err: "disk on fire"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "out")
			if tc.before != nil {
				tc.before(dir)
			}
			err := writeDirAtomic(dir, tc.overwrite, tc.fill)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error %v, want one saying %q", err, tc.err)
			}
			if m, _ := filepath.Glob(filepath.Join(parent, ".*")); len(m) != 0 {
				t.Errorf("temporary directories left: %v", m)
			}
			if tc.want != "" {
				got, _ := os.ReadDir(dir)
				if len(got) != 1 || got[0].Name() != tc.want {
					t.Errorf("dir holds %v, want only %s", got, tc.want)
				}
			} else if fi, err := os.Lstat(dir); err == nil && fi.IsDir() {
				t.Errorf("%s exists after a failure", dir)
			}
		})
	}
}

// TestExtractAndRender: what each writes, with and without RootfsOnly.
func TestExtractAndRender(t *testing.T) {
	ctx := context.Background()
	h := newHost(t)
	dir := t.TempDir()
	_, app := fetchBaseAndApp(t, h, dir)
	out := t.TempDir()
	for _, tc := range []struct {
		name   string
		do     func(ref, dir string, o TreeOptions) error
		opts   TreeOptions
		has    []string
		hasnot []string
	}{
		{"extract", func(r, d string, o TreeOptions) error { return h.ExtractImage(ctx, r, d, o) }, TreeOptions{}, []string{"manifest", "rootfs/bin/example.com-app"}, []string{"rootfs/bin/example.com-base"}},
		{"extract-rootfs", func(r, d string, o TreeOptions) error { return h.ExtractImage(ctx, r, d, o) }, TreeOptions{RootfsOnly: true}, []string{"bin/example.com-app"}, []string{"manifest", "rootfs"}},
		{"render", func(r, d string, o TreeOptions) error { return h.RenderImage(ctx, r, d, o) }, TreeOptions{}, []string{"manifest", "rootfs/bin/example.com-app", "rootfs/bin/example.com-base"}, nil},
		{"render-rootfs", func(r, d string, o TreeOptions) error { return h.RenderImage(ctx, r, d, o) }, TreeOptions{RootfsOnly: true}, []string{"bin/example.com-app", "bin/example.com-base"}, []string{"manifest", "rootfs"}},
	} {
		d := filepath.Join(out, tc.name)
		if err := tc.do("example.com/app", d, tc.opts); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, p := range tc.has {
			if _, err := os.Lstat(filepath.Join(d, p)); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
		for _, p := range tc.hasnot {
			if _, err := os.Lstat(filepath.Join(d, p)); err == nil {
				t.Errorf("%s wrote %s", tc.name, p)
			}
		}
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: %s has mode %v (%v), want 0755", tc.name, d, fi.Mode(), err)
		}
		// Again: refused, then replaced with Overwrite.
		if err := tc.do(app, d, tc.opts); err == nil || !strings.Contains(err.Error(), "--overwrite") {
			t.Errorf("%s into a full directory: %v", tc.name, err)
		}
		tc.opts.Overwrite = true
		if err := tc.do(app, d, tc.opts); err != nil {
			t.Errorf("%s with Overwrite: %v", tc.name, err)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(out, ".*")); len(m) != 0 {
		t.Errorf("temporary directories left: %v", m)
	}
}

// TestLatestImages: the newest import of each name is the latest, as
// FindImage's NAME:latest finds it (ties go to the lower ID, as
// store.List orders them).
func TestLatestImages(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	img := func(id, name string, age time.Duration) *store.Image {
		return &store.Image{ID: id, Name: name, ImportTime: t0.Add(-age)}
	}
	imgs := []*store.Image{
		img("sha512-a", "example.com/x", 2*time.Hour),
		img("sha512-b", "example.com/x", time.Hour),
		img("sha512-c", "example.com/y", time.Hour),
		img("sha512-e", "example.com/z", 0),
		img("sha512-d", "example.com/z", 0),
	}
	got := LatestImages(imgs)
	want := map[string]bool{"sha512-b": true, "sha512-c": true, "sha512-d": true}
	if len(got) != len(want) {
		t.Errorf("latest %v, want %v", got, want)
	}
	for id := range want {
		if !got[id] {
			t.Errorf("latest %v, want %v", got, want)
		}
	}
}
