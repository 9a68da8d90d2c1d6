package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/testenv"
)

// Layout is an OCI image layout (a directory: oci-layout, index.json,
// blobs/) whose images a test builds with umoci, tag by tag.
type Layout struct {
	// Dir is the layout's directory.
	Dir  string
	t    testing.TB
	home string // HOME of the tools: none of the machine's credentials or settings
}

// NewLayout makes an empty layout at dir with umoci init. Building images
// needs root (umoci unpack keeps the files' owners) and umoci.
func NewLayout(t testing.TB, dir string) *Layout {
	t.Helper()
	testenv.NeedRoot(t, "umoci unpack keeps files' owners")
	testenv.NeedTool(t, "umoci", "builds the test images")
	l := &Layout{Dir: dir, t: t, home: t.TempDir()}
	l.umoci("init", "--layout", dir)
	return l
}

// Image is an image to build: its layers, bottom first, and its config.
type Image struct {
	Layers []Layer
	Config Config
}

// Config is the image's configuration as umoci config sets it (the
// fields left empty keep umoci's defaults: os linux, this machine's
// architecture).
type Config struct {
	Entrypoint, Cmd, Env  []string
	WorkingDir, User      string
	StopSignal            string
	ExposedPorts, Volumes []string // "8080/tcp"; "/data"
	Labels                map[string]string
	OS, Architecture      string
	Author                string
}

// Layer is one layer. Normally it is the changes made to the image's root
// (unpacked with umoci unpack) before umoci repack diffs it: a removed
// path becomes a whiteout .wh.NAME, as every image tool writes it. With
// Raw set, the layer is instead a tar of exactly those entries, added
// verbatim with umoci raw add-layer: opaque directories (.wh..wh..opq),
// which umoci repack never writes, and hostile entries.
type Layer struct {
	Files    map[string]string // path -> content (0644; parents 0755)
	Copies   map[string]string // path -> a host file copied with its mode (a program)
	Dirs     []string
	Symlinks map[string]string // path -> target
	Remove   []string          // paths removed (whole trees)
	Raw      []Entry
}

// Entry is a tar entry of a raw layer. Type defaults to a regular file
// (tar.TypeReg), Mode to 0644 (0755 for a directory).
type Entry struct {
	Name     string
	Type     byte
	Mode     int64
	Body     string
	Linkname string
}

// Ref is the skopeo (and acirun) reference of tag in the layout:
// oci:DIR:TAG.
func (l *Layout) Ref(tag string) string { return "oci:" + l.Dir + ":" + tag }

// Build builds img as tag (replacing an image of that tag) and returns
// the digest of its manifest.
func (l *Layout) Build(tag string, img Image) string {
	l.t.Helper()
	ref := l.Dir + ":" + tag
	l.umoci("new", "--image", ref)
	scratch := l.t.TempDir()
	for i, layer := range img.Layers {
		if layer.Raw != nil {
			file := filepath.Join(scratch, fmt.Sprintf("layer%d.tar", i))
			writeFile(l.t, file, rawTar(l.t, layer.Raw))
			l.umoci("raw", "add-layer", "--image", ref, file)
			continue
		}
		bundle := filepath.Join(scratch, fmt.Sprintf("bundle%d", i))
		l.umoci("unpack", "--image", ref, bundle)
		layer.apply(l.t, filepath.Join(bundle, "rootfs"))
		l.umoci("repack", "--image", ref, bundle)
		os.RemoveAll(bundle)
	}
	args := []string{"config", "--image", ref}
	c := img.Config
	for _, v := range c.Entrypoint {
		args = append(args, "--config.entrypoint="+v)
	}
	for _, v := range c.Cmd {
		args = append(args, "--config.cmd="+v)
	}
	for _, v := range c.Env {
		args = append(args, "--config.env="+v)
	}
	for _, v := range c.ExposedPorts {
		args = append(args, "--config.exposedports="+v)
	}
	for _, v := range c.Volumes {
		args = append(args, "--config.volume="+v)
	}
	for k, v := range c.Labels {
		args = append(args, "--config.label="+k+"="+v)
	}
	for flag, v := range map[string]string{"--config.workingdir": c.WorkingDir, "--config.user": c.User,
		"--config.stopsignal": c.StopSignal, "--os": c.OS, "--architecture": c.Architecture, "--author": c.Author} {
		if v != "" {
			args = append(args, flag+"="+v)
		}
	}
	l.umoci(args...)
	return l.Descriptor(tag).Digest
}

