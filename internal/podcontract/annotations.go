package podcontract

import "strings"

// OperatorCapsAnnotation is the annotation of a pod manifest's app
// (RuntimeApp.Annotations) by which stage0 tells stage1 that the app's
// capability isolators are the operator's (--caps-retain, --caps-remove),
// not its image's, with the value OperatorCapsValue. stage1 grants such an
// app capabilities beyond the appc default without
// --insecure-options=capabilities: the operator asked for them by name.
// Capabilities beyond the default that an image asks for still need the
// option. Neither the image nor --user-annotation can set it (stage0
// refuses the name there, ReservedAnnotation); an operator's own
// --pod-manifest may, as that is the operator speaking.
const (
	OperatorCapsAnnotation = "acirun.io/operator-capabilities"
	OperatorCapsValue      = "true"
)

// IDMapVolumeAnnotationPrefix, followed by a volume's name, is the
// annotation of a pod manifest (PodManifest.Annotations) by which stage0
// tells stage1 that the operator asked for that host volume to be bound
// through an ID-mapped mount (--volume …,idmap=true, as systemd-nspawn's
// --bind=…:idmap): in a --private-users pod the pod's IDs 0 to COUNT-1 are
// the host's 0 to COUNT-1 on it. Its value is IDMapVolumeValue. The
// appc volume has no field for it.
const (
	IDMapVolumeAnnotationPrefix = "acirun.io/idmap-volume/"
	IDMapVolumeValue            = "true"
)

// ReservedAnnotationPrefix starts the annotation names acirun defines for
// its own use between stage0 and stage1.
const ReservedAnnotationPrefix = "acirun.io/"

// ReservedAnnotation reports whether name is one of acirun's own, which an
// operator's --user-annotation must not give (it would speak for stage0).
func ReservedAnnotation(name string) bool {
	return strings.HasPrefix(name, ReservedAnnotationPrefix)
}
