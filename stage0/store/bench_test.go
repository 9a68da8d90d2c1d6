package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/acirun/acirun/aci/archive"
)

// benchImage is a gzip ACI of n files of about size bytes each, half of
// them compressible text and half random, like a real root file system.
func benchImage(b *testing.B, n, size int) (data []byte, tarSize int) {
	rng := rand.New(rand.NewSource(1))
	var ents []tent
	for i := 0; i < n; i++ {
		body := make([]byte, size/2+rng.Intn(size))
		if i%2 == 0 {
			rng.Read(body)
		} else {
			for j := range body {
				body[j] = "abcdefgh \n"[rng.Intn(10)]
			}
		}
		ents = append(ents, regm(fmt.Sprintf("usr/lib/d%02d/f%05d", i%50, i), string(body), 0o755))
	}
	raw := mkACI(b, manifest("example.com/bench"), ents...)
	return gz(b, raw), len(raw)
}

// BenchmarkImport measures a whole import (decompress, hash, extract, tree
// hash, commit) of a 2000-file, ~40 MB image, against only decompressing
// it; "x-decompress" is the ratio. ACIRUN_BENCH_DIR picks the file system,
// ACIRUN_BENCH_ACI an ACI file to import instead.
func BenchmarkImport(b *testing.B) {
	data, tarSize := benchInput(b)
	var dec time.Duration
	for _, sync := range []bool{false, true} {
		b.Run(fmt.Sprintf("sync=%v", sync), func(b *testing.B) {
			b.SetBytes(int64(tarSize))
			if dec == 0 {
				start := time.Now()
				for range 3 {
					zr, _, _ := archive.Decompress(bytes.NewReader(data))
					io.Copy(io.Discard, zr)
				}
				dec = time.Since(start) / 3
			}
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir := b.TempDir()
				if d := os.Getenv("ACIRUN_BENCH_DIR"); d != "" {
					// e.g. /dev/shm, to take a slow or busy disk out of the picture
					dir, _ = os.MkdirTemp(d, "bench")
					defer os.RemoveAll(dir)
				}
				s, err := Open(filepath.Join(dir, "s"), Options{LockDir: filepath.Join(dir, "l"), NoSync: !sync})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				if _, err := s.Import(context.Background(), bytes.NewReader(data), ImportOptions{}); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(total)/float64(b.N)/float64(dec), "x-decompress")
		})
	}
}

// BenchmarkTreeHash measures the hash taken of every rendered tree (the part
// of an import that reads the extracted files back).
func BenchmarkTreeHash(b *testing.B) {
	data, tarSize := benchImage(b, 2000, 20<<10)
	dir := b.TempDir()
	if d := os.Getenv("ACIRUN_BENCH_DIR"); d != "" {
		dir, _ = os.MkdirTemp(d, "bench")
		defer os.RemoveAll(dir)
	}
	s, err := Open(filepath.Join(dir, "s"), Options{LockDir: filepath.Join(dir, "l"), NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	img, err := s.Import(context.Background(), bytes.NewReader(data), ImportOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(tarSize))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := TreeHash(context.Background(), s.treeDir(img.ID)); err != nil {
			b.Fatal(err)
		}
	}
}

func benchInput(b *testing.B) ([]byte, int) {
	if p := os.Getenv("ACIRUN_BENCH_ACI"); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		info, err := archive.ValidateArchive(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		return data, int(info.TarSize)
	}
	return benchImage(b, 2000, 20<<10)
}
