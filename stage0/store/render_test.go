package store

import (
	"archive/tar"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acirun/acirun/aci"
)

// timg is one image of a rendering scenario.
type timg struct {
	name  string
	extra []string // extra manifest fields, e.g. pwl(...)
	deps  []string // names of earlier images of the scenario
	ents  []tent
}

func F(size int64) finfo                 { return finfo{typ: tar.TypeReg, size: size, mode: 0o644} }
func FM(size int64, m fs.FileMode) finfo { return finfo{typ: tar.TypeReg, size: size, mode: m} }
func D() finfo                           { return finfo{typ: tar.TypeDir, mode: 0o755} }
func DM(m fs.FileMode) finfo             { return finfo{typ: tar.TypeDir, mode: m} }
func S() finfo                           { return finfo{typ: tar.TypeSymlink} }

// buildScenario imports the images in order (dependencies first, referenced
// by imageID) and returns their IDs by name.
func buildScenario(t *testing.T, s *Store, imgs []timg) map[string]string {
	t.Helper()
	ids := make(map[string]string)
	for _, im := range imgs {
		extra := append([]string(nil), im.extra...)
		if len(im.deps) > 0 {
			var ds [][2]string
			for _, d := range im.deps {
				ds = append(ds, [2]string{"example.com/" + d, ids[d]})
			}
			extra = append(extra, deps(ds...))
		}
		img := mustImport(t, s, mkACI(t, manifest("example.com/"+im.name, extra...), im.ents...))
		if img.Rendered != (len(im.deps) == 0) {
			t.Fatalf("%s: Rendered = %v after import", im.name, img.Rendered)
		}
		ids[im.name] = img.ID
	}
	return ids
}

// checkRendered compares the rendered rootfs with want. Directories that
// only exist as parents of wanted paths may be there with any mode (the
// appc reference lists tar entries, not parents).
func checkRendered(t *testing.T, root string, want map[string]finfo) {
	t.Helper()
	got := listTree(t, root)
	for p, f := range got {
		if _, ok := want[p]; ok || f.typ != tar.TypeDir {
			continue
		}
		for w := range want {
			if strings.HasPrefix(w, p+"/") {
				delete(got, p)
				break
			}
		}
	}
	for p, f := range got {
		if f.typ == tar.TypeSymlink {
			got[p] = finfo{typ: tar.TypeSymlink}
		}
	}
	if g, w := describe(got), describe(want); g != w {
		t.Errorf("rendered rootfs:\n%s\nwant:\n%s", g, w)
	}
}

