package ociref

import (
	"strconv"

	"github.com/acirun/acirun/aci"
)

// AnnotationCmdArgs, on an image made from an OCI image, is how many of
// the app's exec arguments, at its end, are the config's Cmd (see CmdArgs).
const AnnotationCmdArgs aci.ACIdentifier = "oci/cmd-args"

// CmdArgs says how many elements at the end of m's exec came from an OCI
// image's Cmd, which the arguments a user gives after "--" replace (as
// docker run's do), where an ACI's exec is kept and they are appended
// (as rkt does): 0 for an ACI, never more than the exec has.
func CmdArgs(m *aci.ImageManifest) int {
	if m == nil || m.App == nil {
		return 0
	}
	v, ok := m.Annotations.Get(AnnotationCmdArgs)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return min(n, len(m.App.Exec))
}
