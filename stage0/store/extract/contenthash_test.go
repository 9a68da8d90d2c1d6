package extract

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Digest gives the SHA-256 of exactly what each regular file holds, however
// the contents fall into the content hasher's buffers: many small files in
// one buffer, empty files, a file larger than the whole ring, files ending
// exactly one buffer long, hard links (to the target's content), and in
// Overwrite mode entries replaced by later ones.
func TestDigests(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", (hashBufferSize*hashBuffers*2+1000)/16)
	exact := strings.Repeat("x", hashBufferSize)
	var es []ent
	want := map[string]string{}
	addFile := func(name, body string) {
		es = append(es, file(name, body))
		want[name] = body
	}
	for i := range 600 {
		addFile(fmt.Sprintf("small/%d", i), strings.Repeat("s", i%300))
	}
	addFile("empty", "")
	addFile("big", big)
	addFile("exact", exact)
	addFile("after-exact", "tail")
	es = append(es, hardlink("link-to-big", "big"))
	want["link-to-big"] = big
	raw := mkTarBytes(t, es)

	check := func(t *testing.T, x *Extractor, want map[string]string) {
		t.Helper()
		for name, body := range want {
			d, ok := x.Digest(name)
			if !ok {
				t.Errorf("%s: no digest", name)
				continue
			}
			if d.Sum != sha256.Sum256([]byte(body)) || d.Size != int64(len(body)) {
				t.Errorf("%s: digest %x size %d, want the SHA-256 of its %d bytes", name, d.Sum[:4], d.Size, len(body))
			}
		}
	}
	run := func(t *testing.T, opts Options, raws ...[]byte) *Extractor {
		t.Helper()
		root := filepath.Join(t.TempDir(), "root")
		must(t, os.Mkdir(root, 0o755))
		opts.HashContent = true
		x, err := New(root, opts)
		must(t, err)
		t.Cleanup(func() { x.Close() })
		for _, r := range raws {
			tr := tar.NewReader(bytes.NewReader(r))
			for {
				hdr, err := tr.Next()
				if err != nil {
					break
				}
				must(t, x.Add(context.Background(), hdr, tr))
			}
		}
		return x
	}

	t.Run("one archive", func(t *testing.T) {
		check(t, run(t, Options{}, raw), want)
	})
	t.Run("overwritten", func(t *testing.T) {
		upper := mkTar(t, file("big", "replaced"), file("small/7", "new"), dir("small/8"))
		x := run(t, Options{Overwrite: true}, raw, upper)
		w := map[string]string{"big": "replaced", "small/7": "new", "small/9": want["small/9"], "link-to-big": big}
		check(t, x, w)
		if _, ok := x.Digest("small/8"); ok {
			t.Error("small/8 is a directory now, yet has a digest")
		}
	})
	t.Run("asked twice, extracting in between", func(t *testing.T) {
		x := run(t, Options{}, raw)
		check(t, x, map[string]string{"big": big})
		more := mkTar(t, file("later", "more content"))
		tr := tar.NewReader(bytes.NewReader(more))
		hdr, _ := tr.Next()
		must(t, x.Add(context.Background(), hdr, tr))
		check(t, x, map[string]string{"later": "more content", "exact": exact})
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
