package store

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/trace"
)

func TestImportExportRoundTrip(t *testing.T) {
	s := openStore(t)
	raw := mkACI(t, manifest("example.com/hello", `"labels":[{"name":"version","value":"1.0"},{"name":"os","value":"linux"}]`),
		dirm("bin", 0o755), regm("bin/hello", "#!/bin/sh\necho hi\n", 0o755), sym("bin/sh", "/bin/busybox"),
		tent{name: "bin/hi", typ: '1', link: "bin/hello"}, regm("etc/secret", "s", 0o600))
	sum := sha512.Sum512(raw)
	wantID := "sha512-" + hex.EncodeToString(sum[:])
	data := gz(t, raw)

	verified := false
	img, err := s.Import(context.Background(), bytes.NewReader(data), ImportOptions{
		ExpectedID: wantID,
		Verify: func(m *aci.ImageManifest, o *Origin) error {
			if m == nil || m.Name == "" {
				t.Errorf("Verify got no manifest")
			}
			verified = true
			o.Signer = "ABCD"
			return nil
		},
		Origin: Origin{URL: "https://example.com/hello.aci", ETag: `"abc"`, MaxAge: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !verified {
		t.Error("Verify was not called")
	}
	if img.ID != wantID || img.Name != "example.com/hello" || !img.Rendered || img.Compression != "gzip" ||
		img.Size != int64(len(data)) || img.TarSize != int64(len(raw)) || img.Origin.ETag != `"abc"` || img.Origin.Signer != "ABCD" || img.TreeHash == "" {
		t.Errorf("image = %+v", img)
	}

	// Lookups.
	for _, ref := range []string{wantID, wantID[:20], strings.TrimPrefix(wantID, "sha512-")[:10]} {
		if g, err := s.Get(ref); err != nil || g.ID != wantID {
			t.Errorf("Get(%q) = %v, %v", ref, g, err)
		}
	}
	if _, err := s.Get("sha512-ffff" + strings.Repeat("0", 10)); !errors.Is(err, ErrNotFound) && wantID[7:11] != "ffff" {
		t.Errorf("Get(unknown) error = %v", err)
	}
	if g, err := s.GetByName("example.com/hello", []aci.Label{{Name: "version", Value: "1.0"}}); err != nil || g.ID != wantID {
		t.Errorf("GetByName = %v, %v", g, err)
	}
	if _, err := s.GetByName("example.com/hello", []aci.Label{{Name: "version", Value: "2.0"}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetByName(other version) error = %v", err)
	}

	// The rendered tree.
	tree, err := s.TreePath(wantID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(tree, "rootfs/bin/hi"))
	if err != nil || string(b) != "#!/bin/sh\necho hi\n" {
		t.Errorf("bin/hi = %q, %v", b, err)
	}
	if l, _ := os.Readlink(filepath.Join(tree, "rootfs/bin/sh")); l != "/bin/busybox" {
		t.Errorf("bin/sh -> %q", l)
	}
	if m, _ := os.ReadFile(filepath.Join(tree, "manifest")); !bytes.Contains(m, []byte("example.com/hello")) {
		t.Errorf("manifest = %q", m)
	}

	// Export gives the same bytes, and so the same ID on re-import.
	var out bytes.Buffer
	if err := s.Export(context.Background(), wantID, &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Error("export differs from what was imported")
	}
	s2 := openStore(t)
	if img2 := mustImport(t, s2, out.Bytes()); img2.ID != wantID {
		t.Errorf("re-import ID = %s", img2.ID)
	}

	// Importing again keeps one entry and records the new origin.
	again, err := s.Import(context.Background(), bytes.NewReader(data), ImportOptions{Origin: Origin{URL: "file:///x.aci"}})
	if err != nil || again.ID != wantID || again.Origin.URL != "file:///x.aci" {
		t.Errorf("second import = %+v, %v", again, err)
	}
	if imgs, _ := s.List(Filter{}); len(imgs) != 1 {
		t.Errorf("%d images after importing twice", len(imgs))
	}

	// ExtractTo and RenderTo.
	ex := filepath.Join(t.TempDir(), "x")
	if err := s.ExtractTo(context.Background(), wantID, ex); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(ex, "etc/secret")); string(b) != "s" {
		t.Errorf("extracted etc/secret = %q", b)
	}
	if err := s.ExtractTo(context.Background(), wantID, ex); err == nil || !strings.Contains(err.Error(), ex+": directory is not empty") {
		t.Errorf("ExtractTo into a non-empty directory: %v, want a refusal naming it", err)
	}
	rd := filepath.Join(t.TempDir(), "r")
	if err := s.RenderTo(context.Background(), wantID, rd); err != nil {
		t.Fatal(err)
	}
	if h, err := TreeHash(context.Background(), rd); err != nil || h != img.TreeHash {
		t.Errorf("RenderTo copy hashes to %s (%v), tree recorded %s", h, err, img.TreeHash)
	}
	// The copy shares no inode with the store.
	var a, c os.FileInfo
	a, _ = os.Stat(filepath.Join(rd, "rootfs/bin/hello"))
	c, _ = os.Stat(filepath.Join(tree, "rootfs/bin/hello"))
	if os.SameFile(a, c) {
		t.Error("RenderTo hard-linked into the store")
	}

	// Verify, break, verify, repair.
	if err := s.VerifyTree(context.Background(), wantID); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "rootfs/etc/secret"), []byte("tampered"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyTree(context.Background(), wantID); !errors.Is(err, ErrTreeMismatch) {
		t.Fatalf("VerifyTree after tampering = %v", err)
	}
	if _, err := s.RepairTree(context.Background(), wantID, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyTree(context.Background(), wantID); err != nil {
		t.Errorf("VerifyTree after repair = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(tree, "rootfs/etc/secret")); string(b) != "s" {
		t.Errorf("repaired etc/secret = %q", b)
	}
	if n := dirEntries(t, s, "tmp"); len(n) != 0 {
		t.Errorf("tmp/ holds %q", n)
	}
}

func TestAmbiguousPrefix(t *testing.T) {
	s := openStore(t)
	var ids []string
	// Import images until two share the first hex digit.
	for i := 0; i < 40; i++ {
		img := mustImport(t, s, mkACI(t, manifest("example.com/p"), reg("f", strings.Repeat("x", i))))
		for _, id := range ids {
			if id[7] == img.ID[7] {
				_, err := s.Get(img.ID[:8])
				if err == nil || !strings.Contains(err.Error(), "ambiguous") || !strings.Contains(err.Error(), id[:20]) {
					t.Fatalf("Get(%s) error = %v", img.ID[:8], err)
				}
				return
			}
		}
		ids = append(ids, img.ID)
	}
	t.Fatal("no two IDs shared a first digit")
}

// TestImportFailuresLeaveNothing: every failure of an import leaves the
// store exactly as empty as before.
func TestImportFailuresLeaveNothing(t *testing.T) {
	good := mkACI(t, manifest("example.com/a"), reg("f", "hello"))
	cases := []struct {
		name    string
		data    []byte
		opts    ImportOptions
		ctx     func() context.Context
		wantErr string
	}{
		{name: "verify fails", data: good, opts: ImportOptions{Verify: func(*aci.ImageManifest, *Origin) error { return errors.New("bad signature") }}, wantErr: "bad signature"},
		{name: "hash mismatch", data: good, opts: ImportOptions{ExpectedID: "sha512-" + strings.Repeat("ab", 64)}, wantErr: "hash mismatch"},
		{name: "invalid manifest", data: mkACI(t, `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"Bad Name"}`, reg("f", "x")), wantErr: "manifest"},
		{name: "extra top-level entry", data: mkACIWithTop(t), wantErr: "unexpected top-level"},
		{name: "truncated gzip", data: func() []byte { b := gz(t, good); return b[:len(b)-20] }(), wantErr: "truncated"},
		{name: "hostile symlink escape", data: mkACI(t, manifest("example.com/a"), sym("l", "/"), reg("l/tmp/pwned", "x")), wantErr: "symlink"},
		{name: "not an ACI", data: []byte("hello world"), wantErr: "not an ACI"},
		{name: "cancelled", data: good, ctx: func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, wantErr: "context canceled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			ctx := context.Background()
			if tc.ctx != nil {
				ctx = tc.ctx()
			}
			_, err := s.Import(ctx, bytes.NewReader(tc.data), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tc.wantErr)
			}
			assertEmptyStore(t, s)
		})
	}
}

// mkACIWithTop builds an ACI with a third top-level entry.
func mkACIWithTop(t *testing.T) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "rootfs/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "etc-passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4})
	tw.Write([]byte("root"))
	m := manifest("example.com/a")
	tw.WriteHeader(&tar.Header{Name: "manifest", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(m))})
	tw.Write([]byte(m))
	tw.Close()
	return buf.Bytes()
}

