package stage1

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/mountinfo"
	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/internal/testenv"
)

func capHex(s capSet) string { return fmt.Sprintf("%016x", uint64(s)) }

func TestPodEnvHostname(t *testing.T) {
	p := newPod(t, []testApp{{
		name: "envapp",
		exec: []string{"/probe", "env", "hostname", "pwd"},
		env:  map[string]string{"FOO": "bar", "container": "mine"},
	}}, nil)
	r := p.run(t, "--net=none", "--metadata-url=http://169.254.169.255:18112/token")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	r.has(t, "env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n", "env AC_METADATA_URL=http://169.254.169.255:18112/token\n",
		"env AC_APP_NAME=envapp\n", "env FOO=bar\n", "env container=mine\n",
		"hostname acirun-"+p.uuid[:8]+"\n", "pwd /\n")
	r.lacks(t, "env "+testMainEnv, "env HOME=", "env container=acirun")
}

func TestPodHostsResolv(t *testing.T) {
	t.Run("flags", func(t *testing.T) {
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "hostname", "cat:/etc/hosts", "cat:/etc/resolv.conf"}}}, nil)
		r := p.run(t, "--net=none", "--hostname=web1", "--hosts-entry=10.1.2.3=db.local", "--dns=10.0.0.53", "--dns=10.0.0.54", "--dns-search=example.com")
		r.has(t, "hostname web1\n", "127.0.0.1\tlocalhost localhost.localdomain web1\n", "10.1.2.3\tdb.local\n",
			"search example.com\nnameserver 10.0.0.53\nnameserver 10.0.0.54\n")
	})
	t.Run("options and domain", func(t *testing.T) {
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "cat:/etc/resolv.conf"}}}, nil)
		r := p.run(t, "--net=none", "--dns=10.0.0.53", "--dns-opt=ndots:3", "--dns-opt=rotate", "--dns-domain=corp.example", "--dns-search=a.example")
		r.has(t, "cat /etc/resolv.conf\n# written by acirun stage1\ndomain corp.example\nsearch a.example\noptions ndots:3 rotate\nnameserver 10.0.0.53\n")
		r = p.run(t, "--net=none", "--dns=host", "--dns-opt=rotate")
		if r.code != 2 || !strings.Contains(r.stderr, "--dns-opt would be ignored") {
			t.Errorf("--dns=host --dns-opt: exit %d, %s", r.code, r.stderr)
		}
	})
	t.Run("image files kept", func(t *testing.T) {
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "cat:/etc/hosts", "cat:/etc/resolv.conf"},
			rootfs: func(t testing.TB, dir string) {
				must(t, os.WriteFile(filepath.Join(dir, "etc/hosts"), []byte("1.2.3.4 image-hosts\n"), 0o644))
				must(t, os.WriteFile(filepath.Join(dir, "etc/resolv.conf"), []byte("nameserver 9.9.9.9\n"), 0o644))
			}}}, nil)
		r := p.run(t, "--net=none", "--dns=none")
		r.has(t, "1.2.3.4 image-hosts", "nameserver 9.9.9.9")
	})
	t.Run("from the host", func(t *testing.T) {
		hosts, err := os.ReadFile("/etc/hosts")
		must(t, err)
		resolv, rerr := os.ReadFile("/etc/resolv.conf")
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "cat:/etc/hosts", "cat:/etc/resolv.conf"}}}, nil)
		r := p.run(t, "--net=none", "--hosts-entry=host", "--dns=host")
		r.has(t, string(hosts))
		if rerr == nil {
			r.has(t, string(resolv))
		} else if r.code != ExitCodeFailure {
			t.Errorf("--dns=host without a host resolv.conf: exit %d", r.code)
		}
	})
	t.Run("default hosts", func(t *testing.T) {
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "cat:/etc/hosts"}}}, nil)
		r := p.run(t, "--net=none")
		r.has(t, "127.0.0.1\tlocalhost localhost.localdomain acirun-"+p.uuid[:8])
	})
}

