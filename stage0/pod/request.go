package pod

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/podcontract"
)

// RunRequest is what Prepare makes a pod of: the pod's options and, in
// order, the images with each app's options. The CLI parses it from the
// command line of `acirun run` and `acirun prepare` (whose flags the field
// comments name); another front end fills it in directly. Validate checks
// what no single field can.
type RunRequest struct {
	// Apps are the images named on the command line, in order.
	Apps []AppRequest
	// Volumes are the --volume flags.
	Volumes []VolumeFlag
	// Mounts are --mount flags given before the first image; as in rkt
	// they apply to every app (an app's own --mount of the same target wins).
	Mounts []MountFlag

	Hostname        string            // --hostname; empty means "acirun-" + the UUID's first 8 characters
	DNS             []string          // --dns: IP addresses, or exactly one of "host" or "none"
	DNSSearch       []string          // --dns-search
	DNSOptions      []string          // --dns-opt, in podcontract.ParseDNSOption's canonical form
	DNSDomain       string            // --dns-domain
	HostsEntries    []HostsEntry      // --hosts-entry IP=NAME
	HostsFromHost   bool              // --hosts-entry host: start from the host's /etc/hosts
	SetEnv          []EnvVar          // --set-env K=V, pod-wide
	SetEnvFiles     []string          // --set-env-file F, read at prepare time
	InheritEnv      bool              // --inherit-env
	UUIDFileSave    string            // --uuid-file-save F
	InsecureOptions []string          // --insecure-options, validated names
	PullPolicy      string            // --pull-policy: "", "new", "update" or "never"
	StallTimeout    time.Duration     // --stall-timeout: 0 means store.d's stallTimeout (else fetch's default), negative never
	Net             string            // --net: "", "default", "default-restricted", "host" or "none"; "" leaves the choice to stage1 (default)
	Ports           []aci.ExposedPort // --port NAME:[IP:]HOSTPORT, in the pod manifest's ports
	PodManifest     string            // --pod-manifest FILE, used instead of images
	StopTimeout     time.Duration
	NoOverlay       bool   // --no-overlay
	PrivateUsers    string // --private-users: "", userns.Auto or UID:COUNT
	// Interactive (--interactive) gives the pod's one app the terminal (or
	// the standard input) it is run from.
	Interactive bool
	// UserAnnotations and UserLabels are --user-annotation and --user-label
	// given before the first image: as --mount there, they apply to every
	// app (an app's own of the same name wins). Names are AC Identifiers.
	UserAnnotations map[string]string
	UserLabels      map[string]string
}

// AppRequest is one image on the command line and the app flags following it.
type AppRequest struct {
	// Image is the image reference exactly as given (name, path, URL or ID);
	// resolving it is the ImageResolver's job.
	Image string
	Name  string // --name; empty means the basename of the image name
	Exec  string // --exec; replaces the image's exec (absolute path or bare name)
	// Args are the arguments given between "--" and "---". As in rkt they
	// are appended to the exec (the image's, or --exec). Nil means none given.
	Args              []string
	User              string
	Group             string
	SupplementaryGIDs []int
	WorkingDir        string
	Environment       []EnvVar // --environment K=V, this app only
	Mounts            []MountFlag
	Memory            string              // --memory, a resource quantity such as 64M
	CPU               string              // --cpu, a resource quantity such as 500m
	CPUShares         *aci.LinuxCPUShares // --cpu-shares, the os/linux/cpu-shares isolator
	CapsRetain        []string
	CapsRemove        []string
	Seccomp           *SeccompFlag
	ReadOnlyRootFS    bool
	OOMScoreAdj       *int
	// UserAnnotations and UserLabels (--user-annotation, --user-label
	// NAME=VALUE) go where appc and rkt put them: the userAnnotations and
	// userLabels of the app in the pod manifest, over the image app's own.
	// appc lets their keys be any string; acirun's are AC Identifiers,
	// because the user annotations are also the app's annotations in the
	// pod manifest, which the metadata service serves over the image's
	// (see userAnnotations in reify.go).
	UserAnnotations map[string]string
	UserLabels      map[string]string
}

// VolumeFlag is one --volume, in appc's volume syntax.
type VolumeFlag struct {
	Name      string
	Kind      string // "host" or "empty"
	Source    string // host only: absolute, cleaned
	ReadOnly  bool
	Recursive *bool // host only; nil means the default (true)
	// IDMap (host only): bound through an ID-mapped mount of the pod's
	// map (--private-users only), podcontract.IDMapVolumeAnnotationPrefix.
	IDMap    bool
	Mode     string // empty only; "" means the default "0755"
	UID, GID *int   // empty only; nil means 0
}

// MountFlag is one --mount volume=NAME,target=PATH.
type MountFlag struct {
	Volume string
	Target string
}

// HostsEntry is one --hosts-entry IP=NAME.
type HostsEntry struct {
	IP   string
	Name string
}

// EnvVar is one NAME=VALUE environment assignment.
type EnvVar struct {
	Name  string
	Value string
}

// SeccompFlag is one --seccomp mode=retain|remove[,errno=E],SYSCALL,...
type SeccompFlag struct {
	Mode  string // "retain" or "remove"
	Errno string // "" means the blocked call gets SIGSYS
	Set   []string
}

