package archive

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// benchImage is a gzip ACI of about 64 MiB uncompressed, with files of
// source-code-like sizes and compressibility, made once per test binary.
// Set ACI_BENCH_IMAGE to an .aci file to benchmark that instead.
var benchImage = sync.OnceValues(func() ([]byte, error) {
	if p := os.Getenv("ACI_BENCH_IMAGE"); p != "" {
		return os.ReadFile(p)
	}
	words := strings.Fields("func return if err != nil { } package import type struct interface " +
		"for range := = the of and to a in is that for it with as was on be by this are " +
		"fmt.Errorf(\"%s: %w\", name, err) int64 string []byte map[string]int // comment")
	rng := rand.New(rand.NewPCG(1, 2))
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	add := func(hdr *tar.Header, body []byte) {
		hdr.Mode, hdr.Size = 0o644, int64(len(body))
		if hdr.Typeflag == tar.TypeDir {
			hdr.Mode = 0o755
		}
		if err := tw.WriteHeader(hdr); err != nil {
			panic(err)
		}
		tw.Write(body)
	}
	add(&tar.Header{Name: "manifest", Typeflag: tar.TypeReg}, []byte(arManifest))
	add(&tar.Header{Name: "rootfs/", Typeflag: tar.TypeDir}, nil)
	var body bytes.Buffer
	for i := 0; tarBuf.Len() < 64<<20; i++ {
		if i%50 == 0 {
			add(&tar.Header{Name: fmt.Sprintf("rootfs/d%d/", i/50), Typeflag: tar.TypeDir}, nil)
		}
		body.Reset()
		size := int(rng.ExpFloat64() * 14000)
		for body.Len() < size {
			body.WriteString(words[rng.IntN(len(words))])
			body.WriteByte(" \n\t"[rng.IntN(3)])
		}
		add(&tar.Header{Name: fmt.Sprintf("rootfs/d%d/f%d.go", i/50, i), Typeflag: tar.TypeReg}, body.Bytes())
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarBuf.Bytes())
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return gz.Bytes(), nil
})

func benchLoad(b *testing.B) []byte {
	data, err := benchImage()
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkWalkArchive is what `acirun image validate` spends: decompress,
// hash and check the layout. Compare with BenchmarkInflate, the lower bound.
func BenchmarkWalkArchive(b *testing.B) {
	data := benchLoad(b)
	info, err := ValidateArchive(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(info.TarSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ValidateArchive(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInflate only decompresses the same image, in one goroutine.
func BenchmarkInflate(b *testing.B) {
	data := benchLoad(b)
	zr, _, err := Decompress(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, zr)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(n)
	for b.Loop() {
		zr, _, _ := Decompress(bytes.NewReader(data))
		if _, err := io.Copy(io.Discard, zr); err != nil {
			b.Fatal(err)
		}
	}
}
