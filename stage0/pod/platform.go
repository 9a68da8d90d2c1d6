package pod

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/acirun/acirun/aci"
)

// Platform is the os and arch, in appc's label values (linux, amd64,
// aarch64...), that the pods of this host run on.
type Platform struct {
	OS, Arch string
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// runtimePlatform is the platform acirun was built for, in appc names;
// Config.Platform overrides it (imagename.HostLabels also knows GOARM).
func runtimePlatform() Platform {
	os, arch, err := aci.GoOSArch(runtime.GOOS, runtime.GOARCH, "")
	if err != nil {
		return Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
	}
	return Platform{OS: os, Arch: arch}
}

// runsArch says whether a host of arch host runs binaries of arch natively
// besides its own: a 64-bit x86 kernel runs i386 programs and ARMv7 runs
// ARMv6. (An aarch64 CPU need not have AArch32 at all.)
func runsArch(host, arch string) bool {
	switch host {
	case "amd64":
		return arch == "i386"
	case "armv7l":
		return arch == "armv6l"
	}
	return false
}

// checkPlatform refuses an image labelled for another os or arch than host:
// the executor must not run it (appc spec, image manifest labels). As the
// spec says, an image without an os label does not depend on one, and arch
// counts only together with os.
func checkPlatform(m *aci.ImageManifest, host Platform) error {
	os, ok := m.Labels.Get("os")
	if !ok {
		return nil
	}
	arch, hasArch := m.Labels.Get("arch")
	if os == host.OS && (!hasArch || arch == host.Arch || runsArch(host.Arch, arch)) {
		return nil
	}
	built := os
	if hasArch {
		built += "/" + arch
	}
	return fmt.Errorf("%w: it is built for %s and this host is %s; use the image's build for %s (labels os=%s, arch=%s)",
		ErrOtherPlatform, built, host, host, host.OS, host.Arch)
}

// ErrOtherPlatform is returned (wrapped) for an image labelled for an os or
// arch that this host does not run.
var ErrOtherPlatform = errors.New("image for another platform")

// The acVersions of images that prepare accepts without a word: from
// oldestACVersion to aci.SpecVersion, the spec acirun implements.
const oldestACVersion = "0.8.0"

// checkACVersion refuses an image written for a later major version of the
// appc spec (under SemVer its meaning may differ in any way), and returns a
// note for one of a later minor version of this spec (rules acirun does not
// know may apply) or older than oldestACVersion (checked and run by rules
// later than those it was written for).
func checkACVersion(m *aci.ImageManifest) (note string, err error) {
	spec, _ := aci.ParseSemVer(aci.SpecVersion)
	oldest, _ := aci.ParseSemVer(oldestACVersion)
	v := m.ACVersion
	switch {
	case v.Major > spec.Major:
		return "", fmt.Errorf("%w: acVersion %s is a later major version of the appc spec than the %s acirun implements, and may mean anything; use a build of the image for appc %d.x", ErrACVersion, v, aci.SpecVersion, spec.Major)
	case v.Compare(spec) > 0:
		return fmt.Sprintf("acVersion %s is later than the appc spec %s that acirun implements: the image is checked and run by the rules of %s", v, aci.SpecVersion, aci.SpecVersion), nil
	case v.Compare(oldest) < 0:
		return fmt.Sprintf("acVersion %s is older than appc %s: the image is checked and run by the rules of %s, which may differ from those it was written for", v, oldestACVersion, aci.SpecVersion), nil
	}
	return "", nil
}

// ErrACVersion is returned (wrapped) for an image of an appc spec version
// acirun does not run.
var ErrACVersion = errors.New("image of an unsupported appc spec version")

// checkRunnable applies checkPlatform and checkACVersion to the image of
// what, adding a note to notes.
func checkRunnable(img *Image, what string, host Platform, notes *[]string) error {
	if err := checkPlatform(img.Manifest, host); err != nil {
		return fmt.Errorf("image %s (%s): %w", what, img.Manifest.Name, err)
	}
	note, err := checkACVersion(img.Manifest)
	if err != nil {
		return fmt.Errorf("image %s (%s): %w", what, img.Manifest.Name, err)
	}
	if note != "" {
		*notes = append(*notes, fmt.Sprintf("image %s (%s): %s", what, img.Manifest.Name, note))
	}
	return nil
}
