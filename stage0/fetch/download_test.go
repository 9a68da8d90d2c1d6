package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/flock"
	"github.com/acirun/acirun/stage0/fetch/fetchtest"
)

// object serves one piece of content with Range support (http.ServeContent)
// and can misbehave in the ways a download must survive.
type object struct {
	mu          sync.Mutex
	etag        string
	data        []byte
	cutAt       int    // >0: a whole-content request is cut after this many bytes
	cuts        int    // how many requests to cut
	onCut       func() // called at each cut, before the connection closes
	ignoreRange bool   // answer 200 with everything, whatever was asked
	badRange    bool   // answer a Range request with a wrong Content-Range
	ranges      []string
	ifRanges    []string
}

func newObject(size int, etag string) *object {
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(1, uint64(size)))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	return &object{etag: etag, data: data}
}

func (o *object) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.ranges = append(o.ranges, r.Header.Get("Range"))
	o.ifRanges = append(o.ifRanges, r.Header.Get("If-Range"))
	etag, data := o.etag, o.data
	cut := o.cutAt > 0 && o.cuts > 0 && r.Header.Get("Range") == ""
	if cut {
		o.cuts--
	}
	onCut, ignore, bad := o.onCut, o.ignoreRange, o.badRange
	o.mu.Unlock()

	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	switch {
	case cut:
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:o.cutAt])
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		// Before the cut, which the client answers with its next
		// request at once: that one must find what onCut did.
		if onCut != nil {
			onCut()
		}
		conn.Close()
	case ignore:
		w.Write(data)
	case bad && r.Header.Get("Range") != "":
		w.Header().Set("Content-Range", "bytes 0-9/"+strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(data[:10])
	default:
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}
}

func (o *object) requests() (ranges, ifRanges []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.ranges...), append([]string(nil), o.ifRanges...)
}

func serveObject(t *testing.T, o *object) *Fetcher {
	n := fetchtest.New(t)
	n.ServeTLS(t, o, "example.com")
	return New(baseOptions(n))
}

const objURL = "https://example.com/app.aci"

// leavePartial makes what an interrupted earlier Download leaves behind.
func leavePartial(t *testing.T, path string, data []byte, info partialInfo) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(info)
	if err := os.WriteFile(path+".info", raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

func assertGone(t *testing.T, partial string) {
	t.Helper()
	for _, p := range []string{partial, partial + ".info"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind after success (%v)", p, err)
		}
	}
}

func TestDownloadResumesAfterCut(t *testing.T) {
	o := newObject(1<<20, `"c1"`)
	o.cutAt, o.cuts = 300<<10, 1
	f := serveObject(t, o)
	partial := filepath.Join(t.TempDir(), "app.aci.part")
	var out bytes.Buffer
	r, err := f.Download(context.Background(), objURL, partial, &out, GetOptions{Label: "image"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), o.data) {
		t.Fatalf("got %d bytes, not the content (%d bytes)", out.Len(), len(o.data))
	}
	if r.Outcome != Fetched || r.Size != int64(len(o.data)) || r.Cache.ETag != `"c1"` {
		t.Errorf("response %+v", r)
	}
	ranges, ifRanges := o.requests()
	if len(ranges) != 2 || ranges[0] != "" || ranges[1] != "bytes=307200-" || ifRanges[1] != `"c1"` {
		t.Errorf("requests: Range %q, If-Range %q", ranges, ifRanges)
	}
	assertGone(t, partial)
}

// cancelWriter stands for an operator who interrupts the fetch: it cancels
// the context once it has seen limit bytes.
type cancelWriter struct {
	bytes.Buffer
	limit  int
	cancel func()
}

func (w *cancelWriter) Write(b []byte) (int, error) {
	n, err := w.Buffer.Write(b)
	if w.Len() >= w.limit {
		w.cancel()
	}
	return n, err
}

