package stage1

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/podcontract"
)

// Apps of a pod share its PID namespace (appc E1), and each is dumpable
// after its exec: /proc/PID/root of another app's process is that app's
// root, /proc/PID/cwd, environ and mem are its files and memory, for any
// app of the same user whose capabilities cover the other's (two root apps
// with the default set). A mount namespace of its own does not help, since
// /proc/PID/root crosses it. The kernel lets through those links only what
// ptrace_may_access allows, and Landlock (a Linux security module, in the
// kernel since 5.13, with no configuration of the host) refuses that access
// from inside a Landlock domain to any process that is not in the same
// domain or one nested in it, whatever the capabilities, CAP_SYS_PTRACE
// included. So each launch of an app (its main process, an event handler,
// what `stage1 enter` runs in it) restricts itself to a domain of its own
// just before its exec: sibling domains cannot reach each other, nor PID 1,
// which has none. What its own children inherit is its domain, so an app
// still reaches its own processes. (Measured on 6.18: an app holding
// CAP_SYS_PTRACE, which only the operator can grant, still reads another's
// environ and maps; root, cwd and mem stay closed.) What `stage1 enter`
// runs gets a domain of its own too: it may run code of the app's root,
// which must not reach the other apps through it.
//
// A domain must handle some access right. It handles executing files and
// reparenting them (link and rename across directories, which a domain
// denies unless it handles and allows it: the first Landlock ABI, which
// cannot, is not used), both allowed beneath the app's root, where
// everything the app can name lies. The app notices nothing of it but two
// things: a root it mounts apart in a mount namespace of its own (a
// container in the app) is not beneath that rule and executes nothing, and
// a Landlock domain that handles file accesses may not mount at all. Apps
// can mount only with --insecure-options=seccomp (the default filter denies
// mount and unshare), so that option leaves the apps in no domain, and PID
// 1 says so. No scope (signals, abstract sockets) is asked for: apps of a
// pod may signal each other and reach PID 1's notify sockets.

// landlockAbsent reports whether err from a Landlock call means the kernel
// has no Landlock fit for keepApart (built without it, not among the LSMs
// it enabled, or too old).
func landlockAbsent(err error) bool {
	return errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, errLandlockOld)
}

// apartFailure is why PID 1's apps will not be kept apart, or nil: a kernel
// without a fit Landlock, or --insecure-options=seccomp (see above).
func apartFailure(insecure podcontract.Insecure) error {
	if insecure.Has(podcontract.InsecureSeccomp) {
		return errors.New("--insecure-options=seccomp lets the apps mount, which a Landlock domain forbids")
	}
	v, err := landlockVersion()
	if err == nil && v < landlockMinABI {
		err = errLandlockOld
	}
	return err
}

// landlockMinABI is the first Landlock ABI that can allow reparenting
// (LANDLOCK_ACCESS_FS_REFER).
const landlockMinABI = 2

// errLandlockOld is keepApart's error on a kernel whose Landlock is older
// than landlockMinABI.
var errLandlockOld = errors.New("the kernel's Landlock predates ABI 2 (Linux 5.19)")

// landlockVersion returns the Landlock ABI version of the running kernel,
// or an error (landlockAbsent when there is none).
func landlockVersion() (int, error) {
	v, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 {
		return 0, fmt.Errorf("landlock_create_ruleset(VERSION): %w", e)
	}
	return int(v), nil
}

// keepApart puts the calling thread in a Landlock domain of its own (see
// above), allowing execution beneath rootFd, the app's root. It must run
// while the thread still has CAP_SYS_ADMIN (or no_new_privs), before the
// exec. A kernel without Landlock makes it return an error for which
// landlockAbsent is true; PID 1 has reported that once for the pod.
func keepApart(rootFd int) error {
	fd, err := apartRuleset(rootFd)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(fd), 0, 0); e != 0 {
		return fmt.Errorf("keep the app apart: landlock_restrict_self: %w", e)
	}
	return nil
}

// apartRuleset returns the Landlock ruleset of keepApart's domain for the
// app whose root is rootFd (close-on-exec), to be enforced with
// landlock_restrict_self by the thread that becomes the app's: keepApart,
// or the child of a launch into a user namespace (launchuserns_linux.go),
// which makes no call but raw system calls. A rule is bound to the root's
// inode, not to the descriptor or the mount namespace it was made in.
func apartRuleset(rootFd int) (int, error) {
	v, err := landlockVersion()
	if err != nil {
		return -1, err
	}
	if v < landlockMinABI {
		return -1, errLandlockOld
	}
	const access = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_REFER
	// Only handled_access_fs: the smallest ruleset every Landlock ABI reads.
	attr := unix.LandlockRulesetAttr{Handled_access_fs: access}
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr.Handled_access_fs), 0)
	if e != 0 {
		return -1, fmt.Errorf("keep the app apart: landlock_create_ruleset: %w", e)
	}
	rule := unix.LandlockPathBeneathAttr{Allowed_access: access, Parent_fd: int32(rootFd)}
	if _, _, e := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, fd, unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&rule)), 0, 0, 0); e != 0 {
		unix.Close(int(fd))
		return -1, fmt.Errorf("keep the app apart: landlock_add_rule (execute and reparent beneath the app's root): %w", e)
	}
	return int(fd), nil
}
