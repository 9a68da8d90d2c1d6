package testimage

// End-to-end: images built around testapp, prepared by stage0/pod exactly
// as `acirun run` prepares them, run by the real stage1 through the argv
// pod.Stage1Command builds. This test binary stands in for the pod side's
// binaries: with stage1EnvVar set it hands `stage1 run …` to
// supervisor.Main (acirun-stage1), whose pod's processes start from this
// binary again, and those to stage1.Main (acirun-pod).

import (
	"bytes"
	"context"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/testenv"
	"github.com/acirun/acirun/stage0/pod"
	stage1 "github.com/acirun/acirun/stage1-systemd"
	"github.com/acirun/acirun/stage1-systemd/supervisor"
)

const stage1EnvVar = "ACIRUN_TESTIMAGE_STAGE1"

func TestMain(m *testing.M) {
	if os.Getenv(stage1EnvVar) == "1" {
		if len(os.Args) > 1 && os.Args[1] == "run" {
			self, err := os.Executable()
			if err != nil {
				fmt.Fprintf(os.Stderr, "testimage: %v\n", err)
				os.Exit(stage1.ExitCodeFailure)
			}
			os.Exit(supervisor.Main(os.Args[1:], self, nil))
		}
		os.Exit(stage1.Main(os.Args[1:], nil))
	}
	os.Exit(m.Run())
}

// dirResolver resolves references to image directories made by Build: an
// image without dependencies laid out as manifest + rootfs/ is exactly a
// rendered tree. The ID is the sha512 of the ACI WriteACI makes of it.
type dirResolver map[string]*pod.Image

func (r dirResolver) add(t *testing.T, ref, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := aci.ParseImageManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "image.aci")
	WriteACI(t, dir, out)
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha512.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	id, err := aci.ImageIDFromSum(h.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	r[ref] = &pod.Image{ID: id, Manifest: m, Tree: dir}
}

func (r dirResolver) ResolveImage(ctx context.Context, ref string) (*pod.Image, error) {
	if img, ok := r[ref]; ok {
		return img, nil
	}
	return nil, fmt.Errorf("no image %s", ref)
}

func (r dirResolver) ResolveRuntimeImage(ctx context.Context, ri aci.RuntimeImage) (*pod.Image, error) {
	for _, img := range r {
		if img.ID == ri.ID || img.Manifest.Name == ri.Name {
			return img, nil
		}
	}
	return nil, fmt.Errorf("no image %v", ri)
}

type podRun struct {
	pod    *pod.Pod
	out    string
	code   int
	notes  []string
	loaded *pod.Pod
}

// runPod prepares and runs the pod req describes with the real stage1, and
// loads its state afterwards. The pod has no network unless req asks for
// one: the default network would change the test machine's.
func runPod(t *testing.T, data string, r dirResolver, req *pod.RunRequest) podRun {
	t.Helper()
	if req.Net == "" {
		req.Net = "none"
	}
	p, notes, err := pod.Prepare(context.Background(), pod.Config{DataDir: data, Resolver: r}, req)
	if err != nil {
		t.Fatal(err)
	}
	argv := pod.Stage1Command(p, os.Args[0], "--run-dir="+filepath.Join(data, "run"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), stage1EnvVar+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %q: %v", argv, err)
	}
	if stderr.Len() > 0 {
		t.Logf("stage1 stderr:\n%s", stderr.String())
	}
	loaded, err := pod.Load(data, p.UUID)
	if err != nil {
		t.Fatal(err)
	}
	return podRun{pod: p, out: stdout.String(), code: code, notes: notes, loaded: loaded}
}

func (r podRun) has(t *testing.T, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains("\n"+r.out, "\n"+l+"\n") {
			t.Errorf("output lacks line %q:\n%s", l, r.out)
		}
	}
}

