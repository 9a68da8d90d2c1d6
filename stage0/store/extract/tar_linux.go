package extract

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
)

// Tar extracts a whole tar stream whose names are relative to root (an
// existing, normally empty, directory) and finishes it. It stops at the
// first error, leaving root to be thrown away by the caller.
func Tar(ctx context.Context, r io.Reader, root string, opts Options) (Result, error) {
	x, err := New(root, opts)
	if err != nil {
		return Result{}, err
	}
	defer x.Close()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return x.Result(), fmt.Errorf("read tar: %w", err)
		}
		if err := x.Add(ctx, hdr, tr); err != nil {
			return x.Result(), err
		}
	}
	return x.Finish(ctx)
}