// The scenarios of appc/spec pkg/acirenderer's tests, rendered for real
// into the store (the image files are the same; "A" is the top image).
func TestRenderScenarios(t *testing.T) {
	type sc struct {
		name string
		imgs []timg
		want map[string]finfo
	}
	h5, h10, h15 := "hello", "hellohello", "hellohellohello"
	pwl2 := pwl("/a/file01.txt", "/a/file02.txt", "/a/file03.txt", "/b/link01.txt", "/b/file01.txt", "/b/file02.txt", "/c/file01.txt")
	top3 := []tent{reg("a/file01.txt", h15), reg("b/file02.txt", h5), reg("c/file01.txt", h5)}
	want3 := map[string]finfo{
		"a/file01.txt": F(15), "a/file02.txt": F(10), "a/file03.txt": F(5), "b/link01.txt": S(),
		"b/file01.txt": F(5), "b/file02.txt": F(5), "c/file01.txt": F(5),
	}
	base4 := []tent{reg("a/file01.txt", h5), reg("a/file02.txt", h5), reg("a/file03.txt", h5), reg("a/file04.txt", h5), sym("b/link01.txt", "file01.txt")}
	pwlTail := []tent{
		reg("a/file01.txt", h5), reg("a/file02.txt", h5), reg("a/file03.txt", h5), sym("b/link01.txt", "file01.txt"),
		dirm("c", 0o700), regm("c/file01.txt", h5, 0o700), dirm("d", 0o700), regm("d/file01.txt", h5, 0o700),
		regm("e/file01.txt", h5, 0o700),
	}
	cases := []sc{
		{name: "DirFromParent", imgs: []timg{{name: "b", ents: []tent{dirm("a", 0o755)}}, {name: "a", deps: []string{"b"}}},
			want: map[string]finfo{"a": D()}},
		{name: "NewDir", imgs: []timg{{name: "b"}, {name: "a", deps: []string{"b"}, ents: []tent{dirm("a", 0o755)}}},
			want: map[string]finfo{"a": D()}},
		{name: "DirOverride", imgs: []timg{{name: "b", ents: []tent{dirm("a", 0o755)}}, {name: "a", deps: []string{"b"}, ents: []tent{dirm("a", 0o700)}}},
			want: map[string]finfo{"a": DM(0o700)}},
		{name: "FileFromParent", imgs: []timg{{name: "b", ents: []tent{reg("a/file01.txt", h5)}}, {name: "a", deps: []string{"b"}}},
			want: map[string]finfo{"a/file01.txt": F(5)}},
		{name: "NewFile", imgs: []timg{{name: "b"}, {name: "a", deps: []string{"b"}, ents: []tent{reg("a/file01.txt", h10)}}},
			want: map[string]finfo{"a/file01.txt": F(10)}},
		{name: "FileOverride", imgs: []timg{{name: "b", ents: []tent{reg("a/file01.txt", h5)}}, {name: "a", deps: []string{"b"}, ents: []tent{reg("a/file01.txt", h10)}}},
			want: map[string]finfo{"a/file01.txt": F(10)}},
		{name: "FileOverrideDir", imgs: []timg{
			{name: "b", ents: []tent{dirm("a/b", 0o700), dirm("a/b/c", 0o700), reg("a/b/c/file01", h5)}},
			{name: "a", deps: []string{"b"}, ents: []tent{reg("a/b", h10)}}},
			want: map[string]finfo{"a/b": F(10)}},
		{name: "PWLOnlyParent", imgs: []timg{
			{name: "b", extra: []string{pwl("/a/file01.txt", "/a/file02.txt", "/b/link01.txt", "/c/", "/d/")}, ents: pwlTail},
			{name: "a", deps: []string{"b"}, ents: []tent{reg("b/file01.txt", h10), reg("c/file02.txt", h5)}}},
			want: map[string]finfo{"a/file01.txt": F(5), "a/file02.txt": F(5), "b/link01.txt": S(), "b/file01.txt": F(10),
				"c": DM(0o700), "c/file02.txt": F(5), "d": DM(0o700)}},
		{name: "PWLOnlyImage", imgs: []timg{
			{name: "b", ents: pwlTail},
			{name: "a", deps: []string{"b"}, extra: []string{pwl("/a/file01.txt", "/a/file02.txt", "/b/link01.txt", "/b/file01.txt", "/c/file02.txt", "/d/")},
				ents: []tent{reg("a/file01.txt", h10), reg("c/file02.txt", h5)}}},
			want: map[string]finfo{"a/file01.txt": F(10), "a/file02.txt": F(5), "b/link01.txt": S(), "c/file02.txt": F(5), "d": DM(0o700)}},
		{name: "2Deps1", imgs: []timg{
			{name: "b", extra: []string{pwl("/a/file01.txt", "/a/file02.txt", "/a/file03.txt", "/a/file04.txt", "/b/link01.txt", "/b/file01.txt")}, ents: base4},
			{name: "c", ents: []tent{reg("a/file01.txt", h10), reg("a/file02.txt", h10), reg("b/file01.txt", h5)}},
			{name: "a", deps: []string{"b", "c"}, extra: []string{pwl2}, ents: top3}},
			want: want3},
		{name: "2Deps2", imgs: []timg{
			{name: "b", ents: base4},
			{name: "c", extra: []string{pwl("/a/file01.txt", "/a/file02.txt", "/b/file01.txt")}, ents: []tent{reg("a/file01.txt", h10), reg("a/file02.txt", h10), reg("b/file01.txt", h5)}},
			{name: "a", deps: []string{"b", "c"}, extra: []string{pwl2}, ents: top3}},
			want: want3},
		{name: "3Deps", imgs: []timg{
			{name: "b", ents: base4},
			{name: "d", ents: []tent{reg("a/file02.txt", h5), reg("b/file01.txt", h5), dirm("d", 0o700), regm("d/file01.txt", h5, 0o700)}},
			{name: "c", deps: []string{"d"}, ents: []tent{reg("a/file01.txt", h10), reg("a/file02.txt", h10), reg("b/file01.txt", h5)}},
			{name: "a", deps: []string{"b", "c"}, extra: []string{pwl2}, ents: top3}},
			want: want3},
		{name: "EmptyRootfs", imgs: []timg{{name: "a", ents: []tent{dirm(".", 0o700)}}},
			want: map[string]finfo{}},
		{name: "EmptyRootfsPWL", imgs: []timg{{name: "a", extra: []string{pwl("/foo")}, ents: []tent{dirm(".", 0o700)}}},
			want: map[string]finfo{}},
		// Ours: the whitelist of an image without dependencies is applied
		// at import; its own directories stay, implicit parents do not.
		{name: "PWLNoDeps", imgs: []timg{{name: "a", extra: []string{pwl("/a/keep", "/l")},
			ents: []tent{reg("a/keep", h5), reg("a/drop", h5), dirm("d", 0o750), reg("d/x", h5), reg("e/x", h5), sym("l", "a/drop"), sym("m", "a/keep")}}},
			want: map[string]finfo{"a/keep": F(5), "d": DM(0o750), "l": S()}},
		// Ours: a symlink to a directory in a lower layer is replaced by
		// the upper layer's directory, never followed (spec A16).
		{name: "SymlinkDirReplaced", imgs: []timg{
			{name: "b", ents: []tent{sym("lib", "/"), sym("usr", "../.."), reg("keep", h5)}},
			{name: "a", deps: []string{"b"}, ents: []tent{reg("lib/acirun-render-test-canary", h5), dirm("usr", 0o755), reg("usr/x", h10)}}},
			want: map[string]finfo{"lib/acirun-render-test-canary": F(5), "usr": D(), "usr/x": F(10), "keep": F(5)}},
		// Ours: a later layer's file replaces a lower layer's directory tree
		// and a lower layer's symlink.
		{name: "TypeChanges", imgs: []timg{
			{name: "b", ents: []tent{dirm("x", 0o755), reg("x/y", h5), sym("s", "x"), reg("f", h5)}},
			{name: "a", deps: []string{"b"}, ents: []tent{reg("x", h10), reg("s", h15), sym("f", "x")}}},
			want: map[string]finfo{"x": F(10), "s": F(15), "f": S()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			ids := buildScenario(t, s, tc.imgs)
			top := ids[tc.imgs[len(tc.imgs)-1].name]
			img, err := s.Render(context.Background(), top, nil)
			if err != nil {
				t.Fatal(err)
			}
			tree, err := s.TreePath(top)
			if err != nil {
				t.Fatal(err)
			}
			checkRendered(t, filepath.Join(tree, "rootfs"), tc.want)
			if err := s.VerifyTree(context.Background(), top); err != nil {
				t.Error(err)
			}
			if len(img.Dependencies) != len(tc.imgs[len(tc.imgs)-1].deps) {
				t.Errorf("Dependencies = %v", img.Dependencies)
			}
			if _, err := os.Lstat("/acirun-render-test-canary"); err == nil {
				t.Fatal("rendering wrote through a lower layer's symlink to /")
			}
			if n := dirEntries(t, s, "layers"); len(n) != 0 {
				t.Errorf("layers/ still holds %q after rendering", n)
			}
			if n := dirEntries(t, s, "tmp"); len(n) != 0 {
				t.Errorf("tmp/ holds %q", n)
			}
		})
	}
}

