package netns

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"unsafe"

	"github.com/acirun/acirun/internal/mountinfo"
	"golang.org/x/sys/unix"
)

// The programs and maps of the socket path (sockprog.go) are pinned in
// bpffs, so that they outlive the supervisor that made them and are shared
// by every pod of the mount namespace's bpffs: the first pod to publish a
// port loads and attaches them, the others find them there, and the pod
// whose end leaves the map without an entry unpins them all, which
// detaches the programs. Every change is made holding the firewall's lock,
// as the table's are. The names carry the maps' layout version: an
// acirun with another layout pins its own beside them, and each removes
// its own once its last entry is gone. A change of the programs alone
// needs no new version: the pod that finds the links pinned puts its own
// programs in their place if they differ (updatePinned).
const (
	bpfMount       = "/sys/fs/bpf"
	sockPinDir     = "acirun"
	sockPinVersion = "-v1"
	sockPortsPin   = "ports" + sockPinVersion
	sockRevPin     = "reverse" + sockPinVersion
	// sockMaxPorts bounds the published ports of all pods together (its
	// entries are allocated as they are added); the reverse map is an
	// LRU of the sockets that dialled one, whose oldest entries give
	// way (a socket that long-lived reports the pod's address as its
	// peer from then on, still connected). An LRU map is allocated whole
	// when it is made: the first pod that publishes pays ~0.7 ms for
	// these 8192 entries.
	sockMaxPorts   = 4096
	sockMaxSockets = 8192
)

// sockHook is one of the programs: where it is attached and which it is.
type sockHook struct {
	name    string
	attach  uint32
	v4      bool
	forward bool
}

// sockHooks are the eight programs: connect and sendmsg translate, the
// others report what was dialled.
func sockHooks() []sockHook {
	return []sockHook{
		{"connect4", unix.BPF_CGROUP_INET4_CONNECT, true, true},
		{"connect6", unix.BPF_CGROUP_INET6_CONNECT, false, true},
		{"sendmsg4", unix.BPF_CGROUP_UDP4_SENDMSG, true, true},
		{"sendmsg6", unix.BPF_CGROUP_UDP6_SENDMSG, false, true},
		{"getpeername4", unix.BPF_CGROUP_INET4_GETPEERNAME, true, false},
		{"getpeername6", unix.BPF_CGROUP_INET6_GETPEERNAME, false, false},
		{"recvmsg4", unix.BPF_CGROUP_UDP4_RECVMSG, true, false},
		{"recvmsg6", unix.BPF_CGROUP_UDP6_RECVMSG, false, false},
	}
}

// sockDir is the directory of the pins.
func sockDir() string { return filepath.Join(bpfMount, sockPinDir) }

// publishSockets puts the pod's published ports into the socket path's
// map, loading and attaching the programs first if no pod has, and says
// how the host's own connections to them are translated, for the debug
// output: where that cannot be done (no bpffs and no right to mount it,
// no cgroup2, a kernel without cgroup BPF or without these hooks), the
// nftables rules already installed do it, and the pod is none the worse.
// The caller holds the firewall's lock.
func (f Firewall) publishSockets(uuid string, ports []PortMap) string {
	if err := f.addSockets(uuid, ports); err != nil {
		return fmt.Sprintf("the host's own connections to the published ports are translated by nftables (no socket path: %v)", err)
	}
	return "the host's own connections to the published ports on loopback and on given addresses are translated at connect() (cgroup BPF, " + sockDir() + ")"
}

func (f Firewall) addSockets(uuid string, ports []PortMap) (err error) {
	id, err := podUUID(uuid)
	if err != nil {
		return err
	}
	cookie, err := netnsCookie()
	if err != nil {
		return err
	}
	nsInode, err := netnsInode("thread-self")
	if err != nil {
		return err
	}
	m, err := openSocketPath(true)
	if err != nil {
		return err
	}
	defer m.close()
	defer func() {
		if err != nil {
			err = errors.Join(err, m.removeEntries(cookie, func([16]byte) bool { return true }, id))
		}
	}()
	for _, p := range ports {
		if err := bpfMapUpdate(m.ports, sockKey(cookie, p.Protocol, p.Host), sockValue(p.Pod, id, nsInode)); err != nil {
			return fmt.Errorf("socket path: publish %s: %w", p, err)
		}
	}
	return nil
}

