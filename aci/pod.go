package aci

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
)

// PodManifest describes a pod: the apps it runs, the volumes they share,
// the ports it exposes and the limits on it. A pod manifest written by a
// user may be a template (apps named by image name and labels only); the
// executor reifies it (fills in every image ID and a volume for every mount
// point) before running it. See ValidateReified.
type PodManifest struct {
	ACVersion SemVer       `json:"acVersion"`
	ACKind    ACKind       `json:"acKind"`
	Apps      []RuntimeApp `json:"apps"`
	Volumes   []Volume     `json:"volumes,omitempty"`
	Isolators Isolators    `json:"isolators,omitempty"`
	// Annotations are always written, [] when there are none, as the
	// spec's own schema writes them: the metadata service serves the
	// manifest as written and its annotations apart, and the two must
	// decode alike.
	Annotations Annotations   `json:"annotations"`
	Ports       []ExposedPort `json:"ports,omitempty"`
	// UserAnnotations and UserLabels are for people; they must not change
	// how the pod runs.
	UserAnnotations map[string]string `json:"userAnnotations,omitempty"`
	UserLabels      map[string]string `json:"userLabels,omitempty"`
}

// RuntimeApp is one app of a pod.
type RuntimeApp struct {
	Name  ACName       `json:"name"`
	Image RuntimeImage `json:"image"`
	// App, when set, replaces the image's App completely.
	App            *App        `json:"app,omitempty"`
	ReadOnlyRootFS bool        `json:"readOnlyRootFS,omitempty"`
	Mounts         []Mount     `json:"mounts,omitempty"`
	Annotations    Annotations `json:"annotations,omitempty"`
}

// RuntimeImage says which image an app runs: by ID once reified, by name
// and labels in a template.
type RuntimeImage struct {
	Name   ACIdentifier `json:"name,omitempty"`
	ID     ImageID      `json:"id,omitzero"`
	Labels Labels       `json:"labels,omitempty"`
}

// Mount fills the app's mount point at Path with the pod volume Volume, or
// with AppVolume, a volume defined for this mount alone (its name must be
// Volume).
type Mount struct {
	Volume    ACName  `json:"volume"`
	Path      string  `json:"path"`
	AppVolume *Volume `json:"appVolume,omitempty"`
}

// VolumeKind is "host" (a host directory bind-mounted in) or "empty" (a new
// empty directory that lives as long as the pod).
type VolumeKind string

// The volume kinds.
const (
	VolumeHost  VolumeKind = "host"
	VolumeEmpty VolumeKind = "empty"
)

// DefaultEmptyVolumeMode is the mode of an empty volume that sets none.
const DefaultEmptyVolumeMode = "0755"

// maxVolumeID is the largest owner an empty volume may have: 4294967294
// (2^32-1 is the kernel's "no ID"), or the largest int where int has 32
// bits, so that Volume.UID and GID hold every ID a manifest is allowed.
const maxVolumeID = min(1<<32-2, math.MaxInt)

// Volume is storage the pod's apps can mount. Which fields apply depends on
// Kind: Source and Recursive for "host"; Mode, UID and GID for "empty".
type Volume struct {
	Name     ACName
	Kind     VolumeKind
	ReadOnly bool
	// Source is the absolute host path of a host volume.
	Source string
	// Recursive makes a host volume's bind mount recursive (the default,
	// applied when decoding).
	Recursive bool
	// Mode is the octal permission string of an empty volume ("0755" when
	// decoding a manifest that gives none); UID and GID own it.
	Mode     string
	UID, GID int
}

// ExposedPort forwards HostPort on the host (on HostIP only, if set) to
// the app port called Name, or to PodPort when given.
type ExposedPort struct {
	Name     ACName     `json:"name"`
	HostPort uint       `json:"hostPort"`
	HostIP   netip.Addr `json:"hostIP,omitzero"`
	PodPort  *Port      `json:"podPort,omitempty"`
}

// Kind returns ACKindPodManifest.
func (*PodManifest) Kind() ACKind { return ACKindPodManifest }