func TestPodProcProtection(t *testing.T) {
	actions := []string{"/probe", "open-write:/proc/sysrq-trigger", "cat:/proc/kcore", "cat:/proc/keys", "cat:/proc/timer_list",
		"open-write:/proc/sys/kernel/hostname", "stat:/sys/firmware", "write:/sys/kernel/probe"}
	p := newPod(t, []testApp{{name: "a", exec: actions}}, nil)
	r := p.run(t, "--net=none")
	r.has(t, "open-write /proc/sysrq-trigger error", "open-write /proc/sys/kernel/hostname error", "write error")
	// Not every kernel has every file (this VM's has no kcore, no sysrq-trigger).
	for _, f := range []string{"kcore", "keys", "timer_list"} {
		if _, err := os.Stat("/proc/" + f); err == nil {
			r.has(t, "cat /proc/"+f+"\n\n")
		}
	}
	if _, err := os.Stat("/proc/sysrq-trigger"); err == nil && !strings.Contains(r.stdout, "open-write /proc/sysrq-trigger error open /proc/sysrq-trigger: read-only file system") {
		t.Error("/proc/sysrq-trigger is not read-only")
	}
	if !strings.Contains(r.stdout, "read-only file system") {
		t.Error("no EROFS from the read-only paths")
	}

	// --insecure-options=paths lifts masking.
	p = newPod(t, []testApp{{name: "a", exec: []string{"/probe", "cat:/proc/keys"}}}, nil)
	r = p.run(t, "--net=none", "--insecure-options=paths")
	if strings.Contains(r.stdout, "cat /proc/keys\n\n") {
		t.Error("/proc/keys still masked with --insecure-options=paths")
	}
}

func TestPodDev(t *testing.T) {
	p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "stat:/dev/null", "stat:/dev/zero", "stat:/dev/full",
		"stat:/dev/random", "stat:/dev/urandom", "stat:/dev/tty", "stat:/dev/console", "stat:/dev/ptmx", "stat:/dev/pts/ptmx",
		"stat:/dev/shm", "write:/dev/null", "write:/dev/shm/x", "cat:/dev/null"}}}, nil)
	r := p.run(t, "--net=none")
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		r.has(t, "stat /dev/"+d+" Dcrw-rw-rw-")
	}
	r.has(t, "stat /dev/console Dc", "stat /dev/ptmx Lrwxrwxrwx", "stat /dev/pts/ptmx Dcrw-rw-rw-",
		"stat /dev/shm dtrwxrwxrwx", "write ok /dev/null", "write ok /dev/shm/x")
}

func TestPodCapabilities(t *testing.T) {
	retain := `{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_NET_BIND_SERVICE","CAP_KILL"]}}`
	remove := `{"name":"os/linux/capabilities-remove-set","value":{"set":["CAP_CHOWN","CAP_NET_RAW"]}}`
	admin := `{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_SYS_ADMIN","CAP_KILL"]}}`
	operator := [][2]string{{podcontract.OperatorCapsAnnotation, podcontract.OperatorCapsValue}}
	for _, tc := range []struct {
		name   string
		iso    []string
		ann    [][2]string
		user   string
		flags  []string
		bnd    capSet
		eff    capSet
		stderr string
	}{
		{"default root", nil, nil, "", nil, defaultCaps(), defaultCaps(), ""},
		{"default user", nil, nil, "user", nil, defaultCaps(), 0, ""},
		{"retain", []string{retain}, nil, "", nil, mustCaps("CAP_NET_BIND_SERVICE", "CAP_KILL"), mustCaps("CAP_NET_BIND_SERVICE", "CAP_KILL"), "enforced"},
		{"remove", []string{remove}, nil, "", nil, defaultCaps() &^ mustCaps("CAP_CHOWN", "CAP_NET_RAW"), defaultCaps() &^ mustCaps("CAP_CHOWN", "CAP_NET_RAW"), "enforced"},
		{"sys_admin refused", []string{admin}, nil, "", nil, mustCaps("CAP_KILL"), mustCaps("CAP_KILL"), "CAP_SYS_ADMIN refused (the image asks for them: allow with --insecure-options=capabilities"},
		{"sys_admin allowed", []string{admin}, nil, "", []string{"--insecure-options=capabilities"}, mustCaps("CAP_SYS_ADMIN", "CAP_KILL"), mustCaps("CAP_SYS_ADMIN", "CAP_KILL"), "WARNING"},
		// The operator's own set (stage0 marks it) needs no option.
		{"sys_admin from the operator", []string{admin}, operator, "", nil, mustCaps("CAP_SYS_ADMIN", "CAP_KILL"), mustCaps("CAP_SYS_ADMIN", "CAP_KILL"), "CAP_SYS_ADMIN beyond the default, as the operator's --caps-retain names them"},
		// Only the exact value counts.
		{"sys_admin, annotation not true", []string{admin}, [][2]string{{podcontract.OperatorCapsAnnotation, "yes"}}, "", nil, mustCaps("CAP_KILL"), mustCaps("CAP_KILL"), "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "status"}, iso: tc.iso, annotations: tc.ann, user: tc.user, group: tc.user}}, nil)
			r := p.run(t, append([]string{"--net=none"}, tc.flags...)...)
			r.has(t, "status CapBnd: "+capHex(tc.bnd)+"\n", "status CapEff: "+capHex(tc.eff)+"\n",
				"status CapPrm: "+capHex(tc.eff)+"\n", "status CapInh: 0000000000000000\n", "status CapAmb: 0000000000000000\n")
			if !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("stderr lacks %q", tc.stderr)
			}
		})
	}
}

