package oci

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/stage0/ociref"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The annotations an image made from an OCI image carries besides its
// config's labels.
const (
	// AnnotationReference is the reference it was fetched as.
	AnnotationReference aci.ACIdentifier = "oci/reference"
	// AnnotationDigest is the digest of its image manifest.
	AnnotationDigest aci.ACIdentifier = "oci/manifest-digest"
	// AnnotationConfig is the digest of its config.
	AnnotationConfig aci.ACIdentifier = "oci/config-digest"
	// AnnotationStopSignal is the config's StopSignal, checked here so that
	// a bad one is refused at fetch: stage1 stops the app with it.
	AnnotationStopSignal aci.ACIdentifier = podcontract.StopSignalAnnotation
	// labelAnnotationPrefix names a config label whose name is one of the
	// spec's well-known annotations, whose values the spec constrains.
	labelAnnotationPrefix = "oci/label/"
)

// Meta is what the image manifest takes from outside the config: the name
// and version the image is known by and where it came from.
type Meta struct {
	Name    aci.ACIdentifier
	Version string // the tag; "" for an image known by digest only
	// Reference, Digest and ConfigDigest are recorded as annotations.
	Reference    string
	Digest       string
	ConfigDigest string
}

// Manifest maps an image config onto an image manifest (docker2aci's
// mapping, which rkt users know): Entrypoint then Cmd are the app's exec,
// Env its environment, WorkingDir its working directory, User its user and
// group, ExposedPorts its ports (named PORT-PROTO, e.g. 80-tcp, as --port
// names them), Volumes its mount points (named volume-PATH), Labels its
// annotations, and the config's os and architecture its labels. lookupGID
// gives the primary group of a user that User names without a group (from
// the image's /etc/passwd); without an answer the group is 0, as Docker
// does.
func Manifest(cfg *v1.ConfigFile, meta Meta, lookupGID func(user string) (string, bool)) (*aci.ImageManifest, error) {
	if cfg == nil {
		return nil, errors.New("image config: none")
	}
	if cfg.OS != "" && cfg.OS != "linux" {
		return nil, fmt.Errorf("image config: the image is for %s, not linux", cfg.OS)
	}
	ver, err := aci.ParseSemVer(aci.SpecVersion)
	if err != nil {
		return nil, err
	}
	m := &aci.ImageManifest{ACKind: aci.ACKindImageManifest, ACVersion: ver, Name: meta.Name}
	if meta.Version != "" {
		m.Labels = append(m.Labels, aci.Label{Name: "version", Value: meta.Version})
	}
	if cfg.Architecture != "" {
		osName, arch, err := aci.GoOSArch("linux", cfg.Architecture, strings.TrimPrefix(cfg.Variant, "v"))
		if err != nil {
			return nil, fmt.Errorf("image config: architecture %q: %w", cfg.Architecture, err)
		}
		m.Labels = append(m.Labels, aci.Label{Name: "os", Value: osName}, aci.Label{Name: "arch", Value: arch})
	}
	c := cfg.Config
	app := &aci.App{}
	if app.Exec, err = execOf(c.Entrypoint, c.Cmd, c.WorkingDir); err != nil {
		return nil, err
	}
	if app.User, app.Group, err = userOf(c.User, lookupGID); err != nil {
		return nil, err
	}
	if c.WorkingDir != "" {
		app.WorkingDirectory = path.Clean("/" + c.WorkingDir)
	}
	if app.Environment, err = envOf(c.Env); err != nil {
		return nil, err
	}
	if app.Ports, err = portsOf(c.ExposedPorts); err != nil {
		return nil, err
	}
	if app.MountPoints, err = volumesOf(c.Volumes); err != nil {
		return nil, err
	}
	if c.StopSignal != "" {
		if _, err := podcontract.ParseStopSignal(c.StopSignal); err != nil {
			return nil, fmt.Errorf("image config: StopSignal: %w", err)
		}
	}
	m.App = app
	m.Annotations = labelAnnotations(c.Labels)
	for _, a := range []struct {
		name  aci.ACIdentifier
		value string
	}{
		{AnnotationReference, meta.Reference},
		{AnnotationDigest, meta.Digest},
		{AnnotationConfig, meta.ConfigDigest},
		{AnnotationStopSignal, c.StopSignal},
		{ociref.AnnotationCmdArgs, cmdArgs(c.Cmd)},
	} {
		if a.value != "" {
			m.Annotations.Set(a.name, a.value)
		}
	}
	if !cfg.Created.IsZero() {
		m.Annotations.Set(aci.AnnotationCreated, cfg.Created.UTC().Format(time.RFC3339Nano))
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("image manifest made from the config: %w", err)
	}
	return m, nil
}