func TestDownloadResumesAcrossCalls(t *testing.T) {
	o := newObject(1<<20, `"c1"`)
	f := serveObject(t, o)
	partial := filepath.Join(t.TempDir(), "p")

	ctx, cancel := context.WithCancel(context.Background())
	first := &cancelWriter{limit: 300_000, cancel: cancel}
	_, err := f.Download(ctx, objURL, partial, first, GetOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted call: %v", err)
	}
	fi, err := os.Stat(partial)
	if err != nil || fi.Size() < 300_000 || fi.Size() >= int64(len(o.data)) {
		t.Fatalf("partial after the interruption: %v, %v", fi, err)
	}
	kept := fi.Size()

	// A second call replays the kept bytes into the new writer and asks
	// only for the rest.
	var second bytes.Buffer
	if _, err := f.Download(context.Background(), objURL, partial, &second, GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(second.Bytes(), o.data) {
		t.Fatalf("second call wrote %d bytes, not the content", second.Len())
	}
	ranges, ifRanges := o.requests()
	if want := fmt.Sprintf("bytes=%d-", kept); len(ranges) != 2 || ranges[1] != want || ifRanges[1] != `"c1"` {
		t.Errorf("requests %q %q, want the second to ask for %s", ranges, ifRanges, want)
	}
	assertGone(t, partial)
}

func TestDownloadPartialNotResumable(t *testing.T) {
	for _, tc := range []struct {
		what string
		info partialInfo
	}{
		{"other URL", partialInfo{URL: "https://example.com/other.aci", ETag: `"c1"`}},
		{"weak ETag only", partialInfo{URL: objURL, ETag: `W/"c1"`}},
		{"no validator", partialInfo{URL: objURL}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			o := newObject(10_000, `"c1"`)
			f := serveObject(t, o)
			partial := filepath.Join(t.TempDir(), "p")
			leavePartial(t, partial, []byte("garbage"), tc.info)
			var out bytes.Buffer
			if _, err := f.Download(context.Background(), objURL, partial, &out, GetOptions{}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), o.data) {
				t.Error("content wrong")
			}
			if ranges, _ := o.requests(); len(ranges) != 1 || ranges[0] != "" {
				t.Errorf("Range sent: %q", ranges)
			}
		})
	}
	// A missing info file is the same.
	o := newObject(10_000, `"c1"`)
	f := serveObject(t, o)
	partial := filepath.Join(t.TempDir(), "p")
	os.WriteFile(partial, []byte("garbage"), 0o600)
	var out bytes.Buffer
	if _, err := f.Download(context.Background(), objURL, partial, &out, GetOptions{}); err != nil || !bytes.Equal(out.Bytes(), o.data) {
		t.Errorf("no info file: %v", err)
	}
}

func TestDownloadRestartsOn200(t *testing.T) {
	o := newObject(100_000, `"c1"`)
	o.ignoreRange = true
	f := serveObject(t, o)
	partial := filepath.Join(t.TempDir(), "p")
	// The partial bytes are not even a prefix: they must not reach w.
	leavePartial(t, partial, bytes.Repeat([]byte("X"), 40_000), partialInfo{URL: objURL, ETag: `"c1"`})
	var out bytes.Buffer
	if _, err := f.Download(context.Background(), objURL, partial, &out, GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), o.data) {
		t.Fatalf("wrote %d bytes, not the content", out.Len())
	}
	if ranges, _ := o.requests(); len(ranges) != 1 || ranges[0] != "bytes=40000-" {
		t.Errorf("requests %q", ranges)
	}
	assertGone(t, partial)
}

func TestDownloadLastModifiedValidator(t *testing.T) {
	o := newObject(10_000, "")
	n := fetchtest.New(t)
	mod := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	n.ServeTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.ranges = append(o.ranges, r.Header.Get("Range"))
		o.ifRanges = append(o.ifRanges, r.Header.Get("If-Range"))
		http.ServeContent(w, r, "", mod, bytes.NewReader(o.data))
	}), "example.com")
	f := New(baseOptions(n))
	partial := filepath.Join(t.TempDir(), "p")
	leavePartial(t, partial, o.data[:4000], partialInfo{URL: objURL, LastModified: mod.Format(http.TimeFormat)})
	var out bytes.Buffer
	if _, err := f.Download(context.Background(), objURL, partial, &out, GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), o.data) || len(o.ranges) != 1 || o.ranges[0] != "bytes=4000-" || o.ifRanges[0] != mod.Format(http.TimeFormat) {
		t.Errorf("Range %q If-Range %q, content ok %v", o.ranges, o.ifRanges, bytes.Equal(out.Bytes(), o.data))
	}
}

