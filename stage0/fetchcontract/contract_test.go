package fetchcontract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/store"
)

// TestFindBeside: the helper is found beside acirun only as an executable
// file; a missing or wrong one is named, with how to install it.
func TestFindBeside(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(p string) error
		want string // "" for found
	}{
		{"executable", func(p string) error { return os.WriteFile(p, nil, 0o755) }, ""},
		{"missing", func(string) error { return nil }, "no such file"},
		{"not executable", func(p string) error { return os.WriteFile(p, nil, 0o644) }, "not an executable file"},
		{"a directory", func(p string) error { return os.Mkdir(p, 0o755) }, "not an executable file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tc.make(filepath.Join(dir, Executable)); err != nil {
				t.Fatal(err)
			}
			got, err := findBeside(filepath.Join(dir, "acirun"))
			if tc.want == "" {
				if err != nil || got != filepath.Join(dir, Executable) {
					t.Fatalf("findBeside = %q, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), Executable) || !strings.Contains(err.Error(), "make install") {
				t.Fatalf("findBeside = %q, %v; want an error saying %q, naming %s and how to install it", got, err, tc.want, Executable)
			}
		})
	}
}

// TestErrorCrossesAsItWas: an error sent as the helper sends it keeps its
// message and, for the sentinels acirun tests, what errors.Is says.
func TestErrorCrossesAsItWas(t *testing.T) {
	for _, tc := range []struct {
		err  error
		is   error
		isnt error
	}{
		{fmt.Errorf("image x: %w", context.Canceled), context.Canceled, store.ErrNotFound},
		{fmt.Errorf("image x: %w", context.DeadlineExceeded), context.DeadlineExceeded, context.Canceled},
		{fmt.Errorf("image sha512-00: %w", store.ErrNotFound), store.ErrNotFound, context.Canceled},
		{errors.New("plain"), nil, context.Canceled},
	} {
		b, err := json.Marshal(ErrorOf(tc.err))
		if err != nil {
			t.Fatal(err)
		}
		var got *Error
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.Error() != tc.err.Error() {
			t.Errorf("message %q, want %q", got.Error(), tc.err.Error())
		}
		if tc.is != nil && !errors.Is(got, tc.is) {
			t.Errorf("%v: errors.Is %v false after the crossing", tc.err, tc.is)
		}
		if errors.Is(got, tc.isnt) {
			t.Errorf("%v: errors.Is %v true after the crossing", tc.err, tc.isnt)
		}
	}
	if ErrorOf(nil) != nil {
		t.Error("ErrorOf(nil) is not nil")
	}
}

// TestReadRequestRefusesOtherVersions: a helper asked in another version of
// the contract says so, and what to do, instead of guessing.
func TestReadRequestRefusesOtherVersions(t *testing.T) {
	for _, v := range []int{0, Version + 1} {
		in := fmt.Sprintf(`{"version": %d, "config": {}, "trustedKeys": {}}`+"\n", v)
		_, req, err := ReadRequest(strings.NewReader(in), &bytes.Buffer{})
		if err == nil || req != nil || !strings.Contains(err.Error(), "version") || !strings.Contains(err.Error(), "make install") {
			t.Errorf("version %d: %v, %v; want a refusal naming the versions and how to install", v, req, err)
		}
	}
	_, req, err := ReadRequest(strings.NewReader(fmt.Sprintf(`{"version": %d, "config": {"dataDir": "/d"}, "trustedKeys": {}}`, Version)), &bytes.Buffer{})
	if err != nil || req.Config.DataDir != "/d" || req.TrustedKeys == nil {
		t.Errorf("this version: %+v, %v", req, err)
	}
}

// script writes a helper that runs the shell code body.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), Executable)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// recorder is a fetch.Progress that writes down what it is told.
type recorder struct{ log []string }

func (r *recorder) progress(label string, total, resumed int64) fetch.Transfer {
	r.log = append(r.log, fmt.Sprintf("start %s %d %d", label, total, resumed))
	return r
}
func (r *recorder) Add(n int) { r.log = append(r.log, fmt.Sprintf("add %d", n)) }
func (r *recorder) Done()     { r.log = append(r.log, "done") }

