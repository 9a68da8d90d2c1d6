package pod

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/atomicfile"
	"github.com/acirun/acirun/internal/dirent"
	"github.com/acirun/acirun/internal/flock"
	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/internal/trace"
)

// hostnamePrefix starts a pod's default host name, before the first 8
// characters of its UUID.
const hostnamePrefix = "acirun-"

// Config says where Prepare writes the pod and how it finds its images.
type Config struct {
	// DataDir is the data directory (--dir); pods live in DataDir/pods.
	DataDir string
	// Resolver finds and renders the images.
	Resolver ImageResolver
	// HostEnv is the host environment (os.Environ() in the CLI), passed to
	// the apps only with --inherit-env.
	HostEnv []string
	// Debug adds --debug to the stage1 command line.
	Debug bool
	// Sync makes the pod durable before it becomes visible (fsync of its
	// files and directories). `acirun prepare` wants it: its pod may be run
	// after a reboot. `acirun run` does not: its pod runs at once, and the
	// fsyncs would cost several milliseconds of every warm start; after a
	// crash such a pod may be listed with a Problem, and gc removes it.
	Sync bool
	// Trace is told Prepare's steps (ACIRUN_TRACE); nil traces nothing.
	Trace *trace.Tracer
	// crashAt, set only by this package's tests, is called at each
	// prepareStep (crashpoint_linux.go).
	crashAt func(prepareStep)
	// Publish is the host's setting of where the ports the apps declare
	// are published (podcontract's Publish*; "" for the default), recorded
	// with the pod's stage1 flags.
	Publish string
	// Platform is the host's os and arch in appc names
	// (imagename.HostLabels); images labelled for others are refused.
	// Zero means the platform acirun was built for.
	Platform Platform
}

// Prepare makes a pod ready to run: it resolves the images, builds the
// reified pod manifest and writes the pod directory of docs/pod-layout.md.
// The directory is written under a temporary name and renamed into place
// complete, with `prepared` in it: a pod is never seen half-written, and a
// failure leaves nothing behind. The notes are for the user (for instance
// a mount point given an implicit empty volume).
func Prepare(ctx context.Context, cfg Config, req *RunRequest) (*Pod, []string, error) {
	if cfg.DataDir == "" || cfg.Resolver == nil {
		return nil, nil, errors.New("prepare: no data directory or image resolver")
	}
	if err := req.Validate(); err != nil {
		return nil, nil, err
	}
	podsDir, err := podsPath(cfg.DataDir)
	if err != nil {
		return nil, nil, fmt.Errorf("prepare: %w", err)
	}
	if err := os.MkdirAll(podsDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("prepare: %w", err)
	}
	// Keep the store's gc from removing an image between its resolution
	// and the pod manifest that refers to it.
	unlock, err := lockFile(ctx, filepath.Join(podsDir, podcontract.PodsLockFile), false)
	if err != nil {
		return nil, nil, fmt.Errorf("prepare: %w", err)
	}
	defer unlock()

	in := &reifyInput{req: req, host: cfg.HostEnv}
	platform := cfg.Platform
	if platform == (Platform{}) {
		platform = runtimePlatform()
	}
	defer func() {
		for _, img := range in.images {
			if img.Release != nil {
				img.Release()
			}
		}
	}()
	var pm *aci.PodManifest
	if req.PodManifest != "" {
		b, err := os.ReadFile(req.PodManifest)
		if err != nil {
			return nil, nil, fmt.Errorf("--pod-manifest: %w", err)
		}
		if in.manual, err = aci.ParsePodManifest(b); err != nil {
			return nil, nil, fmt.Errorf("--pod-manifest %s: %w", req.PodManifest, err)
		}
		if req.Interactive {
			if err := podcontract.CheckInteractive(len(in.manual.Apps)); err != nil {
				return nil, nil, fmt.Errorf("--pod-manifest %s: %w", req.PodManifest, err)
			}
		}
		for _, ra := range in.manual.Apps {
			img, err := cfg.Resolver.ResolveRuntimeImage(ctx, ra.Image)
			if err != nil {
				return nil, nil, fmt.Errorf("--pod-manifest %s: app %s: %w", req.PodManifest, ra.Name, err)
			}
			if img != nil {
				in.images = append(in.images, img)
			}
			if err := checkImage(img, "app "+string(ra.Name)); err != nil {
				return nil, nil, err
			}
			if err := checkRunnable(img, "of app "+string(ra.Name), platform, &in.notes); err != nil {
				return nil, nil, fmt.Errorf("--pod-manifest %s: %w", req.PodManifest, err)
			}
		}
		if pm, err = in.reifyManifest(); err != nil {
			return nil, nil, err
		}
	} else {
		for _, ar := range req.Apps {
			img, err := cfg.Resolver.ResolveImage(ctx, ar.Image)
			if err != nil {
				return nil, nil, err // it names the image
			}
			if img != nil {
				in.images = append(in.images, img)
			}
			if err := checkImage(img, ar.Image); err != nil {
				return nil, nil, err
			}
			if err := checkRunnable(img, ar.Image, platform, &in.notes); err != nil {
				return nil, nil, err
			}
		}
		for _, f := range req.SetEnvFiles {
			env, err := ReadEnvFile(f)
			if err != nil {
				return nil, nil, err
			}
			in.envs = append(in.envs, env...)
		}
		if pm, err = in.reify(); err != nil {
			return nil, nil, err
		}
	}
	cfg.Trace.Step("images resolved")
	if err := pm.Validate(); err != nil {
		return nil, nil, fmt.Errorf("prepare: the pod manifest is invalid: %w", err)
	}
	if err := pm.ValidateReified(nil); err != nil {
		return nil, nil, fmt.Errorf("prepare: %w", err)
	}
	if err := checkVolumeSources(pm); err != nil {
		return nil, nil, err
	}
	if err := checkVolumeTargets(pm, in.images); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}

	uuid, err := NewUUID()
	if err != nil {
		return nil, nil, fmt.Errorf("prepare: %w", err)
	}
	args, err := stage1Args(req, uuid, cfg.Debug, cfg.Publish)
	if err != nil {
		return nil, nil, fmt.Errorf("prepare: %w", err)
	}
	dir, err := writePodDir(podsDir, uuid, pm, in.images, args, !req.NoOverlay, cfg.Sync, cfg.reached)
	if err != nil {
		return nil, nil, err
	}
	cfg.Trace.Step("pod %s written", uuid)
	if req.UUIDFileSave != "" {
		// As rkt: the bare UUID, no newline.
		if err := os.WriteFile(req.UUIDFileSave, []byte(uuid), 0o644); err != nil {
			os.RemoveAll(dir)
			return nil, nil, fmt.Errorf("--uuid-file-save: %w", err)
		}
	}
	p, err := loadDir(dir, uuid)
	if err == nil && p.Problem != "" {
		err = fmt.Errorf("prepare pod %s: reading it back: %s", uuid, p.Problem)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return p, in.notes, nil
}