// removeSockets takes out of the socket path's map the entries of the
// namespace's pods for which keep says no, and unpins the programs and
// maps once no entry is left. No pins is nothing to do. The caller holds
// the firewall's lock.
func removeSockets(keep func(uuid [16]byte) bool) error {
	m, err := openSocketPath(false)
	if err != nil || m == nil {
		return err
	}
	defer m.close()
	cookie, err := netnsCookie()
	if err != nil {
		return err
	}
	return m.removeEntries(cookie, keep, [16]byte{})
}

// sockMaps are the open maps of the socket path.
type sockMaps struct{ ports, rev int }

func (m *sockMaps) close() {
	unix.Close(m.ports)
	unix.Close(m.rev)
}

// removeEntries deletes the namespace's entries whose pod keep refuses,
// and those of pod also, and those of namespaces no process is in any
// more (a namespace that ended with a pod killed with SIGKILL in it: its
// rules went with it), then unpins everything if the map is empty. An
// entry removed that was still in use costs nothing but speed: its
// connections are translated by the rules again.
func (m *sockMaps) removeEntries(cookie uint64, keep func([16]byte) bool, also [16]byte) error {
	var doomed [][]byte
	key, next := []byte(nil), make([]byte, sockKeySize)
	value := make([]byte, sockValueSize)
	empty := true
	var namespaces map[uint32]bool // the inodes of the processes' network namespaces, once needed
	for {
		if err := bpfMapNextKey(m.ports, key, next); errors.Is(err, unix.ENOENT) {
			break
		} else if err != nil {
			return fmt.Errorf("socket path: list ports: %w", err)
		}
		key = append(key[:0], next...)
		if err := bpfMapLookup(m.ports, key, value); errors.Is(err, unix.ENOENT) {
			continue
		} else if err != nil {
			return fmt.Errorf("socket path: read a port: %w", err)
		}
		o, _ := sockEntry(key, value)
		if o.cookie != cookie && namespaces == nil {
			namespaces = processNamespaces()
		}
		if o.cookie == cookie && (o.uuid == also || !keep(o.uuid)) || o.cookie != cookie && !namespaces[o.nsInode] {
			doomed = append(doomed, append([]byte(nil), key...))
			continue
		}
		empty = false
	}
	for _, k := range doomed {
		if err := bpfMapDelete(m.ports, k); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("socket path: remove a port: %w", err)
		}
	}
	if empty {
		return unpinSocketPath()
	}
	return nil
}

// openSocketPath opens the pinned maps; with create, it first makes what
// is missing: bpffs at bpfMount, the maps, and each program attached to
// the root of the cgroup2 hierarchy by a pinned link, and puts this
// acirun's programs in the place of other ones a pinned link attaches
// (updatePinned). Without create, nothing pinned is (nil, nil). On error
// nothing it made is left pinned unless a pod has an entry.
func openSocketPath(create bool) (_ *sockMaps, err error) {
	dir := sockDir()
	if !create {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	} else {
		if err := mountBPF(); err != nil {
			return nil, err
		}
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("socket path: %w", err)
		}
	}
	m := &sockMaps{ports: -1, rev: -1}
	defer func() {
		if err != nil {
			m.close()
			if create {
				unpinIfEmpty()
			}
		}
	}()
	if m.ports, err = pinnedMap(sockPortsPin, create, unix.BPF_MAP_TYPE_HASH, unix.BPF_F_NO_PREALLOC, sockKeySize, sockValueSize, sockMaxPorts); err != nil || m.ports < 0 {
		return nil, err
	}
	if m.rev, err = pinnedMap(sockRevPin, create, unix.BPF_MAP_TYPE_LRU_HASH, 0, sockKeySize, revValueSize, sockMaxSockets); err != nil {
		return nil, err
	}
	if !create {
		// The reverse map may be missing (a set-up killed between the
		// two pins): the entries' removal needs the ports map alone,
		// and unpins what is left.
		return m, nil
	}
	cgroup := -1
	defer func() {
		if cgroup >= 0 {
			unix.Close(cgroup)
		}
	}()
	for _, h := range sockHooks() {
		pin := filepath.Join(dir, h.name+sockPinVersion)
		if lfd, err := bpfObjGet(pin); err == nil {
			err = updatePinned(h, m, lfd, pin)
			unix.Close(lfd)
			if err != nil {
				return nil, err
			}
			continue
		} else if !errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("socket path: open %s: %w", pin, err)
		}
		if cgroup < 0 {
			if cgroup, err = openCgroupRoot(); err != nil {
				return nil, err
			}
		}
		if err := attachPinned(h, m, cgroup, pin); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// pinnedMap opens the map pinned as name, or with create makes and pins
