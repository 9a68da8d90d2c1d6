package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/acirun/acirun/internal/mountinfo"
)

// machine describes this machine and the file system of dir.
func machine(dir string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), CPUModel: "unknown", Kernel: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.Atoi(f[1])
				m.MemoryMB = kb / 1024
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.FS = fileSystem(dir)
	return m
}

// loadAverage reads the 1, 5 and 15 minute load averages.
func loadAverage() []float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return nil
	}
	v, _ := numbers(strings.Join(f[:3], " "))
	return v
}

// fileSystem finds the mount dir is on (the longest mount point above it in
// /proc/self/mountinfo) and, for ext4, whether it has a journal: a journal
// shows as /proc/fs/jbd2/DEVICE-N, and its data mode as a mount option
// (ordered unless said otherwise).
func fileSystem(dir string) FileSystem {
	fs := FileSystem{Dir: dir, Type: "unknown", Journal: "unknown"}
	if abs, err := filepath.EvalSymlinks(dir); err == nil {
		dir = abs
	}
	text, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return fs
	}
	mounts, err := mountinfo.Parse(string(text))
	if err != nil {
		return fs
	}
	best := ""
	for _, m := range mounts {
		if !within(dir, m.Mountpoint) || len(m.Mountpoint) < len(best) {
			continue
		}
		best = m.Mountpoint
		fs.Type, fs.Source, fs.Options = m.FSType, m.Source, m.Options+","+m.SuperOptions
	}
	switch {
	case fs.Type != "ext4":
		fs.Journal = "n/a (" + fs.Type + ")"
	case strings.HasPrefix(fs.Source, "/dev/"):
		dev := filepath.Base(fs.Source)
		if real, err := filepath.EvalSymlinks(fs.Source); err == nil {
			dev = filepath.Base(real)
		}
		if j, _ := filepath.Glob("/proc/fs/jbd2/" + dev + "-*"); len(j) == 0 {
			fs.Journal = "none"
		} else {
			fs.Journal = "ordered"
			for _, o := range strings.Split(fs.Options, ",") {
				if mode, ok := strings.CutPrefix(o, "data="); ok {
					fs.Journal = mode
				}
			}
		}
	}
	return fs
}

// within reports whether path is mp or below it.
func within(path, mp string) bool {
	return mp == "/" || path == mp || strings.HasPrefix(path, mp+"/")
}

// version runs argv (stdin empty, 10 s at most) and returns the first
// non-empty line it wrote to stdout or stderr, whatever its exit status
// (wrk -v exits 1), or why there is none.
func version(argv ...string) string {
	if _, err := exec.LookPath(argv[0]); err != nil {
		return "not installed"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	for _, line := range bytes.Split(out, []byte("\n")) {
		if l := strings.TrimSpace(string(line)); l != "" {
			return l
		}
	}
	return "no version output"
}

// peers returns the version of every program make bench measures acirun
// against or runs around it, each asked with the arguments that make it
// say its version.
func peers() map[string]string {
	commands := [][]string{
		{"runc", "--version"},
		{"podman", "--version"},
		{"systemd-run", "--version"},
		{"unshare", "--version"},
		{"tar", "--version"},
		{"gzip", "--version"},
		{"bzip2", "--help"},
		{"xz", "--version"},
		{"gpg", "--version"},
		{"openssl", "version"},
		{"python3", "--version"},
		{"docker-registry", "--version"},
		{"skopeo", "--version"},
		{"umoci", "--version"},
		{"wrk", "-v"},
		{"nginx", "-v"},
		{"go", "version"},
	}
	v := map[string]string{}
	for _, argv := range commands {
		v[argv[0]] = version(argv...)
	}
	return v
}
