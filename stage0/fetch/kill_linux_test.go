package fetch

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acirun/acirun/stage0/fetch/fetchtest"
)

// stopWriter tells the parent it is mid-download and then hangs, so that the
// parent can kill the process at a known point.
type stopWriter struct{ n int }

func (w *stopWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	if w.n >= 300_000 {
		os.Stdout.WriteString("mid-download\n")
		select {}
	}
	return len(b), nil
}

// TestDownloadAfterKill kills a process in the middle of a Download with
// SIGKILL and checks that the next Download picks up its partial file: the
// lock died with the process and only the rest is asked for.
func TestDownloadAfterKill(t *testing.T) {
	if os.Getenv("ACIRUN_FETCH_KILL_CHILD") == "1" {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(os.Getenv("ACIRUN_FETCH_CA")))
		addr := os.Getenv("ACIRUN_FETCH_ADDR")
		var d net.Dialer
		f := New(Options{RootCAs: pool, Proxy: noProxy, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		}})
		_, err := f.Download(context.Background(), objURL, os.Getenv("ACIRUN_FETCH_PARTIAL"), &stopWriter{}, GetOptions{})
		t.Fatalf("child Download returned: %v", err)
	}

	o := newObject(2<<20, `"c1"`)
	n := fetchtest.New(t)
	s := n.ServeTLS(t, o, "example.com")
	partial := filepath.Join(t.TempDir(), "p")
	cmd := exec.Command(os.Args[0], "-test.run=^TestDownloadAfterKill$")
	cmd.Env = append(os.Environ(), "ACIRUN_FETCH_KILL_CHILD=1", "ACIRUN_FETCH_CA="+string(n.CAPEM()),
		"ACIRUN_FETCH_ADDR="+s.Listener.Addr().String(), "ACIRUN_FETCH_PARTIAL="+partial)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, "mid-download") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q, %v", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	fi, err := os.Stat(partial)
	if err != nil || fi.Size() < 300_000 {
		t.Fatalf("partial after kill: %v, %v", fi, err)
	}
	var out bytes.Buffer
	if _, err := New(baseOptions(n)).Download(context.Background(), objURL, partial, &out, GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), o.data) {
		t.Fatal("content wrong after resuming a killed download")
	}
	ranges, _ := o.requests()
	if len(ranges) != 2 || ranges[1] == "" {
		t.Errorf("requests %q: the second should resume with Range", ranges)
	}
	assertGone(t, partial)
}
