package stage1

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/internal/regfile"
	"golang.org/x/sys/unix"
)

// loadPodSpec reads and checks POD-DIR/pod.
func loadPodSpec(podDir string) (*podSpec, error) {
	p := filepath.Join(podDir, podcontract.ManifestFile)
	b, err := regfile.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read pod manifest: %w", err)
	}
	pm, err := aci.ParsePodManifest(b)
	if err != nil {
		return nil, fmt.Errorf("pod manifest %s: %w", p, err)
	}
	spec, err := specFromManifest(pm, podDir)
	if err != nil {
		return nil, fmt.Errorf("pod manifest %s: %w", p, err)
	}
	return spec, nil
}

// specFromManifest turns a reified pod manifest into what stage1 runs. It
// insists on the reification the contract promises: every app complete,
// every mount naming a volume.
func specFromManifest(pm *aci.PodManifest, podDir string) (*podSpec, error) {
	spec := &podSpec{uuid: filepath.Base(podDir), volumes: map[string]*volumeSpec{}}
	sysctls, err := podSysctls(pm)
	if err != nil {
		return nil, err
	}
	spec.sysctls = sysctls
	for _, v := range pm.Volumes {
		vs, err := volumeFromManifest(v, podDir)
		if err != nil {
			return nil, err
		}
		if a, ok := pm.Annotations.Get(aci.ACIdentifier(podcontract.IDMapVolumeAnnotationPrefix + string(v.Name))); ok {
			if a != podcontract.IDMapVolumeValue || vs.kind != "host" {
				return nil, fmt.Errorf("volume %s: annotation %s%s=%q: want %q, for a host volume", v.Name, podcontract.IDMapVolumeAnnotationPrefix, v.Name, a, podcontract.IDMapVolumeValue)
			}
			vs.idmap = true
		}
		spec.volumes[string(v.Name)] = vs
	}
	exposed := map[aci.ACName]aci.ExposedPort{}
	used := map[aci.ACName]bool{}
	for _, ep := range pm.Ports {
		exposed[ep.Name] = ep
	}
	for _, ra := range pm.Apps {
		name := string(ra.Name)
		a := ra.App
		if a == nil {
			return nil, fmt.Errorf("app %s: no app section (the pod manifest is not reified)", name)
		}
		if len(a.Exec) == 0 {
			return nil, fmt.Errorf("app %s: nothing to execute (empty exec)", name)
		}
		as := &appSpec{
			name:     name,
			exec:     a.Exec,
			user:     a.User,
			group:    a.Group,
			suppGIDs: a.SupplementaryGIDs,
			workDir:  a.WorkingDir(),
			readOnly: ra.ReadOnlyRootFS,
			imageDir: filepath.Join(podcontract.AppDir(podDir, name), podcontract.AppImageLink),
		}
		for _, port := range a.Ports {
			n := port.Count
			if n == 0 {
				n = 1
			}
			ps := Port{Name: string(port.Name), Protocol: port.Protocol, Port: port.Port, Count: n, HostPort: port.Port}
			if ep, ok := exposed[port.Name]; ok {
				ps.Explicit, ps.HostPort, ps.HostIP = true, ep.HostPort, ep.HostIP
				used[port.Name] = true
			}
			if ps.HostPort+n-1 > 65535 {
				return nil, fmt.Errorf("app %s: port %s: host ports %d-%d run past 65535", name, port.Name, ps.HostPort, ps.HostPort+n-1)
			}
			spec.ports = append(spec.ports, ps)
			if !port.SocketActivated {
				continue
			}
			as.listen = append(as.listen, listenPort{name: string(port.Name), protocol: port.Protocol, port: port.Port, count: n})
		}
		for _, e := range a.Environment {
			as.env = append(as.env, [2]string{e.Name, e.Value})
		}
		for _, h := range a.EventHandlers {
			switch h.Name {
			case aci.EventPreStart:
				as.preStart = h.Exec
			case aci.EventPostStop:
				as.postStop = h.Exec
			}
		}
		for _, m := range ra.Mounts {
			vol := spec.volumes[string(m.Volume)]
			if m.AppVolume != nil {
				v, err := volumeFromManifest(*m.AppVolume, podDir)
				if err != nil {
					return nil, fmt.Errorf("app %s: %w", name, err)
				}
				vol = v
			}
			if vol == nil {
				return nil, fmt.Errorf("app %s: mount at %s names volume %q, which the pod does not define", name, m.Path, m.Volume)
			}
			ms := mountSpec{volume: vol, target: m.Path}
			for _, mp := range a.MountPoints {
				if mp.Path == m.Path && mp.ReadOnly {
					ms.readOnly = true
				}
			}
			as.mounts = append(as.mounts, ms)
		}
		for _, mp := range a.MountPoints {
			found := false
			for _, m := range ra.Mounts {
				found = found || m.Path == mp.Path
			}
			if !found {
				return nil, fmt.Errorf("app %s: mount point %s (%s) has no mount (the pod manifest is not reified)", name, mp.Name, mp.Path)
			}
		}
		iso, err := isolatorsFromManifest(a.Isolators, pm.Isolators)
		if err != nil {
			return nil, fmt.Errorf("app %s: %w", name, err)
		}
		as.isolators = iso
		v, _ := ra.Annotations.Get(aci.ACIdentifier(podcontract.OperatorCapsAnnotation))
		as.operatorCaps = v == podcontract.OperatorCapsValue
		spec.apps = append(spec.apps, as)
	}
	for i, ep := range pm.Ports {
		if !used[ep.Name] {
			return nil, fmt.Errorf("ports[%d]: no app of the pod has a port named %q", i, ep.Name)
		}
	}
	return spec, nil
}