// it; -1 when it is not there and create is false.
func pinnedMap(name string, create bool, typ, flags, key, value, max uint32) (int, error) {
	path := filepath.Join(sockDir(), name)
	for {
		fd, err := bpfObjGet(path)
		if err == nil {
			return fd, nil
		}
		if !errors.Is(err, unix.ENOENT) {
			return -1, fmt.Errorf("socket path: open %s: %w", path, err)
		}
		if !create {
			return -1, nil
		}
		if fd, err = bpfMapCreate(typ, flags, key, value, max, name); err != nil {
			return -1, fmt.Errorf("socket path: make map %s: %w", name, err)
		}
		err = bpfObjPin(fd, path)
		if err == nil {
			return fd, nil
		}
		unix.Close(fd)
		if !errors.Is(err, unix.EEXIST) {
			return -1, fmt.Errorf("socket path: pin %s: %w", path, err)
		}
		// Another process pinned one first: use it.
	}
}

// loadHook loads h's program for the maps m.
func loadHook(h sockHook, m *sockMaps) (int, error) {
	code, err := assemble(hookProgram(h, m))
	if err != nil {
		return -1, err
	}
	pfd, err := bpfProgLoad(code, h.attach, "acirun_"+h.name)
	if err != nil {
		return -1, fmt.Errorf("socket path: load program %s: %w", h.name, err)
	}
	return pfd, nil
}

// hookProgram is h's program for the maps m.
func hookProgram(h sockHook, m *sockMaps) []insn {
	if h.forward {
		return forwardProgram(h.v4, m.ports, m.rev)
	}
	return reverseProgram(h.v4, m.rev)
}

// attachPinned loads h's program for the maps m, attaches it to cgroup
// with a link, and pins the link at pin; a link another process pinned
// there first stands, and this one goes with its descriptor.
func attachPinned(h sockHook, m *sockMaps, cgroup int, pin string) error {
	pfd, err := loadHook(h, m)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	lfd, err := bpfLinkCreate(pfd, cgroup, h.attach)
	if err != nil {
		return fmt.Errorf("socket path: attach program %s to the cgroup2 root: %w", h.name, err)
	}
	defer unix.Close(lfd)
	if err := bpfObjPin(lfd, pin); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("socket path: pin %s: %w", pin, err)
	}
	return nil
}

// updatePinned puts h's program, as this acirun has it, in the place of
// the one attached by the link pinned at pin (its descriptor lfd) if they
// differ: the pins' names carry the maps' layout version, not the
// programs', so an upgraded acirun whose programs changed (5bd8fd2
// changed one) would otherwise leave the old ones attached until the
// last publishing pod ended and the pins went. They are told apart by
// their tags, the kernel's hash of the instructions, which leaves out
// the maps' descriptors (progTags). The link is updated in place
// (BPF_LINK_UPDATE), never detached, so no connection made meanwhile
// misses the translation; BPF_F_REPLACE with the attached program makes
// the update fail rather than undo a swap made since it was read. The
// last acirun to publish wins, an older one after a newer one too: both
// work with the maps of this layout, whose change is what the -vN in the
// names is for (an acirun with another layout pins its own beside
// these). The caller holds the firewall's lock, as for every change of
// the pins.
func updatePinned(h sockHook, m *sockMaps, lfd int, pin string) error {
	var link [16]byte // struct bpf_link_info's type, id and prog_id
	if err := bpfObjGetInfo(lfd, link[:]); err != nil {
		return fmt.Errorf("socket path: read link %s: %w", pin, err)
	}
	attached, err := bpfProgGetFDByID(binary.NativeEndian.Uint32(link[8:]))
	if err != nil {
		return fmt.Errorf("socket path: open the program of %s: %w", pin, err)
	}
	defer unix.Close(attached)
	oldTag, err := progTag(attached)
	if err != nil {
		return fmt.Errorf("socket path: the program of %s: %w", pin, err)
	}
	code, err := assemble(hookProgram(h, m))
	if err != nil {
		return err
	}
	for _, t := range progTags(code) {
		if t == oldTag {
			return nil
		}
	}
	// Not ours as far as this kernel's hash can be told: ours, loaded,
	// says.
	pfd, err := loadHook(h, m)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	tag, err := progTag(pfd)
	if err != nil {
		return fmt.Errorf("socket path: program %s: %w", h.name, err)
	}
	if tag == oldTag {
		return nil
	}
	if err := bpfLinkUpdate(lfd, pfd, attached); err != nil {
		return fmt.Errorf("socket path: replace the program of %s: %w", pin, err)
	}
	return nil
}