func TestRemoveAndHold(t *testing.T) {
	s := openStore(t)
	img := mustImport(t, s, gz(t, mkACI(t, manifest("example.com/r"), reg("f", "x"))))
	_, release, err := s.Hold(context.Background(), img.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(context.Background(), img.ID); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("Remove of a held image = %v", err)
	}
	release()
	if g, _ := s.Get(img.ID); g == nil || g.LastUsed.IsZero() {
		t.Errorf("LastUsed not recorded: %+v", g)
	}
	if err := s.Remove(context.Background(), img.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(img.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove = %v", err)
	}
	assertEmptyStore(t, s)
	if err := s.Remove(context.Background(), img.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove = %v", err)
	}
}

// TestRemoveUnused: images are locked before the in-use set is asked for,
// once for all of them, so that no pod can take one (Hold) between the
// decision and the removal; an image in the set stays (ErrInUse), a held
// one stays (ErrHeld), the others go; an ID named twice is removed once.
func TestRemoveUnused(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	a := mustImport(t, s, gz(t, mkACI(t, manifest("example.com/a"), reg("f", "a"))))
	b := mustImport(t, s, gz(t, mkACI(t, manifest("example.com/b"), reg("f", "b"))))
	c := mustImport(t, s, gz(t, mkACI(t, manifest("example.com/c"), reg("f", "c"))))
	_, release, err := s.Hold(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	calls := 0
	errs, err := s.RemoveUnused(ctx, []string{a.ID, b.ID, c.ID, a.ID}, func() (map[string]bool, error) {
		calls++
		// A pod being prepared now cannot take a or c.
		for _, id := range []string{a.ID, c.ID} {
			if l, err := tryLock(s.lockPath(id), false); err != nil || l != nil {
				if l != nil {
					l.unlock()
				}
				t.Errorf("%s could be held while the in-use set was made (%v)", id, err)
			}
		}
		return map[string]bool{c.ID: true}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("the in-use set was made %d times, want once", calls)
	}
	if errs[0] != nil || !errors.Is(errs[1], ErrHeld) || !errors.Is(errs[2], ErrInUse) || !errors.Is(errs[3], ErrNotFound) {
		t.Errorf("RemoveUnused = %v; want a removed, b held, c in use, a again not found", errs)
	}
	for _, tc := range []struct {
		id    string
		there bool
	}{{a.ID, false}, {b.ID, true}, {c.ID, true}} {
		if _, err := s.Get(tc.id); (err == nil) != tc.there {
			t.Errorf("Get(%s) after RemoveUnused = %v, want it there: %t", tc.id, err, tc.there)
		}
	}
}

// TestImportWhileHeld: importing an image that this process holds (a pod
// naming two files of the same content) returns the stored entry instead of
// waiting for an exclusive lock that the hold keeps forever.
func TestImportWhileHeld(t *testing.T) {
	s := openStore(t)
	data := gz(t, mkACI(t, manifest("example.com/held"), reg("f", "x")))
	img := mustImport(t, s, data)
	_, release, err := s.Hold(context.Background(), img.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	again, err := s.Import(ctx, bytes.NewReader(data), ImportOptions{Origin: Origin{URL: "https://example.com/other.aci"}})
	if err != nil {
		t.Fatalf("import of a held image: %v", err)
	}
	if again.ID != img.ID {
		t.Errorf("import returned %s, want %s", again.ID, img.ID)
	}
	if imgs, _ := s.List(Filter{}); len(imgs) != 1 {
		t.Errorf("%d entries, want 1", len(imgs))
	}
}

func TestGC(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	old := mustImport(t, s, mkACI(t, manifest("example.com/old"), reg("f", "1")))
	used := mustImport(t, s, mkACI(t, manifest("example.com/used"), reg("f", "2")))
	held := mustImport(t, s, mkACI(t, manifest("example.com/held"), reg("f", "3")))
	// Age the three.
	for _, img := range []*Image{old, used, held} {
		img.ImportTime = time.Now().Add(-48 * time.Hour)
		if err := s.write(img); err != nil {
			t.Fatal(err)
		}
	}
	fresh := mustImport(t, s, mkACI(t, manifest("example.com/fresh"), reg("f", "4")))

	// Leftovers of a dead import: a blob and a tree without index entry,
	// and stale staging.
	ghost := "sha512-" + strings.Repeat("0", 128)
	os.WriteFile(s.blobPath(ghost), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(s.treeDir(ghost), "rootfs"), 0o755)
	os.MkdirAll(s.path("tmp", "import-dead"), 0o755)

	_, release, err := s.Hold(ctx, held.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	// Hold refreshed LastUsed: age it again to make it a candidate.
	h, _ := s.read(held.ID)
	h.LastUsed = time.Time{}
	s.write(h)

	res, err := s.GC(ctx, GCOptions{GracePeriod: 24 * time.Hour, InUse: func() (map[string]bool, error) {
		return map[string]bool{used.ID: true}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 1 || res.Removed[0] != old.ID {
		t.Errorf("removed %v, want only %s", res.Removed, old.ID)
	}
	if len(res.InUse) != 1 || len(res.Held) != 1 || res.Leftovers != 3 {
		t.Errorf("result = %+v", res)
	}
	for _, id := range []string{used.ID, held.ID, fresh.ID} {
		if _, err := s.TreePath(id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	if _, err := s.Get(old.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("old image still there: %v", err)
	}
	for _, p := range []string{s.blobPath(ghost), s.treeDir(ghost), s.path("tmp", "import-dead"), s.blobPath(old.ID), s.treeDir(old.ID)} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s survived GC", p)
		}
	}
	if _, err := s.GC(ctx, GCOptions{}); err == nil || !strings.Contains(err.Error(), "no in-use set given") {
		t.Errorf("GC without an in-use set: %v, want a refusal saying so", err)
	}
}

// TestLastUsedResolution: Hold records a use only when the recorded one is
// LastUsedResolution old or more (or in the future: a clock set back), and
// GC counts an image as used until LastUsed plus the resolution, so that a
// use it did not record never lets it remove the image sooner than its
// grace period.
func TestLastUsedResolution(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	for _, tc := range []struct {
		name     string
		lastUsed time.Time // recorded before the Hold
		rewrite  bool      // Hold records a new LastUsed
	}{
		{"never used", time.Time{}, true},
		{"used a second ago", now.Add(-time.Second), false},
		{"used just within the resolution", now.Add(-LastUsedResolution + 5*time.Second), false},
		{"used a resolution ago", now.Add(-LastUsedResolution), true},
		{"used an hour ago", now.Add(-time.Hour), true},
		{"used in the future", now.Add(time.Hour), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			img := mustImport(t, s, mkACI(t, manifest("example.com/used"), reg("f", "1")))
			img.LastUsed = tc.lastUsed
			if err := s.write(img); err != nil {
				t.Fatal(err)
			}
			_, release, err := s.Hold(ctx, img.ID)
			if err != nil {
				t.Fatal(err)
			}
			release()
			got, err := s.Get(img.ID)
			if err != nil {
				t.Fatal(err)
			}
			if rewrote := !got.LastUsed.Equal(tc.lastUsed); rewrote != tc.rewrite {
				t.Errorf("LastUsed %v -> %v: rewritten %t, want %t", tc.lastUsed, got.LastUsed, rewrote, tc.rewrite)
			}
			if tc.rewrite && got.LastUsed.Before(now) {
				t.Errorf("LastUsed = %v, want the Hold's time (after %v)", got.LastUsed, now)
			}
		})
	}
	// GC: an image recorded as used half a resolution ago may have been
	// used since, and stays for a grace period shorter than that; one
	// recorded two resolutions ago goes. Without a grace period both go,
	// as every image no pod uses.
	for _, tc := range []struct {
		grace      time.Duration
		keepRecent bool
	}{
		{LastUsedResolution / 4, true},
		{0, false},
	} {
		s := openStore(t)
		recent := mustImport(t, s, mkACI(t, manifest("example.com/recent"), reg("f", "1")))
		stale := mustImport(t, s, mkACI(t, manifest("example.com/stale"), reg("f", "2")))
		for img, used := range map[*Image]time.Time{recent: now.Add(-LastUsedResolution / 2), stale: now.Add(-2 * LastUsedResolution)} {
			img.ImportTime, img.LastUsed = now.Add(-time.Hour), used
			if err := s.write(img); err != nil {
				t.Fatal(err)
			}
		}
		res, err := s.GC(ctx, GCOptions{GracePeriod: tc.grace, InUse: func() (map[string]bool, error) { return nil, nil }})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{stale.ID}
		if !tc.keepRecent {
			want = append(want, recent.ID)
		}
		slices.Sort(want)
		slices.Sort(res.Removed)
		if !slices.Equal(res.Removed, want) {
			t.Errorf("GC with a grace period of %v removed %v, want %v", tc.grace, res.Removed, want)
		}
	}
}

func TestListFiltersAndLatestByName(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	v := func(ver string) string {
		return fmt.Sprintf(`"labels":[{"name":"version","value":%q},{"name":"os","value":"linux"}]`, ver)
	}
	a1 := mustImport(t, s, mkACI(t, manifest("example.com/app", v("1.0")), reg("f", "1")))
	time.Sleep(5 * time.Millisecond)
	a2 := mustImport(t, s, mkACI(t, manifest("example.com/app", v("2.0")), reg("f", "2")))
	time.Sleep(5 * time.Millisecond)
	a3 := mustImport(t, s, mkACI(t, manifest("example.com/app", v("2.0")), reg("f", "3")))
	mustImport(t, s, mkACI(t, manifest("example.com/other", v("2.0")), reg("f", "4")))

	imgs, err := s.List(Filter{Name: "example.com/app", Labels: []aci.Label{{Name: "version", Value: "2.0"}}})
	if err != nil || len(imgs) != 2 || imgs[0].ID != a3.ID || imgs[1].ID != a2.ID {
		t.Errorf("List(app, 2.0) = %v, %v", imgs, err)
	}
	if g, err := s.GetByName("example.com/app", []aci.Label{{Name: "os", Value: "linux"}}); err != nil || g.ID != a3.ID {
		t.Errorf("GetByName = %v, %v; want the latest import", g, err)
	}
	if imgs, _ := s.List(Filter{IDPrefix: a1.ID[:30]}); len(imgs) != 1 || imgs[0].ID != a1.ID {
		t.Errorf("List(prefix) = %v", imgs)
	}
	if imgs, _ := s.List(Filter{}); len(imgs) != 4 {
		t.Errorf("List() = %d images", len(imgs))
	}

	// UpdateOrigin (a 304 Not Modified) refreshes the origin and FetchedAt.
	before := a1.FetchedAt
	if err := s.UpdateOrigin(ctx, a1.ID, Origin{URL: "https://x/app.aci", ETag: `"e2"`, MaxAge: time.Minute}); err != nil {
		t.Fatal(err)
	}
	g, _ := s.Get(a1.ID)
	if g.Origin.ETag != `"e2"` || g.Origin.MaxAge != time.Minute || !g.FetchedAt.After(before) {
		t.Errorf("after UpdateOrigin: %+v", g)
	}
}

// The Verify callback sees the manifest (the fetch pipeline picks the
// trusted keys by its name) and can add to the recorded origin.
func TestImportVerifyGetsManifest(t *testing.T) {
	s := openStore(t)
	img, err := s.Import(context.Background(), bytes.NewReader(mkACI(t, manifest("example.com/signed"), reg("f", "x"))), ImportOptions{
		Origin: Origin{URL: "https://example.com/signed.aci"},
		Verify: func(m *aci.ImageManifest, o *Origin) error {
			if m.Name != "example.com/signed" {
				return fmt.Errorf("name %s", m.Name)
			}
			o.Signer = "0123456789ABCDEF"
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if img.Origin.Signer != "0123456789ABCDEF" || img.Origin.URL != "https://example.com/signed.aci" {
		t.Errorf("origin = %+v", img.Origin)
	}
	// A refusal by name leaves nothing.
	s2 := openStore(t)
	_, err = s2.Import(context.Background(), bytes.NewReader(mkACI(t, manifest("example.com/evil"), reg("f", "x"))), ImportOptions{
		Verify: func(m *aci.ImageManifest, o *Origin) error { return fmt.Errorf("no key trusted for %s", m.Name) },
	})
	if err == nil || !strings.Contains(err.Error(), "no key trusted for example.com/evil") {
		t.Errorf("error = %v", err)
	}
	assertEmptyStore(t, s2)
}

// atEOF is a reader of data that calls hook once, when data is used up,
// before it reports the end: a download finishing.
type atEOF struct {
	r    *bytes.Reader
	hook func()
}

func (a *atEOF) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if err == io.EOF && a.hook != nil {
		a.hook()
		a.hook = nil
	}
	return n, err
}

// With BlobAt, the stored copy of the image is the file the caller moved
// there by the end of the stream (the same file, not a copy), made
// readable; one missing or of the wrong size fails the import, leaving
// nothing, and so does a failure after it was moved in.
func TestImportBlobAt(t *testing.T) {
	data := gz(t, mkACI(t, manifest("example.com/kept"), reg("f", "hello")))
	cases := []struct {
		name    string
		content []byte // what the caller moves in; nil: nothing
		verify  error
		wantErr string
	}{
		{name: "kept", content: data},
		{name: "missing", wantErr: "stored copy"},
		{name: "longer", content: append(append([]byte(nil), data...), 0), wantErr: fmt.Sprintf("holds %d bytes, the image has %d", len(data)+1, len(data))},
		{name: "shorter", content: data[:len(data)-1], wantErr: "bytes, the image has"},
		{name: "verify fails", content: data, verify: errors.New("bad signature"), wantErr: "bad signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			src := filepath.Join(t.TempDir(), "download")
			var at string
			var moved os.FileInfo
			r := &atEOF{r: bytes.NewReader(data), hook: func() {
				if tc.content == nil || at == "" {
					return
				}
				if err := os.WriteFile(src, tc.content, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(src, at); err != nil {
					t.Fatal(err)
				}
				moved, _ = os.Stat(at)
			}}
			opts := ImportOptions{BlobAt: func(path string) { at = path }}
			if tc.verify != nil {
				opts.Verify = func(*aci.ImageManifest, *Origin) error { return tc.verify }
			}
			img, err := s.Import(context.Background(), r, opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error = %v, want one containing %q", err, tc.wantErr)
				}
				assertEmptyStore(t, s)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(s.blobPath(img.ID))
			if err != nil || !os.SameFile(fi, moved) || fi.Mode().Perm() != 0o644 {
				t.Fatalf("blob %v (%v), want the file moved in (%v), mode 0644", fi, err, moved)
			}
			if got, err := os.ReadFile(s.blobPath(img.ID)); err != nil || !bytes.Equal(got, data) {
				t.Errorf("blob holds %d bytes (%v), want the %d of the image", len(got), err, len(data))
			}
		})
	}
}

// TestImportTraces: with a Tracer, an import says where its time goes
// after the last byte, step by step, in order (ACIRUN_TRACE).
func TestImportTraces(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "store"), Options{LockDir: filepath.Join(dir, "locks"), Trace: trace.New("test", "1", &out)})
	if err != nil {
		t.Fatal(err)
	}
	mustImport(t, s, gz(t, mkACI(t, manifest("example.com/traced"), reg("rootfs/a", "a"), dirm("rootfs/d", 0o755))))
	var steps []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		_, step, _ := strings.Cut(l, "]: ")
		step, _, _ = strings.Cut(step, " (")
		steps = append(steps, step)
	}
	want := []string{"import: started", "import: archive walked", "import: image checked", "import: tree finished",
		"import: tree hashed", "import: stored copy synced", "import: committed"}
	if !slices.Equal(steps, want) {
		t.Errorf("steps %q, want %q\n%s", steps, want, out.String())
	}
}