func TestPodUsers(t *testing.T) {
	for _, tc := range []struct {
		user, group string
		supp        []uint32
		want        string
	}{
		{"0", "0", nil, "uid 0 gid 0 groups []"},
		{"user", "staff", nil, "uid 1000 gid 50 groups []"},
		{"1234", "4321", []uint32{7, 8}, "uid 1234 gid 4321 groups [7 8]"},
		{"/home/user", "/home/user", nil, "uid 1000 gid 50 groups []"},
		{"daemon", "user", []uint32{50}, "uid 2 gid 1000 groups [50]"},
	} {
		t.Run(tc.user+":"+tc.group, func(t *testing.T) {
			p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "ids"}, user: tc.user, group: tc.group, supp: tc.supp}}, nil)
			r := p.run(t, "--net=none")
			r.has(t, tc.want+"\n")
		})
	}
	t.Run("unknown", func(t *testing.T) {
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "ids"}, user: "nobody-here"}}, nil)
		r := p.run(t, "--net=none")
		if r.code == 0 || !strings.Contains(r.stderr, `user "nobody-here": not in the image's /etc/passwd`) {
			t.Errorf("unknown user: exit %d", r.code)
		}
	})
}

func TestPodWorkingDirectory(t *testing.T) {
	p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "pwd"}, workDir: "/home/user"}}, nil)
	r := p.run(t, "--net=none")
	r.has(t, "pwd /home/user\n")
	// A working directory that only a volume provides counts (E5).
	p = newPod(t, []testApp{{name: "a", exec: []string{"/probe", "pwd", "write:x"}, workDir: "/srv/data",
		mounts: [][2]string{{"v", "/srv/data"}}}}, []string{`{"name":"v","kind":"empty"}`})
	r = p.run(t, "--net=none")
	r.has(t, "pwd /srv/data\n", "write ok x")
	if _, err := os.Stat(filepath.Join(p.dir, "volumes/v/x")); err != nil {
		t.Errorf("write in the working directory did not reach the volume: %v", err)
	}
	p = newPod(t, []testApp{{name: "a", exec: []string{"/probe", "pwd"}, workDir: "/nowhere"}}, nil)
	r = p.run(t, "--net=none")
	if r.code != ExitCodeFailure || !strings.Contains(r.stderr, "working directory /nowhere does not exist") {
		t.Errorf("missing working directory: exit %d", r.code)
	}
}

func TestPodEventHandlers(t *testing.T) {
	vol := `{"name":"shared","kind":"empty","mode":"0777"}`
	p := newPod(t, []testApp{{
		name: "a", user: "user", group: "user",
		exec:     []string{"/probe", "ids", "cat:/shared/pre", "exit:3"},
		handlers: map[string][]string{"pre-start": {"/probe", "ids", "write:/shared/pre"}, "post-stop": {"/probe", "write:/shared/post"}},
		mounts:   [][2]string{{"shared", "/shared"}},
	}}, []string{vol})
	r := p.run(t, "--net=none")
	if r.code != 3 {
		t.Errorf("exit %d, want 3", r.code)
	}
	r.has(t, "uid 0 gid 0 groups []\n", "uid 1000 gid 1000", "cat /shared/pre\nprobe")
	if _, err := os.Stat(filepath.Join(p.dir, "volumes/shared/post")); err != nil {
		t.Errorf("post-stop did not run: %v", err)
	}
	t.Run("pre-start fails", func(t *testing.T) {
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "write:/tmp/never"},
			handlers: map[string][]string{"pre-start": {"/probe", "exit:5"}}}}, nil)
		r := p.run(t, "--net=none")
		if r.code != 5 {
			t.Errorf("exit %d, want 5", r.code)
		}
		r.lacks(t, "write ok")
	})
}

// lockedBuffer is a bytes.Buffer that a command's output goroutine can fill
// while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startPod starts a pod and returns once its app has produced output.
func startPod(t *testing.T, p *testPod, flags ...string) (wait func() *podResult, signal func(syscall.Signal)) {
	t.Helper()
	cmd := p.command(flags...)
	var out lockedBuffer
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	must(t, cmd.Start())
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "spawned") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return func() *podResult {
			err := cmd.Wait() // after it, nothing writes to out
			return p.result(t, cmd, err, &out.buf, &errb)
		}, func(s syscall.Signal) {
			must(t, cmd.Process.Signal(s))
		}
}