// Validate checks what no single field can: references between them
// (mounts of volumes, unique names) and options that exclude each other.
// The errors name the options as the command line gives them. Prepare
// calls it; the CLI calls it too, to tell a usage error.
func (r *RunRequest) Validate() error {
	if r.PodManifest != "" {
		var conflict []string
		if len(r.Apps) > 0 {
			conflict = append(conflict, "images")
		}
		if len(r.Volumes) > 0 {
			conflict = append(conflict, "--volume")
		}
		if len(r.Mounts) > 0 {
			conflict = append(conflict, "--mount")
		}
		if len(r.SetEnv) > 0 {
			conflict = append(conflict, "--set-env")
		}
		if len(r.SetEnvFiles) > 0 {
			conflict = append(conflict, "--set-env-file")
		}
		if r.InheritEnv {
			conflict = append(conflict, "--inherit-env")
		}
		if len(r.Ports) > 0 {
			conflict = append(conflict, "--port")
		}
		if len(r.UserAnnotations) > 0 {
			conflict = append(conflict, "--user-annotation")
		}
		if len(r.UserLabels) > 0 {
			conflict = append(conflict, "--user-label")
		}
		if len(conflict) > 0 {
			return fmt.Errorf("--pod-manifest %s: the pod manifest defines the apps and volumes; remove %s", r.PodManifest, strings.Join(conflict, ", "))
		}
	} else if len(r.Apps) == 0 {
		return errors.New("no image given (and no --pod-manifest)")
	}
	if r.Interactive && r.PodManifest == "" {
		if err := podcontract.CheckInteractive(len(r.Apps)); err != nil {
			return err
		}
	}
	if len(r.Ports) > 0 && (r.Net == "host" || r.Net == "none") {
		return fmt.Errorf("--port needs the default network, not --net=%s", r.Net)
	}

	vols := map[string]bool{}
	for _, v := range r.Volumes {
		if vols[v.Name] {
			return fmt.Errorf("--volume %s: volume name given twice", v.Name)
		}
		vols[v.Name] = true
	}
	checkMounts := func(ms []MountFlag, where string) error {
		targets := map[string]bool{}
		for _, m := range ms {
			if !vols[m.Volume] {
				return fmt.Errorf("--mount volume=%s,target=%s%s: no --volume named %s", m.Volume, m.Target, where, m.Volume)
			}
			if targets[m.Target] {
				return fmt.Errorf("--mount volume=%s,target=%s%s: target mounted twice", m.Volume, m.Target, where)
			}
			targets[m.Target] = true
		}
		return nil
	}
	if err := checkMounts(r.Mounts, ""); err != nil {
		return err
	}
	if err := checkUserAnnotations(r.UserAnnotations, ""); err != nil {
		return err
	}
	names := map[string]string{}
	for _, a := range r.Apps {
		if err := checkUserAnnotations(a.UserAnnotations, " (image "+a.Image+")"); err != nil {
			return err
		}
		if err := checkMounts(a.Mounts, " (image "+a.Image+")"); err != nil {
			return err
		}
		if a.Name != "" {
			if other, ok := names[a.Name]; ok {
				return fmt.Errorf("--name %s: given to both %s and %s", a.Name, other, a.Image)
			}
			names[a.Name] = a.Image
		}
	}
	return podcontract.CheckResolv(r.DNS, r.DNSSearch, r.DNSOptions, r.DNSDomain)
}

// checkUserAnnotations refuses --user-annotation names that acirun keeps
// for stage0's word to stage1 (podcontract.ReservedAnnotation): given by
// hand they would speak for stage0, e.g. grant an image's capabilities as if
// the operator had named them.
func checkUserAnnotations(m map[string]string, where string) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if podcontract.ReservedAnnotation(k) {
			return fmt.Errorf("--user-annotation %s%s: names under %s are acirun's own (for capabilities, give --caps-retain or --caps-remove)", k, where, podcontract.ReservedAnnotationPrefix)
		}
	}
	return nil
}

// ParseEnvAssignment parses an environment assignment NAME=VALUE, as
// --set-env, --environment and the lines of a --set-env-file give it.
func ParseEnvAssignment(s string) (EnvVar, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return EnvVar{}, errors.New("not NAME=VALUE")
	}
	if !aci.ValidEnvironmentName(k) {
		return EnvVar{}, fmt.Errorf("invalid variable name %q (letters, digits, _ . -, not starting with a digit)", k)
	}
	if strings.ContainsRune(v, 0) {
		return EnvVar{}, errors.New("value contains a NUL byte")
	}
	return EnvVar{Name: k, Value: v}, nil
}

// Volume is the pod manifest's volume v describes, with the defaults
// filled in (a host volume is recursive, an empty one has mode 0755).
func (f VolumeFlag) Volume() aci.Volume {
	v := aci.Volume{Name: aci.ACName(f.Name), Kind: aci.VolumeKind(f.Kind), ReadOnly: f.ReadOnly}
	switch v.Kind {
	case aci.VolumeHost:
		v.Source = f.Source
		v.Recursive = f.Recursive == nil || *f.Recursive
	case aci.VolumeEmpty:
		v.Mode = f.Mode
		if v.Mode == "" {
			v.Mode = aci.DefaultEmptyVolumeMode
		}
		if f.UID != nil {
			v.UID = *f.UID
		}
		if f.GID != nil {
			v.GID = *f.GID
		}
	}
	return v
}
