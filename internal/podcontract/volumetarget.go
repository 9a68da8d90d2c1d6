package podcontract

import (
	"fmt"
	"path"
	"strings"
)

// VolumeTargetRefusal says why a volume may not be mounted at target, an
// absolute clean path inside the app's root with every symlink of the image
// already resolved (so that a symlink planted in the image cannot take a
// volume past these rules), or returns "". The executor owns the root
// itself, /proc and /sys (the kernel's views, masked and read-only in
// parts), and /dev with its devpts (spec E6: the executor provides /dev);
// /dev/shm, a tmpfs of the pod's own, may be replaced.
func VolumeTargetRefusal(target string) string {
	t := path.Clean("/" + target)
	below := func(dir string) bool { return t == dir || strings.HasPrefix(t, dir+"/") }
	switch {
	case t == "/":
		return "it is the app's root"
	case below("/proc"), below("/sys"):
		return "the kernel's " + strings.SplitN(t, "/", 3)[1] + " file system is provided by acirun"
	case below("/dev/shm"):
		return ""
	case below("/dev"):
		return "/dev and its devices and terminals are provided by acirun"
	}
	return ""
}

// CheckVolumeTarget refuses mounting the volume named volume at asked (the
// target the pod manifest gives) when the image's symlinks lead it to
// resolved (the same path when there are none) and VolumeTargetRefusal
// refuses that; prepare checks the image's tree, stage1 the root it
// mounts, with the message of both made here.
func CheckVolumeTarget(volume, asked, resolved string) error {
	why := VolumeTargetRefusal(resolved)
	if why == "" {
		return nil
	}
	via := ""
	if path.Clean("/"+resolved) != path.Clean("/"+asked) {
		via = fmt.Sprintf(" (the image's symlinks lead %s to %s)", asked, resolved)
	}
	return fmt.Errorf("volume %s: target %s is not allowed%s: %s; mount the volume somewhere else", volume, asked, via, why)
}
