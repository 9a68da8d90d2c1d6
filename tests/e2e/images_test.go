package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/tests/testimage"
)

// TestImageCommands: image list, export, extract, render, verify, rm and gc
// through the binary, on a store filled by fetch.
func TestImageCommands(t *testing.T) {
	needRoot(t)
	h := newHost(t)
	fileA := podImage(t, manifest("example.com/a", map[string]string{"version": "1.0"}, nil, "exit", "0"),
		&testimage.Options{Files: map[string]string{"/etc/a.conf": "a\n"}})
	fileB := podImage(t, manifest("example.com/b", nil, nil, "exit", "0"), nil)
	idA, idB := imageID(t, fileA), imageID(t, fileB)
	h.fetchID("--insecure-options=image", fileA)
	h.fetchID("--insecure-options=image", fileB)

	// list: a table with short IDs and name:version, in rkt's columns,
	// oldest first; --full; json.
	r := h.ok("image", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^ID\s+NAME\s+IMPORT TIME\s+LAST USED\s+SIZE\s+LATEST$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^`+short(idA)+`\s+example.com/a:1.0\s+\d.*\s+true$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^`+short(idB)+`\s+example.com/b\s+\d.*\s+true$`).MatchString(lines[2]) ||
		strings.Contains(r.stdout, idA) {
		t.Errorf("image list:\n%s", r.stdout)
	}
	if r := h.ok("image", "list", "--full"); !strings.Contains(r.stdout, idA) || !strings.Contains(r.stdout, idB) {
		t.Errorf("image list --full:\n%s", r.stdout)
	}
	type entry struct {
		ID         string            `json:"id"`
		Name       string            `json:"name"`
		Labels     map[string]string `json:"labels"`
		ImportTime time.Time         `json:"importTime"`
		Size       int64             `json:"size"`
	}
	var list []entry
	if err := json.Unmarshal([]byte(h.ok("image", "list", "--format=json").stdout), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != short(idA) || list[0].Name != "example.com/a" || list[0].Labels["version"] != "1.0" ||
		list[0].Labels["os"] != "linux" || list[0].Size <= 0 || time.Since(list[0].ImportTime) > time.Hour {
		t.Errorf("image list --format=json: %+v", list)
	}
	if r := h.run("image", "list", "--format=yaml"); r.code != 2 || !strings.Contains(r.stderr, "yaml") {
		t.Errorf("image list --format=yaml: want a usage error: %s", r)
	}

	// export: the same ID back, checked by image validate; an existing file
	// is kept unless --overwrite.
	out := filepath.Join(h.dir, "a.aci")
	h.ok("image", "export", short(idA), out)
	if r := h.ok("image", "validate", out); strings.TrimSpace(r.stdout) != out+": ok "+idA {
		t.Errorf("image validate of the export: %q, want ok %s", r.stdout, idA)
	}
	if got := imageID(t, out); got != idA {
		t.Errorf("exported file hashes to %s, want %s", got, idA)
	}
	h.fails([]string{out, "exists", "--overwrite"}, "image", "export", idB, out)
	if got := imageID(t, out); got != idA {
		t.Errorf("a refused export changed %s", out)
	}
	h.ok("image", "export", "--overwrite", idB, out)
	if got := imageID(t, out); got != idB {
		t.Errorf("export --overwrite: %s, want %s", got, idB)
	}
	if r := h.ok("image", "cat-manifest", out); !strings.Contains(r.stdout, `"name": "example.com/b"`) {
		t.Errorf("image cat-manifest of the export:\n%s", r.stdout)
	}

	// extract (the image's own manifest and rootfs/, or with --rootfs-only
	// the rootfs' contents) and render (manifest + rootfs/) into new
	// directories; a non-empty directory is refused and left alone.
	app := mustRead(t, e.testapp)
	ext := filepath.Join(h.dir, "extract")
	h.ok("image", "extract", idA, ext)
	if got := mustRead(t, filepath.Join(ext, "rootfs", "etc", "a.conf")); string(got) != "a\n" {
		t.Errorf("extract: rootfs/etc/a.conf = %q", got)
	}
	if m := mustRead(t, filepath.Join(ext, "manifest")); !strings.Contains(string(m), "example.com/a") {
		t.Errorf("extract: manifest %s", m)
	}
	h.ok("image", "extract", "--rootfs-only", "--overwrite", "example.com/a", ext)
	if got := mustRead(t, filepath.Join(ext, testimage.AppPath)); !bytes.Equal(got, app) {
		t.Errorf("extract --rootfs-only: %s differs from testapp", testimage.AppPath)
	}
	if _, err := os.Stat(filepath.Join(ext, "manifest")); !os.IsNotExist(err) {
		t.Errorf("extract --rootfs-only --overwrite left the manifest of the first extract: %v", err)
	}
	ren := filepath.Join(h.dir, "render")
	h.ok("image", "render", idA, ren)
	if got := mustRead(t, filepath.Join(ren, "rootfs", "etc", "a.conf")); string(got) != "a\n" {
		t.Errorf("render: rootfs/etc/a.conf = %q", got)
	}
	if m := mustRead(t, filepath.Join(ren, "manifest")); !strings.Contains(string(m), "example.com/a") {
		t.Errorf("render: manifest %s", m)
	}
	full := filepath.Join(h.dir, "full")
	os.MkdirAll(full, 0o755)
	os.WriteFile(filepath.Join(full, "keep"), []byte("mine"), 0o644)
	for _, cmd := range []string{"extract", "render"} {
		h.fails([]string{full}, "image", cmd, idA, full)
		if names := dirEntries(t, full); len(names) != 1 || string(mustRead(t, filepath.Join(full, "keep"))) != "mine" {
			t.Errorf("image %s into a non-empty dir touched it: %v", cmd, names)
		}
	}

	// verify: a damaged rendered tree is found and repaired.
	if r := h.ok("image", "verify", idA); strings.TrimSpace(r.stdout) != short(idA)+": ok" {
		t.Errorf("image verify of a good tree: %q", r.stdout)
	}
	conf := filepath.Join(h.data, "store", "trees", idA, "rootfs", "etc", "a.conf")
	if err := os.WriteFile(conf, []byte("damaged\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = h.run("image", "verify", "--repair=false", idA)
	if r.code != 254 || !strings.HasPrefix(r.stdout, short(idA)+": ") || strings.Contains(r.stdout, "ok") || !strings.Contains(r.stderr, "1 images damaged") {
		t.Errorf("image verify --repair=false of a damaged tree: %s", r)
	}
	if got := mustRead(t, conf); string(got) != "damaged\n" {
		t.Errorf("--repair=false repaired: %q", got)
	}
	r = h.ok("image", "verify")
	if !strings.Contains(r.stdout, short(idA)+": ") || !strings.Contains(r.stdout, "repaired") || !strings.Contains(r.stdout, short(idB)+": ok") {
		t.Errorf("image verify (all, repair): %s", r)
	}
	if got := mustRead(t, conf); string(got) != "a\n" {
		t.Errorf("after the repair, etc/a.conf = %q", got)
	}
	if r := h.ok("image", "verify", idA); strings.TrimSpace(r.stdout) != short(idA)+": ok" {
		t.Errorf("image verify after the repair: %q", r.stdout)
	}
	// A removed file is damage too.
	if err := os.Remove(conf); err != nil {
		t.Fatal(err)
	}
	if r := h.ok("image", "verify", idA); !strings.Contains(r.stdout, "repaired") || string(mustRead(t, conf)) != "a\n" {
		t.Errorf("verify of a tree with a file removed: %s", r)
	}

	// rm and gc spare what a prepared pod uses.
	r = h.ok("prepare", "--insecure-options=image", "--net=none", fileA)
	uuid := strings.TrimSpace(r.stdout)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(uuid) {
		t.Fatalf("prepare printed %q, want a UUID", r.stdout)
	}
	h.fails([]string{short(idA), "used by a prepared or running pod"}, "image", "rm", short(idA))
	if ids := h.storeIDs(); !slices.Contains(ids, idA) {
		t.Fatalf("image rm removed an image in use: %v", ids)
	}
	// gc with the default grace period keeps both (just imported); with
	// none, it removes only the unused one.
	if r := h.ok("image", "gc"); strings.TrimSpace(r.stdout) != "" || len(h.storeIDs()) != 2 {
		t.Errorf("image gc within the grace period removed something: %s", r)
	}
	if r := h.ok("image", "gc", "--grace-period=0s"); strings.TrimSpace(r.stdout) != "removed "+idB {
		t.Errorf("image gc --grace-period=0s: %q, want to remove %s only", r.stdout, idB)
	}
	if ids := h.storeIDs(); len(ids) != 1 || ids[0] != idA {
		t.Errorf("store after gc: %v, want [%s]", ids, idA)
	}
	if _, err := os.Stat(filepath.Join(h.data, "store", "trees", idB)); !os.IsNotExist(err) {
		t.Errorf("gc left the tree of %s: %v", idB, err)
	}
	h.ok("rm", uuid)
	if r := h.ok("image", "rm", idA); strings.TrimSpace(r.stdout) != "removed "+short(idA) {
		t.Errorf("image rm after the pod was removed: %q", r.stdout)
	}
	if ids := h.storeIDs(); len(ids) != 0 {
		t.Errorf("store after image rm: %v", ids)
	}
	for _, sub := range []string{"trees", "blobs"} {
		if left := dirEntries(t, filepath.Join(h.data, "store", sub)); len(left) != 0 {
			t.Errorf("store/%s after removing every image: %v", sub, left)
		}
	}
	h.fails([]string{short(idA)}, "image", "rm", short(idA))
}

// TestImageIDPrefix: an image ID prefix that matches two images is an error
// listing them; a longer one picks its image.
func TestImageIDPrefix(t *testing.T) {
	needRoot(t)
	h := newHost(t)
	// Tiny images until two IDs share their first hex digit (at most 17).
	first := map[byte]string{}
	var a, b string
	for i := 0; a == ""; i++ {
		name := fmt.Sprintf("example.com/tiny-%d", i)
		f := podImage(t, manifest(name, nil, nil), &testimage.Options{NoApp: true, Files: map[string]string{"/n": name}})
		id := h.fetchID("--full", "--insecure-options=image", f)
		c := id[len("sha512-")]
		if other, ok := first[c]; ok {
			a, b = other, id
		}
		first[c] = id
	}
	prefix := a[:len("sha512-")+1]
	for _, args := range [][]string{{"image", "rm", prefix}, {"image", "export", prefix, filepath.Join(h.dir, "x.aci")}, {"image", "render", prefix, filepath.Join(h.dir, "x")}} {
		h.fails([]string{"ambiguous", prefix, a[:20], b[:20]}, args...)
	}
	if ids := h.storeIDs(); !slices.Contains(ids, a) || !slices.Contains(ids, b) {
		t.Errorf("an ambiguous rm removed something: %v", ids)
	}
	// Without "sha512-", and long enough: unique.
	h.ok("image", "export", strings.TrimPrefix(a[:len("sha512-")+20], "sha512-"), filepath.Join(h.dir, "a.aci"))
	if got := imageID(t, filepath.Join(h.dir, "a.aci")); got != a {
		t.Errorf("export by prefix: %s, want %s", got, a)
	}
	h.fails([]string{"not an image ID"}, "image", "rm", "sha512-XYZ")
}