func TestPodSignals(t *testing.T) {
	t.Run("SIGTERM", func(t *testing.T) {
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "spawn:hostname", "sleep:1h"}}}, nil)
		wait, sig := startPod(t, p, "--net=none")
		time.Sleep(300 * time.Millisecond)
		sig(syscall.SIGTERM)
		r := wait()
		if r.code != 128+int(syscall.SIGTERM) || len(r.exit.Apps) != 1 || r.exit.Apps[0].Signal != "SIGTERM" {
			t.Errorf("exit %d %+v, want 143 and SIGTERM", r.code, r.exit)
		}
	})
	// An image naming its stop signal (an OCI image's StopSignal) is
	// stopped with it, not SIGTERM; one that cannot be parsed stops the pod
	// from starting, naming it.
	t.Run("image stop signal", func(t *testing.T) {
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "spawn:hostname", "sleep:1h"}}}, nil)
		writeImageManifest(t, p, "a", `[{"name":"oci/stop-signal","value":"SIGHUP"}]`)
		wait, sig := startPod(t, p, "--net=none")
		time.Sleep(300 * time.Millisecond)
		sig(syscall.SIGTERM)
		r := wait()
		if r.code != 128+int(syscall.SIGHUP) || len(r.exit.Apps) != 1 || r.exit.Apps[0].Signal != "SIGHUP" {
			t.Errorf("exit %d %+v, want 129 and SIGHUP", r.code, r.exit)
		}
		p = newPod(t, []testApp{{name: "a", exec: []string{"/probe", "write:/tmp/never"}}}, nil)
		writeImageManifest(t, p, "a", `[{"name":"oci/stop-signal","value":"SIGNOPE"}]`)
		r = p.run(t, "--net=none")
		if r.code == 0 || !strings.Contains(r.stderr, `annotation oci/stop-signal: stop signal "SIGNOPE"`) {
			t.Errorf("bad stop signal: exit %d, stderr:\n%s", r.code, r.stderr)
		}
		r.lacks(t, "write ok")
	})
	t.Run("stop timeout", func(t *testing.T) {
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "ignore-term", "spawn:hostname", "sleep:1h"},
			handlers: map[string][]string{"post-stop": {"/probe", "write:/tmp/x"}}}}, nil)
		wait, sig := startPod(t, p, "--net=none", "--stop-timeout=500ms")
		time.Sleep(300 * time.Millisecond)
		start := time.Now()
		sig(syscall.SIGTERM)
		r := wait()
		if d := time.Since(start); d < 400*time.Millisecond || d > 5*time.Second {
			t.Errorf("stop took %s with --stop-timeout=500ms", d)
		}
		if r.code != 137 || r.exit.Apps[0].Signal != "SIGKILL" {
			t.Errorf("exit %d %+v, want 137 and SIGKILL", r.code, r.exit)
		}
		if _, err := os.Stat(filepath.Join(p.dir, "apps/a/upper/tmp/x")); err != nil {
			t.Errorf("post-stop did not run after SIGKILL: %v", err)
		}
	})
}

func TestPodZombiesReaped(t *testing.T) {
	p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "orphan"}}}, nil)
	r := p.run(t, "--net=none")
	r.has(t, "orphan reaped")
}

func TestPodLeakedFd(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "leaked-marker")
	f, err := os.Create(marker)
	must(t, err)
	defer f.Close()
	p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "fds"}}}, nil)
	cmd := p.command("--net=none")
	cmd.ExtraFiles = []*os.File{f, f, f} // fds 3, 4, 5, without close-on-exec
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	r := p.result(t, cmd, cmd.Run(), &out, &errb)
	r.has(t, "fds 0=")
	r.lacks(t, "leaked-marker", "memfd")
}

func TestPodHostEscape(t *testing.T) {
	self, err := os.ReadFile("/proc/self/exe")
	must(t, err)
	p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "open-write:/proc/1/exe", "open-read:/proc/1/exe",
		"open-read:/proc/1/root/etc/hostname", "stat:/proc/1/root/", "open-read:/proc/1/cwd/pod"}}}, nil)
	r := p.run(t, "--net=none")
	r.has(t, "open-write /proc/1/exe error", "open-read /proc/1/exe error", "open-read /proc/1/root/etc/hostname error",
		"stat error", "open-read /proc/1/cwd/pod error")
	// A working directory through a magic link must not become the host's root.
	for _, wd := range []string{"/proc/1/root", "/proc/1/cwd", "/proc/self/root/../../proc/1/root/etc"} {
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "pwd", "cat:hostname", "cat:passwd"}, workDir: wd}}, nil)
		r := p.run(t, "--net=none")
		if r.code != ExitCodeFailure || !strings.Contains(r.stderr, "working directory") {
			t.Errorf("working directory %s: exit %d", wd, r.code)
		}
	}
	after, err := os.ReadFile("/proc/self/exe")
	must(t, err)
	if !bytes.Equal(self, after) {
		t.Error("the host binary changed")
	}
}

