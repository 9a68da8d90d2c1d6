package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/tests/testimage"
)

// TestVolumeTargetsThroughSymlinks runs, in the box, an image whose rootfs
// plants symlinks to /proc/sys, /proc, /sys, / and /dev/pts, and mounts a
// host volume at each: every one is refused naming the target and where the
// image's symlinks lead it, the app never runs, and no pod is left. /dev and
// /dev/pts named directly are refused too. A symlink that another volume
// brings is refused by stage1, which resolves each target once the volumes
// before it are mounted. A symlink to an ordinary directory still takes the
// volume there (resolved inside the root).
func TestVolumeTargetsThroughSymlinks(t *testing.T) {
	needRoot(t)
	b := shared.Get(t)
	h := newBoxHost(t, b)
	built := podImage(t, podManifest(t, "example.com/hostile-mounts", nil, "exit", "0"), &testimage.Options{
		Files: map[string]string{"/srv/data/image-file": "the image's\n"},
		Symlinks: map[string]string{
			"/evil-sys":   "/proc/sys",
			"/evil-proc":  "../../proc",
			"/evil-sysfs": "/sys",
			"/evil-root":  "/",
			"/evil-pts":   "dev/pts",
			"/etc/chain":  "/evil-sys/kernel",
			"/good":       "/srv/data",
		},
	})
	// The box sees h.dir at the same path, not the test's temporary files.
	img := filepath.Join(h.dir, "hostile.aci")
	aci, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, aci, 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(h.dir, "vol")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "in"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vol := "--volume=v,kind=host,source=" + src
	for _, tc := range []struct{ target, want string }{
		{"/evil-sys", "target /evil-sys is not allowed (the image's symlinks lead /evil-sys to /proc/sys)"},
		{"/evil-proc", "target /evil-proc is not allowed (the image's symlinks lead /evil-proc to /proc)"},
		{"/evil-sysfs/fs", "target /evil-sysfs/fs is not allowed (the image's symlinks lead /evil-sysfs/fs to /sys/fs)"},
		{"/evil-root", "target /evil-root is not allowed (the image's symlinks lead /evil-root to /): it is the app's root"},
		{"/evil-pts", "target /evil-pts is not allowed (the image's symlinks lead /evil-pts to /dev/pts)"},
		{"/etc/chain", "target /etc/chain is not allowed (the image's symlinks lead /etc/chain to /proc/sys/kernel)"},
		{"/dev", "target /dev is not allowed: /dev and its devices"},
		{"/dev/pts", "target /dev/pts is not allowed: /dev and its devices"},
	} {
		t.Run(strings.TrimPrefix(tc.target, "/"), func(t *testing.T) {
			before := h.podDirs()
			r := h.run("run", "--insecure-options=image", "--net=none", vol, img, "--mount=volume=v,target="+tc.target,
				"--exec=/testapp", "--", "write", "/tmp/ran", "yes")
			if r.code == 0 || !strings.Contains(r.stderr, "volume v: "+tc.want) || strings.Contains(r.stdout, "write /tmp/ran") {
				t.Errorf("want a refusal saying %q, and the app not run: %s", tc.want, r)
			}
			if after := h.podDirs(); len(after) != len(before) {
				t.Errorf("a refused pod was left: %v", after)
			}
		})
	}
	// A symlink that a volume brings, which prepare cannot see in the
	// image: stage1 resolves each target after mounting the volumes
	// before it, and refuses.
	planted := filepath.Join(h.dir, "planted")
	if err := os.MkdirAll(planted, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/sys", filepath.Join(planted, "x")); err != nil {
		t.Fatal(err)
	}
	r := h.run("run", "--insecure-options=image", "--net=none", vol, "--volume=p,kind=host,source="+planted, img,
		"--mount=volume=p,target=/data", "--mount=volume=v,target=/data/x", "--exec=/testapp", "--", "write", "/tmp/ran", "yes")
	if want := "volume v: target /data/x is not allowed (the image's symlinks lead /data/x to /proc/sys)"; r.code == 0 || !strings.Contains(r.stderr, want) || strings.Contains(r.stdout, "write /tmp/ran") {
		t.Errorf("symlink from a volume: want a refusal saying %q, and the app not run: %s", want, r)
	}

	r = h.run("run", "--insecure-options=image", "--net=none", vol, img, "--mount=volume=v,target=/good",
		"--exec=/testapp", "--", "cat", "/srv/data/in", "+", "cat", "/good/in")
	wantExit(t, r, 0)
	wantLines(t, r, "from the host", "from the host")
}