func cmdArgs(cmd []string) string {
	if len(cmd) == 0 {
		return ""
	}
	return strconv.Itoa(len(cmd))
}

// execOf is Entrypoint then Cmd. A relative program with a '/' (./run) is
// taken from the working directory, as the runtime would; a bare name is
// looked up in PATH by the app's launch.
func execOf(entrypoint, cmd []string, workdir string) ([]string, error) {
	exec := append(append([]string(nil), entrypoint...), cmd...)
	if len(exec) == 0 {
		return nil, nil
	}
	if exec[0] == "" {
		return nil, errors.New("image config: the command (Entrypoint, Cmd) starts with an empty program name")
	}
	for _, a := range exec {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, errors.New("image config: the command (Entrypoint, Cmd) holds a NUL byte")
		}
	}
	if p := exec[0]; !strings.HasPrefix(p, "/") && strings.Contains(p, "/") {
		exec[0] = path.Join("/", workdir, p)
	}
	return exec, nil
}

// userOf maps the config's User ("", name, uid, name:group, uid:gid) to
// the app's user and group.
func userOf(user string, lookupGID func(string) (string, bool)) (string, string, error) {
	if strings.ContainsAny(user, "\x00\n") {
		return "", "", fmt.Errorf("image config: user %q is not a user name or ID", user)
	}
	if user == "" {
		return "0", "0", nil
	}
	u, g, ok := strings.Cut(user, ":")
	if u == "" || ok && g == "" {
		return "", "", fmt.Errorf("image config: user %q: want NAME, UID, NAME:GROUP or UID:GID", user)
	}
	if ok {
		return u, g, nil
	}
	if lookupGID != nil {
		if gid, found := lookupGID(u); found {
			return u, gid, nil
		}
	}
	return u, "0", nil
}

// envOf maps NAME=VALUE entries; a later entry of a name wins, as in a
// shell.
func envOf(env []string) (aci.Environment, error) {
	var out aci.Environment
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if !validEnvName(k) {
			return nil, fmt.Errorf("image config: environment entry %q: the name is not a valid variable name", ociref.Clip(kv))
		}
		out.Set(k, v)
	}
	return out, nil
}

func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '-')) {
			return false
		}
	}
	return true
}

// portsOf maps "PORT[/PROTO]" and "FIRST-LAST[/PROTO]" keys (tcp when no
// protocol is given) to ports named PORT-PROTO, sorted.
func portsOf(exposed map[string]struct{}) ([]aci.Port, error) {
	keys := make([]string, 0, len(exposed))
	for k := range exposed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []aci.Port
	seen := map[aci.ACName]bool{}
	for _, k := range keys {
		p, err := ParsePort(k)
		if err != nil {
			return nil, err
		}
		if seen[p.Name] {
			continue // "80" and "80/tcp"
		}
		seen[p.Name] = true
		out = append(out, p)
	}
	return out, nil
}

