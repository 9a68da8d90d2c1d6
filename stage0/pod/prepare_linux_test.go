package pod

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/flock"
	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/internal/testenv"
)

// mapResolver stands in for the CLI's store-backed resolver: images by
// command-line reference, and by ID or name for pod manifests.
type mapResolver map[string]*Image

func (r mapResolver) ResolveImage(ctx context.Context, ref string) (*Image, error) {
	if img, ok := r[ref]; ok {
		return img, nil
	}
	return nil, fmt.Errorf("image %s: not in the store", ref)
}

func (r mapResolver) ResolveRuntimeImage(ctx context.Context, ri aci.RuntimeImage) (*Image, error) {
	for _, img := range r {
		if (!ri.ID.IsZero() && img.ID == ri.ID) || (ri.ID.IsZero() && img.Manifest.Name == ri.Name) {
			return img, nil
		}
	}
	return nil, fmt.Errorf("not in the store: %v", ri)
}

// podsDirEntries lists the pods directory, the prepare lock left out.
// apps is a request for a pod of these images and nothing else.
func apps(images ...string) *RunRequest {
	r := &RunRequest{}
	for _, img := range images {
		r.Apps = append(r.Apps, AppRequest{Image: img})
	}
	return r
}

// withVolume adds a volume to r.
func withVolume(r *RunRequest, v VolumeFlag) *RunRequest {
	r.Volumes = append(r.Volumes, v)
	return r
}

