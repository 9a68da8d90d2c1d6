package fetch

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"sync"
	"testing"

	"github.com/acirun/acirun/stage0/fetch/fetchtest"
)

// progressLog is a Progress that keeps what it was told.
type progressLog struct {
	mu        sync.Mutex
	transfers []*recorded
}

type recorded struct {
	label          string
	total, resumed int64
	added          int64
	done           int
}

func (r *progressLog) progress(label string, total, resumed int64) Transfer {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := &recorded{label: label, total: total, resumed: resumed}
	r.transfers = append(r.transfers, t)
	return t
}

func (t *recorded) Add(n int) { t.added += int64(n) }
func (t *recorded) Done()     { t.done++ }

func TestProgressReported(t *testing.T) {
	o := newObject(3<<20, `"c1"`)
	n := fetchtest.New(t)
	n.ServeTLS(t, o, "example.com")
	size := int64(len(o.data))

	for _, tc := range []struct {
		name     string
		label    string
		download bool
		resumed  int // bytes an earlier attempt left (Download only)
		want     *recorded
	}{
		{"get", "image", false, 0, &recorded{label: "image", total: size, added: size, done: 1}},
		{"download", "image", true, 0, &recorded{label: "image", total: size, added: size, done: 1}},
		{"download resumed", "image", true, 1 << 20, &recorded{label: "image", total: size, resumed: 1 << 20, added: size - 1<<20, done: 1}},
		{"no label, no report", "", true, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &progressLog{}
			opts := baseOptions(n)
			opts.Progress = rec.progress
			f := New(opts)
			var out bytes.Buffer
			if tc.download {
				partial := filepath.Join(t.TempDir(), "p")
				if tc.resumed > 0 {
					leavePartial(t, partial, o.data[:tc.resumed], partialInfo{URL: objURL, ETag: `"c1"`})
				}
				if _, err := f.Download(context.Background(), objURL, partial, &out, GetOptions{Label: tc.label}); err != nil {
					t.Fatal(err)
				}
			} else {
				r, err := f.Get(context.Background(), objURL, GetOptions{Label: tc.label})
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(&out, r.Body)
				r.Body.Close() // after EOF: Done must still be said once
			}
			if !bytes.Equal(out.Bytes(), o.data) {
				t.Fatal("content differs")
			}
			if tc.want == nil {
				if len(rec.transfers) != 0 {
					t.Errorf("reported %+v, want nothing", rec.transfers[0])
				}
				return
			}
			if len(rec.transfers) != 1 || *rec.transfers[0] != *tc.want {
				var got []recorded
				for _, r := range rec.transfers {
					got = append(got, *r)
				}
				t.Errorf("reported %+v, want [%+v]", got, *tc.want)
			}
		})
	}
}
