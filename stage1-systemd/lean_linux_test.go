package stage1

import (
	"debug/elf"
	"os"
	"testing"
)

// TestIsELFExec: isELFExec says of a file what debug/elf says of it: the
// test binary (a fixed-address executable as go test builds it here), the
// system's shell (position-independent on Debian), a file that is no ELF,
// and a missing one.
func TestIsELFExec(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{self, "/bin/sh", "/etc/passwd", "/nonexistent"} {
		want := false
		if f, err := elf.Open(p); err == nil {
			want = f.Type == elf.ET_EXEC
			f.Close()
		}
		if got := isELFExec(p); got != want {
			t.Errorf("isELFExec(%s) = %t, debug/elf says %t", p, got, want)
		}
	}
}