func TestPreparedPodRuns(t *testing.T) {
	testenv.NeedRoot(t, "end-to-end pod tests run a real stage1")
	bin := Binary(t)
	data := t.TempDir()
	r := dirResolver{}
	r.add(t, "example.com/testapp", Build(t, filepath.Join(t.TempDir(), "img"), Manifest("example.com/testapp", "exit", "0"), bin, nil))

	t.Run("env precedence and args", func(t *testing.T) {
		envFile := filepath.Join(t.TempDir(), "env")
		if err := os.WriteFile(envFile, []byte("FROM_FILE=file\nBOTH=file\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		run := runPod(t, data, r, &pod.RunRequest{SetEnvFiles: []string{envFile}, SetEnv: []pod.EnvVar{{Name: "BOTH", Value: "set"}, {Name: "POD", Value: "set"}},
			Apps: []pod.AppRequest{{Image: "example.com/testapp", Environment: []pod.EnvVar{{Name: "POD", Value: "app"}}, Exec: AppPath,
				Args: []string{"env", "+", "hostname", "+", "exit", "5"}}}})
		if run.code != 5 {
			t.Errorf("exit code %d, want 5", run.code)
		}
		run.has(t, "FROM_FILE=file", "BOTH=set", "POD=app", "AC_APP_NAME=testapp", "hostname=acirun-"+run.pod.UUID[:8])
		if run.loaded.State != pod.StateExited || run.loaded.ExitCode == nil || *run.loaded.ExitCode != 5 {
			t.Errorf("loaded pod %+v", run.loaded)
		}
		if a := run.loaded.Apps; len(a) != 1 || a[0].ExitCode == nil || *a[0].ExitCode != 5 {
			t.Errorf("apps %+v", a)
		}
	})

	t.Run("volumes", func(t *testing.T) {
		src := t.TempDir()
		if err := os.WriteFile(filepath.Join(src, "in"), []byte("from host"), 0o644); err != nil {
			t.Fatal(err)
		}
		m := `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/vols","app":{"exec":["/testapp"],
			"user":"0","group":"0","mountPoints":[{"name":"data","path":"/data"},{"name":"scratch","path":"/scratch"}]}}`
		r.add(t, "vols", Build(t, filepath.Join(t.TempDir(), "img"), []byte(m), bin, nil))
		run := runPod(t, data, r, &pod.RunRequest{Volumes: []pod.VolumeFlag{{Name: "data", Kind: "host", Source: src}},
			Apps: []pod.AppRequest{{Image: "vols", Args: []string{"cat", "/data/in", "+", "write", "/data/out", "from pod", "+", "write", "/scratch/x", "y", "+", "cat", "/scratch/x"}}}})
		if run.code != 0 {
			t.Fatalf("exit code %d\n%s", run.code, run.out)
		}
		if !strings.Contains(run.out, "from host") || !strings.Contains(run.out, "write /scratch/x ok\ny") {
			t.Errorf("output %q", run.out)
		}
		if b, err := os.ReadFile(filepath.Join(src, "out")); err != nil || string(b) != "from pod" {
			t.Errorf("host volume file: %q, %v", b, err)
		}
		if len(run.notes) != 1 || !strings.Contains(run.notes[0], "scratch") {
			t.Errorf("notes %q", run.notes)
		}
	})

	t.Run("pod manifest", func(t *testing.T) {
		pm := filepath.Join(t.TempDir(), "pod.json")
		if err := os.WriteFile(pm, []byte(`{"acKind":"PodManifest","acVersion":"0.8.11","apps":[{"name":"pm",
			"image":{"name":"example.com/testapp"},
			"app":{"exec":["/testapp","env","+","exit","4"],"user":"0","group":"0","environment":[{"name":"FROM_POD","value":"yes"}]}}]}`), 0o644); err != nil {
			t.Fatal(err)
		}
		run := runPod(t, data, r, &pod.RunRequest{Net: "none", Hostname: "pm-host", PodManifest: pm})
		if run.code != 4 {
			t.Errorf("exit code %d, want 4\n%s", run.code, run.out)
		}
		run.has(t, "AC_APP_NAME=pm", "FROM_POD=yes")
	})

	t.Run("probes", func(t *testing.T) {
		run := runPod(t, data, r, &pod.RunRequest{Apps: []pod.AppRequest{{Image: "example.com/testapp", Exec: AppPath,
			Args: []string{"fds", "+", "caps", "+", "seccomp", "+", "exe-overwrite", "+", "zombies", "+", "ids"}}}})
		t.Logf("probe output:\n%s", run.out)
		if run.code != 0 {
			t.Fatalf("exit code %d", run.code)
		}
		var fds []string
		for _, l := range strings.Split(run.out, "\n") {
			if strings.HasPrefix(l, "fd=") {
				fds = append(fds, l)
			}
		}
		if len(fds) != 3 {
			t.Errorf("descriptors beyond 0-2 reach the app: %q", fds)
		}
		run.has(t, "CapBnd-names=CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER,CAP_FSETID,CAP_KILL,CAP_SETGID,CAP_SETUID,CAP_SETPCAP,CAP_NET_BIND_SERVICE,CAP_NET_RAW,CAP_SYS_CHROOT,CAP_MKNOD,CAP_AUDIT_WRITE,CAP_SETFCAP",
			"zombies=0", "uid=0")
		for _, l := range strings.Split(run.out, "\n") {
			if strings.HasPrefix(l, "open-write ") && strings.Contains(l, " ok") ||
				strings.HasPrefix(l, "create /proc/1/root") && strings.HasSuffix(l, " ok") ||
				strings.HasPrefix(l, "mount ") && !strings.Contains(l, "error=EPERM") {
				t.Errorf("probe succeeded that must not: %q", l)
			}
		}
	})

	// Every pod has exited: the store may drop all images, gc may remove all.
	ids, err := pod.InUseImages(data)
	if err != nil || len(ids) != 0 {
		t.Errorf("InUseImages after the pods: %v, %v", ids, err)
	}
	pods, err := pod.List(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if p.State != pod.StateExited {
			t.Errorf("pod %s is %s", p.UUID, p.State)
		}
		if err := pod.Remove(data, p.UUID); err != nil {
			t.Error(err)
		}
	}
	if rest, _ := os.ReadDir(filepath.Join(data, "pods")); len(rest) != 1 { // the prepare lock
		t.Errorf("pods directory after removal: %v", rest)
	}
}