// notifySocketName is the abstract unix socket (in the pod's network
// namespace, so no file in any root) on which PID 1 hears an app's sd_notify
// messages. Names too long for a socket address are shortened to a hash.
func notifySocketName(uuid, app string) string {
	n := "@acirun/" + uuid + "/" + app
	if len(n) > 100 {
		sum := sha256.Sum256([]byte(app))
		n = "@acirun/" + uuid + "/" + hex.EncodeToString(sum[:16])
	}
	return n
}

// imageTraits is what PID 1 takes from an app's image manifest besides
// the pod manifest: whether it tells when it is ready, and how it is
// stopped.
type imageTraits struct {
	// notify: the annotation appc.io/executor/supports-systemd-notify. Such
	// an app gets NOTIFY_SOCKET, and the pod is ready only once it has sent
	// READY=1.
	notify bool
	// stopSignal is the annotation podcontract.StopSignalAnnotation (an OCI
	// image's StopSignal): the signal that stops the app; 0 for SIGTERM.
	stopSignal unix.Signal
}

// readImageTraits reads the image manifest of an app at path. Only PID 1,
// which listens for readiness and stops the apps, reads it. A pod directory
// without the manifest (only in tests) means no traits.
func readImageTraits(path string) (imageTraits, error) {
	var t imageTraits
	b, err := regfile.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return t, fmt.Errorf("image manifest: %w", err)
	}
	im, err := aci.ParseImageManifest(b)
	if err != nil {
		return t, fmt.Errorf("image manifest %s: %w", path, err)
	}
	t.notify = im.Annotations.SupportsSystemdNotify()
	if v, ok := im.Annotations.Get(podcontract.StopSignalAnnotation); ok {
		if t.stopSignal, err = podcontract.ParseStopSignal(v); err != nil {
			return t, fmt.Errorf("image manifest %s: annotation %s: %w", path, podcontract.StopSignalAnnotation, err)
		}
	}
	return t, nil
}

func volumeFromManifest(v aci.Volume, podDir string) (*volumeSpec, error) {
	vs := &volumeSpec{name: string(v.Name), kind: string(v.Kind), readOnly: v.ReadOnly}
	switch v.Kind {
	case aci.VolumeHost:
		vs.source, vs.recursive = v.Source, v.Recursive
	case aci.VolumeEmpty:
		mode, err := v.EmptyMode()
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		vs.mode, vs.uid, vs.gid = os.FileMode(mode), v.UID, v.GID
		vs.source = podcontract.VolumeDir(podDir, string(v.Name))
	default:
		return nil, fmt.Errorf("volume %s: unknown kind %q", v.Name, v.Kind)
	}
	return vs, nil
}

// isolatorsFromManifest collects the app's isolators, bounded by the pod's
// (E9): the pod's capability sets and resource limits cap the app's, and
// the pod's other Linux isolators apply where the app has none. When an
// isolator repeats, the last one counts, as in the reference code.
func isolatorsFromManifest(app, pod aci.Isolators) (appIsolators, error) {
	var ai appIsolators
	apply := func(is aci.Isolators, podLevel bool) error {
		for _, i := range is {
			switch v := i.Value.(type) {
			case aci.LinuxCapabilitiesRetainSet:
				s, err := parseCaps(v.Set)
				if err != nil {
					return fmt.Errorf("%s: %w", i.Name, err)
				}
				if podLevel {
					b := s
					if ai.capsBound != nil {
						b &= *ai.capsBound
					}
					ai.capsBound = &b
				} else {
					ai.capsRetain = &s
				}
			case aci.LinuxCapabilitiesRemoveSet:
				s, err := parseCaps(v.Set)
				if err != nil {
					return fmt.Errorf("%s: %w", i.Name, err)
				}
				if podLevel {
					b := ^s
					if ai.capsBound != nil {
						b &= *ai.capsBound
					}
					ai.capsBound = &b
				} else {
					ai.capsRemove = &s
				}
			case aci.LinuxNoNewPrivileges:
				ai.noNewPrivs = ai.noNewPrivs || bool(v)
			case aci.LinuxSeccompRetainSet:
				if !podLevel || ai.seccomp == nil {
					ai.seccomp = &seccompIsolator{retain: true, set: v.Set, errno: v.Errno}
				}
			case aci.LinuxSeccompRemoveSet:
				if !podLevel || ai.seccomp == nil {
					ai.seccomp = &seccompIsolator{set: v.Set, errno: v.Errno}
				}
			case aci.LinuxOOMScoreAdj:
				if !podLevel || ai.oomScoreAdj == nil {
					n := int(v)
					ai.oomScoreAdj = &n
				}
			case aci.ResourceMemory:
				if v.Limit > 0 && (ai.memoryLimit == nil || v.Limit < *ai.memoryLimit) {
					n := v.Limit
					ai.memoryLimit = &n
				}
			case aci.UnixSysctl:
				// Pod scope: collected for the whole pod by podSysctls.
			case aci.LinuxCPUShares:
				// The app's own weight; the pod's is the default of
				// apps that give none.
				if !podLevel || ai.cpuShares == nil {
					n := int64(v)
					ai.cpuShares = &n
				}
			case aci.ResourceCPU:
				if v.LimitMilli > 0 && (ai.cpuLimitMilli == nil || v.LimitMilli < *ai.cpuLimitMilli) {
					n := v.LimitMilli
					ai.cpuLimitMilli = &n
				}
			default:
				where := ""
				if podLevel {
					where = " (pod)"
				}
				ai.ignored = append(ai.ignored, string(i.Name)+where)
			}
		}
		return nil
	}
	if err := apply(app, false); err != nil {
		return ai, err
	}
	if err := apply(pod, true); err != nil {
		return ai, fmt.Errorf("pod isolators: %w", err)
	}
	return ai, nil
}