// TestClientExchange: the client sends the request, passes progress on,
// and returns the result, the helper's error as an *Error beside it.
func TestClientExchange(t *testing.T) {
	out := filepath.Join(t.TempDir(), "request")
	helper := script(t, `head -n 1 > `+out+`
echo '{"progress":{"id":1,"label":"image a","total":10,"resumed":2}}'
echo '{"progress":{"id":1,"add":3}}'
echo '{"progress":{"id":1,"add":5}}'
echo '{"progress":{"id":1,"done":true}}'
echo '{"result":{"images":["sha512-aa"],"err":{"msg":"image b: gone","is":"notFound"}}}'`)
	var rec recorder
	c := &Client{Path: helper, Progress: rec.progress}
	res, err := c.Do(context.Background(), &Request{Fetch: &FetchRequest{Refs: []string{"a", "b"}}})
	if res == nil || len(res.Images) != 1 || res.Images[0] != "sha512-aa" {
		t.Errorf("result %+v", res)
	}
	var e *Error
	if !errors.As(err, &e) || err.Error() != "image b: gone" || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("error %v, want the helper's, wrapping store.ErrNotFound", err)
	}
	if got, want := strings.Join(rec.log, ", "), "start image a 10 2, add 3, add 5, done"; got != want {
		t.Errorf("progress %q, want %q", got, want)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var req Request
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	if req.Version != Version || req.Fetch == nil || !req.Fetch.Progress || len(req.Fetch.Refs) != 2 {
		t.Errorf("the helper was sent %s", b)
	}
}

// TestClientNoAnswer: a helper that ends without a result (another build's,
// a crash) is named, with what to do; one that outlives its context is
// stopped.
func TestClientNoAnswer(t *testing.T) {
	for _, body := range []string{"exit 3", "echo 'not json'", "cat >/dev/null"} {
		_, err := (&Client{Path: script(t, body)}).Do(context.Background(), &Request{TrustedKeys: &struct{}{}})
		if err == nil || !strings.Contains(err.Error(), "ended without an answer") || !strings.Contains(err.Error(), "make install") {
			t.Errorf("helper %q: %v", body, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := (&Client{Path: script(t, "exec sleep 60")}).Do(ctx, &Request{TrustedKeys: &struct{}{}})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("a helper past its context: %v after %v", err, time.Since(start))
	}
}

// TestReviewStopsWithContext: a helper waiting for acirun's answer to a
// key's review stops waiting once its context is done (acirun stopped it
// while its user was being asked), with the context's error, and asks no
// more: a late answer must never be taken for the next key's. An answer
// in time is read as it was written.
func TestReviewStopsWithContext(t *testing.T) {
	in, answers, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	defer answers.Close()
	if _, err := fmt.Fprintf(answers, `{"version": %d, "config": {}, "trust": {"root": true, "sources": ["k"], "review": true}}`+"\n", Version); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c, _, err := ReadRequest(in, &out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := answers.WriteString(`{"trust": true}` + "\n"); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Review(context.Background(), KeyInfo{Fingerprint: "aa"}, "k"); !ok || err != nil {
		t.Errorf("a review answered in time: %v, %v", ok, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	done := make(chan error, 1)
	go func() {
		_, err := c.Review(ctx, KeyInfo{Fingerprint: "bb"}, "k")
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "bb") {
			t.Errorf("a review past its context: %v, want context.Canceled naming the key", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a review past its context still waits for its answer")
	}
	// The answer meant for bb comes late: the next review is refused,
	// never answered with it.
	if _, err := answers.WriteString(`{"trust": true}` + "\n"); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Review(context.Background(), KeyInfo{Fingerprint: "cc"}, "k"); ok || err == nil {
		t.Errorf("a review after one that stopped waiting: %v, %v; want it refused", ok, err)
	}
}