func TestDownloadChangedMidway(t *testing.T) {
	o := newObject(100_000, `"c1"`)
	o.cutAt, o.cuts = 30_000, 1
	newData := newObject(70_000, "").data
	o.onCut = func() {
		o.mu.Lock()
		o.etag, o.data = `"c2"`, newData
		o.mu.Unlock()
	}
	f := serveObject(t, o)
	partial := filepath.Join(t.TempDir(), "p")
	var out bytes.Buffer
	_, err := f.Download(context.Background(), objURL, partial, &out, GetOptions{})
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("content changed midway: %v", err)
	}
	// The next call, with a fresh writer, starts over and gets the new
	// content.
	var again bytes.Buffer
	r, err := f.Download(context.Background(), objURL, partial, &again, GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), newData) || r.Cache.ETag != `"c2"` {
		t.Errorf("second call: %d bytes, ETag %q", again.Len(), r.Cache.ETag)
	}
	if ranges, _ := o.requests(); ranges[len(ranges)-1] != "" {
		t.Errorf("second call sent Range %q", ranges[len(ranges)-1])
	}
}

func TestDownloadBad206(t *testing.T) {
	o := newObject(100_000, `"c1"`)
	o.badRange = true
	f := serveObject(t, o)
	partial := filepath.Join(t.TempDir(), "p")
	leavePartial(t, partial, o.data[:5000], partialInfo{URL: objURL, ETag: `"c1"`})
	var out bytes.Buffer
	_, err := f.Download(context.Background(), objURL, partial, &out, GetOptions{})
	if err == nil || !strings.Contains(err.Error(), `Content-Range "bytes 0-9/100000": starts at 0, asked for 5000`) {
		t.Fatalf("bad 206: %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("%d bytes written to w on a bad 206", out.Len())
	}
	if fi, err := os.Stat(partial); err != nil || fi.Size() != 0 {
		t.Errorf("partial not reset: %v, %v", fi, err)
	}
	if _, err := os.Stat(partial + ".info"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("info not removed: %v", err)
	}
}

func TestDownloadPartialTooLong(t *testing.T) {
	o := newObject(10_000, `"c1"`)
	f := serveObject(t, o)
	partial := filepath.Join(t.TempDir(), "p")
	leavePartial(t, partial, append(append([]byte(nil), o.data...), "extra"...), partialInfo{URL: objURL, ETag: `"c1"`})
	var out bytes.Buffer
	if _, err := f.Download(context.Background(), objURL, partial, &out, GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), o.data) {
		t.Error("content wrong after 416")
	}
	if ranges, _ := o.requests(); len(ranges) != 2 || ranges[0] != "bytes=10005-" || ranges[1] != "" {
		t.Errorf("requests %q", ranges)
	}
}

type failWriter struct{ n, limit int }

func (w *failWriter) Write(b []byte) (int, error) {
	if w.n+len(b) > w.limit {
		return 0, errors.New("verifier says no")
	}
	w.n += len(b)
	return len(b), nil
}

func TestDownloadWriterError(t *testing.T) {
	o := newObject(1<<20, `"c1"`)
	f := serveObject(t, o)
	partial := filepath.Join(t.TempDir(), "p")
	_, err := f.Download(context.Background(), objURL, partial, &failWriter{limit: 200_000}, GetOptions{})
	if err == nil || !strings.Contains(err.Error(), "verifier says no") {
		t.Fatalf("writer error: %v", err)
	}
	if len(o.ranges) != 1 {
		t.Errorf("a writer error was retried: %q", o.ranges)
	}
	// The bytes stay for a later call; RemovePartial throws them away.
	if fi, err := os.Stat(partial); err != nil || fi.Size() == 0 {
		t.Errorf("partial: %v, %v", fi, err)
	}
	if err := RemovePartial(partial); err != nil {
		t.Fatal(err)
	}
	assertGone(t, partial)
	if err := RemovePartial(partial); err != nil {
		t.Errorf("RemovePartial of nothing: %v", err)
	}
}

