// Package ociref names OCI and Docker images without opening them: the
// references a user writes (docker://, oci:, oci-archive:,
// docker-archive:), the local configuration of registries (ConfigFile), and
// what an image made from one carries for a pod (CmdArgs). Package oci
// opens and converts the images; this one is apart from it so that what
// only finds a stored image by its reference (acirun's run of a stored
// image, image rm) links none of go-containerregistry.
package ociref

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Transport says where an image reference points.
type Transport string

// The transports, named by the prefix a reference starts with (skopeo's).
const (
	// Registry is docker://[REGISTRY/]NAME[:TAG][@sha256:DIGEST]: a
	// registry speaking the OCI distribution API.
	Registry Transport = "docker"
	// Layout is oci:DIR[:TAG]: an OCI image layout directory.
	Layout Transport = "oci"
	// Archive is oci-archive:FILE[:TAG]: an OCI image layout in a tar.
	Archive Transport = "oci-archive"
	// DockerArchive is docker-archive:FILE: what docker save and podman
	// save write.
	DockerArchive Transport = "docker-archive"
)

// prefixes maps each reference prefix to its transport.
var prefixes = [...]struct {
	prefix string
	t      Transport
}{
	{"docker://", Registry},
	{"oci-archive:", Archive},
	{"docker-archive:", DockerArchive},
	{"oci:", Layout},
}

// Source is a parsed image reference.
type Source struct {
	Transport Transport
	// Registry is host[:port] and Repository the name within it
	// (library/debian) for a registry image.
	Registry   string
	Repository string
	// Tag selects an image of a repository, a layout or an archive;
	// Digest ("sha256:HEX") pins a registry image's manifest. A registry
	// reference without either means the tag latest.
	Tag    string
	Digest string
	// Path is the layout directory or archive file.
	Path string
}

// IsSource says whether ref is written as an OCI or Docker image reference
// (it starts with one of the transports' prefixes); ParseSource says
// whether it is a good one.
func IsSource(ref string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(ref, p.prefix) {
			return true
		}
	}
	return false
}

// ParseSource parses an image reference. defaultRegistry is used for a
// registry reference whose first component is not a host (it has no '.'
// or ':' and is not localhost); without one such a reference is refused,
// so that no registry is contacted that was neither named nor configured.
func ParseSource(ref, defaultRegistry string) (Source, error) {
	for _, p := range prefixes {
		rest, ok := strings.CutPrefix(ref, p.prefix)
		if !ok {
			continue
		}
		var s Source
		var err error
		if p.t == Registry {
			s, err = parseRegistry(rest, defaultRegistry)
		} else {
			s, err = parsePath(p.t, rest)
		}
		if err != nil {
			return Source{}, fmt.Errorf("image reference %q: %w", ref, err)
		}
		return s, nil
	}
	return Source{}, fmt.Errorf("image reference %q is not an OCI reference (docker://…, oci:…, oci-archive:… or docker-archive:…)", ref)
}

// parsePath parses DIR[:TAG] or FILE[:TAG]: a tag is what follows the last
// ':' after the last '/'.
func parsePath(t Transport, rest string) (Source, error) {
	s := Source{Transport: t, Path: rest}
	slash := strings.LastIndexByte(rest, '/')
	if i := strings.LastIndexByte(rest, ':'); i > slash {
		s.Path, s.Tag = rest[:i], rest[i+1:]
		if t == DockerArchive {
			return Source{}, fmt.Errorf("docker-archive: takes a file, not a tag (%q): the archive's first image is used", s.Tag)
		}
		if err := checkTag(s.Tag); err != nil {
			return Source{}, err
		}
	}
	if s.Path == "" {
		return Source{}, errors.New("no path given")
	}
	if strings.ContainsRune(s.Path, 0) {
		return Source{}, errors.New("the path contains a NUL byte")
	}
	return s, nil
}

// parseRegistry parses [REGISTRY/]NAME[:TAG][@sha256:DIGEST].
func parseRegistry(rest, defaultRegistry string) (Source, error) {
	s := Source{Transport: Registry}
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		rest, s.Digest = rest[:i], rest[i+1:]
		if err := checkDigest(s.Digest); err != nil {
			return Source{}, err
		}
	}
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		rest, s.Tag = rest[:i], rest[i+1:]
		if err := checkTag(s.Tag); err != nil {
			return Source{}, err
		}
	}
	if rest == "" {
		return Source{}, errors.New("no image name")
	}
	first, after, hasSlash := strings.Cut(rest, "/")
	if hasSlash && namesRegistry(first) {
		s.Registry, s.Repository = first, after
	} else {
		if defaultRegistry == "" {
			return Source{}, fmt.Errorf("%q names no registry and no default registry is configured: write docker://REGISTRY/%s, or set \"defaultRegistry\" in the local configuration's %s", rest, rest, ConfigFile)
		}
		if !namesRegistry(defaultRegistry) {
			return Source{}, fmt.Errorf("default registry %q: a registry is written with a '.' or a port, or is localhost", defaultRegistry)
		}
		s.Registry, s.Repository = defaultRegistry, rest
	}
	if err := checkRegistry(s.Registry); err != nil {
		return Source{}, err
	}
	if IsDockerHub(s.Registry) && !strings.Contains(s.Repository, "/") {
		s.Repository = "library/" + s.Repository
	}
	if err := checkRepository(s.Repository); err != nil {
		return Source{}, err
	}
	if s.Tag == "" && s.Digest == "" {
		s.Tag = "latest"
	}
	return s, nil
}

// namesRegistry says whether the first component of a registry reference
// is a registry (Docker's rule): it has a '.' or a ':' or is localhost;
// otherwise it is the first component of a name in the default registry.
func namesRegistry(first string) bool {
	return strings.ContainsAny(first, ".:") || first == "localhost"
}

