package pod

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/stage0/ociref"
)

// Image is an image as the store knows it once fetched, verified and
// rendered.
type Image struct {
	ID       aci.ImageID
	Manifest *aci.ImageManifest
	// Tree is the absolute path of the rendered tree: a directory holding
	// manifest and rootfs/ (image plus dependencies, pathWhitelist applied).
	Tree string
	// Release, if not nil, is called exactly once by Prepare when it no
	// longer needs the image protected: after the pod directory is in place
	// (from then on InUseImages reports the image) or after preparation
	// failed. A resolver that holds the image in the store (store.Hold)
	// passes the hold's release here, so that the store's gc never removes
	// an image between its resolution and the pod that names it.
	Release func()
}

// ImageResolver turns image references into rendered images. The CLI
// implements it over the store and the fetch pipeline, applying the pull
// policy and trust; this package only asks.
type ImageResolver interface {
	// ResolveImage returns the image a command-line reference names: an
	// image ID (or a unique prefix), a file path, a URL or a name[:version].
	// Its errors name ref: Prepare passes them on as they are.
	ResolveImage(ctx context.Context, ref string) (*Image, error)
	// ResolveRuntimeImage returns the image of an app of a --pod-manifest:
	// by ID if it has one, else by name and labels.
	ResolveRuntimeImage(ctx context.Context, img aci.RuntimeImage) (*Image, error)
}

// reifyInput is everything the reified pod manifest is computed from, once
// the images are resolved and the files read.
type reifyInput struct {
	req    *RunRequest
	images []*Image // one per req.Apps entry
	envs   []EnvVar // the --set-env-file contents, in order
	host   []string // the host environment, used with --inherit-env
	notes  []string // filled by reify: what the user should be told
	manual *aci.PodManifest
}

// reify builds the reified pod manifest for a command line: every app
// named, its image's app with every override applied, the environment
// merged, every mount point given a mount and every mount a volume.
func (in *reifyInput) reify() (*aci.PodManifest, error) {
	req := in.req
	if len(in.images) != len(req.Apps) {
		return nil, fmt.Errorf("internal error: %d images for %d apps", len(in.images), len(req.Apps))
	}
	ver, err := aci.ParseSemVer(aci.SpecVersion)
	if err != nil {
		return nil, err
	}
	pm := &aci.PodManifest{ACVersion: ver, ACKind: aci.ACKindPodManifest}
	for _, v := range req.Volumes {
		pm.Volumes = append(pm.Volumes, v.Volume())
		if v.IDMap {
			if req.PrivateUsers == "" {
				return nil, fmt.Errorf("--volume %s: idmap=true needs --private-users (without a user namespace the pod's IDs already are the host's)", v.Name)
			}
			pm.Annotations.Set(aci.ACIdentifier(podcontract.IDMapVolumeAnnotationPrefix+v.Name), podcontract.IDMapVolumeValue)
		}
	}
	names := map[aci.ACName]string{}
	for i, ar := range req.Apps {
		img := in.images[i]
		desc := describeImage(ar.Image, img)
		name := aci.ACName(ar.Name)
		if name == "" {
			name, err = aci.SanitizeACName(path.Base(string(img.Manifest.Name)))
			if err != nil {
				return nil, fmt.Errorf("image %s: %w; give the app a --name", desc, err)
			}
		}
		if other, ok := names[name]; ok {
			return nil, fmt.Errorf("images %s and %s would both be app %q in the pod: give one of them --name", other, desc, name)
		}
		names[name] = desc
		// stage1 stops the app with its image's stop signal: one it could
		// not send is refused now, not when the pod stops.
		if v, ok := img.Manifest.Annotations.Get(podcontract.StopSignalAnnotation); ok {
			if _, err := podcontract.ParseStopSignal(v); err != nil {
				return nil, fmt.Errorf("image %s: annotation %s: %w", desc, podcontract.StopSignalAnnotation, err)
			}
		}

		app, err := in.overrideApp(&ar, img, desc)
		if err != nil {
			return nil, err
		}
		ra := aci.RuntimeApp{
			Name:           name,
			Image:          aci.RuntimeImage{Name: img.Manifest.Name, ID: img.ID, Labels: slices.Clone(img.Manifest.Labels)},
			App:            app,
			ReadOnlyRootFS: ar.ReadOnlyRootFS,
			Annotations:    userAnnotations(req.UserAnnotations, ar.UserAnnotations),
		}
		if ar.CapsRetain != nil || ar.CapsRemove != nil {
			// The app's capability sets are the operator's: stage1 grants
			// what they name without --insecure-options=capabilities.
			ra.Annotations.Set(aci.ACIdentifier(podcontract.OperatorCapsAnnotation), podcontract.OperatorCapsValue)
		}
		// Mounts: the app's own, then the pod-wide ones for other targets.
		for _, m := range ar.Mounts {
			ra.Mounts = append(ra.Mounts, aci.Mount{Volume: aci.ACName(m.Volume), Path: m.Target})
		}
		for _, m := range req.Mounts {
			if !slices.ContainsFunc(ra.Mounts, func(o aci.Mount) bool { return o.Path == m.Target }) {
				ra.Mounts = append(ra.Mounts, aci.Mount{Volume: aci.ACName(m.Volume), Path: m.Target})
			}
		}
		pm.Apps = append(pm.Apps, ra)
	}
	for _, ep := range req.Ports {
		var names []string
		found := false
		for _, ra := range pm.Apps {
			for _, port := range ra.App.Ports {
				if port.Name == ep.Name && port.Protocol != "tcp" && port.Protocol != "udp" {
					return nil, fmt.Errorf("--port=%s: app %s declares it as %s, and acirun publishes tcp and udp ports only (reach it at the pod's own address)", ep.Name, ra.Name, port.Protocol)
				}
				found = found || port.Name == ep.Name
				names = append(names, string(port.Name))
			}
		}
		if !found {
			if len(names) == 0 {
				return nil, fmt.Errorf("--port=%s: no app of the pod declares a port (the image manifest's app.ports)", ep.Name)
			}
			return nil, fmt.Errorf("--port=%s: no app of the pod declares a port named %s (they declare %s)", ep.Name, ep.Name, strings.Join(names, ", "))
		}
		pm.Ports = append(pm.Ports, ep)
	}
	in.coverMountPoints(pm)
	return pm, nil
}