func TestDownloadErrors(t *testing.T) {
	n := fetchtest.New(t)
	n.ServeTLS(t, http.NotFoundHandler(), "example.com")
	f := New(baseOptions(n))
	var se *StatusError
	_, err := f.Download(context.Background(), objURL, filepath.Join(t.TempDir(), "p"), &bytes.Buffer{}, GetOptions{})
	if !errors.As(err, &se) || se.StatusCode != 404 {
		t.Errorf("404: %v", err)
	}
	_, err = f.Download(context.Background(), objURL, filepath.Join(t.TempDir(), "no", "such", "dir"), &bytes.Buffer{}, GetOptions{})
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("bad partial path: %v", err)
	}
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in               string
		start, end, size int64
		err              string // the refusal's reason; "" for none
	}{
		{"bytes 0-9/10", 0, 9, 10, ""},
		{"bytes 100-199/*", 100, 199, -1, ""},
		{"bytes 5-4/10", 0, 0, 0, "bad end"},
		{"bytes 0-10/10", 0, 0, 0, "bad size"},
		{"bytes -1-5/10", 0, 0, 0, "bad start"},
		{"bytes */10", 0, 0, 0, "no range"},
		{"items 0-1/2", 0, 0, 0, "not a byte range"},
		{"bytes 0-1", 0, 0, 0, "no size"},
		{"", 0, 0, 0, "not a byte range"},
	} {
		s, e, z, err := parseContentRange(tc.in)
		if (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err || s != tc.start || e != tc.end || z != tc.size {
			t.Errorf("parseContentRange(%q) = %d %d %d %v; want %d %d %d %q", tc.in, s, e, z, err, tc.start, tc.end, tc.size, tc.err)
		}
	}
}

func TestDownloadResumesAfterStall(t *testing.T) {
	o := newObject(1<<20, `"c1"`)
	n := fetchtest.New(t)
	stalls := 1
	var mu sync.Mutex
	n.ServeTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		stall := stalls > 0 && r.Header.Get("Range") == ""
		if stall {
			stalls--
		}
		mu.Unlock()
		if stall {
			w.Header().Set("ETag", o.etag)
			w.Header().Set("Content-Length", strconv.Itoa(len(o.data)))
			w.Write(o.data[:100_000])
			w.(http.Flusher).Flush()
			<-r.Context().Done() // say nothing more until the client gives up
			return
		}
		o.ServeHTTP(w, r)
	}), "example.com")
	opts := baseOptions(n)
	opts.StallTimeout = 300 * time.Millisecond
	f := New(opts)
	var out bytes.Buffer
	start := time.Now()
	if _, err := f.Download(context.Background(), objURL, filepath.Join(t.TempDir(), "p"), &out, GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), o.data) {
		t.Fatal("content wrong after a stall")
	}
	if ranges, _ := o.requests(); len(ranges) != 1 || ranges[0] != "bytes=100000-" {
		t.Errorf("resume requests %q", ranges)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}

	// Get reports the stall as such.
	mu.Lock()
	stalls = 1
	mu.Unlock()
	r, err := f.Get(context.Background(), objURL, GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	_, err = io.Copy(io.Discard, r.Body)
	if !errors.Is(err, ErrStalled) {
		t.Errorf("stalled Get body: %v", err)
	}
}

