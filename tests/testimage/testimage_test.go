package testimage

import (
	"archive/tar"
	"bufio"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func run(t *testing.T, bin string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return string(out), 0
}

func TestBuildAndRunTestapp(t *testing.T) {
	bin := Binary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("testapp is dynamically linked (has PT_INTERP)")
		}
	}
	f.Close()

	dir := Build(t, filepath.Join(t.TempDir(), "img"), Manifest("example.com/testapp", "env"), bin, &Options{
		Files:    map[string]string{"/etc/passwd": "root:x:0:0::/:/testapp\n"},
		Symlinks: map[string]string{"/bad": "../../../etc"},
		Dirs:     []string{"/data"},
	})
	var m struct {
		Name string `json:"name"`
		App  struct {
			Exec []string `json:"exec"`
		} `json:"app"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Name != "example.com/testapp" || strings.Join(m.App.Exec, " ") != "/testapp env" {
		t.Errorf("manifest %s: %+v, %v", b, m, err)
	}
	app := filepath.Join(dir, "rootfs", "testapp")

	out, code := run(t, app, []string{"B=2", "A=1"}, "env")
	if code != 0 || out != "A=1\nB=2\n" {
		t.Errorf("env: %q, exit %d", out, code)
	}
	if _, code := run(t, app, nil, "exit", "7"); code != 7 {
		t.Errorf("exit 7: exit status %d", code)
	}
	file := filepath.Join(t.TempDir(), "f")
	out, code = run(t, app, nil, "write", file, "hello", "+", "cat", file, "+", "stat", file, "+", "exit", "3")
	want := "write " + file + " ok\nhellotype=file\nperm=0644\n"
	if code != 3 || !strings.HasPrefix(out, want) {
		t.Errorf("write+cat+stat+exit: %q, exit %d; want prefix %q and exit 3", out, code, want)
	}
	out, _ = run(t, app, nil, "stat", filepath.Join(dir, "rootfs", "bad"))
	if !strings.Contains(out, "type=symlink") || !strings.Contains(out, "target=../../../etc") {
		t.Errorf("stat symlink: %q", out)
	}
	out, _ = run(t, app, nil, "cat", "/nonexistent")
	if out != "cat /nonexistent error=ENOENT open /nonexistent: no such file or directory\n" {
		t.Errorf("cat missing: %q", out)
	}
	out, _ = run(t, app, nil, "caps")
	for _, k := range []string{"CapInh=", "CapPrm=", "CapEff=", "CapBnd=", "CapAmb=", "CapBnd-names="} {
		if !strings.Contains(out, "\n"+k) && !strings.HasPrefix(out, k) {
			t.Errorf("caps: no %s line in %q", k, out)
		}
	}
	// A descriptor without close-on-exec reaches the program and is reported.
	leak, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	cmd := exec.Command(app, "fds")
	cmd.ExtraFiles = []*os.File{leak}
	b, err = cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "fd=3 target=/dev/null\n") {
		t.Errorf("fds: leaked fd 3 not reported: %q", b)
	}
	if strings.Contains(string(b), "cgroup") || strings.Contains(string(b), "eventpoll") {
		t.Errorf("fds: the Go runtime's own descriptors are listed: %q", b)
	}
	if _, code := run(t, app, nil, "bogus"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	if _, code := run(t, app, nil, "exit"); code != 2 {
		t.Errorf("exit without argument: exit %d, want 2", code)
	}

	aci := filepath.Join(t.TempDir(), "testapp.aci")
	WriteACI(t, dir, aci)
	af, err := os.Open(aci)
	if err != nil {
		t.Fatal(err)
	}
	defer af.Close()
	names := map[string]byte{}
	tr := tar.NewReader(af)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = h.Typeflag
	}
	for name, typ := range map[string]byte{"manifest": tar.TypeReg, "rootfs/": tar.TypeDir, "rootfs/testapp": tar.TypeReg,
		"rootfs/etc/passwd": tar.TypeReg, "rootfs/bad": tar.TypeSymlink, "rootfs/data/": tar.TypeDir} {
		if got, ok := names[name]; !ok || got != typ {
			t.Errorf("ACI entry %s: type %q (present %v), want %q; entries %v", name, got, ok, typ, names)
		}
	}
	for name := range names {
		if name != "manifest" && !strings.HasPrefix(name, "rootfs/") {
			t.Errorf("ACI has top-level entry %q", name)
		}
	}
}

func TestTestappServeAndIgnoreSigterm(t *testing.T) {
	bin := Binary(t)

	srv := exec.Command(bin, "serve", "127.0.0.1:0")
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "serving 127.0.0.1:") {
		t.Fatalf("serve: %q, %v", line, err)
	}
	resp, err := http.Get("http://" + strings.TrimSpace(strings.TrimPrefix(line, "serving ")) + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello from testapp\n" {
		t.Errorf("body %q", body)
	}

	ign := exec.Command(bin, "ignore-sigterm", "30s")
	out, err = ign.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ign.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { ign.Process.Kill() }()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ignoring SIGTERM\n" {
		t.Fatalf("ignore-sigterm: %q, %v", line, err)
	}
	if err := ign.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ign.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("ignore-sigterm died of SIGTERM: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	ign.Process.Kill()
	<-done
}
