package store

import (
	"context"
	"os"
	"runtime/trace"
	"testing"
)

func TestZZTraceImport(t *testing.T) {
	dir := os.Getenv("ZZ_DIR")
	if dir == "" {
		t.Skip()
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open("/tmp/ib/gotree.aci")
	defer f.Close()
	tf, _ := os.Create("/tmp/ib/trace.out")
	trace.Start(tf)
	_, err = s.Import(context.Background(), f, ImportOptions{})
	trace.Stop()
	tf.Close()
	if err != nil {
		t.Fatal(err)
	}
}