// A slow reader is not a stalled network.
func TestSlowReaderIsNotStall(t *testing.T) {
	o := newObject(64<<10, `"c1"`)
	opts := Options{StallTimeout: 100 * time.Millisecond}
	n := fetchtest.New(t)
	n.ServeTLS(t, o, "example.com")
	opts.RootCAs, opts.DialContext, opts.Proxy = n.Pool, n.DialContext, noProxy
	r, err := New(opts).Get(context.Background(), objURL, GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var got []byte
	buf := make([]byte, 16<<10)
	for {
		n, err := r.Body.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
	}
	if !bytes.Equal(got, o.data) {
		t.Error("content wrong")
	}
}

func TestDownloadSamePartialSerialized(t *testing.T) {
	o := newObject(256<<10, `"c1"`)
	var mu sync.Mutex
	active, most := 0, 0
	n := fetchtest.New(t)
	n.ServeTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		active++
		most = max(most, active)
		mu.Unlock()
		defer func() {
			mu.Lock()
			active--
			mu.Unlock()
		}()
		time.Sleep(100 * time.Millisecond)
		o.ServeHTTP(w, r)
	}), "example.com")
	f := New(baseOptions(n))
	partial := filepath.Join(t.TempDir(), "p")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	outs := make([]bytes.Buffer, 4)
	for i := range 4 {
		wg.Go(func() {
			_, errs[i] = f.Download(context.Background(), objURL, partial, &outs[i], GetOptions{})
		})
	}
	wg.Wait()
	for i := range 4 {
		if errs[i] != nil || !bytes.Equal(outs[i].Bytes(), o.data) {
			t.Errorf("download %d: %v, %d bytes", i, errs[i], outs[i].Len())
		}
	}
	if most != 1 {
		t.Errorf("%d downloads of the same partial file ran at once", most)
	}
	assertGone(t, partial)

	// A waiting Download gives up with its context.
	lock, err := flock.Lock(context.Background(), partial, true)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := f.Download(ctx, objURL, partial, &bytes.Buffer{}, GetOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting on a held lock: %v", err)
	}
}

// trickle serves o, but the first request without a Range gets the headers
// and then one byte every 20 ms, for as long as the client listens: a
// server that would hold a fetch for as many 20 ms as the body has bytes.
func trickle(o *object, first *int, mu *sync.Mutex) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		slow := *first > 0 && r.Header.Get("Range") == ""
		if slow {
			*first--
		}
		mu.Unlock()
		if !slow {
			o.ServeHTTP(w, r)
			return
		}
		w.Header().Set("ETag", o.etag)
		w.Header().Set("Content-Length", strconv.Itoa(len(o.data)))
		for i := 0; i < len(o.data); i++ {
			if _, err := w.Write(o.data[i : i+1]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
}

// TestTrickleIsStall: a server trickling a byte at a time (less than
// MinProgress bytes in the stall timeout) is ended as stalled with an error
// naming the URL and the setting, through Get, through the bare client
// (discovery pages and keys), and Download resumes it with a Range request;
// a server that never answers the headers is ended too.
func TestTrickleIsStall(t *testing.T) {
	o := newObject(256<<10, `"c1"`)
	n := fetchtest.New(t)
	var mu sync.Mutex
	slow := 3
	n.ServeTLS(t, trickle(o, &slow, &mu), "example.com")
	n.ServeTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}), "mute.example.com")
	opts := baseOptions(n)
	opts.StallTimeout = 300 * time.Millisecond
	f := New(opts)

	start := time.Now()
	r, err := f.Get(context.Background(), objURL, GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, r.Body)
	r.Body.Close()
	if !errors.Is(err, ErrStalled) || !strings.Contains(err.Error(), objURL) || !strings.Contains(err.Error(), "--stall-timeout") {
		t.Errorf("trickled Get body: %v; want ErrStalled naming %s and --stall-timeout", err, objURL)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the trickle held Get for %v", d)
	}

	resp, err := f.Client().Get(objURL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if !errors.Is(err, ErrStalled) {
		t.Errorf("trickled body through Client(): %v, want ErrStalled", err)
	}

	var out bytes.Buffer
	if _, err := f.Download(context.Background(), objURL, filepath.Join(t.TempDir(), "p"), &out, GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), o.data) {
		t.Fatal("content wrong after a trickle")
	}
	if ranges, _ := o.requests(); len(ranges) != 1 || !strings.HasPrefix(ranges[0], "bytes=") || ranges[0] == "bytes=0-" {
		t.Errorf("Download after a trickle asked %q, want one resuming Range", ranges)
	}

	start = time.Now()
	if _, err := f.Get(context.Background(), "https://mute.example.com/app.aci", GetOptions{}); err == nil || !strings.Contains(err.Error(), "mute.example.com") {
		t.Errorf("Get from a server that sends no headers: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("a mute server held Get for %v", d)
	}
}

