// Package mountinfo parses the kernel's table of a mount namespace's mounts,
// /proc/PID/mountinfo (proc(5)). The host side needs it to refuse removing a
// pod that still has mounts, the pod side to find its cgroups, and the test
// box to find the host's cgroup hierarchies; one parser serves all three, so
// that the escapes in paths (a space is \040) are undone everywhere.
package mountinfo

import (
	"fmt"
	"strconv"
	"strings"
)

// Mount is one line of mountinfo: one mount, with the paths unescaped.
type Mount struct {
	ID, Parent int
	// Root is the directory of the file system that is mounted (not "/"
	// for a bind mount of a subdirectory).
	Root string
	// Mountpoint is where it is mounted, relative to the reading process's
	// root.
	Mountpoint string
	// Options are the per-mount options (rw, nosuid, relatime, ...).
	Options string
	// FSType is the file system type, with its subtype if any ("fuse.sshfs").
	FSType string
	// Source is the mount source ("/dev/vda", "tmpfs", "none").
	Source string
	// SuperOptions are the file system's own options; for a cgroup v1
	// hierarchy they name its controllers.
	SuperOptions string
}

// Parse reads the text of a mountinfo file. A line that is not in the
// kernel's format is an error naming its number: the kernel never writes
// one, so it means the text is not mountinfo.
func Parse(text string) ([]Mount, error) {
	var ms []Mount
	for n, line := range strings.Split(text, "\n") {
		if line == "" {
			continue
		}
		m, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %d %q: %w", n+1, line, err)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// parseLine parses one line:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// Fields are separated by one space, and the kernel escapes spaces within
// them, so an empty field (a mount source given as "") stays a field.
func parseLine(line string) (Mount, error) {
	var m Mount
	pre, post, ok := strings.Cut(line, " - ")
	if !ok {
		return m, fmt.Errorf("no \" - \" separator")
	}
	pf := strings.Split(pre, " ")
	if len(pf) < 6 {
		return m, fmt.Errorf("%d fields before the separator, want at least 6", len(pf))
	}
	qf := strings.Split(post, " ")
	if len(qf) != 3 {
		return m, fmt.Errorf("%d fields after the separator, want 3", len(qf))
	}
	var err error
	if m.ID, err = strconv.Atoi(pf[0]); err != nil {
		return m, fmt.Errorf("mount ID %q: not a number", pf[0])
	}
	if m.Parent, err = strconv.Atoi(pf[1]); err != nil {
		return m, fmt.Errorf("parent ID %q: not a number", pf[1])
	}
	m.Root, m.Mountpoint, m.Options = Unescape(pf[3]), Unescape(pf[4]), pf[5]
	m.FSType, m.Source, m.SuperOptions = Unescape(qf[0]), Unescape(qf[1]), qf[2]
	if !(strings.HasPrefix(m.Root, "/") || isNamespaceRoot(m.Root)) || !strings.HasPrefix(m.Mountpoint, "/") {
		return m, fmt.Errorf("root %q or mount point %q is not absolute", m.Root, m.Mountpoint)
	}
	return m, nil
}

// isNamespaceRoot reports whether root is what the kernel shows as the root
// of a bind mount of a namespace (nsfs): its kind and inode, "net:[4026532458]".
// `ip netns add` makes such mounts, and so does acirun for a pod on named
// networks (netns/cni).
func isNamespaceRoot(root string) bool {
	kind, rest, ok := strings.Cut(root, ":[")
	ino, ok2 := strings.CutSuffix(rest, "]")
	if !ok || !ok2 || kind == "" || ino == "" {
		return false
	}
	return !strings.ContainsFunc(kind, func(c rune) bool { return (c < 'a' || c > 'z') && c != '_' }) &&
		!strings.ContainsFunc(ino, func(c rune) bool { return c < '0' || c > '9' })
}

// Unescape undoes the kernel's octal escapes in a mountinfo field: \040
// (space), \011 (tab), \012 (newline) and \134 (backslash). Anything else is
// kept as it is.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