// podsPath returns the absolute pods directory of dataDir, so that pod
// directories and the stage1 command line do not depend on the working
// directory.
func podsPath(dataDir string) (string, error) {
	if dataDir == "" {
		return "", errors.New("no data directory")
	}
	d, err := filepath.Abs(dataDir)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, podcontract.PodsDir), nil
}

// checkImage refuses what the resolver should never return.
func checkImage(img *Image, what string) error {
	if img == nil || img.Manifest == nil || !img.ID.IsFull() {
		return fmt.Errorf("image %s: resolver returned no image, manifest or full ID", what)
	}
	if !filepath.IsAbs(img.Tree) {
		return fmt.Errorf("image %s: rendered tree %q is not an absolute path", what, img.Tree)
	}
	if fi, err := os.Stat(filepath.Join(img.Tree, "rootfs")); err != nil || !fi.IsDir() {
		return fmt.Errorf("image %s: rendered tree %s has no rootfs directory", what, img.Tree)
	}
	return nil
}

// stage1Args are the flags for `acirun stage1 run` decided at prepare
// time. The request's values were checked by RunRequest.Validate and the
// front end with the parsers stage1 uses (podcontract's).
func stage1Args(req *RunRequest, uuid string, debug bool, publish string) ([]string, error) {
	o := podcontract.DefaultRunOptions()
	if publish != "" {
		o.Publish = publish
	}
	if req.Net != "" {
		o.Net = req.Net
	}
	if req.StopTimeout > 0 {
		o.StopTimeout = req.StopTimeout
	}
	o.Hostname, o.DNS, o.DNSSearch, o.HostsFromHost = req.Hostname, req.DNS, req.DNSSearch, req.HostsFromHost
	o.DNSOptions, o.DNSDomain = req.DNSOptions, req.DNSDomain
	o.NoOverlay, o.Debug, o.Interactive = req.NoOverlay, debug, req.Interactive
	o.PrivateUsers = req.PrivateUsers
	if o.Hostname == "" {
		o.Hostname = hostnamePrefix + uuid[:8]
	}
	for _, h := range req.HostsEntries {
		e, err := podcontract.ParseHostsEntry(h.IP + "=" + h.Name)
		if err != nil {
			return nil, fmt.Errorf("hosts entry: %w", err)
		}
		o.HostsEntries = append(o.HostsEntries, e)
	}
	ins, err := podcontract.ParseInsecure(strings.Join(req.InsecureOptions, ","))
	if err != nil {
		return nil, err
	}
	o.Insecure = ins & podcontract.InsecureAllRun
	return o.Args(), nil
}

// NewUUID returns a random RFC 4122 version 4 UUID in canonical form.
func NewUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate pod UUID: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x",
		binary.BigEndian.Uint32(b[0:4]), binary.BigEndian.Uint16(b[4:6]), binary.BigEndian.Uint16(b[6:8]),
		binary.BigEndian.Uint16(b[8:10]), b[10:16]), nil
}