// ParsePodManifest decodes and validates a pod manifest with the same
// strictness as ParseImageManifest. A template (apps without image IDs)
// is valid; use ValidateReified before running a pod.
func ParsePodManifest(data []byte) (*PodManifest, error) {
	root, err := parseJSON(data)
	if err != nil {
		return nil, ErrorList{{Msg: err.Error()}}
	}
	if err := wrongKind(root, ACKindPodManifest); err != nil {
		return nil, err
	}
	var d decoder
	pm := d.podManifest(root)
	if pm == nil {
		return nil, d.errs.truncated()
	}
	var verrs ErrorList
	pm.validate(&verrs)
	d.errs.addUncovered(verrs)
	if len(d.errs) > 0 {
		sortErrors(root, d.errs)
		return nil, d.errs.truncated()
	}
	return pm, nil
}

// Validate checks every rule for a pod manifest, template or not. It
// returns nil or an ErrorList.
func (pm *PodManifest) Validate() error {
	var errs ErrorList
	pm.validate(&errs)
	return errs.Err()
}

func (pm *PodManifest) validate(errs *ErrorList) {
	if pm.ACKind != ACKindPodManifest {
		errs.add("acKind", fmt.Sprintf("%q is not %q", clip(string(pm.ACKind)), ACKindPodManifest))
	}
	validateACVersion(errs, pm.ACVersion)
	if len(pm.Apps) == 0 {
		errs.add("apps", "a pod needs at least one app")
	}
	tooMany(errs, "apps", len(pm.Apps), MaxApps)
	tooMany(errs, "volumes", len(pm.Volumes), MaxVolumes)
	tooMany(errs, "ports", len(pm.Ports), MaxPorts)
	if len(pm.Apps) > MaxApps || len(pm.Volumes) > MaxVolumes || len(pm.Ports) > MaxPorts {
		return
	}
	vols := map[ACName]bool{}
	for i, v := range pm.Volumes {
		p := index("volumes", i)
		v.validate(errs, p)
		if vols[v.Name] {
			errs.add(join(p, "name"), fmt.Sprintf("volume %q defined twice", v.Name))
		}
		vols[v.Name] = true
	}
	appNames := seen[ACName]{}
	for i, ra := range pm.Apps {
		p := index("apps", i)
		validateName(errs, join(p, "name"), ra.Name)
		if j, dup := appNames.dup(ra.Name, i); dup {
			errs.add(join(p, "name"), fmt.Sprintf("app %q given twice (also %s)", ra.Name, index("apps", j)))
		}
		ip := join(p, "image")
		if ra.Image.Name != "" {
			validateIdentifier(errs, join(ip, "name"), ra.Image.Name)
		} else if ra.Image.ID.IsZero() {
			errs.add(ip, "needs an id or a name")
		}
		if !ra.Image.ID.IsZero() {
			if _, err := ParsePartialImageID(ra.Image.ID.String()); err != nil {
				errs.add(join(ip, "id"), err.Error())
			}
		}
		ra.Image.Labels.validate(errs, join(ip, "labels"))
		if ra.App != nil {
			ra.App.validate(errs, join(p, "app"))
		}
		mp := join(p, "mounts")
		mountPaths := seen[string]{}
		mounts := ra.Mounts
		if tooMany(errs, mp, len(mounts), MaxMountPoints) {
			mounts = nil
		}
		for k, m := range mounts {
			q := index(mp, k)
			validateName(errs, join(q, "volume"), m.Volume)
			validateAbsPath(errs, join(q, "path"), m.Path)
			if j, dup := mountPaths.dup(m.Path, k); dup {
				errs.add(join(q, "path"), fmt.Sprintf("%q mounted twice (also %s)", clip(m.Path), index(mp, j)))
			}
			if m.AppVolume != nil {
				m.AppVolume.validate(errs, join(q, "appVolume"))
				if m.AppVolume.Name != m.Volume {
					errs.add(join(q, "appVolume.name"), fmt.Sprintf("%q differs from the mount's volume %q", m.AppVolume.Name, m.Volume))
				}
			} else if m.Volume != "" && !vols[m.Volume] {
				errs.add(join(q, "volume"), fmt.Sprintf("no volume called %q in the pod", m.Volume))
			}
		}
		ra.Annotations.validate(errs, join(p, "annotations"))
	}
	pm.Isolators.validate(errs, "isolators")
	pm.Annotations.validate(errs, "annotations")
	portNames := seen[ACName]{}
	for i, ep := range pm.Ports {
		p := index("ports", i)
		validateName(errs, join(p, "name"), ep.Name)
		if j, dup := portNames.dup(ep.Name, i); dup {
			errs.add(join(p, "name"), fmt.Sprintf("port %q exposed twice (also %s)", ep.Name, index("ports", j)))
		}
		if ep.HostPort < 1 || ep.HostPort > 65535 {
			errs.add(join(p, "hostPort"), fmt.Sprintf("%d out of range 1-65535", ep.HostPort))
		}
		if ep.HostIP.IsValid() && !ep.HostIP.Is4() {
			errs.add(join(p, "hostIP"), fmt.Sprintf("%s is not an IPv4 address", ep.HostIP))
		}
		if ep.PodPort != nil {
			validatePort(errs, join(p, "podPort"), *ep.PodPort)
		}
	}
}

