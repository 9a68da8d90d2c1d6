package aci

import (
	"encoding/json"
	"fmt"
	"path"
)

// ImageManifest is the /manifest file of an ACI: what the image is called,
// which labels select it, what it runs and what it is built on.
type ImageManifest struct {
	ACKind    ACKind       `json:"acKind"`
	ACVersion SemVer       `json:"acVersion"`
	Name      ACIdentifier `json:"name"`
	Labels    Labels       `json:"labels,omitempty"`
	// App is nil for images that only serve as dependencies.
	App          *App         `json:"app,omitempty"`
	Annotations  Annotations  `json:"annotations,omitempty"`
	Dependencies Dependencies `json:"dependencies,omitempty"`
	// PathWhitelist, when not empty, is the complete set of absolute paths
	// the rendered rootfs keeps; everything else is removed.
	PathWhitelist []string `json:"pathWhitelist,omitempty"`
}

// Dependency is an image whose rootfs lies under this one's. It is found by
// discovery from ImageName and Labels; if ImageID is set the fetched image
// must have it, and if Size is set it must be that many bytes.
type Dependency struct {
	ImageName ACIdentifier `json:"imageName"`
	ImageID   ImageID      `json:"imageID,omitzero"`
	Labels    Labels       `json:"labels,omitempty"`
	Size      uint64       `json:"size,omitempty"`
}

// Dependencies are applied depth-first, in list order, below the image.
type Dependencies []Dependency

// Kind returns ACKindImageManifest.
func (*ImageManifest) Kind() ACKind { return ACKindImageManifest }

// ParseImageManifest decodes and validates an image manifest. Decoding is
// strict: the input must be at most MaxManifestSize bytes of valid UTF-8
// JSON, unknown or repeated fields are errors, numbers must be integers
// where integers are due, and JSON null counts as an absent field. The
// error, if any, is an ErrorList naming every problem with its JSON path.
// The manifest is returned only when there is no error.
func ParseImageManifest(data []byte) (*ImageManifest, error) {
	root, err := parseJSON(data)
	if err != nil {
		return nil, ErrorList{{Msg: err.Error()}}
	}
	if err := wrongKind(root, ACKindImageManifest); err != nil {
		return nil, err
	}
	var d decoder
	m := d.imageManifest(root)
	if m == nil {
		return nil, d.errs.truncated()
	}
	var verrs ErrorList
	m.validate(&verrs)
	d.errs.addUncovered(verrs)
	if len(d.errs) > 0 {
		sortErrors(root, d.errs)
		return nil, d.errs.truncated()
	}
	return m, nil
}

// Validate checks every rule the spec and this package set for an image
// manifest. It returns nil or an ErrorList.
func (m *ImageManifest) Validate() error {
	var errs ErrorList
	m.validate(&errs)
	return errs.Err()
}

func (m *ImageManifest) validate(errs *ErrorList) {
	if m.ACKind != ACKindImageManifest {
		errs.add("acKind", fmt.Sprintf("%q is not %q", clip(string(m.ACKind)), ACKindImageManifest))
	}
	validateACVersion(errs, m.ACVersion)
	validateIdentifier(errs, "name", m.Name)
	m.Labels.validate(errs, "labels")
	if m.App != nil {
		m.App.validate(errs, "app")
	}
	m.Annotations.validate(errs, "annotations")
	deps := m.Dependencies
	if tooMany(errs, "dependencies", len(deps), MaxDependencies) {
		deps = nil
	}
	for i, dep := range deps {
		p := index("dependencies", i)
		validateIdentifier(errs, join(p, "imageName"), dep.ImageName)
		if !dep.ImageID.IsZero() {
			if _, err := ParsePartialImageID(dep.ImageID.String()); err != nil {
				errs.add(join(p, "imageID"), err.Error())
			}
		}
		dep.Labels.validate(errs, join(p, "labels"))
	}
	paths := seen[string]{}
	for i, w := range m.PathWhitelist {
		p := index("pathWhitelist", i)
		validateAbsPath(errs, p, w)
		if j, dup := paths.dup(path.Clean(w), i); dup {
			errs.add(p, fmt.Sprintf("%q listed twice (also %s)", clip(w), index("pathWhitelist", j)))
		}
	}
}

func validateACVersion(errs *ErrorList, v SemVer) {
	if v.IsZero() {
		errs.add("acVersion", "required (and 0.0.0 is not a version)")
	}
}

// MarshalJSON writes the manifest with acKind set to ImageManifest.
func (m ImageManifest) MarshalJSON() ([]byte, error) {
	type plain ImageManifest
	p := plain(m)
	p.ACKind = ACKindImageManifest
	return json.Marshal(p)
}

// UnmarshalJSON decodes strictly with ParseImageManifest, so that an
// ImageManifest inside another JSON document gets the same checks.
func (m *ImageManifest) UnmarshalJSON(b []byte) error {
	p, err := ParseImageManifest(b)
	if err != nil {
		return err
	}
	*m = *p
	return nil
}