// progTags are the tags the kernel may give the program code (assemble's):
// the first bytes of the SHA-256 (kernel 6.18, here) or, in older
// kernels, of the SHA-1 of its instructions, with the immediates of the
// loads of maps' descriptors zeroed. Computing them spares updatePinned a
// load of each program on every publish that finds the pins: the
// verifier's time made such a publish cost 1.1 ms of CPU for the eight
// programs, 0.19 ms with the tags computed. A kernel that hashes
// otherwise matches neither, and the program is loaded to learn its tag.
func progTags(code []byte) [2][unix.BPF_TAG_SIZE]byte {
	c := bytes.Clone(code)
	for i := 0; i+16 <= len(c); i += 8 {
		if c[i] == opLdImm64 {
			if c[i+1]>>4 == pseudoMap {
				clear(c[i+4 : i+8])
				clear(c[i+12 : i+16])
			}
			i += 8
		}
	}
	var tags [2][unix.BPF_TAG_SIZE]byte
	s256, s1 := sha256.Sum256(c), sha1.Sum(c)
	copy(tags[0][:], s256[:])
	copy(tags[1][:], s1[:])
	return tags
}

// progTag is the tag of the program fd: struct bpf_prog_info's, after its
// type and id.
func progTag(fd int) ([unix.BPF_TAG_SIZE]byte, error) {
	var info [8 + unix.BPF_TAG_SIZE]byte
	var tag [unix.BPF_TAG_SIZE]byte
	if err := bpfObjGetInfo(fd, info[:]); err != nil {
		return tag, err
	}
	copy(tag[:], info[8:])
	return tag, nil
}

// unpinIfEmpty unpins everything when the ports map has no entry (or is
// not there): what a failed set-up leaves.
func unpinIfEmpty() {
	fd, err := bpfObjGet(filepath.Join(sockDir(), sockPortsPin))
	if err == nil {
		empty := errors.Is(bpfMapNextKey(fd, nil, make([]byte, sockKeySize)), unix.ENOENT)
		unix.Close(fd)
		if !empty {
			return
		}
	}
	unpinSocketPath()
}

// unpinSocketPath removes the pins of this layout: the links first, which
// detaches the programs, then the maps, and the directory if nothing else
// is in it.
func unpinSocketPath() error {
	dir := sockDir()
	var errs []error
	for _, h := range sockHooks() {
		if err := os.Remove(filepath.Join(dir, h.name+sockPinVersion)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	for _, name := range []string{sockPortsPin, sockRevPin} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENOTEMPTY) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("socket path: unpin: %w", err)
	}
	return nil
}

// mountBPF mounts bpffs at bpfMount unless one is there, as systemd does
// at boot.
func mountBPF() error {
	var st unix.Statfs_t
	if err := unix.Statfs(bpfMount, &st); err != nil {
		return fmt.Errorf("socket path: %s: %w", bpfMount, err)
	}
	if uint32(st.Type) == unix.BPF_FS_MAGIC {
		return nil
	}
	if err := unix.Mount("bpf", bpfMount, "bpf", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700"); err != nil {
		return fmt.Errorf("socket path: mount bpffs at %s: %w", bpfMount, err)
	}
	return nil
}