// TestHostileDiscovery: discovery and fetch against a server of the test at
// https://example.com in the box's network namespace, acting as an attacker
// would. One expectation each; nothing is stored by any refusal.
func TestHostileDiscovery(t *testing.T) {
	b := shared.Get(t)
	ca := newCA(t)
	var ln net.Listener
	if err := b.InNetNS("", func() (err error) {
		ln, err = net.Listen("tcp4", "127.0.0.1:443")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := ca.serve(t, ln, "example.com")
	addHosts(t, b, "127.0.0.1 example.com")
	h := newBoxHost(t, b)
	h.useCA(ca)

	tpl := "https://example.com/images/{name}/{version}/{os}-{arch}.{ext}"
	srv.put("/?ac-discovery=1", []byte(`<meta name="ac-discovery" content="example.com `+tpl+`">`))
	// A page whose tag comes after 2 MiB: past what discovery reads.
	srv.put("/huge?ac-discovery=1", []byte(strings.Repeat(" ", 2<<20)+`<meta name="ac-discovery" content="example.com/huge https://example.com/stolen/{name}.{ext}">`))
	// Served at a byte every 10 ms (srv.setTrickle) when its case runs.
	srv.put("/trickle.aci", trickleArchive(t))
	srv.handle("/downgrade.aci", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://example.com/plain.aci", http.StatusFound)
	})

	for _, tc := range []struct {
		name string
		args []string
		want []string
		// no request may have this path prefix (the server sees it
		// decoded: an escaped '?' looks like a query here)
		never string
	}{
		{"a version that would climb the path", []string{"fetch", "example.com/app:1.0/../../../admin"},
			[]string{"404", "images/example.com/app/1.0%2F..%2F..%2F..%2Fadmin/"}, "/admin"},
		{"a label that would add a query", []string{"fetch", "example.com/app:1.0,arch=x?token=1"},
			[]string{"x%3Ftoken%3D1"}, ""},
		{"a version of dots", []string{"fetch", "example.com/app:.."},
			[]string{"only dots"}, "/images/example.com/app/.."},
		{"a tag past the page's first MiB", []string{"fetch", "example.com/huge:1.0"},
			[]string{"example.com/huge"}, "/stolen"},
		{"https redirected to http", []string{"fetch", "--insecure-options=image", "https://example.com/downgrade.aci"},
			[]string{"http://example.com/plain.aci", "--insecure-options=http"}, "/plain.aci"},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			srv.requests()
			start := time.Now()
			h.fails(tc.want, tc.args...)
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %v", d)
			}
			reqs := srv.requests()
			for _, r := range reqs {
				if tc.never != "" && strings.HasPrefix(r.path, tc.never) {
					t.Errorf("the server was asked for %s:\n%s", r.path, summary(reqs))
				}
			}
			if ids := h.storeIDs(); len(ids) != 0 {
				t.Errorf("a refused fetch stored %v", ids)
			}
		})
	}

	// A server trickling a byte every 10 ms (100 B/s, under the 1 KiB
	// of each --stall-timeout) is given up on after a second, and the
	// download resumes with a Range request (which this server answers
	// at full speed).
	srv.requests()
	srv.setTrickle(1)
	start := time.Now()
	h.ok("fetch", "--insecure-options=image", "--stall-timeout=1s", "https://example.com/trickle.aci")
	srv.setTrickle(0)
	reqs := srv.requests()
	if len(reqs) != 2 || reqs[0].status != http.StatusOK || reqs[0].sent >= 1<<20 || reqs[1].status != http.StatusPartialContent || !strings.HasPrefix(reqs[1].header.Get("Range"), "bytes=") {
		t.Errorf("trickled fetch: want a stalled 200 and a resuming 206:\n%s", summary(reqs))
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("trickled fetch took %v", d)
	}
}

// trickleArchive is the start of a gzip tar whose first file holds 1 MiB
// of random bytes: an image that reads as one as far as it comes.
func trickleArchive(t *testing.T) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	m := []byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/trickle","labels":[{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}]}`)
	if err := tw.WriteHeader(&tar.Header{Name: "manifest", Mode: 0o644, Size: int64(len(m)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(m)
	if err := tw.WriteHeader(&tar.Header{Name: "rootfs/", Mode: 0o755, Typeflag: tar.TypeDir}); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1<<20)
	rand.Read(data)
	if err := tw.WriteHeader(&tar.Header{Name: "rootfs/big", Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(data)
	tw.Close()
	zw.Close()
	return buf.Bytes()
}