func TestPodHostileRootfs(t *testing.T) {
	hostFile := filepath.Join(t.TempDir(), "host-secret")
	must(t, os.WriteFile(hostFile, []byte("secret"), 0o644))
	t.Run("proc symlink", func(t *testing.T) {
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "exit:0"}, rootfs: func(t testing.TB, dir string) {
			must(t, os.Remove(filepath.Join(dir, "proc")))
			must(t, os.Symlink("/", filepath.Join(dir, "proc")))
		}}}, nil)
		r := p.run(t, "--net=none")
		if r.code != ExitCodeFailure || !strings.Contains(r.stderr, "/proc") || !strings.Contains(r.stderr, "symlink") {
			t.Errorf("symlinked /proc: exit %d", r.code)
		}
	})
	t.Run("dev symlink", func(t *testing.T) {
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "exit:0"}, rootfs: func(t testing.TB, dir string) {
			must(t, os.Remove(filepath.Join(dir, "dev")))
			must(t, os.Symlink(filepath.Dir(hostFile), filepath.Join(dir, "dev")))
		}}}, nil)
		r := p.run(t, "--net=none")
		if r.code != ExitCodeFailure {
			t.Errorf("symlinked /dev: exit %d", r.code)
		}
	})
	t.Run("dev null symlink", func(t *testing.T) {
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "write:/dev/null", "stat:/dev/null"}, rootfs: func(t testing.TB, dir string) {
			must(t, os.Symlink(hostFile, filepath.Join(dir, "dev/null")))
		}}}, nil)
		r := p.run(t, "--net=none")
		r.has(t, "stat /dev/null Dcrw-rw-rw-")
	})
	t.Run("hosts and volume target symlinks", func(t *testing.T) {
		hostDir := t.TempDir()
		vol := `{"name":"v","kind":"empty"}`
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "write:/data/x", "cat:/etc/hosts"},
			mounts: [][2]string{{"v", "/data"}},
			rootfs: func(t testing.TB, dir string) {
				must(t, os.Symlink(hostFile, filepath.Join(dir, "etc/hosts")))
				must(t, os.Symlink("../../../../../../../.."+hostDir, filepath.Join(dir, "data")))
			}}}, []string{vol})
		r := p.run(t, "--net=none", "--hosts-entry=10.0.0.1=x")
		r.has(t, "write ok /data/x", "10.0.0.1\tx")
		if b, _ := os.ReadFile(hostFile); string(b) != "secret" {
			t.Errorf("host file changed to %q", b)
		}
		if ents, _ := os.ReadDir(hostDir); len(ents) != 0 {
			t.Errorf("volume mounted on the host's %s", hostDir)
		}
		if _, err := os.Stat(filepath.Join(p.dir, "volumes/v/x")); err != nil {
			t.Errorf("volume write not in the volume: %v", err)
		}
	})
}

func TestPodVolumes(t *testing.T) {
	src := t.TempDir()
	must(t, os.WriteFile(filepath.Join(src, "in"), []byte("from host"), 0o644))
	ro := t.TempDir()
	vols := []string{
		fmt.Sprintf(`{"name":"rw","kind":"host","source":%q}`, src),
		fmt.Sprintf(`{"name":"ro","kind":"host","source":%q,"readOnly":true}`, ro),
		`{"name":"scratch","kind":"empty","mode":"0750","uid":1000,"gid":50}`,
	}
	p := newPod(t, []testApp{
		{name: "a", exec: []string{"/probe", "cat:/mnt/rw/in", "write:/mnt/rw/out", "write:/mnt/ro/x", "stat:/mnt/rw/nested/s", "write:/mnt/rw/nested/s/y"},
			mounts: [][2]string{{"rw", "/mnt/rw"}, {"ro", "/mnt/ro"}, {"scratch", "/mnt/rw/nested/s"}}},
		{name: "b", exec: []string{"/probe", "sleep:200ms", "cat:/s/y"}, mounts: [][2]string{{"scratch", "/s"}}},
	}, vols)
	r := p.run(t, "--net=none")
	r.has(t, "cat /mnt/rw/in\nfrom host", "write ok /mnt/rw/out", "stat /mnt/rw/nested/s drwxr-x---", "write ok /mnt/rw/nested/s/y", "cat /s/y\nprobe")
	if !strings.Contains(r.stdout, "write error") || !strings.Contains(r.stdout, "read-only file system") {
		t.Error("read-only volume was writable")
	}
	if b, err := os.ReadFile(filepath.Join(src, "out")); err != nil || string(b) != "probe" {
		t.Errorf("host volume write: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(src, "nested/s")); err != nil {
		t.Errorf("nested target not created in the host volume: %v", err)
	}
	var st syscall.Stat_t
	must(t, syscall.Stat(filepath.Join(p.dir, "volumes/scratch"), &st))
	if st.Uid != 1000 || st.Gid != 50 || st.Mode&0o7777 != 0o750 {
		t.Errorf("empty volume owner %d:%d mode %o", st.Uid, st.Gid, st.Mode&0o7777)
	}

	t.Run("symlinked source", func(t *testing.T) {
		link := filepath.Join(t.TempDir(), "link")
		must(t, os.Symlink(src, link))
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "exit:0"}, mounts: [][2]string{{"l", "/mnt"}}}},
			[]string{fmt.Sprintf(`{"name":"l","kind":"host","source":%q}`, link)})
		r := p.run(t, "--net=none")
		if r.code != ExitCodeFailure || !strings.Contains(r.stderr, "symlink") {
			t.Errorf("symlinked source: exit %d", r.code)
		}
	})
	t.Run("single file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "conf")
		must(t, os.WriteFile(file, []byte("file volume"), 0o644))
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "cat:/etc/app.conf", "write:/etc/app.conf"},
			mounts: [][2]string{{"f", "/etc/app.conf"}}, mountRO: []string{"/etc/app.conf"}}},
			[]string{fmt.Sprintf(`{"name":"f","kind":"host","source":%q}`, file)})
		r := p.run(t, "--net=none")
		r.has(t, "cat /etc/app.conf\nfile volume", "write error open /etc/app.conf: read-only file system")
	})
	t.Run("missing source", func(t *testing.T) {
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "exit:0"}, mounts: [][2]string{{"gone", "/mnt"}}}},
			[]string{`{"name":"gone","kind":"host","source":"/nonexistent/acirun-test"}`})
		r := p.run(t, "--net=none")
		if r.code != ExitCodeFailure || !strings.Contains(r.stderr, "/nonexistent/acirun-test") {
			t.Errorf("missing source: exit %d", r.code)
		}
	})
}