// IsUUID reports whether s is a UUID in canonical lower-case form.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// writePodDir writes the pod directory under a temporary name in podsDir
// and renames it to UUID once complete. On error nothing is left.
func writePodDir(podsDir, uuid string, pm *aci.PodManifest, images []*Image, args []string, overlay, sync bool, reached func(prepareStep)) (dir string, err error) {
	tmp, err := os.MkdirTemp(podsDir, podcontract.PreparingPrefix+uuid+"-")
	if err != nil {
		return "", fmt.Errorf("prepare pod %s: %w", uuid, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
			err = fmt.Errorf("prepare pod %s: %w", uuid, err)
		}
	}()
	if err := os.Chmod(tmp, 0o700); err != nil {
		return "", err
	}
	if overlay {
		if err := checkOverlayUpper(tmp, sync); err != nil {
			return "", err
		}
	}
	lock, err := podcontract.CreatePodLock(tmp)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	reached(stepPodLocked)
	b, err := json.MarshalIndent(pm, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode pod manifest: %w", err)
	}
	if err := writeFile(filepath.Join(tmp, podcontract.ManifestFile), append(b, '\n'), 0o640, sync); err != nil {
		return "", err
	}
	summary, err := encodeSummary(pm)
	if err != nil {
		return "", err
	}
	if err := writeFile(filepath.Join(tmp, podcontract.SummaryFile), summary, 0o640, sync); err != nil {
		return "", err
	}
	reached(stepManifestWritten)
	for i, ra := range pm.Apps {
		appDir := podcontract.AppDir(tmp, string(ra.Name))
		if err := os.MkdirAll(appDir, 0o700); err != nil {
			return "", err
		}
		if err := os.Symlink(images[i].Tree, filepath.Join(appDir, podcontract.AppImageLink)); err != nil {
			return "", err
		}
	}
	reached(stepAppsLinked)
	if err := writeFile(filepath.Join(tmp, podcontract.Stage1ArgsFile), podcontract.EncodeStage1Args(args), 0o640, sync); err != nil {
		return "", err
	}
	reached(stepArgsWritten)
	if err := writeFile(filepath.Join(tmp, podcontract.PreparedFile), nil, 0o640, sync); err != nil {
		return "", err
	}
	reached(stepPreparedMarked)
	if sync {
		if err := atomicfile.SyncDir(tmp); err != nil {
			return "", err
		}
	}
	// Whoever finds the pod once it is in place may lock it.
	if err := flock.Unlock(lock); err != nil {
		return "", fmt.Errorf("unlock: %w", err)
	}
	dir = filepath.Join(podsDir, uuid)
	// rename(2) does not replace a non-empty directory: a UUID clash fails.
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	reached(stepRenamed)
	if sync {
		if err := atomicfile.SyncDir(podsDir); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	return dir, nil
}

// writeFile creates name with data, fsynced if sync is set.
func writeFile(name string, data []byte, mode os.FileMode, sync bool) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_CLOEXEC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// checkOverlayUpper checks that dir's filesystem can hold an overlay upper
// directory: not overlayfs itself and, when full is set, with d_type and
// trusted.* xattrs. It runs before anything is mounted, so that the user is
// told to use --no-overlay instead of seeing stage1 fail halfway. stage1
// checks everything again before it mounts; the full probe (a directory
// made and removed) is kept for `prepare` (Config.Sync), whose pod may run
// much later, and spared from every warm `run`.
func checkOverlayUpper(dir string, full bool) error {
	hint := "; run the pod with --no-overlay (each app gets a private copy of its image)"
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	if st.Type == unix.OVERLAYFS_SUPER_MAGIC {
		return fmt.Errorf("the data directory %s is on overlayfs, which cannot hold an overlay's upper directory%s", filepath.Dir(dir), hint)
	}
	if !full {
		return nil
	}
	probe := filepath.Join(dir, "overlay-check")
	if err := os.Mkdir(probe, 0o700); err != nil {
		return err
	}
	defer os.Remove(probe)
	err := unix.Setxattr(probe, "trusted.acirun.check", []byte("1"), 0)
	switch {
	case errors.Is(err, unix.ENOTSUP):
		return fmt.Errorf("the data directory %s does not support trusted.* extended attributes, which overlayfs needs%s", filepath.Dir(dir), hint)
	case errors.Is(err, unix.EPERM):
		// Not root: stage1 will need root anyway and will tell.
	case err != nil:
		return fmt.Errorf("setxattr %s: %w", probe, err)
	}
	if typ, err := dirent.Type(dir, filepath.Base(probe)); err != nil {
		return err
	} else if typ == unix.DT_UNKNOWN {
		return fmt.Errorf("the data directory %s does not report file types in directory entries (d_type), which overlayfs needs%s", filepath.Dir(dir), hint)
	}
	return nil
}

// lockFile takes a flock on name (created if needed), waiting while ctx
// allows, and returns the function that releases it.
func lockFile(ctx context.Context, name string, exclusive bool) (func(), error) {
	f, err := flock.Lock(ctx, name, exclusive)
	if err != nil {
		return nil, err
	}
	return func() { _ = flock.Unlock(f) }, nil
}