// The complete file goes to KeepAs instead of being removed: after a
// download interrupted and resumed in another call, and cut and resumed
// within a call, it holds exactly the content; an interrupted call moves
// nothing there.
func TestDownloadKeepAs(t *testing.T) {
	o := newObject(1<<20, `"c1"`)
	f := serveObject(t, o)
	dir := t.TempDir()
	partial, keep := filepath.Join(dir, "p"), filepath.Join(dir, "kept")

	ctx, cancel := context.WithCancel(context.Background())
	_, err := f.Download(ctx, objURL, partial, &cancelWriter{limit: 300_000, cancel: cancel}, GetOptions{KeepAs: keep})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted call: %v", err)
	}
	if _, err := os.Stat(keep); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an interrupted download was kept (%v)", err)
	}

	o.mu.Lock()
	o.cutAt, o.cuts = 600<<10, 1 // only requests without Range are cut: none here
	o.mu.Unlock()
	var out bytes.Buffer
	if _, err := f.Download(context.Background(), objURL, partial, &out, GetOptions{KeepAs: keep}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(keep)
	if err != nil || !bytes.Equal(got, o.data) || !bytes.Equal(out.Bytes(), o.data) {
		t.Fatalf("kept %d bytes (%v), wrote %d, want the %d of the content", len(got), err, out.Len(), len(o.data))
	}
	assertGone(t, partial)

	// Cut within the call, resumed by it.
	os.Remove(keep)
	out.Reset()
	if _, err := f.Download(context.Background(), objURL, partial, &out, GetOptions{KeepAs: keep}); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(keep); err != nil || !bytes.Equal(got, o.data) {
		t.Fatalf("kept %d bytes (%v) after a cut, want the %d of the content", len(got), err, len(o.data))
	}
	if ranges, _ := o.requests(); len(ranges) != 4 || ranges[3] != "bytes=614400-" {
		t.Errorf("requests %q, want the last to resume at 614400", ranges)
	}
	assertGone(t, partial)
}

// A Download waiting for the partial file's lock while another finishes
// with KeepAs starts afresh in a new file: the kept file, moved while its
// lock was still held, is never truncated or written by it.
func TestDownloadKeepAsWhileAnotherWaits(t *testing.T) {
	o := newObject(1<<20, `"c1"`)
	f := serveObject(t, o)
	dir := t.TempDir()
	partial, keep := filepath.Join(dir, "p"), filepath.Join(dir, "kept")

	var second bytes.Buffer
	secondErr := make(chan error, 1)
	w := &hookWriter{hook: func() {
		// Once the first holds the lock, the second waits for it.
		go func() {
			_, err := f.Download(context.Background(), objURL, partial, &second, GetOptions{})
			secondErr <- err
		}()
		time.Sleep(100 * time.Millisecond)
	}}
	if _, err := f.Download(context.Background(), objURL, partial, w, GetOptions{KeepAs: keep}); err != nil {
		t.Fatal(err)
	}
	if err := <-secondErr; err != nil || !bytes.Equal(second.Bytes(), o.data) {
		t.Fatalf("second download: %v, %d bytes", err, second.Len())
	}
	if got, err := os.ReadFile(keep); err != nil || !bytes.Equal(got, o.data) {
		t.Fatalf("kept %d bytes (%v), want the %d of the content", len(got), err, len(o.data))
	}
	if ranges, _ := o.requests(); len(ranges) != 2 || ranges[1] != "" {
		t.Errorf("requests %q, want the second whole", ranges)
	}
	assertGone(t, partial)
}

// hookWriter is a bytes.Buffer that calls hook at its first write.
type hookWriter struct {
	bytes.Buffer
	hook func()
}

func (w *hookWriter) Write(b []byte) (int, error) {
	if w.hook != nil {
		w.hook()
		w.hook = nil
	}
	return w.Buffer.Write(b)
}
