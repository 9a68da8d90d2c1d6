package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestReadmeListsRunFlags: the README's listing of the flags of run and
// prepare is what `acirun run --help` prints, line for line.
func TestReadmeListsRunFlags(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	readme, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "```\nPod flags:\n")
	if !ok {
		t.Fatal("README.md: no ``` block starting with \"Pod flags:\"")
	}
	block, _, _ = strings.Cut(block, "```")
	help := mustRun(t, "run", "--help").stdout
	_, listing, ok := strings.Cut(help, "\nPod flags:\n")
	if !ok {
		t.Fatalf("run --help has no \"Pod flags:\" section:\n%s", help)
	}
	listing, _, _ = strings.Cut(listing, "\n\nGlobal flags")
	if strings.TrimSpace(block) != strings.TrimSpace(listing) {
		t.Errorf("README.md's run flags differ from acirun run --help; README:\n%s\nhelp:\n%s", block, listing)
	}
}