// openCgroupRoot opens the root of the cgroup2 hierarchy as this mount
// namespace has it mounted (a cgroup namespace's root in one): programs
// attached there see every socket made below it.
func openCgroupRoot() (int, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return -1, fmt.Errorf("socket path: %w", err)
	}
	mounts, err := mountinfo.Parse(string(b))
	if err != nil {
		return -1, fmt.Errorf("socket path: %w", err)
	}
	for _, m := range mounts {
		if m.FSType == "cgroup2" && m.Root == "/" {
			fd, err := unix.Open(m.Mountpoint, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return -1, fmt.Errorf("socket path: cgroup2 root %s: %w", m.Mountpoint, err)
			}
			return fd, nil
		}
	}
	return -1, errors.New("socket path: no cgroup2 hierarchy is mounted at its root")
}

// netnsCookie is the cookie of the caller's network namespace, which the
// programs compare with that of a connecting socket's.
func netnsCookie() (uint64, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("socket path: namespace cookie: %w", err)
	}
	defer unix.Close(fd)
	c, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	if err != nil {
		return 0, fmt.Errorf("socket path: namespace cookie: %w", err)
	}
	return c, nil
}

// netnsInode is the inode of process pid's network namespace ("self",
// "thread-self", a number).
func netnsInode(pid string) (uint32, error) {
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join("/proc", pid, "ns/net"), &st); err != nil {
		return 0, fmt.Errorf("socket path: network namespace: %w", err)
	}
	return uint32(st.Ino), nil
}

// processNamespaces are the inodes of the network namespaces of the
// processes in view.
func processNamespaces() map[uint32]bool {
	ns := map[uint32]bool{}
	eachProcess(func(pid string) bool {
		if ino, err := netnsInode(pid); err == nil {
			ns[ino] = true
		}
		return true
	})
	return ns
}

// bpf calls bpf(2) with cmd and the attributes attr (union bpf_attr's
// member, laid out by the caller); keep are the buffers attr points into,
// alive until the call returns.
func bpf(cmd uintptr, attr []byte, keep ...[]byte) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, cmd, uintptr(unsafe.Pointer(&attr[0])), uintptr(len(attr)))
	runtime.KeepAlive(attr)
	runtime.KeepAlive(keep)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// ptr is a buffer's address as union bpf_attr holds it; nil is 0.
func ptr(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&b[0])))
}

func put32(b []byte, off int, v uint32) { *(*uint32)(unsafe.Pointer(&b[off])) = v }
func put64(b []byte, off int, v uint64) { *(*uint64)(unsafe.Pointer(&b[off])) = v }

// The commands of bpf(2).
const (
	bpfMapCreateCmd     = 0
	bpfMapLookupCmd     = 1
	bpfMapUpdateCmd     = 2
	bpfMapDeleteCmd     = 3
	bpfMapNextKeyCmd    = 4
	bpfProgLoadCmd      = 5
	bpfObjPinCmd        = 6
	bpfObjGetCmd        = 7
	bpfProgGetFDByIDCmd = 13
	bpfObjGetInfoCmd    = 15
	bpfLinkCreateCmd    = 28
	bpfLinkUpdateCmd    = 29
)

func bpfMapCreate(typ, flags, key, value, max uint32, name string) (int, error) {
	attr := make([]byte, 48)
	put32(attr, 0, typ)
	put32(attr, 4, key)
	put32(attr, 8, value)
	put32(attr, 12, max)
	put32(attr, 16, flags)
	copy(attr[28:28+unix.BPF_OBJ_NAME_LEN-1], mapName(name))
	return bpf(bpfMapCreateCmd, attr)
}

// mapName is name as a map's or program's name: letters, digits, _ and .
// only.
func mapName(name string) []byte {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.') {
			b[i] = '_'
		}
	}
	return b
}

func bpfElem(cmd uintptr, fd int, key, value []byte, flags uint64) error {
	attr := make([]byte, 32)
	put32(attr, 0, uint32(fd))
	put64(attr, 8, ptr(key))
	put64(attr, 16, ptr(value))
	put64(attr, 24, flags)
	_, err := bpf(cmd, attr, key, value)
	return err
}

