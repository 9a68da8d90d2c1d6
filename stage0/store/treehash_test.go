package store

import (
	"archive/tar"
	"bytes"
	"context"
	"testing"
)

// The tree hash an import records is the one a walk of the tree gives,
// whether it came from the extractor's records (no whitelist) or from a
// walk (a whitelist pruned the tree): with hard links, symlinks, implicit
// parents, modes and names whose walk order is not their string order.
func TestImportTreeHashMatchesWalk(t *testing.T) {
	ents := []tent{
		dirm(".", 0o750), reg("a.b", "1"), dirm("a", 0o700), reg("a/b", "2"), reg("a-b", "3"),
		reg("deep/er/f", "implicit parents"), regm("bin/tool", "#!/bin/sh\n", 0o4755),
		{name: "bin/tool2", typ: tar.TypeLink, link: "bin/tool"}, sym("bin/sh", "tool"),
		dirm("tmp", 0o1777),
	}
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"recorded", nil},
		{"whitelist", []string{pwl("/a/b", "/bin/tool", "/bin/tool2", "/tmp")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			img := mustImport(t, s, gz(t, mkACI(t, manifest("example.com/th", tc.extra...), ents...)))
			tree, err := s.TreePath(img.ID)
			if err != nil {
				t.Fatal(err)
			}
			h, err := TreeHash(context.Background(), tree)
			if err != nil || h != img.TreeHash {
				var b bytes.Buffer
				writeTreeRecords(context.Background(), tree, &b, nil)
				t.Errorf("recorded %s, a walk gives %s (%v):\n%s", img.TreeHash, h, err, b.String())
			}
		})
	}
}
