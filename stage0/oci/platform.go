package oci

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// HostPlatform is the platform of the running binary, as OCI indexes name
// it: linux, Go's architecture, and for arm the variant (v6, v7; v8 for
// arm64, which indexes may also leave out).
func HostPlatform() v1.Platform {
	p := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	switch runtime.GOARCH {
	case "arm64":
		p.Variant = "v8"
	case "arm":
		p.Variant = "v7"
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "GOARM" && s.Value != "" {
					p.Variant = "v" + strings.SplitN(s.Value, ",", 2)[0]
				}
			}
		}
	}
	return p
}

// choosePlatform picks the entry of an index for p: the same OS and
// architecture, and the same variant where p has one (an entry without a
// variant matches arm64's implied v8). Entries without a platform (an
// attestation, a signature) are never chosen. No match is an error that
// lists the platforms the index has.
func choosePlatform(ms []v1.Descriptor, p v1.Platform) (v1.Descriptor, error) {
	var have []string
	for _, d := range ms {
		if d.Platform == nil || d.Platform.OS == "unknown" {
			continue
		}
		have = append(have, platformString(*d.Platform))
		if d.Platform.OS != p.OS || d.Platform.Architecture != p.Architecture {
			continue
		}
		if v := d.Platform.Variant; v != "" && p.Variant != "" && v != p.Variant {
			continue
		}
		if d.Platform.Variant != "" && p.Variant == "" {
			continue
		}
		if !d.MediaType.IsImage() && d.MediaType != "" {
			continue
		}
		return d, nil
	}
	sort.Strings(have)
	return v1.Descriptor{}, fmt.Errorf("the image has no variant for this host's platform %s (it has: %s)", platformString(p), listOrNone(have))
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