func TestPodReadOnlyRootAndNoOverlay(t *testing.T) {
	p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "write:/tmp/x", "write:/dev/shm/x"}, readOnly: true}}, nil)
	r := p.run(t, "--net=none")
	r.has(t, "write ok /dev/shm/x")
	if !strings.Contains(r.stdout, "write error open /tmp/x: read-only file system") {
		t.Error("read-only root was writable")
	}
	p = newPod(t, []testApp{{name: "a", exec: []string{"/probe", "write:/tmp/x", "cat:/etc/passwd"}}}, nil)
	r = p.run(t, "--net=none", "--no-overlay")
	r.has(t, "write ok /tmp/x", "root:x:0:0")
	if _, err := os.Stat(filepath.Join(p.dir, "apps/a/rootfs/tmp/x")); err != nil {
		t.Errorf("--no-overlay: write not in the pod's copy: %v", err)
	}
	img, _ := filepath.EvalSymlinks(filepath.Join(p.dir, "apps/a/image/rootfs"))
	if _, err := os.Stat(filepath.Join(img, "tmp/x")); err == nil {
		t.Error("--no-overlay wrote into the rendered image")
	}
}

func TestPodSeccompAndPrivileges(t *testing.T) {
	admin := `{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_SYS_ADMIN"]}}`
	t.Run("default deny list", func(t *testing.T) {
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "mount", "status"}, iso: []string{admin}}}, nil)
		r := p.run(t, "--net=none", "--insecure-options=capabilities")
		r.has(t, "mount error operation not permitted", "status Seccomp: 2")
	})
	t.Run("insecure seccomp", func(t *testing.T) {
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "mount", "status"}, iso: []string{admin}}}, nil)
		r := p.run(t, "--net=none", "--insecure-options=capabilities,seccomp")
		r.has(t, "mount ok", "status Seccomp: 0")
	})
	t.Run("remove set with errno", func(t *testing.T) {
		iso := `{"name":"os/linux/seccomp-remove-set","value":{"set":["mkdirat","mkdir"],"errno":"EXDEV"}}`
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "mkdir:/tmp/d", "write:/tmp/f"}, iso: []string{iso}}}, nil)
		r := p.run(t, "--net=none")
		r.has(t, "mkdir error mkdir /tmp/d: invalid cross-device link", "write ok /tmp/f")
	})
	t.Run("remove set kills", func(t *testing.T) {
		iso := `{"name":"os/linux/seccomp-remove-set","value":{"set":["mkdirat"]}}`
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "mkdir:/tmp/d"}, iso: []string{iso}}}, nil)
		r := p.run(t, "--net=none")
		if r.code != 128+int(syscall.SIGSYS) {
			t.Errorf("exit %d, want %d (SIGSYS)", r.code, 128+int(syscall.SIGSYS))
		}
	})
	t.Run("no-new-privileges and oom-score-adj", func(t *testing.T) {
		p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "status", "cat:/proc/self/oom_score_adj"},
			iso: []string{`{"name":"os/linux/no-new-privileges","value":true}`, `{"name":"os/linux/oom-score-adj","value":500}`,
				`{"name":"os/linux/apparmor-profile","value":{"profile":"x"}}`}}}, nil)
		r := p.run(t, "--net=none")
		r.has(t, "status NoNewPrivs: 1", "cat /proc/self/oom_score_adj\n500")
		for _, w := range []string{"os/linux/no-new-privileges: enforced", "os/linux/oom-score-adj: enforced", "os/linux/apparmor-profile: ignored"} {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("stderr lacks %q", w)
			}
		}
	})
}

