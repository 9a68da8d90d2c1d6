package oci

import (
	"io"

	"github.com/klauspost/compress/zstd"
)

// ZstdReader opens a zstd-compressed layer's content for the store's
// import (store.OCIImportOptions.Zstd): one decoding goroutine and its
// low-memory mode, as a layer is read once, in order.
func ZstdReader(r io.Reader) (io.ReadCloser, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, err
	}
	return zr.IOReadCloser(), nil
}