func (v Volume) validate(errs *ErrorList, p string) {
	validateName(errs, join(p, "name"), v.Name)
	switch v.Kind {
	case VolumeHost:
		validateAbsPath(errs, join(p, "source"), v.Source)
		if v.Mode != "" || v.UID != 0 || v.GID != 0 {
			errs.add(p, "mode, uid and gid are not allowed for a host volume")
		}
	case VolumeEmpty:
		if v.Source != "" {
			errs.add(join(p, "source"), "not allowed for an empty volume")
		}
		if v.Recursive {
			errs.add(join(p, "recursive"), "only allowed for a host volume")
		}
		if v.Mode != "" {
			if m, err := strconv.ParseUint(v.Mode, 8, 32); err != nil || m > 0o7777 {
				errs.add(join(p, "mode"), fmt.Sprintf("%q is not an octal mode of at most 07777", clip(v.Mode)))
			}
		}
		if v.UID < 0 || v.UID > maxVolumeID {
			errs.add(join(p, "uid"), fmt.Sprintf("%d out of range 0-%d", v.UID, maxVolumeID))
		}
		if v.GID < 0 || v.GID > maxVolumeID {
			errs.add(join(p, "gid"), fmt.Sprintf("%d out of range 0-%d", v.GID, maxVolumeID))
		}
	case "":
		errs.add(join(p, "kind"), "required")
	default:
		errs.add(join(p, "kind"), fmt.Sprintf("%q is not %q or %q", clip(string(v.Kind)), VolumeHost, VolumeEmpty))
	}
}

// EmptyMode returns the mode of an empty volume as a number, "0755" if
// Mode is unset.
func (v Volume) EmptyMode() (uint32, error) {
	s := v.Mode
	if s == "" {
		s = DefaultEmptyVolumeMode
	}
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o7777 {
		return 0, fmt.Errorf("volume %s: mode %q is not an octal mode", v.Name, s)
	}
	return uint32(m), nil
}

// MarshalJSON writes only the fields that apply to the volume's kind.
func (v Volume) MarshalJSON() ([]byte, error) {
	type common struct {
		Name     ACName     `json:"name"`
		Kind     VolumeKind `json:"kind"`
		ReadOnly bool       `json:"readOnly,omitempty"`
	}
	c := common{v.Name, v.Kind, v.ReadOnly}
	switch v.Kind {
	case VolumeHost:
		return json.Marshal(struct {
			common
			Source    string `json:"source"`
			Recursive bool   `json:"recursive"`
		}{c, v.Source, v.Recursive})
	case VolumeEmpty:
		mode := v.Mode
		if mode == "" {
			mode = DefaultEmptyVolumeMode
		}
		return json.Marshal(struct {
			common
			Mode string `json:"mode"`
			UID  int    `json:"uid"`
			GID  int    `json:"gid"`
		}{c, mode, v.UID, v.GID})
	}
	return json.Marshal(struct {
		common
		Source string `json:"source,omitempty"`
	}{c, v.Source})
}

// MarshalJSON writes the manifest with acKind set to PodManifest and apps
// as a list even when empty.
func (pm PodManifest) MarshalJSON() ([]byte, error) {
	type plain PodManifest
	p := plain(pm)
	p.ACKind = ACKindPodManifest
	if p.Apps == nil {
		p.Apps = []RuntimeApp{}
	}
	return json.Marshal(p)
}

// UnmarshalJSON decodes strictly with ParsePodManifest.
func (pm *PodManifest) UnmarshalJSON(b []byte) error {
	p, err := ParsePodManifest(b)
	if err != nil {
		return err
	}
	*pm = *p
	return nil
}