// ciMemoryCgroup says why CI's machine has what the memory isolator needs.
const ciMemoryCgroup = "CI's machine mounts a writable memory cgroup (v1 memory or v2 with the memory controller)"

func TestPodCgroups(t *testing.T) {
	p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "cat:/proc/self/cgroup"},
		iso: []string{`{"name":"resource/memory","value":{"limit":"64Mi"}}`, `{"name":"resource/cpu","value":{"limit":"500m"}}`}}}, nil)
	r := p.run(t, "--net=none")
	if !strings.Contains(r.stderr, "resource/memory: enforced") && !strings.Contains(r.stderr, "resource/memory: not enforced") {
		t.Error("resource/memory not reported")
	}
	if strings.Contains(r.stderr, "resource/memory: enforced") {
		r.has(t, "acirun-"+p.uuid+"/a")
	} else {
		testenv.UnmetPart(t, "the memory limit: resource/memory is not enforced here (no writable memory cgroup): "+r.stderr, ciMemoryCgroup)
	}

	// While a pod runs, its limits are in place; checkClean (at cleanup)
	// asserts the cgroups are gone afterwards.
	cm, err := findCgroups()
	must(t, err)
	if cm.memory == "" {
		testenv.UnmetPart(t, "the limits of a running pod: no memory cgroup hierarchy here", ciMemoryCgroup)
		return
	}
	p = newPod(t, []testApp{{name: "a", exec: []string{"/probe", "spawn:hostname", "sleep:1s"},
		iso: []string{`{"name":"resource/memory","value":{"limit":"64Mi"}}`, `{"name":"os/linux/cpu-shares","value":512}`}}}, nil)
	wait, _ := startPod(t, p, "--net=none")
	b, err := os.ReadFile(filepath.Join(cm.memory, podCgroupName(p.uuid), "a", "memory.limit_in_bytes"))
	if err != nil || strings.TrimSpace(string(b)) != "67108864" {
		t.Errorf("memory limit of the running app: %q, %v", b, err)
	}
	// os/linux/cpu-shares: the app's cgroup weighs 512 (cpu.weight 50 on
	// cgroup v2), and the app is in it.
	weight, want := filepath.Join(cm.cpu, podCgroupName(p.uuid), "a", "cpu.shares"), "512"
	if cm.v2 != "" {
		weight, want = filepath.Join(cm.v2, podCgroupName(p.uuid), "a", "cpu.weight"), "50"
	}
	if b, err := os.ReadFile(weight); err != nil || strings.TrimSpace(string(b)) != want {
		t.Errorf("%s of the running app: %q, %v; want %s", weight, b, err, want)
	}
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(weight), "cgroup.procs")); err != nil || len(strings.Fields(string(b))) == 0 {
		t.Errorf("no process in the app's cpu cgroup: %q, %v", b, err)
	}
	r = wait()
	if !strings.Contains(r.stderr, "os/linux/cpu-shares: enforced") {
		t.Errorf("cpu-shares not reported enforced: %s", r.stderr)
	}
}

func TestPodLocked(t *testing.T) {
	p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "spawn:hostname", "sleep:2s"}}}, nil)
	wait, sig := startPod(t, p, "--net=none")
	r2 := p.run(t, "--net=none")
	if r2.code != ExitCodeFailure || !strings.Contains(r2.stderr, "locked") {
		t.Errorf("second run of a running pod: exit %d", r2.code)
	}
	sig(syscall.SIGINT)
	r := wait()
	if r.code != 128+int(syscall.SIGINT) {
		t.Errorf("exit %d after SIGINT", r.code)
	}
	r3 := p.run(t, "--net=none")
	if r3.code != ExitCodeFailure || !strings.Contains(r3.stderr, "already run") {
		t.Errorf("rerun of an exited pod: exit %d", r3.code)
	}
}

