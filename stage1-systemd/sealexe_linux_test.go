package stage1

import (
	"os"
	"testing"
)

// BenchmarkProtectExecutable compares the two ways of protecting the
// binary the pod runs from: a detached read-only bind mount and a sealed
// memfd copy (the fallback).
func BenchmarkProtectExecutable(b *testing.B) {
	needRoot(b)
	bind := func() (*os.File, error) { return sealedExecutable("/proc/self/exe") }
	memfd := func() (*os.File, error) { return memfdExecutable("/proc/self/exe") }
	for name, open := range map[string]func() (*os.File, error){"bind": bind, "memfd": memfd} {
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				f, err := open()
				if err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}