func describeImage(ref string, img *Image) string {
	if ref != "" && ref != string(img.Manifest.Name) {
		return fmt.Sprintf("%s (%s, %s)", ref, img.Manifest.Name, img.ID.Short())
	}
	return fmt.Sprintf("%s (%s)", img.Manifest.Name, img.ID.Short())
}

// overrideApp returns a copy of the image's app with the command line's
// overrides applied, never sharing memory with the image manifest.
func (in *reifyInput) overrideApp(ar *AppRequest, img *Image, desc string) (*aci.App, error) {
	var app aci.App
	if img.Manifest.App != nil {
		app = cloneApp(img.Manifest.App)
	} else {
		if ar.Exec == "" {
			return nil, fmt.Errorf("image %s has no app: give --exec", desc)
		}
		app = aci.App{User: "0", Group: "0"}
	}
	if ar.Exec != "" {
		app.Exec = []string{ar.Exec}
	}
	if ar.Args != nil {
		// As rkt: arguments after "--" are appended to the exec. An OCI
		// image's exec ends with its config's Cmd, which they replace,
		// as docker run's do.
		if ar.Exec == "" {
			app.Exec = app.Exec[:len(app.Exec)-ociref.CmdArgs(img.Manifest)]
		}
		app.Exec = append(app.Exec, ar.Args...)
	}
	if len(app.Exec) == 0 {
		return nil, fmt.Errorf("image %s: its app has no exec: give --exec", desc)
	}
	if ar.User != "" {
		app.User = ar.User
	}
	if ar.Group != "" {
		app.Group = ar.Group
	}
	if ar.SupplementaryGIDs != nil {
		app.SupplementaryGIDs = nil
		for _, g := range ar.SupplementaryGIDs {
			app.SupplementaryGIDs = append(app.SupplementaryGIDs, uint32(g))
		}
	}
	if ar.WorkingDir != "" {
		app.WorkingDirectory = ar.WorkingDir
	}
	if err := overrideIsolators(&app, ar); err != nil {
		return nil, fmt.Errorf("image %s: %w", desc, err)
	}
	app.Environment = in.mergeEnv(app.Environment, ar.Environment)
	app.UserAnnotations = overlayMaps(app.UserAnnotations, in.req.UserAnnotations, ar.UserAnnotations)
	app.UserLabels = overlayMaps(app.UserLabels, in.req.UserLabels, ar.UserLabels)
	return &app, nil
}