func (d *decoder) acVersion(o *object) SemVer {
	v := o.get("acVersion")
	if v == nil {
		return SemVer{} // Validate reports it
	}
	s := d.str(v, "acVersion")
	if v.kind != jstring {
		return SemVer{}
	}
	sv, err := ParseSemVer(s)
	if err != nil {
		d.errorf("acVersion", "%v", err)
		return SemVer{}
	}
	if sv.IsZero() {
		d.errorf("acVersion", "0.0.0 is not a valid acVersion")
	}
	return sv
}

func (d *decoder) imageID(v *jval, p string) ImageID {
	if v == nil {
		return ImageID{}
	}
	s := d.str(v, p)
	if v.kind != jstring {
		return ImageID{}
	}
	id, err := ParsePartialImageID(s)
	if err != nil {
		d.errorf(p, "%v", err)
	}
	return id
}

func (d *decoder) imageManifest(root *jval) *ImageManifest {
	o := d.object(root, "")
	if o == nil {
		return nil
	}
	m := &ImageManifest{}
	m.ACKind = ACKind(d.str(o.get("acKind"), "acKind"))
	m.ACVersion = d.acVersion(o)
	m.Name = ACIdentifier(d.str(o.get("name"), "name"))
	m.Labels = d.labels(o.get("labels"), "labels")
	if a := o.get("app"); a != nil {
		m.App = d.app(a, "app")
	}
	m.Annotations = d.annotations(o.get("annotations"), "annotations")
	for i, e := range d.array(o.get("dependencies"), "dependencies") {
		p := index("dependencies", i)
		do := d.object(e, p)
		if do == nil {
			continue
		}
		var dep Dependency
		dep.ImageName = ACIdentifier(d.str(do.get("imageName"), join(p, "imageName")))
		dep.ImageID = d.imageID(do.get("imageID"), join(p, "imageID"))
		dep.Labels = d.labels(do.get("labels"), join(p, "labels"))
		if sv := do.get("size"); sv != nil {
			if n, ok := d.integer(sv, join(p, "size"), 0, 1<<63-1); ok {
				dep.Size = uint64(n)
			}
		}
		do.done("imageName", "imageID", "labels", "size")
		m.Dependencies = append(m.Dependencies, dep)
	}
	m.PathWhitelist = d.stringList(o.get("pathWhitelist"), "pathWhitelist")
	o.done("acKind", "acVersion", "name", "labels", "app", "annotations", "dependencies", "pathWhitelist")
	return m
}

// Manifest is either kind of manifest; see ParseManifest.
type Manifest interface {
	Kind() ACKind
	Validate() error
}

// DetectKind returns the acKind of a JSON manifest without validating the
// rest of it.
func DetectKind(data []byte) (ACKind, error) {
	root, err := parseJSON(data)
	if err != nil {
		return "", err
	}
	if root.kind != jobject {
		return "", fmt.Errorf("manifest is %s, not a JSON object", root.kind)
	}
	var kind *jval
	for _, m := range root.obj {
		if m.key == "acKind" {
			kind = m.val
		}
	}
	if kind == nil || kind.kind == jnull {
		return "", fmt.Errorf("acKind: required")
	}
	if kind.kind != jstring {
		return "", fmt.Errorf("acKind: %s is %s, want a string", kind.quote(), kind.kind)
	}
	switch k := ACKind(kind.s); k {
	case ACKindImageManifest, ACKindPodManifest:
		return k, nil
	}
	return "", fmt.Errorf("acKind: %s is not %q or %q", kind.quote(), ACKindImageManifest, ACKindPodManifest)
}

// ParseManifest decodes a manifest of either kind, choosing by acKind; the
// result is an *ImageManifest or a *PodManifest.
func ParseManifest(data []byte) (Manifest, error) {
	kind, err := DetectKind(data)
	if err != nil {
		return nil, ErrorList{{Msg: err.Error()}}
	}
	if kind == ACKindPodManifest {
		pm, err := ParsePodManifest(data)
		if err != nil {
			return nil, err
		}
		return pm, nil
	}
	im, err := ParseImageManifest(data)
	if err != nil {
		return nil, err
	}
	return im, nil
}

// wrongKind returns an error when the document is plainly the other kind of
// manifest: listing all its fields as unknown would bury the real problem.
func wrongKind(root *jval, want ACKind) error {
	if root.kind != jobject {
		return nil
	}
	for _, m := range root.obj {
		if m.key == "acKind" && m.val.kind == jstring && m.val.s != string(want) &&
			(m.val.s == string(ACKindImageManifest) || m.val.s == string(ACKindPodManifest)) {
			return ErrorList{{Path: "acKind", Msg: fmt.Sprintf("%q is not %q", m.val.s, want)}}
		}
	}
	return nil
}
