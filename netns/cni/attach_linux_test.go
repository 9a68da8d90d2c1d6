package cni

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/testenv"
)

// recorderPlugin is a CNI plugin that appends "COMMAND IFNAME NETNS" to
// log for each call. Its ADD of eth1 hangs, so that a supervisor can be
// killed while a network's plugins run.
const recorderPlugin = `#!/bin/sh
cat >/dev/null
echo "$CNI_COMMAND $CNI_IFNAME $CNI_NETNS" >> %s
case "$CNI_COMMAND" in
ADD)
	[ "$CNI_IFNAME" = eth1 ] && sleep 60
	echo '{"cniVersion": "1.0.0", "interfaces": [{"name": "'$CNI_IFNAME'", "sandbox": "'$CNI_NETNS'"}], "ips": [{"address": "10.0.0.2/24", "interface": 0}]}' ;;
VERSION)
	echo '{"cniVersion": "1.0.0", "supportedVersions": ["0.4.0", "1.0.0"]}' ;;
esac
`

// TestReleaseStaleCutShort: a supervisor killed (SIGKILL) while the
// plugins of its second network ran leaves that ADD out of libcni's cache;
// ReleaseStale runs DEL for it too (from the record made before the ADD),
// then for the first network, in the pod's network namespace, still held
// by its bind mount, and leaves nothing of the pod behind.
func TestReleaseStaleCutShort(t *testing.T) {
	testenv.NeedRoot(t, "bind mounts a network namespace")
	dir := os.Getenv("ACIRUN_CNI_TEST_DIR")
	child := dir != ""
	if !child {
		dir = t.TempDir()
	}
	log := filepath.Join(dir, "log")
	cfg := Config{ConfDir: filepath.Join(dir, "net.d"), PluginDirs: []string{filepath.Join(dir, "plugins")}, StateDir: filepath.Join(dir, "state")}
	if child {
		var reqs []Request
		for i, name := range []string{"one", "two"} {
			n, err := cfg.Find(name, builtin)
			if err != nil {
				t.Fatal(err)
			}
			reqs = append(reqs, Request{Network: n, IfName: fmt.Sprintf("eth%d", i)})
		}
		_, err := cfg.Attach(context.Background(), "pod-1", "/owner", os.Getpid(), reqs)
		t.Fatalf("Attach returned (%v) though its second ADD hangs", err)
	}
	for _, d := range []string{cfg.ConfDir, cfg.PluginDirs[0]} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(cfg.PluginDirs[0], "recorder"), []byte(fmt.Sprintf(recorderPlugin, log)), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"one", "two"} {
		conf := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": %q, "plugins": [{"type": "recorder"}]}`, name)
		if err := os.WriteFile(filepath.Join(cfg.ConfDir, name+".conflist"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestReleaseStaleCutShort$")
	cmd.Env = append(os.Environ(), "ACIRUN_CNI_TEST_DIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(log); strings.Contains(string(b), "ADD eth1 ") {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatal("the second network's ADD did not start")
		}
	}
	// The supervisor and the plugin it runs, as a killed unit's would go.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
	ns := filepath.Join(cfg.StateDir, "pods", "pod-1", netnsFile)
	if !isNetNS(ns) {
		t.Fatalf("%s is no network namespace after the supervisor was killed", ns)
	}

	alive := true
	if ids, err := cfg.ReleaseStale(context.Background(), func(owner string) bool { return alive && owner == "/owner" }); err != nil || len(ids) != 0 {
		t.Fatalf("ReleaseStale of a live pod: %v, %v", ids, err)
	}
	alive = false
	ids, err := cfg.ReleaseStale(context.Background(), func(string) bool { return alive })
	if err != nil || len(ids) != 1 || ids[0] != "pod-1" {
		t.Fatalf("ReleaseStale: %v, %v", ids, err)
	}
	b, _ := os.ReadFile(log)
	want := "ADD eth0 " + ns + "\nADD eth1 " + ns + "\nDEL eth1 " + ns + "\nDEL eth0 " + ns + "\n"
	if string(b) != want {
		t.Errorf("the plugins were called:\n%s\nwant:\n%s", b, want)
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, "pods", "pod-1")); err == nil {
		t.Errorf("the pod's state is left")
	}
	if ents, _ := os.ReadDir(filepath.Join(cfg.StateDir, "cache", "results")); len(ents) != 0 {
		t.Errorf("libcni's cache keeps %d results", len(ents))
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), ns) {
		t.Errorf("the bind mount %s is left", ns)
	}
}
