package extract

import (
	"bytes"
	"os"
	"testing"
)

// FuzzExtract feeds arbitrary bytes as a tar stream, in strict and in
// layering (Overwrite) mode, and checks the one property that matters:
// nothing outside the target directory changes; and in strict mode, that
// what the extractor recorded of the tree is what a walk finds (import
// takes the tree hash from those records). Run it with
// -fuzzminimizetime=50x (minimizing a tar input at the default 60s makes
// progress look stalled) and TMPDIR=/dev/shm for speed.
func FuzzExtract(f *testing.F) {
	f.Add(mkTar(f, file("a", "x")), false)
	f.Add(mkTar(f, dir("d"), file("d/f", "hello"), hardlink("d/h", "d/f"), symlink("d/s", "../f")), false)
	f.Add(mkTar(f, symlink("l", "../canary"), file("l/secret", "pwned")), true)
	f.Add(mkTar(f, symlink("l", "/"), dir("l/x"), hardlink("h", "l/etc/passwd")), true)
	f.Add(mkTar(f, dir("d"), symlink("d", "../canary"), file("d/secret", "pwned")), true)
	f.Add(mkTar(f, file("f", "x"), dir("f"), file("f/g", "y"), hardlink("g", "f/g")), true)
	f.Fuzz(func(t *testing.T, data []byte, overwrite bool) {
		base, target, canary := setupCanary(t)
		before := snapshot(t, canary)
		_, _ = tarChecked(t, bytes.NewReader(data), target, Options{
			MaxEntries: 200, MaxBytes: 1 << 20, Overwrite: overwrite,
			NoOwnership: os.Geteuid() != 0,
		})
		if after := snapshot(t, canary); after != before {
			t.Fatalf("canary changed:\n%s\n---\n%s", before, after)
		}
		if names, _ := os.ReadDir(base); len(names) != 2 {
			t.Fatalf("base holds %d entries", len(names))
		}
	})
}
