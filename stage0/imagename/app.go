// Package imagename parses and prints appc image names with an optional
// version and labels ("example.com/app:1.0,os=linux,arch=amd64"), the
// references discovery resolves and the store's images are found by. It is
// apart from discovery, which parses HTML, so that what finds stored images
// by name (acirun's run of a stored image, image rm) links no HTML parser.
package imagename

import (
	"errors"
	"fmt"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/acirun/acirun/aci"
)

// DefaultVersion is the value of {version} used when rendering a template for
// a reference that names no version. It is a rendering default only: it is
// never added to the labels an image has to match.
const DefaultVersion = "latest"

// App is a parsed image reference: an image name and the labels that were
// asked for. The version given after ':' is the label "version".
type App struct {
	// Name is the image name, an AC Identifier.
	Name string
	// Labels maps label names (AC Identifiers, never "name") to values.
	Labels map[string]string
}

// ParseApp parses an image reference of the form
//
//	NAME[:VERSION][,LABEL=VALUE]...
//
// for example "example.com/app:1.0,os=linux,arch=amd64". The name and the
// label names must be AC Identifiers; a label may be given once, "name" is not
// a label, and values may not be empty or contain white space, control
// characters or braces. The errors name the part of the reference that is
// wrong. No label is defaulted here: see WithDefaults.
func ParseApp(ref string) (App, error) {
	if ref == "" {
		return App{}, errors.New("empty image reference")
	}
	fail := func(format string, args ...any) (App, error) {
		return App{}, fmt.Errorf("image reference %q: %s", ref, fmt.Sprintf(format, args...))
	}
	app := App{Labels: map[string]string{}}
	rest := ref
	i := strings.IndexAny(rest, ":,")
	if i < 0 {
		app.Name, rest = rest, ""
	} else {
		app.Name, rest = rest[:i], rest[i:]
	}
	if err := ValidateIdentifier(app.Name); err != nil {
		return fail("name: %v", err)
	}
	if strings.HasPrefix(rest, ":") {
		rest = rest[1:]
		version := rest
		if j := strings.IndexByte(rest, ','); j >= 0 {
			version, rest = rest[:j], rest[j:]
		} else {
			rest = ""
		}
		if err := validateValue(version); err != nil {
			return fail("version %q: %v", version, err)
		}
		app.Labels["version"] = version
	}
	if rest == "" {
		return app, nil
	}
	// rest starts with ','.
	for _, part := range strings.Split(rest[1:], ",") {
		key, value, ok := strings.Cut(part, "=")
		if !ok {
			return fail("label %q has no value (want NAME=VALUE)", part)
		}
		if err := ValidateIdentifier(key); err != nil {
			return fail("label name %q: %v", key, err)
		}
		if key == "name" {
			return fail(`"name" is not allowed as a label name`)
		}
		if err := validateValue(value); err != nil {
			return fail("label %s value %q: %v", key, value, err)
		}
		if _, dup := app.Labels[key]; dup {
			return fail("label %s given more than once", key)
		}
		app.Labels[key] = value
	}
	return app, nil
}

func validateValue(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	for _, r := range v {
		switch {
		case r <= ' ' || r == 0x7f:
			return fmt.Errorf("contains white space or control character %q", r)
		case r == '{' || r == '}':
			return fmt.Errorf("contains %q", r)
		}
	}
	return nil
}

// ValidateIdentifier reports whether s is an AC Identifier (aci.ACIdentifier):
// lower-case letters and digits in runs separated by single '-', '.', '_',
// '~' or '/' characters (^[a-z0-9]+([-._~/][a-z0-9]+)*$). The error names the
// first offending character and its offset.
func ValidateIdentifier(s string) error {
	return aci.ACIdentifier(s).Validate()
}

// String formats the reference so that ParseApp gives it back: the version
// after ':' and the other labels sorted by name.
func (a App) String() string {
	var b strings.Builder
	b.WriteString(a.Name)
	if v, ok := a.Labels["version"]; ok {
		b.WriteString(":")
		b.WriteString(v)
	}
	for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
		if k == "version" {
			continue
		}
		fmt.Fprintf(&b, ",%s=%s", k, a.Labels[k])
	}
	return b.String()
}

// Clone returns a copy of a whose Labels map can be changed freely.
func (a App) Clone() App {
	c := App{Name: a.Name, Labels: make(map[string]string, len(a.Labels))}
	maps.Copy(c.Labels, a.Labels)
	return c
}

// WithDefaults returns a copy of a with every label of defaults that a does
// not set added. It is the explicit step that gives a reference the host's os
// and arch (WithDefaults(HostLabels())) before discovery; labels the user gave
// always win. It never adds a version: "latest" is only a rendering default.
func (a App) WithDefaults(defaults map[string]string) App {
	c := a.Clone()
	for k, v := range defaults {
		if _, ok := c.Labels[k]; !ok {
			c.Labels[k] = v
		}
	}
	return c
}

// HostLabels returns the os and arch labels of the machine acirun runs on,
// in appc names (see OSArch).
func HostLabels() map[string]string {
	goarm := ""
	if runtime.GOARCH == "arm" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "GOARM" {
					goarm = s.Value
				}
			}
		}
	}
	osName, arch := OSArch(runtime.GOOS, runtime.GOARCH, goarm)
	return map[string]string{"os": osName, "arch": arch}
}

// OSArch maps Go's GOOS, GOARCH and GOARM to the os and arch label values the
// appc spec uses, as aci.GoOSArch does (386 is i386, arm64 is aarch64, 32-bit
// arm is armv6l or armv7l by GOARM...). Combinations the spec does not list
// keep their Go names.
func OSArch(goos, goarch, goarm string) (osName, arch string) {
	if osName, arch, err := aci.GoOSArch(goos, goarch, goarm); err == nil {
		return osName, arch
	}
	return goos, goarch
}

// MatchManifest checks an image manifest against the reference it was
// fetched for (spec B8): the manifest name must equal a.Name, and every label
// that was asked for must have the same value in the manifest if the manifest
// has that label at all. Labels of the manifest that were not asked for do not
// matter, and a version of "latest" (the rendering default) is never
// required. The error names the name or the label that differs.
func MatchManifest(a App, name string, labels map[string]string) error {
	if name != a.Name {
		return fmt.Errorf("image manifest name %q does not match the requested name %q", name, a.Name)
	}
	for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
		want := a.Labels[k]
		if k == "version" && want == DefaultVersion {
			continue
		}
		got, ok := labels[k]
		if ok && got != want {
			return fmt.Errorf("image %s: manifest label %s=%q does not match the requested %s=%q", name, k, got, k, want)
		}
	}
	return nil
}

// ValidatePrefix reports whether prefix may name a prefix of image names,
// a trust store's prefix.d directory (package trust): it must be a
// non-empty AC Identifier (lower-case letters, digits and the separators
// - . _ ~ /, each separator between two alphanumerics). Image names obey
// the same rule.
//
// The AC Identifier grammar (aci.ACIdentifier) also rules out "..", ".",
// empty and absolute segments, so a valid prefix is always a safe relative
// path below prefix.d.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return errors.New("empty prefix")
	}
	if aci.ACIdentifier(prefix).Validate() != nil {
		return fmt.Errorf("invalid prefix %q: not an AC Identifier (want ^[a-z0-9]+([-._~/][a-z0-9]+)*$)", prefix)
	}
	return nil
}
