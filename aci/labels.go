package aci

import (
	"fmt"
	"strings"
)

// Label is a name/value pair that, together with the image name,
// selects an image: "version", "os" and "arch" are the well-known ones.
type Label struct {
	Name  ACIdentifier `json:"name"`
	Value string       `json:"value"`
}

// Labels is an ordered list of labels with unique names. "name" is not a
// valid label name (it would clash with the image name in discovery), and
// os/arch values must be a combination the spec knows (see ValidOSArch).
type Labels []Label

// Get returns the value of the label called name.
func (l Labels) Get(name ACIdentifier) (string, bool) {
	for _, lb := range l {
		if lb.Name == name {
			return lb.Value, true
		}
	}
	return "", false
}

// Map returns the labels as a map.
func (l Labels) Map() map[ACIdentifier]string {
	m := make(map[ACIdentifier]string, len(l))
	for _, lb := range l {
		m[lb.Name] = lb.Value
	}
	return m
}

// Validate checks names, uniqueness and the os/arch combination.
func (l Labels) Validate() error {
	var errs ErrorList
	l.validate(&errs, "labels")
	return errs.Err()
}

func (l Labels) validate(errs *ErrorList, path string) {
	osIdx := -1
	names := seen[ACIdentifier]{}
	for i, lb := range l {
		p := index(path, i)
		if lb.Name == "" {
			errs.add(join(p, "name"), "required")
			continue
		}
		if err := lb.Name.Validate(); err != nil {
			errs.add(join(p, "name"), err.Error())
			continue
		}
		if lb.Name == "name" {
			errs.add(join(p, "name"), `"name" is not allowed as a label name`)
		}
		if j, dup := names.dup(lb.Name, i); dup {
			errs.add(join(p, "name"), fmt.Sprintf("duplicate label %q (also %s)", lb.Name, index(path, j)))
		}
		if lb.Name == "os" {
			osIdx = i
		}
	}
	if osIdx < 0 {
		return // arch alone is not checked: without os it means nothing
	}
	osv := l[osIdx].Value
	arches := osArches(osv)
	if arches == nil {
		errs.add(join(index(path, osIdx), "value"), fmt.Sprintf("os %q is not one of %s", osv, strings.Join(knownOSes(), ", ")))
		return
	}
	for i, lb := range l {
		if lb.Name == "arch" && !contains(arches, lb.Value) {
			errs.add(join(index(path, i), "value"), fmt.Sprintf("arch %q is not valid for os %q (want one of %s)", lb.Value, osv, strings.Join(arches, ", ")))
		}
	}
}

// knownOSes lists the os label values the spec defines.
func knownOSes() []string { return []string{"linux", "freebsd", "darwin"} }

// osArches returns the arch label values valid with the os label value os,
// or nil if os is unknown. The table is the appc reference's, which is wider
// than the spec text for linux; note that "x86_64" is not a linux arch
// ("amd64" is).
func osArches(os string) []string {
	switch os {
	case "linux":
		return []string{"amd64", "i386", "aarch64", "aarch64_be", "armv6l", "armv7l", "armv7b", "ppc64", "ppc64le", "s390x"}
	case "freebsd":
		return []string{"amd64", "i386", "arm"}
	case "darwin":
		return []string{"x86_64", "i386"}
	}
	return nil
}

// ValidOSArch reports whether the os and arch label values are a known
// combination. An empty arch is valid with any known os.
func ValidOSArch(os, arch string) bool {
	a := osArches(os)
	return a != nil && (arch == "" || contains(a, arch))
}

// GoOSArch maps Go's GOOS/GOARCH (plus GOARM for arm) to appc's os and arch
// label values, e.g. linux/arm64 → linux/aarch64: 386 is i386, 32-bit arm is
// armv6l or armv7l by GOARM (armv7l when GOARM is empty; a suffix such as
// ",softfloat" does not matter), big-endian arm is armv7b, arm on freebsd is
// arm, and amd64 is x86_64 on darwin. It fails for combinations appc has no
// name for.
func GoOSArch(goos, goarch, goarm string) (os, arch string, err error) {
	os, arch = goos, goarch
	switch goarch {
	case "386":
		arch = "i386"
	case "arm64":
		arch = "aarch64"
	case "arm64be":
		arch = "aarch64_be"
	case "arm", "armbe":
		v := "7"
		if goarm != "" {
			v = goarm[:1]
		}
		suffix := "l"
		if goarch == "armbe" {
			suffix = "b"
		}
		arch = "armv" + v + suffix
		if goos == "freebsd" {
			arch = "arm"
		}
	case "amd64":
		if goos == "darwin" {
			arch = "x86_64"
		}
	}
	if arch == "" || !ValidOSArch(os, arch) {
		return "", "", fmt.Errorf("no appc os/arch for GOOS=%s GOARCH=%s", goos, goarch)
	}
	return os, arch, nil
}

func (d *decoder) labels(v *jval, path string) Labels {
	return nameValues(d, v, path, "a label", func(name ACIdentifier, value string) Label {
		return Label{Name: name, Value: value}
	})
}

// nameValues decodes the array at path of {"name", "value"} objects, an
// ACIdentifier and a required string (labels, annotations), made into Ts
// by mk; what names one element in the error for a null.
func nameValues[T any](d *decoder, v *jval, path, what string, mk func(name ACIdentifier, value string) T) []T {
	var out []T
	for i, e := range d.array(v, path) {
		p := index(path, i)
		if e.kind == jnull {
			d.errorf(p, "null is not %s", what)
			continue
		}
		o := d.object(e, p)
		if o == nil {
			continue
		}
		name := ACIdentifier(d.str(o.get("name"), join(p, "name")))
		val := o.get("value")
		if val == nil {
			d.errorf(join(p, "value"), "required")
		}
		out = append(out, mk(name, d.str(val, join(p, "value"))))
		o.done("name", "value")
	}
	return out
}