// TestSealedExecutable checks both ways the pod's executable is protected:
// neither can be opened for writing, even by root on the host.
func TestSealedExecutable(t *testing.T) {
	needRoot(t)
	plain := filepath.Join(t.TempDir(), "binary")
	must(t, os.WriteFile(plain, []byte("not running"), 0o755))
	bind := func() (*os.File, error) { return readOnlyBind(plain) }
	memfd := func() (*os.File, error) { return memfdExecutable(plain) }
	for name, open := range map[string]func() (*os.File, error){"bind": bind, "memfd": memfd} {
		t.Run(name, func(t *testing.T) {
			f, err := open()
			must(t, err)
			defer f.Close()
			w, err := os.OpenFile(fdPath(int(f.Fd())), os.O_WRONLY, 0)
			if err == nil {
				_, err = w.Write([]byte("x"))
				w.Close()
			}
			if err == nil {
				t.Fatal("the pod's executable is writable")
			}
			// The bind is mounted read-only; the memfd is sealed against
			// writes (F_SEAL_WRITE: open succeeds, write fails EPERM).
			if want := map[string]error{"bind": syscall.EROFS, "memfd": syscall.EPERM}[name]; !errors.Is(err, want) {
				t.Errorf("write through the %s: %v, want %v", name, err, want)
			}
		})
	}
	// And through a running pod's PID 1, from the host.
	p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "spawn:hostname", "sleep:1s"}}}, nil)
	wait, _ := startPod(t, p, "--net=none")
	b, err := os.ReadFile(filepath.Join(p.dir, "ppid1"))
	must(t, err)
	exe := "/proc/" + strings.TrimSpace(string(b)) + "/exe"
	if w, err := os.OpenFile(exe, os.O_WRONLY, 0); err == nil {
		w.Close()
		t.Errorf("%s opened for writing", exe)
	} else if !errors.Is(err, syscall.EROFS) && !errors.Is(err, syscall.ETXTBSY) {
		t.Errorf("open %s for writing: %v, want EROFS or ETXTBSY", exe, err)
	}
	wait()
}

func TestPodAppsIsolated(t *testing.T) {
	p := newPod(t, []testApp{
		{name: "a", exec: []string{"/probe", "write:/tmp/only-a", "sleep:500ms"}},
		{name: "b", exec: []string{"/probe", "sleep:200ms", "stat:/tmp/only-a", "cat:/proc/self/mountinfo"}},
	}, nil)
	r := p.run(t, "--net=none")
	r.has(t, "write ok /tmp/only-a", "stat error")
	// Its own overlay's options name its upper directory (as in runc);
	// nothing of app a's may appear.
	if strings.Contains(r.stdout, "apps/a/") {
		t.Error("app b sees app a's root in its mounts")
	}
}

// TestPodRootVolatile checks that an app's root is its overlay mounted
// volatile (mountBase): the pod's end then syncs nothing of the host's
// file system on the way to `stage1 run`'s exit.
func TestPodRootVolatile(t *testing.T) {
	p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "cat:/proc/self/mountinfo"}}}, nil)
	r := p.run(t, "--net=none")
	_, text, ok := strings.Cut(r.stdout, "cat /proc/self/mountinfo\n")
	if !ok {
		t.Fatalf("no mountinfo in the app's output: %q", r.stdout)
	}
	ms, err := mountinfo.Parse(text)
	must(t, err)
	for _, m := range ms {
		if m.Mountpoint != "/" {
			continue
		}
		// Linux 6.0 on shows it as fsync=volatile.
		opts := strings.Split(m.SuperOptions, ",")
		if m.FSType != "overlay" || !slices.Contains(opts, "volatile") && !slices.Contains(opts, "fsync=volatile") {
			t.Errorf("the app's root: %s %s, want overlay with volatile", m.FSType, m.SuperOptions)
		}
		return
	}
	t.Errorf("the app's mounts have no root: %q", text)
}

func TestPodNetwork(t *testing.T) {
	p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "ifaces", "userns"}}}, nil)
	r := p.run(t, "--net=none")
	r.has(t, "iface lo true\n", "userns error")
	if n := strings.Count(r.stdout, "iface "); n != 1 {
		t.Errorf("--net=none: %d interfaces, want lo only", n)
	}
	p = newPod(t, []testApp{{name: "a", exec: []string{"/probe", "ifaces"}}}, nil)
	r = p.run(t, "--net=host")
	if n := strings.Count(r.stdout, "iface "); n < 2 {
		t.Errorf("--net=host: %d interfaces, want the host's", n)
	}
}

// writeImageManifest gives app of p an image manifest with annotations (a
// JSON array), as stage0 leaves it in the app's image directory.
func writeImageManifest(t *testing.T, p *testPod, app, annotations string) {
	t.Helper()
	m := `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/` + app + `","annotations":` + annotations + `}`
	must(t, os.WriteFile(filepath.Join(p.dir, "apps", app, "image", "manifest"), []byte(m), 0o644))
}