// userAnnotations are the app's annotations in the pod manifest made of
// --user-annotation (before the first image, then the app's own), sorted by
// name. appc's RuntimeApp has no user annotations of its own: rkt, and
// overrideApp, put them in its app's userAnnotations, which the spec says
// must not change how the app runs. The metadata service serves an app's
// annotations as the image's with the RuntimeApp's annotations over them
// (the ACE validator checks exactly that), so that is where they also go
// for an app to read them at /acMetadata/v1/apps/NAME/annotations. Their
// names are AC Identifiers and well-known values valid: the CLI checked.
func userAnnotations(pod, app map[string]string) aci.Annotations {
	m := overlayMaps(pod, app)
	var out aci.Annotations
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, aci.Annotation{Name: aci.ACIdentifier(k), Value: m[k]})
	}
	return out
}

// overlayMaps is a new map of every entry of ms, a later map's value
// winning: the image app's user annotations or labels, then those given
// before the first image, then the app's own. Nil if there are none, so
// that the manifest leaves the key out.
func overlayMaps(ms ...map[string]string) map[string]string {
	var out map[string]string
	for _, m := range ms {
		for k, v := range m {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

func cloneApp(a *aci.App) aci.App {
	c := *a
	c.Exec = slices.Clone(a.Exec)
	c.SupplementaryGIDs = slices.Clone(a.SupplementaryGIDs)
	c.EventHandlers = slices.Clone(a.EventHandlers)
	for i := range c.EventHandlers {
		c.EventHandlers[i].Exec = slices.Clone(c.EventHandlers[i].Exec)
	}
	c.Environment = slices.Clone(a.Environment)
	c.MountPoints = slices.Clone(a.MountPoints)
	c.Ports = slices.Clone(a.Ports)
	c.Isolators = slices.Clone(a.Isolators)
	return c
}

// setIsolator replaces the isolators called any of drop by v (if not nil).
func setIsolator(is aci.Isolators, v aci.IsolatorValue, drop ...aci.ACIdentifier) aci.Isolators {
	is = slices.DeleteFunc(is, func(i aci.Isolator) bool { return slices.Contains(drop, i.Name) })
	if v != nil {
		is = append(is, aci.NewIsolator(v))
	}
	return is
}

// overrideIsolators applies --memory, --cpu, --cpu-shares, --caps-*,
// --seccomp and --oom-score-adj: each replaces the image's isolator of the same kind
// (both capability sets for --caps-*, both seccomp sets for --seccomp).
func overrideIsolators(app *aci.App, ar *AppRequest) error {
	if ar.Memory != "" {
		n, err := aci.ParseQuantity(ar.Memory, 1)
		if err != nil {
			return fmt.Errorf("--memory: %w", err)
		}
		app.Isolators = setIsolator(app.Isolators, aci.ResourceMemory{Request: n, Limit: n}, aci.IsolatorResourceMemory)
	}
	if ar.CPU != "" {
		milli, err := aci.ParseQuantity(ar.CPU, 1000)
		if err != nil {
			return fmt.Errorf("--cpu: %w", err)
		}
		app.Isolators = setIsolator(app.Isolators, aci.ResourceCPU{RequestMilli: milli, LimitMilli: milli}, aci.IsolatorResourceCPU)
	}
	if ar.CPUShares != nil {
		app.Isolators = setIsolator(app.Isolators, *ar.CPUShares, aci.IsolatorCPUShares)
	}
	capsets := []aci.ACIdentifier{aci.IsolatorCapabilitiesRetainSet, aci.IsolatorCapabilitiesRemoveSet}
	if ar.CapsRetain != nil {
		app.Isolators = setIsolator(app.Isolators, aci.LinuxCapabilitiesRetainSet{Set: toCaps(ar.CapsRetain)}, capsets...)
	}
	if ar.CapsRemove != nil {
		app.Isolators = setIsolator(app.Isolators, aci.LinuxCapabilitiesRemoveSet{Set: toCaps(ar.CapsRemove)}, capsets...)
	}
	if s := ar.Seccomp; s != nil {
		var v aci.IsolatorValue = aci.LinuxSeccompRemoveSet{Set: slices.Clone(s.Set), Errno: s.Errno}
		if s.Mode == "retain" {
			v = aci.LinuxSeccompRetainSet{Set: slices.Clone(s.Set), Errno: s.Errno}
		}
		app.Isolators = setIsolator(app.Isolators, v, aci.IsolatorSeccompRetainSet, aci.IsolatorSeccompRemoveSet)
	}
	if ar.OOMScoreAdj != nil {
		app.Isolators = setIsolator(app.Isolators, aci.LinuxOOMScoreAdj(*ar.OOMScoreAdj), aci.IsolatorOOMScoreAdj)
	}
	if len(app.Isolators) == 0 {
		app.Isolators = nil
	}
	return app.Isolators.Validate()
}

func toCaps(s []string) []aci.LinuxCapability {
	out := make([]aci.LinuxCapability, len(s))
	for i, c := range s {
		out[i] = aci.LinuxCapability(c)
	}
	return out
}

// runtimeEnv are the variables the runtime defines for every app (E5):
// AC_APP_NAME names the pod app, container the runtime, AC_METADATA_URL the
// pod's metadata service. A host that is itself a container has them too;
// --inherit-env must not pass those off as this pod's.
func runtimeEnv(name string) bool {
	return name == "AC_APP_NAME" || name == "AC_METADATA_URL" || name == "container"
}

// mergeEnv merges the environment in rkt's precedence, lowest first: the
// host's (--inherit-env only), the image's, --set-env-file, --set-env,
// then the app's --environment.
func (in *reifyInput) mergeEnv(image aci.Environment, appEnv []EnvVar) aci.Environment {
	var env aci.Environment
	if in.req.InheritEnv {
		for _, kv := range in.host {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || !aci.ValidEnvironmentName(k) || strings.ContainsRune(v, 0) {
				continue // not expressible in a pod manifest (e.g. BASH_FUNC_f%%)
			}
			if runtimeEnv(k) {
				continue // the host's own container context, not this pod's
			}
			env.Set(k, v)
		}
	}
	for _, e := range image {
		env.Set(e.Name, e.Value)
	}
	for _, list := range [][]EnvVar{in.envs, in.req.SetEnv, appEnv} {
		for _, e := range list {
			env.Set(e.Name, e.Value)
		}
	}
	return env
}

// coverMountPoints gives every app mount point without a mount the pod
// volume of the same name, or else, as rkt did, a new empty volume (and
// says so in notes). Unlike a volume the user named, an implicit volume
// belongs to one app: two apps with a mount point "cache" do not share data
// they were never told to share.
func (in *reifyInput) coverMountPoints(pm *aci.PodManifest) {
	vol := func(name aci.ACName) bool {
		return slices.ContainsFunc(pm.Volumes, func(v aci.Volume) bool { return v.Name == name })
	}
	implicit := map[aci.ACName]bool{}
	for i := range pm.Apps {
		ra := &pm.Apps[i]
		if ra.App == nil {
			continue
		}
		for _, mp := range ra.App.MountPoints {
			if slices.ContainsFunc(ra.Mounts, func(m aci.Mount) bool { return path.Clean(m.Path) == path.Clean(mp.Path) }) {
				continue
			}
			if vol(mp.Name) && !implicit[mp.Name] {
				ra.Mounts = append(ra.Mounts, aci.Mount{Volume: mp.Name, Path: mp.Path})
				continue
			}
			name := mp.Name
			for n := 0; vol(name); n++ {
				name = aci.ACName(fmt.Sprintf("%s-%s", ra.Name, mp.Name))
				if n > 0 {
					name = aci.ACName(fmt.Sprintf("%s-%s-%d", ra.Name, mp.Name, n))
				}
			}
			implicit[name] = true
			pm.Volumes = append(pm.Volumes, aci.Volume{Name: name, Kind: aci.VolumeEmpty, Mode: aci.DefaultEmptyVolumeMode})
			ra.Mounts = append(ra.Mounts, aci.Mount{Volume: name, Path: mp.Path})
			in.notes = append(in.notes, fmt.Sprintf("app %s: no volume for mount point %s (%s): using a new empty volume %s, deleted with the pod (give --volume %s,kind=host,source=PATH to keep the data)",
				ra.Name, mp.Name, mp.Path, name, mp.Name))
		}
	}
}

// reifyManifest completes a --pod-manifest: every app gets its image's ID
// and a complete app (the image's unless the manifest gives one), and every
// mount point a mount.
func (in *reifyInput) reifyManifest() (*aci.PodManifest, error) {
	pm := in.manual
	for i := range pm.Apps {
		ra := &pm.Apps[i]
		img := in.images[i]
		ra.Image.ID = img.ID
		if ra.Image.Name == "" {
			ra.Image.Name = img.Manifest.Name
		}
		if ra.App == nil {
			if img.Manifest.App == nil {
				return nil, fmt.Errorf("--pod-manifest: app %s: image %s has no app and the pod manifest gives none", ra.Name, describeImage("", img))
			}
			app := cloneApp(img.Manifest.App)
			ra.App = &app
		}
		if len(ra.App.Exec) == 0 {
			return nil, fmt.Errorf("--pod-manifest: app %s: no exec", ra.Name)
		}
	}
	in.coverMountPoints(pm)
	if err := pm.ValidateReified(nil); err != nil {
		return nil, fmt.Errorf("--pod-manifest: cannot reify: %w", err)
	}
	return pm, nil
}

// MaxEnvLine bounds one line of a --set-env-file: the kernel takes no
// environment string longer than MAX_ARG_STRLEN (32 pages, 128 KiB) at
// exec, so a longer line could never reach an app.
const MaxEnvLine = 128 << 10

// ReadEnvFile reads a --set-env-file: NAME=VALUE lines; empty lines and
// lines starting with '#' are skipped; values are taken literally. The file
// is read a line at a time, so a huge one fails on its first long line
// without being held in memory.
func ReadEnvFile(name string) ([]EnvVar, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("--set-env-file: %w", err)
	}
	defer f.Close()
	return parseEnvFile(name, f)
}

func parseEnvFile(name string, r io.Reader) ([]EnvVar, error) {
	var out []EnvVar
	sc := bufio.NewScanner(r)
	// The line, its newline and a CR.
	sc.Buffer(make([]byte, 64*1024), MaxEnvLine+2)
	n := 1
	for ; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if len(line) > MaxEnvLine {
			return nil, envLineTooLong(name, n)
		}
		e, err := ParseEnvAssignment(line)
		if err != nil {
			return nil, fmt.Errorf("--set-env-file %s:%d: %w", name, n, err)
		}
		out = slices.DeleteFunc(out, func(o EnvVar) bool { return o.Name == e.Name })
		out = append(out, e)
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, envLineTooLong(name, n)
	} else if err != nil {
		return nil, fmt.Errorf("--set-env-file %s: %w", name, err)
	}
	return out, nil
}

// envLineTooLong is the refusal of line n of the --set-env-file name.
func envLineTooLong(name string, n int) error {
	return fmt.Errorf("--set-env-file %s:%d: %w: no environment variable can be longer than %d bytes (the kernel's MAX_ARG_STRLEN); put a large value in a file and share it with a volume", name, n, ErrEnvLineTooLong, MaxEnvLine)
}

// ErrEnvLineTooLong is returned (wrapped) for a --set-env-file line longer
// than MaxEnvLine.
var ErrEnvLineTooLong = errors.New("line too long")

// checkVolumeSources checks at prepare time what the flags cannot: a host
// volume's source exists and is reached without symlinks (the spec asks to
// reject symlinked sources, which could be switched under the runtime).
func checkVolumeSources(pm *aci.PodManifest) error {
	vols := slices.Clone(pm.Volumes)
	for _, ra := range pm.Apps {
		for _, m := range ra.Mounts {
			if m.AppVolume != nil {
				vols = append(vols, *m.AppVolume)
			}
		}
	}
	for _, v := range vols {
		if v.Kind != aci.VolumeHost {
			continue
		}
		if _, err := os.Stat(v.Source); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("volume %s: host source %s does not exist", v.Name, v.Source)
			}
			return fmt.Errorf("volume %s: host source: %w", v.Name, err)
		}
		real, err := filepath.EvalSymlinks(v.Source)
		if err != nil {
			return fmt.Errorf("volume %s: host source: %w", v.Name, err)
		}
		if real != path.Clean(v.Source) {
			return fmt.Errorf("volume %s: host source %s goes through a symlink; give the real path %s", v.Name, v.Source, real)
		}
	}
	return nil
}