// IsDockerHub says whether reg is one of Docker Hub's names.
func IsDockerHub(reg string) bool {
	for _, n := range DockerHubNames() {
		if reg == n {
			return true
		}
	}
	return false
}

// DockerHubNames are the names Docker Hub's registry goes by: docker.io in
// references, index.docker.io in go-containerregistry and Docker's
// credentials, registry-1.docker.io on the wire (and in rkt's dockerAuth
// files).
func DockerHubNames() []string {
	return []string{"docker.io", "index.docker.io", "registry-1.docker.io"}
}

// checkRegistry checks host[:port]: a DNS name or IPv4 address (letters,
// digits, '.', '-'), or a bracketed IPv6 address, and a decimal port.
func checkRegistry(r string) error {
	host, port := r, ""
	if strings.HasPrefix(r, "[") {
		end := strings.IndexByte(r, ']')
		if end < 0 {
			return fmt.Errorf("registry %q: unclosed '['", r)
		}
		host, port = r[:end+1], strings.TrimPrefix(r[end+1:], ":")
		if r[end+1:] != "" && !strings.HasPrefix(r[end+1:], ":") {
			return fmt.Errorf("registry %q: junk after the address", r)
		}
		for _, c := range host[1 : len(host)-1] {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':' || c == '.') {
				return fmt.Errorf("registry %q: not an IPv6 address", r)
			}
		}
	} else if h, p, ok := strings.Cut(r, ":"); ok {
		host, port = h, p
		if port == "" {
			return fmt.Errorf("registry %q: empty port", r)
		}
	}
	if host == "" || host == "[]" {
		return fmt.Errorf("registry %q: no host", r)
	}
	if !strings.HasPrefix(host, "[") {
		for _, c := range host {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
				return fmt.Errorf("registry %q: %q is not allowed in a host name", r, c)
			}
		}
	}
	if len(port) > 5 {
		return fmt.Errorf("registry %q: port out of range", r)
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return fmt.Errorf("registry %q: the port is not a number", r)
		}
	}
	return nil
}

// checkRepository checks a repository name as the distribution spec
// defines it: path components of lower-case alphanumerics joined by '.',
// '_', '__' or runs of '-', separated by '/'.
func checkRepository(repo string) error {
	if len(repo) > 255 {
		return fmt.Errorf("repository name %q is longer than 255 bytes", repo[:64]+"…")
	}
	for _, comp := range strings.Split(repo, "/") {
		if comp == "" {
			return fmt.Errorf("repository name %q has an empty component", repo)
		}
		if !alnum(comp[0]) || !alnum(comp[len(comp)-1]) {
			return fmt.Errorf("repository name %q: a component must start and end with a lower-case letter or digit", repo)
		}
		for i := 0; i < len(comp); i++ {
			c := comp[i]
			switch {
			case alnum(c):
			case c == '-':
			case c == '.' || c == '_':
				if !alnum(comp[i-1]) || !(alnum(comp[i+1]) || c == '_' && comp[i+1] == '_' && i+2 < len(comp) && alnum(comp[i+2])) {
					return fmt.Errorf("repository name %q: separators are '.', '_', '__' or dashes between letters or digits", repo)
				}
				if c == '_' && comp[i+1] == '_' {
					i++
				}
			default:
				return fmt.Errorf("repository name %q: %q is not allowed (lower-case letters, digits, '.', '_', '-' and '/')", repo, c)
			}
		}
	}
	return nil
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// checkTag checks a tag: up to 128 of letters, digits, '_', '.', '-', not
// starting with '.' or '-'.
func checkTag(t string) error {
	if t == "" || len(t) > 128 {
		return fmt.Errorf("tag %q: want 1 to 128 characters", Clip(t))
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || i > 0 && (c == '.' || c == '-')
		if !ok {
			return fmt.Errorf("tag %q: letters, digits, '_', '.' and '-' only, not starting with '.' or '-'", Clip(t))
		}
	}
	return nil
}

// checkDigest checks a manifest digest: sha256: and 64 lower-case hex
// digits, the only algorithm acirun pins images with.
func checkDigest(d string) error {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 {
		return fmt.Errorf("digest %q: want sha256: and 64 lower-case hex digits", Clip(d))
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("digest %q: want sha256: and 64 lower-case hex digits", Clip(d))
		}
	}
	return nil
}

// Clip shortens a value that an error quotes to its first 80 bytes: an
// error message must not repeat a hostile reference or config value whole.
func Clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// String writes the reference back in its canonical form: the registry and
// repository in full (library/ added for Docker Hub), the tag and digest
// as given.
func (s Source) String() string {
	switch s.Transport {
	case Registry:
		r := "docker://" + s.Registry + "/" + s.Repository
		if s.Tag != "" {
			r += ":" + s.Tag
		}
		if s.Digest != "" {
			r += "@" + s.Digest
		}
		return r
	}
	r := string(s.Transport) + ":" + s.Path
	if s.Tag != "" {
		r += ":" + s.Tag
	}
	return r
}

// Pinned says whether the reference names its content by digest, so that
// what it names is verified content whatever the registry says.
func (s Source) Pinned() bool { return s.Digest != "" }

// Local says whether the image is read from a file or directory on this
// host, which the operator put there, rather than from a registry.
func (s Source) Local() bool { return s.Transport != Registry }

// AbsPath makes a layout or archive path absolute, so that what is
// recorded in the store names the same file from any directory.
func (s Source) AbsPath() (Source, error) {
	if s.Transport == Registry {
		return s, nil
	}
	p, err := filepath.Abs(s.Path)
	if err != nil {
		return Source{}, fmt.Errorf("%s: %w", s.Path, err)
	}
	s.Path = p
	return s, nil
}