// ValidateReified reports what keeps the pod from being run as is: an app
// without a full image ID, or a mount point without a mount. Mount points
// are those of each app's App override; when image is not nil, it is asked
// for the manifest of apps without an override (it may return nil if it
// does not know the image). With the apps known it also checks the rules
// that need them: port names unique across the pod's apps, and every
// exposed port without a podPort naming an app port. The result is nil or
// an ErrorList.
func (pm *PodManifest) ValidateReified(image func(ImageID) *ImageManifest) error {
	var errs ErrorList
	apps := make([]*App, len(pm.Apps)) // effective apps, nil when unknown
	for i, ra := range pm.Apps {
		p := index("apps", i)
		if !ra.Image.ID.IsFull() {
			if ra.Image.ID.IsZero() {
				errs.add(join(p, "image.id"), "missing: the pod is not reified")
			} else {
				errs.add(join(p, "image.id"), fmt.Sprintf("%q is not a full image ID: the pod is not reified", ra.Image.ID))
			}
		}
		app := ra.App
		if app == nil && image != nil && ra.Image.ID.IsFull() {
			if im := image(ra.Image.ID); im != nil {
				app = im.App
				if app == nil {
					app = &App{} // an image without an app: no mount points, no ports
				}
			}
		}
		apps[i] = app
		if app == nil {
			continue
		}
		mounted := make(map[string]bool, len(ra.Mounts))
		for _, m := range ra.Mounts {
			mounted[m.Path] = true
		}
		for j, mp := range app.MountPoints {
			if !mounted[mp.Path] {
				errs.add(join(p, "mounts"), fmt.Sprintf("no mount for mount point %q (%s), app.mountPoints[%d]: the pod is not reified", mp.Name, mp.Path, j))
			}
		}
	}
	// Port names across apps.
	portApp := map[ACName]int{}
	for i, app := range apps {
		if app == nil {
			continue
		}
		for _, port := range app.Ports {
			if j, dup := portApp[port.Name]; dup && j != i {
				errs.add(index("apps", i), fmt.Sprintf("port name %q is also used by app %q; port names must be unique in a pod", port.Name, pm.Apps[j].Name))
				continue
			}
			portApp[port.Name] = i
		}
	}
	allKnown := !slices.Contains(apps, nil)
	for i, ep := range pm.Ports {
		if _, ok := portApp[ep.Name]; !ok && allKnown && ep.PodPort == nil {
			errs.add(join(index("ports", i), "name"), fmt.Sprintf("no app in the pod has a port called %q", ep.Name))
		}
	}
	return errs.Err()
}

// IsReified reports whether ValidateReified(nil) finds nothing missing.
func (pm *PodManifest) IsReified() bool { return pm.ValidateReified(nil) == nil }

func (d *decoder) podManifest(root *jval) *PodManifest {
	o := d.object(root, "")
	if o == nil {
		return nil
	}
	pm := &PodManifest{}
	pm.ACKind = ACKind(d.str(o.get("acKind"), "acKind"))
	pm.ACVersion = d.acVersion(o)
	apps := o.get("apps")
	if apps == nil {
		d.errorf("apps", "required")
	}
	for i, e := range d.array(apps, "apps") {
		if ra, ok := d.runtimeApp(e, index("apps", i)); ok {
			pm.Apps = append(pm.Apps, ra)
		}
	}
	for i, e := range d.array(o.get("volumes"), "volumes") {
		if v, ok := d.volume(e, index("volumes", i)); ok {
			pm.Volumes = append(pm.Volumes, v)
		}
	}
	pm.Isolators = d.isolators(o.get("isolators"), "isolators")
	pm.Annotations = d.annotations(o.get("annotations"), "annotations")
	for i, e := range d.array(o.get("ports"), "ports") {
		p := index("ports", i)
		po := d.object(e, p)
		if po == nil {
			continue
		}
		var ep ExposedPort
		ep.Name = ACName(d.str(po.get("name"), join(p, "name")))
		if hv := po.get("hostPort"); hv != nil {
			if n, ok := d.integer(hv, join(p, "hostPort"), 1, 65535); ok {
				ep.HostPort = uint(n)
			}
		} else {
			d.errorf(join(p, "hostPort"), "required")
		}
		if hv := po.get("hostIP"); hv != nil {
			s := d.str(hv, join(p, "hostIP"))
			if hv.kind == jstring {
				a, err := netip.ParseAddr(s)
				if err != nil || !a.Is4() {
					d.errorf(join(p, "hostIP"), "%s is not an IPv4 address in dotted-quad form", hv.quote())
				} else {
					ep.HostIP = a
				}
			}
		}
		if pv := po.get("podPort"); pv != nil {
			if port, ok := d.port(pv, join(p, "podPort")); ok {
				ep.PodPort = &port
			}
		}
		po.done("name", "hostPort", "hostIP", "podPort")
		pm.Ports = append(pm.Ports, ep)
	}
	pm.UserAnnotations = d.stringMap(o.get("userAnnotations"), "userAnnotations")
	pm.UserLabels = d.stringMap(o.get("userLabels"), "userLabels")
	o.done("acVersion", "acKind", "apps", "volumes", "isolators", "annotations", "ports", "userAnnotations", "userLabels")
	return pm
}

