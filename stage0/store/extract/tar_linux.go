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
	if err := x.addTar(ctx, r); err != nil {
		return x.Result(), err
	}
	return x.Finish(ctx)
}

// addTar adds every entry of the tar stream r, stopping at the first error.
func (x *Extractor) addTar(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if err := x.Add(ctx, hdr, tr); err != nil {
			return err
		}
	}
}