func TestRenderRootMode(t *testing.T) {
	s := openStore(t)
	img := mustImport(t, s, mkACI(t, manifest("example.com/a"), dirm(".", 0o700)))
	tree, _ := s.TreePath(img.ID)
	fi, err := os.Stat(filepath.Join(tree, "rootfs"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("rootfs mode = %v, %v; want 0700", fi.Mode(), err)
	}
}

// Depth-first in list order: A->[B,C], B->[D], C->[D]: D, B, D, C, A.
func TestRenderDiamondOrder(t *testing.T) {
	for _, order := range [][]string{{"b", "c"}, {"c", "b"}} {
		t.Run(strings.Join(order, ""), func(t *testing.T) {
			s := openStore(t)
			ids := buildScenario(t, s, []timg{
				{name: "d", ents: []tent{reg("f", "D"), reg("g", "D")}},
				{name: "b", deps: []string{"d"}, ents: []tent{reg("b", "B")}},
				{name: "c", deps: []string{"d"}, ents: []tent{reg("f", "C")}},
				{name: "a", deps: order},
			})
			if _, err := s.Render(context.Background(), ids["a"], nil); err != nil {
				t.Fatal(err)
			}
			tree, _ := s.TreePath(ids["a"])
			f, _ := os.ReadFile(filepath.Join(tree, "rootfs/f"))
			want := map[string]string{"bc": "C", "cb": "D"}[strings.Join(order, "")]
			if string(f) != want {
				t.Errorf("f = %q, want %q", f, want)
			}
			// Content is shared with the dependency's tree.
			dtree, _ := s.TreePath(ids["d"])
			a, _ := os.Stat(filepath.Join(tree, "rootfs/g"))
			d, _ := os.Stat(filepath.Join(dtree, "rootfs/g"))
			if !os.SameFile(a, d) {
				t.Error("rootfs/g is not shared with the dependency's tree")
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	ctx := context.Background()
	byName := func(s *Store) DepResolver {
		return func(ctx context.Context, dep aci.Dependency) (string, error) {
			img, err := s.GetByName(string(dep.ImageName), dep.Labels)
			if err != nil {
				return "", err
			}
			return img.ID, nil
		}
	}
	t.Run("self dependency", func(t *testing.T) {
		s := openStore(t)
		x := mustImport(t, s, mkACI(t, manifest("example.com/x", deps([2]string{"example.com/x", ""}))))
		for _, force := range []bool{false, true} {
			var err error
			if force {
				_, err = s.RepairTree(ctx, x.ID, byName(s))
			} else {
				_, err = s.Render(ctx, x.ID, byName(s))
			}
			if err == nil || !strings.Contains(err.Error(), "dependency cycle") {
				t.Errorf("force=%v: error = %v", force, err)
			}
		}
	})
	t.Run("cycle", func(t *testing.T) {
		s := openStore(t)
		x := mustImport(t, s, mkACI(t, manifest("example.com/x", deps([2]string{"example.com/y", ""}))))
		mustImport(t, s, mkACI(t, manifest("example.com/y", deps([2]string{"example.com/x", ""}))))
		_, err := s.Render(ctx, x.ID, byName(s))
		if err == nil || !strings.Contains(err.Error(), "dependency cycle") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("imageID mismatch", func(t *testing.T) {
		s := openStore(t)
		b := mustImport(t, s, mkACI(t, manifest("example.com/b"), reg("f", "b")))
		c := mustImport(t, s, mkACI(t, manifest("example.com/b"), reg("f", "c")))
		a := mustImport(t, s, mkACI(t, manifest("example.com/a", deps([2]string{"example.com/b", b.ID}))))
		// The resolver (discovery) hands back a different image.
		_, err := s.Render(ctx, a.ID, func(context.Context, aci.Dependency) (string, error) { return c.ID, nil })
		if err == nil || !strings.Contains(err.Error(), "mismatch") {
			t.Errorf("error = %v", err)
		}
		if _, err := s.TreePath(a.ID); err == nil || !strings.Contains(err.Error(), a.ID+": not rendered yet") {
			t.Errorf("TreePath after a refused render: %v, want not rendered", err)
		}
		// A pod's start takes the tree from Hold's entry (Tree), which
		// refuses it alike.
		held, release, err := s.Hold(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		if _, err := s.Tree(held); err == nil || !strings.Contains(err.Error(), a.ID+": not rendered yet") {
			t.Errorf("Tree of the held entry after a refused render: %v, want not rendered", err)
		}
	})
	t.Run("wrong name", func(t *testing.T) {
		s := openStore(t)
		b := mustImport(t, s, mkACI(t, manifest("example.com/other"), reg("f", "b")))
		a := mustImport(t, s, mkACI(t, manifest("example.com/a", deps([2]string{"example.com/b", b.ID}))))
		if _, err := s.Render(ctx, a.ID, nil); err == nil || !strings.Contains(err.Error(), `is called "example.com/other"`) {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("missing dependency", func(t *testing.T) {
		s := openStore(t)
		missing := "sha512-" + strings.Repeat("1", 128)
		a := mustImport(t, s, mkACI(t, manifest("example.com/a", deps([2]string{"example.com/b", missing}))))
		if _, err := s.Render(ctx, a.ID, nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("error = %v", err)
		}
		if n := dirEntries(t, s, "tmp"); len(n) != 0 {
			t.Errorf("tmp/ holds %q", n)
		}
		// Still listed, not rendered; the own layer is kept for later.
		img, _ := s.Get(a.ID)
		if img == nil || img.Rendered {
			t.Errorf("image = %+v", img)
		}
		if n := dirEntries(t, s, "layers"); len(n) != 1 {
			t.Errorf("layers/ = %q", n)
		}
	})
	t.Run("re-render from blob after layer is gone", func(t *testing.T) {
		s := openStore(t)
		ids := buildScenario(t, s, []timg{{name: "b", ents: []tent{reg("f", "b")}}, {name: "a", deps: []string{"b"}, ents: []tent{reg("g", "a")}}})
		if _, err := s.Render(ctx, ids["a"], nil); err != nil {
			t.Fatal(err)
		}
		tree, _ := s.TreePath(ids["a"])
		os.Remove(filepath.Join(tree, "rootfs/g"))
		btree, _ := s.TreePath(ids["b"])
		os.Remove(filepath.Join(btree, "rootfs/f"))
		os.WriteFile(filepath.Join(btree, "rootfs/f"), []byte("corrupt"), 0o644)
		if err := s.VerifyTree(ctx, ids["a"]); !errors.Is(err, ErrTreeMismatch) {
			t.Fatalf("VerifyTree = %v", err)
		}
		if _, err := s.RepairTree(ctx, ids["a"], nil); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"a", "b"} {
			if err := s.VerifyTree(ctx, ids[n]); err != nil {
				t.Error(err)
			}
		}
		checkRendered(t, filepath.Join(tree, "rootfs"), map[string]finfo{"f": F(1), "g": F(1)})
	})
}