func (d *decoder) runtimeApp(v *jval, p string) (RuntimeApp, bool) {
	o := d.object(v, p)
	if o == nil {
		return RuntimeApp{}, false
	}
	var ra RuntimeApp
	ra.Name = ACName(d.str(o.get("name"), join(p, "name")))
	ip := join(p, "image")
	if iv := o.get("image"); iv == nil {
		d.errorf(ip, "required")
	} else if io := d.object(iv, ip); io != nil {
		ra.Image.Name = ACIdentifier(d.str(io.get("name"), join(ip, "name")))
		ra.Image.ID = d.imageID(io.get("id"), join(ip, "id"))
		ra.Image.Labels = d.labels(io.get("labels"), join(ip, "labels"))
		io.done("name", "id", "labels")
	}
	if av := o.get("app"); av != nil {
		ra.App = d.app(av, join(p, "app"))
	}
	ra.ReadOnlyRootFS = d.boolean(o.get("readOnlyRootFS"), join(p, "readOnlyRootFS"))
	mp := join(p, "mounts")
	for i, e := range d.array(o.get("mounts"), mp) {
		q := index(mp, i)
		mo := d.object(e, q)
		if mo == nil {
			continue
		}
		var m Mount
		m.Volume = ACName(d.str(mo.get("volume"), join(q, "volume")))
		m.Path = d.str(mo.get("path"), join(q, "path"))
		if av := mo.get("appVolume"); av != nil {
			if vol, ok := d.volume(av, join(q, "appVolume")); ok {
				m.AppVolume = &vol
			}
		}
		mo.done("volume", "path", "appVolume")
		ra.Mounts = append(ra.Mounts, m)
	}
	ra.Annotations = d.annotations(o.get("annotations"), join(p, "annotations"))
	o.done("name", "image", "app", "readOnlyRootFS", "mounts", "annotations")
	return ra, true
}

func (d *decoder) volume(v *jval, p string) (Volume, bool) {
	o := d.object(v, p)
	if o == nil {
		return Volume{}, false
	}
	var vol Volume
	vol.Name = ACName(d.str(o.get("name"), join(p, "name")))
	vol.Kind = VolumeKind(d.str(o.get("kind"), join(p, "kind")))
	vol.ReadOnly = d.boolean(o.get("readOnly"), join(p, "readOnly"))
	src := o.get("source")
	rec := o.get("recursive")
	mode := o.get("mode")
	uid := o.get("uid")
	gid := o.get("gid")
	o.done("name", "kind", "readOnly", "source", "recursive", "mode", "uid", "gid")
	forbid := func(val *jval, key, kind string) {
		if val != nil {
			d.errorf(join(p, key), "not allowed for a%s %s volume", map[bool]string{true: "n", false: ""}[kind == "empty"], kind)
		}
	}
	switch vol.Kind {
	case VolumeHost:
		vol.Source = d.str(src, join(p, "source"))
		vol.Recursive = true
		if rec != nil {
			vol.Recursive = d.boolean(rec, join(p, "recursive"))
		}
		forbid(mode, "mode", "host")
		forbid(uid, "uid", "host")
		forbid(gid, "gid", "host")
	case VolumeEmpty:
		forbid(src, "source", "empty")
		forbid(rec, "recursive", "empty")
		vol.Mode = DefaultEmptyVolumeMode
		if mode != nil {
			vol.Mode = d.str(mode, join(p, "mode"))
		}
		if uid != nil {
			if n, ok := d.integer(uid, join(p, "uid"), 0, maxVolumeID); ok {
				vol.UID = int(n)
			}
		}
		if gid != nil {
			if n, ok := d.integer(gid, join(p, "gid"), 0, maxVolumeID); ok {
				vol.GID = int(n)
			}
		}
	}
	return vol, true
}