func bpfMapLookup(fd int, key, value []byte) error {
	return bpfElem(bpfMapLookupCmd, fd, key, value, 0)
}
func bpfMapUpdate(fd int, key, value []byte) error {
	return bpfElem(bpfMapUpdateCmd, fd, key, value, 0)
}
func bpfMapDelete(fd int, key []byte) error { return bpfElem(bpfMapDeleteCmd, fd, key, nil, 0) }

// bpfMapNextKey writes into next the key after key (the first for nil);
// unix.ENOENT after the last.
func bpfMapNextKey(fd int, key, next []byte) error {
	return bpfElem(bpfMapNextKeyCmd, fd, key, next, 0)
}

// bpfProgLoad loads a cgroup sock_addr program for attach type attach; a
// program the verifier refuses is loaded again with its log, which the
// error then carries.
func bpfProgLoad(code []byte, attach uint32, name string) (int, error) {
	license := []byte("GPL\x00")
	load := func(log []byte) (int, error) {
		attr := make([]byte, 128)
		put32(attr, 0, unix.BPF_PROG_TYPE_CGROUP_SOCK_ADDR)
		put32(attr, 4, uint32(len(code)/8))
		put64(attr, 8, ptr(code))
		put64(attr, 16, ptr(license))
		if log != nil {
			put32(attr, 24, 1)
			put32(attr, 28, uint32(len(log)))
			put64(attr, 32, ptr(log))
		}
		copy(attr[48:48+unix.BPF_OBJ_NAME_LEN-1], mapName(name))
		put32(attr, 68, attach)
		return bpf(bpfProgLoadCmd, attr, code, license, log)
	}
	fd, err := load(nil)
	if err == nil || !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EINVAL) {
		return fd, err
	}
	log := make([]byte, 64<<10)
	lfd, lerr := load(log)
	if lerr == nil {
		return lfd, nil // refused once, taken with its log: a passing failure
	}
	if n := bytes.IndexByte(log, 0); n > 0 {
		return -1, fmt.Errorf("%w: %s", err, log[:n])
	}
	return -1, err
}

func bpfObjPin(fd int, path string) error {
	p := append([]byte(path), 0)
	attr := make([]byte, 16)
	put64(attr, 0, ptr(p))
	put32(attr, 8, uint32(fd))
	_, err := bpf(bpfObjPinCmd, attr, p)
	return err
}

func bpfObjGet(path string) (int, error) {
	p := append([]byte(path), 0)
	attr := make([]byte, 16)
	put64(attr, 0, ptr(p))
	return bpf(bpfObjGetCmd, attr, p)
}

func bpfLinkCreate(prog, target int, attach uint32) (int, error) {
	attr := make([]byte, 16)
	put32(attr, 0, uint32(prog))
	put32(attr, 4, uint32(target))
	put32(attr, 8, attach)
	return bpf(bpfLinkCreateCmd, attr)
}

// bpfLinkUpdate puts the program prog in the place of old, the program
// the link attaches now (BPF_F_REPLACE: the kernel refuses with EPERM if
// it is another).
func bpfLinkUpdate(link, prog, old int) error {
	attr := make([]byte, 16)
	put32(attr, 0, uint32(link))
	put32(attr, 4, uint32(prog))
	put32(attr, 8, unix.BPF_F_REPLACE)
	put32(attr, 12, uint32(old))
	_, err := bpf(bpfLinkUpdateCmd, attr)
	return err
}

// bpfObjGetInfo fills info with the start of the struct bpf_*_info of the
// object fd (a link's, a program's); the kernel writes no more than
// len(info) bytes.
func bpfObjGetInfo(fd int, info []byte) error {
	attr := make([]byte, 16)
	put32(attr, 0, uint32(fd))
	put32(attr, 4, uint32(len(info)))
	put64(attr, 8, ptr(info))
	_, err := bpf(bpfObjGetInfoCmd, attr, info)
	return err
}

// bpfProgGetFDByID opens the program whose id is id.
func bpfProgGetFDByID(id uint32) (int, error) {
	attr := make([]byte, 12)
	put32(attr, 0, id)
	return bpf(bpfProgGetFDByIDCmd, attr)
}
