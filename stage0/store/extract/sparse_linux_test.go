package extract

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/testenv"
)

// TestHolesKept: blocks of zeros in a file's content become holes, whether
// the archive marks the file sparse (GNU tar --sparse, whose holes
// archive/tar fills in) or simply holds the zeros: a tiny archive does not
// take the disk space of its files' length. The content reads back the
// same, with the right length (also when it ends in zeros).
func TestHolesKept(t *testing.T) {
	tarPath := testenv.NeedTool(t, "tar", "GNU tar makes the sparse archive")
	zeros := func(n int) string { return string(make([]byte, n)) }
	tests := []struct {
		name string
		// archive returns the tar and the file's content.
		archive   func(t *testing.T) ([]byte, []byte)
		maxBlocks int64 // most bytes allocated
	}{
		{"GNU sparse 64 MiB", func(t *testing.T) ([]byte, []byte) {
			dir := t.TempDir()
			f, err := os.Create(filepath.Join(dir, "sparse"))
			must(t, err)
			_, err = f.WriteAt([]byte("head"), 0)
			must(t, err)
			_, err = f.WriteAt([]byte("middle"), 32<<20+5)
			must(t, err)
			must(t, f.Truncate(64<<20))
			must(t, f.Close())
			out, err := exec.Command(tarPath, "--sparse", "--format=gnu", "-cf", "-", "-C", dir, "sparse").Output()
			must(t, err)
			if len(out) > 64<<10 {
				t.Fatalf("tar --sparse made %d bytes", len(out))
			}
			content, err := os.ReadFile(filepath.Join(dir, "sparse"))
			must(t, err)
			return out, content
		}, 64 << 10},
		{"16 MiB of zeros, not marked sparse", func(t *testing.T) ([]byte, []byte) {
			body := zeros(16 << 20)
			return mkTar(t, file("sparse", body)), []byte(body)
		}, 0},
		{"zeros between data, unaligned", func(t *testing.T) ([]byte, []byte) {
			body := strings.Repeat("x", 5000) + zeros(40*4096+100) + strings.Repeat("y", 10) + zeros(70000)
			return mkTar(t, file("sparse", body)), []byte(body)
		}, 5 * 4096},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, want := tc.archive(t)
			root := t.TempDir()
			if _, err := tarChecked(t, bytes.NewReader(data), root, Options{}); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(root, "sparse")
			var st unix.Stat_t
			must(t, unix.Stat(p, &st))
			if st.Size != int64(len(want)) {
				t.Errorf("size %d, want %d", st.Size, len(want))
			}
			if used := st.Blocks * 512; used > tc.maxBlocks {
				t.Errorf("%d bytes allocated for a file of %d, want at most %d", used, st.Size, tc.maxBlocks)
			}
			f, err := os.Open(p)
			must(t, err)
			defer f.Close()
			h := sha256.New()
			_, err = io.Copy(h, f)
			must(t, err)
			if got, wantSum := h.Sum(nil), sha256.Sum256(want); !bytes.Equal(got, wantSum[:]) {
				t.Errorf("content differs")
			}
		})
	}
}