// ParsePort parses one ExposedPorts key.
func ParsePort(k string) (aci.Port, error) {
	spec, proto, ok := strings.Cut(k, "/")
	if !ok {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return aci.Port{}, fmt.Errorf("image config: exposed port %q: protocol %q is not tcp, udp or sctp", ociref.Clip(k), ociref.Clip(proto))
	}
	lo, hi, isRange := strings.Cut(spec, "-")
	first, err := portNumber(lo)
	if err != nil {
		return aci.Port{}, fmt.Errorf("image config: exposed port %q: %w", ociref.Clip(k), err)
	}
	last := first
	if isRange {
		if last, err = portNumber(hi); err != nil {
			return aci.Port{}, fmt.Errorf("image config: exposed port %q: %w", ociref.Clip(k), err)
		}
		if last < first {
			return aci.Port{}, fmt.Errorf("image config: exposed port %q: the range ends before it starts", ociref.Clip(k))
		}
	}
	return aci.Port{Name: aci.ACName(fmt.Sprintf("%d-%s", first, proto)), Protocol: proto, Port: first, Count: last - first + 1}, nil
}

func portNumber(s string) (uint, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 || len(s) > 5 {
		return 0, fmt.Errorf("%q is not a port number (1-65535)", ociref.Clip(s))
	}
	return uint(n), nil
}

// volumesOf maps volume paths to mount points named volume-PATH (the path
// sanitized to an AC name), sorted by path.
func volumesOf(vols map[string]struct{}) ([]aci.MountPoint, error) {
	paths := make([]string, 0, len(vols))
	for p := range vols {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var out []aci.MountPoint
	seen := map[aci.ACName]bool{}
	seenPath := map[string]bool{}
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") || strings.IndexByte(p, 0) >= 0 {
			return nil, fmt.Errorf("image config: volume %q is not an absolute path", ociref.Clip(p))
		}
		clean := path.Clean(p)
		if clean == "/" {
			return nil, errors.New("image config: a volume at / would hide the whole image")
		}
		if seenPath[clean] {
			continue
		}
		seenPath[clean] = true
		base, err := aci.SanitizeACName("volume-" + clean)
		if err != nil {
			return nil, fmt.Errorf("image config: volume %q: %w", ociref.Clip(p), err)
		}
		name := base
		for i := 2; seen[name]; i++ {
			name = aci.ACName(fmt.Sprintf("%s-%d", base, i))
		}
		seen[name] = true
		out = append(out, aci.MountPoint{Name: name, Path: clean})
	}
	return out, nil
}

// labelAnnotations maps the config's labels to annotations, sorted by
// label: a label name becomes an AC identifier (lower case, other
// characters as '-'); a label named like one of the spec's well-known
// annotations, whose values the spec constrains, is kept under
// oci/label/NAME. A label whose name has nothing left, or that two labels
// map to, keeps its first value.
func labelAnnotations(labels map[string]string) aci.Annotations {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out aci.Annotations
	for _, k := range keys {
		name := SanitizeIdentifier(k)
		if name == "" {
			continue
		}
		switch name {
		case aci.AnnotationAuthors, aci.AnnotationCreated, aci.AnnotationDocumentation, aci.AnnotationHomepage, aci.AnnotationSupportsSystemdNotify,
			AnnotationReference, AnnotationDigest, AnnotationConfig, AnnotationStopSignal, ociref.AnnotationCmdArgs:
			name = labelAnnotationPrefix + name
		}
		if _, dup := out.Get(name); dup {
			continue
		}
		out = append(out, aci.Annotation{Name: name, Value: labels[k]})
	}
	return out
}

// SanitizeIdentifier makes an AC identifier of s: lower case, characters
// other than letters, digits and the separators -._~/ become '-', runs of
// separators one (the first), and separators at either end go. It returns
// "" when nothing is left.
func SanitizeIdentifier(s string) aci.ACIdentifier {
	var b strings.Builder
	sep := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			if sep != 0 && b.Len() > 0 {
				b.WriteByte(sep)
			}
			sep = 0
			b.WriteByte(c)
			continue
		}
		if sep == 0 {
			sep = '-'
			if strings.IndexByte("-._~/", c) >= 0 {
				sep = c
			}
		}
	}
	return aci.ACIdentifier(b.String())
}