// apply makes the layer's changes in root.
func (layer Layer) apply(t testing.TB, root string) {
	t.Helper()
	in := func(p string) string {
		if !filepath.IsAbs(p) || slices.Contains(strings.Split(p, "/"), "..") {
			t.Fatalf("registry: layer path %q must be absolute without .. (use Raw for hostile ones)", p)
		}
		return filepath.Join(root, p)
	}
	for _, p := range layer.Remove {
		if err := os.RemoveAll(in(p)); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range layer.Dirs {
		if err := os.MkdirAll(in(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, content := range layer.Files {
		writeFile(t, in(p), []byte(content))
	}
	for p, src := range layer.Copies {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(src)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, in(p), b)
		if err := os.Chmod(in(p), st.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range layer.Symlinks {
		if err := os.MkdirAll(filepath.Dir(in(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, in(p)); err != nil {
			t.Fatal(err)
		}
	}
}

// rawTar is the uncompressed tar of entries, as given.
func rawTar(t testing.TB, entries []Entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Linkname: e.Linkname,
			ModTime: time.Unix(1e9, 0), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("registry: raw layer entry %q: %v", e.Name, err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(e.Body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *Platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Platform is the platform of an index entry.
type Platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

// Manifest is an OCI image manifest (or index: Manifests) as far as tests
// look into it.
type Manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Config        *Descriptor  `json:"config,omitempty"`
	Layers        []Descriptor `json:"layers,omitempty"`
	Manifests     []Descriptor `json:"manifests,omitempty"`
}

const refName = "org.opencontainers.image.ref.name"

// Descriptor returns the descriptor of tag in the layout's index.json.
func (l *Layout) Descriptor(tag string) Descriptor {
	l.t.Helper()
	var idx Manifest
	if err := readJSON(filepath.Join(l.Dir, "index.json"), &idx); err != nil {
		l.t.Fatal(err)
	}
	for _, d := range idx.Manifests {
		if d.Annotations[refName] == tag {
			return d
		}
	}
	l.t.Fatalf("registry: layout %s has no tag %q", l.Dir, tag)
	return Descriptor{}
}

// Blob returns the bytes of the blob with digest.
func (l *Layout) Blob(digest string) []byte {
	l.t.Helper()
	alg, hex, _ := strings.Cut(digest, ":")
	b, err := os.ReadFile(filepath.Join(l.Dir, "blobs", alg, hex))
	if err != nil {
		l.t.Fatal(err)
	}
	return b
}

// Manifest returns the manifest (or index) of tag.
func (l *Layout) Manifest(tag string) Manifest {
	l.t.Helper()
	var m Manifest
	if err := json.Unmarshal(l.Blob(l.Descriptor(tag).Digest), &m); err != nil {
		l.t.Fatal(err)
	}
	return m
}

// Index makes tag an image index of the images tagged with each key of
// platforms, each entry carrying its platform (a variant is only in the
// index, as umoci config cannot set one), and returns its digest. The
// entries are in the order of tags.
func (l *Layout) Index(tag string, tags []string, platforms []Platform) string {
	l.t.Helper()
	if len(tags) != len(platforms) {
		l.t.Fatalf("registry: index %s: %d tags for %d platforms", tag, len(tags), len(platforms))
	}
	idx := Manifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json"}
	for i, tg := range tags {
		d := l.Descriptor(tg)
		d.Annotations = nil
		p := platforms[i]
		d.Platform = &p
		idx.Manifests = append(idx.Manifests, d)
	}
	b, err := json.Marshal(idx)
	if err != nil {
		l.t.Fatal(err)
	}
	digest := l.putBlob(b)
	l.tag(tag, Descriptor{MediaType: idx.MediaType, Digest: digest, Size: int64(len(b))})
	return digest
}

// putBlob stores b in the layout and returns its digest.
func (l *Layout) putBlob(b []byte) string {
	l.t.Helper()
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])
	writeFile(l.t, filepath.Join(l.Dir, "blobs", "sha256", h), b)
	return "sha256:" + h
}

// tag points tag at d in index.json, replacing what it pointed at.
func (l *Layout) tag(tag string, d Descriptor) {
	l.t.Helper()
	file := filepath.Join(l.Dir, "index.json")
	var idx map[string]any
	if err := readJSON(file, &idx); err != nil {
		l.t.Fatal(err)
	}
	var keep []any
	if ms, ok := idx["manifests"].([]any); ok {
		for _, m := range ms {
			if a, _ := m.(map[string]any)["annotations"].(map[string]any); a[refName] != tag {
				keep = append(keep, m)
			}
		}
	}
	d.Annotations = map[string]string{refName: tag}
	idx["manifests"] = append(keep, d)
	b, err := json.Marshal(idx)
	if err != nil {
		l.t.Fatal(err)
	}
	writeFile(l.t, file, b)
}

// Platform returns this machine's platform as OCI names it.
func HostPlatform() Platform {
	p := Platform{OS: "linux", Architecture: runtime.GOARCH}
	if p.Architecture == "arm64" {
		p.Variant = "v8"
	}
	return p
}

// Recompress copies tag into a new layout with its layers compressed as
// format (gzip, zstd) by skopeo copy --dest-compress-format, and returns
// that layout, where the image has the same tag. (Into the same layout,
// or straight to a registry, skopeo would reuse the gzip blobs of the same
// content instead.)
func (l *Layout) Recompress(tag, format string) *Layout {
	l.t.Helper()
	testenv.NeedTool(l.t, "skopeo", "recompresses the test images' layers")
	out := NewLayout(l.t, filepath.Join(l.t.TempDir(), "layout-"+format))
	l.run("skopeo", "copy", "--quiet", "--dest-compress-format="+format, l.Ref(tag), out.Ref(tag))
	return out
}

// Save writes the image tag as an archive made by podman save (format
// docker-archive or oci-archive) to file, under the name name (NAME:TAG):
// skopeo copies the image into a containers storage of the test's own
// (vfs driver) under that name, and podman saves it from there, as a user
// moving an image between machines would.
func (l *Layout) Save(tag, file, format, name string) {
	l.t.Helper()
	testenv.NeedTool(l.t, "podman", "writes docker-archive and oci-archive files as docker save does")
	dir := l.t.TempDir()
	root, runroot := filepath.Join(dir, "root"), filepath.Join(dir, "run")
	l.run("skopeo", "copy", "--quiet", l.Ref(tag), "containers-storage:[vfs@"+root+"+"+runroot+"]"+name)
	podman := []string{"podman", "--root=" + root, "--runroot=" + runroot, "--storage-driver=vfs", "--events-backend=none"}
	l.run(append(podman, "save", "--quiet", "--format="+format, "--output="+file, name)...)
	// The storage holds read-only directories of its own.
	l.run(append(podman, "system", "reset", "--force")...)
}

func (l *Layout) umoci(args ...string) {
	l.t.Helper()
	l.run(append([]string{"umoci"}, args...)...)
}

// run runs argv with HOME (and the XDG directories) in a scratch directory,
// so that no credentials or settings of the machine's user reach skopeo or
// podman, and returns its standard output.
func (l *Layout) run(argv ...string) []byte {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "HOME="+l.home, "XDG_RUNTIME_DIR="+l.home, "XDG_DATA_HOME="+l.home, "XDG_CONFIG_HOME="+l.home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		l.t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, stderr.Bytes())
	}
	return out
}