func podsDirEntries(t *testing.T, dataDir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dataDir, "pods"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.Name() != podcontract.PodsLockFile {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestPrepareWritesPodDir(t *testing.T) {
	data := t.TempDir()
	img := testImage(t, manifestJSON("example.com/hello", `{"exec":["/hello"],"user":"0","group":"0","mountPoints":[{"name":"data","path":"/data"}]}`))
	src := t.TempDir()
	uuidFile := filepath.Join(t.TempDir(), "uuid")
	req := &RunRequest{
		Volumes: []VolumeFlag{{Name: "data", Kind: "host", Source: src, ReadOnly: true}},
		Net:     "none", DNS: []string{"9.9.9.9"}, DNSSearch: []string{"example.com"}, HostsEntries: []HostsEntry{{IP: "10.1.1.1", Name: "db"}},
		StopTimeout: 5 * time.Second, InsecureOptions: []string{"image", "all-run"}, UUIDFileSave: uuidFile,
		Apps: []AppRequest{{Image: "example.com/hello", Args: []string{"world"}}},
	}
	cfg := Config{DataDir: data, Resolver: mapResolver{"example.com/hello": img}, Debug: true, Sync: true}
	p, notes, err := Prepare(context.Background(), cfg, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 0 {
		t.Errorf("notes %q", notes)
	}
	if !IsUUID(p.UUID) || p.UUID[14] != '4' || !strings.ContainsRune("89ab", rune(p.UUID[19])) {
		t.Errorf("UUID %q is not a version 4 UUID", p.UUID)
	}
	dir := filepath.Join(data, "pods", p.UUID)
	if p.Dir != dir || p.State != StatePrepared || p.Created.IsZero() {
		t.Errorf("pod %+v", p)
	}
	if got := podsDirEntries(t, data); !reflect.DeepEqual(got, []string{p.UUID}) {
		t.Errorf("pods directory holds %v, want only the pod", got)
	}
	for _, f := range []string{"lock", "pod", "summary", "stage1-args.json", "prepared"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("pod file: %v", err)
		}
	}
	link, err := os.Readlink(filepath.Join(dir, "apps", "hello", "image"))
	if err != nil || link != img.Tree {
		t.Errorf("apps/hello/image -> %q, %v; want %s", link, err, img.Tree)
	}
	b, err := os.ReadFile(filepath.Join(dir, "pod"))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := aci.ParsePodManifest(b)
	if err != nil {
		t.Fatalf("pod manifest does not parse back: %v\n%s", err, b)
	}
	if !pm.IsReified() || pm.Apps[0].Image.ID != img.ID || strings.Join(pm.Apps[0].App.Exec, " ") != "/hello world" {
		t.Errorf("pod manifest %s", b)
	}
	var args []string
	b, _ = os.ReadFile(filepath.Join(dir, "stage1-args.json"))
	if err := json.Unmarshal(b, &args); err != nil {
		t.Fatal(err)
	}
	wantArgs := []string{"--net=none", "--hostname=acirun-" + p.UUID[:8], "--dns=9.9.9.9", "--dns-search=example.com",
		"--hosts-entry=10.1.1.1=db", "--stop-timeout=5s", "--insecure-options=capabilities,paths,seccomp", "--debug"}
	if !reflect.DeepEqual(args, wantArgs) || !reflect.DeepEqual(p.Stage1Args, wantArgs) {
		t.Errorf("stage1 args %q (loaded %q), want %q", args, p.Stage1Args, wantArgs)
	}
	if got, want := Stage1Command(p, "/usr/bin/acirun-stage1"), append(append([]string{"/usr/bin/acirun-stage1", "run"}, wantArgs...), dir); !reflect.DeepEqual(got, want) {
		t.Errorf("Stage1Command = %q, want %q", got, want)
	}
	if b, _ := os.ReadFile(uuidFile); string(b) != p.UUID {
		t.Errorf("--uuid-file-save wrote %q, want %q", b, p.UUID)
	}
	if len(p.Apps) != 1 || p.Apps[0].Name != "hello" || p.Apps[0].ImageID != img.ID {
		t.Errorf("apps %+v", p.Apps)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("pod directory mode %v, %v; want 0700", fi.Mode(), err)
	}
}

func TestPrepareFailureLeavesNothing(t *testing.T) {
	img := testImage(t, manifestJSON("example.com/hello", `{"exec":["/hello"],"user":"0","group":"0"}`))
	noRootfs := &Image{ID: img.ID, Manifest: img.Manifest, Tree: t.TempDir()}
	tests := []struct {
		name     string
		req      *RunRequest
		resolver mapResolver
		err      string
	}{
		{"unknown image", apps("example.com/nope"), mapResolver{}, "image example.com/nope: not in the store"},
		{"missing host source", withVolume(apps("a"), VolumeFlag{Name: "v", Kind: "host", Source: "/nonexistent/acirun-test"}), mapResolver{"a": img}, "volume v: host source /nonexistent/acirun-test does not exist"},
		{"symlinked host source", withVolume(apps("a"), VolumeFlag{Name: "v", Kind: "host", Source: symlinkTo(t, t.TempDir())}), mapResolver{"a": img}, "goes through a symlink; give the real path"},
		{"uuid file unwritable", &RunRequest{UUIDFileSave: "/nonexistent/dir/uuid", Apps: []AppRequest{{Image: "a"}}}, mapResolver{"a": img}, "--uuid-file-save"},
		{"tree without rootfs", apps("a"), mapResolver{"a": noRootfs}, "has no rootfs directory"},
		{"env file missing", &RunRequest{SetEnvFiles: []string{"/nonexistent/env"}, Apps: []AppRequest{{Image: "a"}}}, mapResolver{"a": img}, "--set-env-file"},
		{"pod manifest missing", &RunRequest{PodManifest: "/nonexistent/pod.json"}, mapResolver{}, "--pod-manifest"},
		{"invalid request", &RunRequest{Ports: []aci.ExposedPort{{Name: "http", HostPort: 80}}, Net: "host", Apps: []AppRequest{{Image: "a"}}}, mapResolver{"a": img}, "--port needs the default network"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			_, _, err := Prepare(context.Background(), Config{DataDir: data, Resolver: tt.resolver}, tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
			if got := podsDirEntries(t, data); len(got) != 0 {
				t.Errorf("failed prepare left %v", got)
			}
		})
	}
}

func symlinkTo(t *testing.T, target string) string {
	l := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(target, l); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestPreparePodManifest(t *testing.T) {
	data := t.TempDir()
	img := testImage(t, manifestJSON("example.com/db", `{"exec":["/db"],"user":"0","group":"0","mountPoints":[{"name":"data","path":"/var/db"}]}`))
	pmFile := filepath.Join(t.TempDir(), "pod.json")
	os.WriteFile(pmFile, []byte(`{"acKind":"PodManifest","acVersion":"0.8.11","apps":[{"name":"db","image":{"name":"example.com/db"}}]}`), 0o644)
	p, notes, err := Prepare(context.Background(), Config{DataDir: data, Resolver: mapResolver{"x": img}}, &RunRequest{PodManifest: pmFile})
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "mount point data") {
		t.Errorf("notes %q", notes)
	}
	if !p.Manifest.IsReified() || p.Apps[0].ImageID != img.ID {
		t.Errorf("pod %+v", p)
	}
}

func TestConcurrentPrepares(t *testing.T) {
	data := t.TempDir()
	img := testImage(t, manifestJSON("example.com/hello", `{"exec":["/hello"],"user":"0","group":"0"}`))
	cfg := Config{DataDir: data, Resolver: mapResolver{"a": img}}
	const n = 8
	var wg sync.WaitGroup
	uuids := make([]string, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, _, err := Prepare(context.Background(), cfg, apps("a"))
			if err == nil {
				uuids[i] = p.UUID
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	pods, err := List(data)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, p := range pods {
		if p.State != StatePrepared {
			t.Errorf("pod %s is %s", p.UUID, p.State)
		}
		listed = append(listed, p.UUID)
	}
	sort.Strings(listed)
	sort.Strings(uuids)
	if !reflect.DeepEqual(listed, uuids) {
		t.Errorf("listed %v, prepared %v", listed, uuids)
	}
	if got := podsDirEntries(t, data); len(got) != n {
		t.Errorf("pods directory holds %v", got)
	}
}

// TestPodsLockBlocksPrepare: a prepare takes the pods directory's lock
// shared, so RemoveStale, which takes it exclusively, never deletes the
// temporary directory of a prepare under way.
func TestPodsLockBlocksPrepare(t *testing.T) {
	data := t.TempDir()
	img := testImage(t, manifestJSON("example.com/hello", `{"exec":["/hello"],"user":"0","group":"0"}`))
	cfg := Config{DataDir: data, Resolver: mapResolver{"a": img}}
	podsDir := filepath.Join(data, podcontract.PodsDir)
	if err := os.MkdirAll(podsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	lock, err := flock.TryLock(filepath.Join(podsDir, podcontract.PodsLockFile), true)
	if err != nil || lock == nil {
		t.Fatalf("lock the pods directory: %v, %v", lock, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, _, err := Prepare(ctx, cfg, apps("a")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Prepare while the pods directory is locked: %v, want deadline exceeded", err)
	}
	lock.Close()
	if _, _, err := Prepare(context.Background(), cfg, apps("a")); err != nil {
		t.Errorf("Prepare after unlock: %v", err)
	}
}

func TestCheckOverlayUpper(t *testing.T) {
	for _, full := range []bool{false, true} {
		if err := checkOverlayUpper(t.TempDir(), full); err != nil {
			t.Errorf("temp dir (full %v): %v", full, err)
		}
	}
}

// TestWritePodDirFailure makes writing fail halfway (two apps of one name:
// the second image symlink cannot be created) and checks nothing is left.
func TestWritePodDirFailure(t *testing.T) {
	data := t.TempDir()
	pods := filepath.Join(data, "pods")
	if err := os.MkdirAll(pods, 0o700); err != nil {
		t.Fatal(err)
	}
	img := testImage(t, manifestJSON("example.com/hello", `{"exec":["/hello"],"user":"0","group":"0"}`))
	in := &reifyInput{req: apps("a"), images: []*Image{img}}
	pm, err := in.reify()
	if err != nil {
		t.Fatal(err)
	}
	pm.Apps = append(pm.Apps, pm.Apps[0])
	uuid, _ := NewUUID()
	if _, err := writePodDir(pods, uuid, pm, []*Image{img, img}, nil, true, true, func(prepareStep) {}); err == nil || !strings.Contains(err.Error(), "prepare pod "+uuid) {
		t.Fatalf("writePodDir error %v", err)
	}
	if got := podsDirEntries(t, data); len(got) != 0 {
		t.Errorf("failed write left %v", got)
	}
}

func TestPrepareReleasesImages(t *testing.T) {
	base := testImage(t, manifestJSON("example.com/hello", `{"exec":["/hello"],"user":"0","group":"0"}`))
	tests := []struct {
		name string
		req  *RunRequest
		err  string // the refusal's reason; "" for success
	}{
		{"success", &RunRequest{Apps: []AppRequest{{Image: "a"}, {Image: "b", Name: "b"}}}, ""},
		{"second image missing", apps("a", "missing"), "image missing: not in the store"},
		{"bad volume after resolving", &RunRequest{Volumes: []VolumeFlag{{Name: "v", Kind: "host", Source: "/nonexistent/x"}},
			Apps: []AppRequest{{Image: "a"}, {Image: "b", Name: "b"}}}, "volume v: host source /nonexistent/x does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			released := map[string]int{}
			var inUseAtRelease []int
			data := t.TempDir()
			r := mapResolver{}
			for _, ref := range []string{"a", "b"} {
				img := *base
				img.Release = func() {
					released[ref]++
					ids, err := InUseImages(data)
					if err != nil {
						t.Error(err)
					}
					inUseAtRelease = append(inUseAtRelease, len(ids))
				}
				r[ref] = &img
			}
			_, _, err := Prepare(context.Background(), Config{DataDir: data, Resolver: r}, tt.req)
			if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Prepare: %v, want %q", err, tt.err)
			}
			if released["a"] != 1 || (len(tt.req.Apps) > 1 && tt.req.Apps[1].Image == "b" && released["b"] != 1) {
				t.Errorf("releases %v, want each resolved image once", released)
			}
			// On success the pod is listed (its image in use) before any
			// release; on failure there is no pod.
			for _, n := range inUseAtRelease {
				if tt.err == "" && n != 1 || tt.err != "" && n != 0 {
					t.Errorf("images in use at release: %v", inUseAtRelease)
				}
			}
		})
	}
}

func TestPrepareRelativeDataDir(t *testing.T) {
	base := t.TempDir()
	t.Chdir(base)
	img := testImage(t, manifestJSON("example.com/hello", `{"exec":["/hello"],"user":"0","group":"0"}`))
	p, _, err := Prepare(context.Background(), Config{DataDir: "data", Resolver: mapResolver{"a": img}}, apps("a"))
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(base, "data", "pods", p.UUID)
	if p.Dir != want {
		t.Errorf("pod dir %s, want %s", p.Dir, want)
	}
	if argv := Stage1Command(p, "acirun"); argv[len(argv)-1] != want {
		t.Errorf("stage1 command %q", argv)
	}
	if q, err := Load("data", p.UUID[:8]); err != nil || q.Dir != want {
		t.Errorf("Load relative: %v, %v", q, err)
	}
}

func TestPreparePodManifestAppVolumeSource(t *testing.T) {
	data := t.TempDir()
	img := testImage(t, manifestJSON("example.com/db", `{"exec":["/db"],"user":"0","group":"0"}`))
	pmFile := filepath.Join(t.TempDir(), "pod.json")
	os.WriteFile(pmFile, []byte(`{"acKind":"PodManifest","acVersion":"0.8.11","apps":[{"name":"db","image":{"name":"example.com/db"},
		"mounts":[{"volume":"x","path":"/x","appVolume":{"name":"x","kind":"host","source":"/nonexistent/acirun"}}]}]}`), 0o644)
	_, _, err := Prepare(context.Background(), Config{DataDir: data, Resolver: mapResolver{"x": img}}, &RunRequest{PodManifest: pmFile})
	if err == nil || !strings.Contains(err.Error(), "volume x: host source /nonexistent/acirun does not exist") {
		t.Errorf("error %v", err)
	}
	if got := podsDirEntries(t, data); len(got) != 0 {
		t.Errorf("left %v", got)
	}
}

// BenchmarkPrepare measures stage0's share of a warm start: a one-app pod
// prepared from an image already in the store, as `run` (no fsync) and as
// `prepare` (fsync) do it.
func BenchmarkPrepare(b *testing.B) {
	for _, sync := range []bool{false, true} {
		b.Run(fmt.Sprintf("sync=%v", sync), func(b *testing.B) {
			data := b.TempDir()
			tree := filepath.Join(b.TempDir(), "tree")
			if err := os.MkdirAll(filepath.Join(tree, "rootfs"), 0o755); err != nil {
				b.Fatal(err)
			}
			m, err := aci.ParseImageManifest([]byte(manifestJSON("example.com/hello", `{"exec":["/hello"],"user":"0","group":"0"}`)))
			if err != nil {
				b.Fatal(err)
			}
			id, _ := aci.ParseImageID("sha512-" + strings.Repeat("ab", 64))
			cfg := Config{DataDir: data, Resolver: mapResolver{"a": {ID: id, Manifest: m, Tree: tree}}, Sync: sync}
			req := &RunRequest{Net: "none", Apps: []AppRequest{{Image: "a"}}}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, err := Prepare(context.Background(), cfg, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestPrepareRefusesOverlayDataDir(t *testing.T) {
	testenv.NeedRoot(t, "to mount overlayfs")
	base := t.TempDir()
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	merged := filepath.Join(base, "merged")
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", filepath.Join(base, "lower"), filepath.Join(base, "upper"), filepath.Join(base, "work"))
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay: %v", err)
	}
	defer unix.Unmount(merged, unix.MNT_DETACH)
	img := testImage(t, manifestJSON("example.com/hello", `{"exec":["/hello"],"user":"0","group":"0"}`))
	cfg := Config{DataDir: filepath.Join(merged, "data"), Resolver: mapResolver{"a": img}}
	_, _, err := Prepare(context.Background(), cfg, apps("a"))
	if err == nil || !strings.Contains(err.Error(), "is on overlayfs") || !strings.Contains(err.Error(), "--no-overlay") {
		t.Errorf("Prepare on overlayfs: %v", err)
	}
	if got := podsDirEntries(t, cfg.DataDir); len(got) != 0 {
		t.Errorf("left %v", got)
	}
	p, _, err := Prepare(context.Background(), cfg, &RunRequest{NoOverlay: true, Apps: []AppRequest{{Image: "a"}}})
	if err != nil {
		t.Fatalf("Prepare --no-overlay on overlayfs: %v", err)
	}
	if !slices.Contains(p.Stage1Args, "--no-overlay") {
		t.Errorf("stage1 args %q lack --no-overlay", p.Stage1Args)
	}
}
