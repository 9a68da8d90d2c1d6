package netns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/testenv"
	"golang.org/x/sys/unix"
)

// TestSocketPath: with a port in the socket path's map, a connection made
// in the publishing namespace to the host address goes to the pod's
// address (here another loopback address and port of the namespace, so
// that no rule and no link is involved: only the programs can get it
// there), and the socket reports the address it dialled as its peer; UDP
// datagrams go there and their answers come from the address sent to;
// ::1 too; a port published on every address is taken for another
// loopback address; another namespace's connection to the same address
// and port is left alone; and once the pod's entries are gone, so is the
// translation, and with the last entry the pins.
func TestSocketPath(t *testing.T) {
	ns, other := newTestNS(t), newTestNS(t)
	var podTCP, podTCP6 net.Listener
	var podUDP net.PacketConn
	ns.do(func() (err error) {
		if podTCP, err = net.Listen("tcp", "127.0.0.2:0"); err != nil {
			return err
		}
		if podTCP6, err = net.Listen("tcp", "[::1]:0"); err != nil {
			return err
		}
		podUDP, err = net.ListenPacket("udp", "127.0.0.2:0")
		return err
	})
	defer podTCP.Close()
	defer podTCP6.Close()
	defer podUDP.Close()
	pod := func(a net.Addr) netip.AddrPort {
		switch a := a.(type) {
		case *net.TCPAddr:
			return a.AddrPort()
		case *net.UDPAddr:
			return a.AddrPort()
		}
		return netip.AddrPort{}
	}
	const uuid = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
	ports := []PortMap{
		{Name: "http", Protocol: "tcp", Host: netip.MustParseAddrPort("127.0.0.1:18080"), Pod: pod(podTCP.Addr())},
		{Name: "every", Protocol: "tcp", Host: netip.MustParseAddrPort("0.0.0.0:18081"), Pod: pod(podTCP.Addr())},
		{Name: "dns", Protocol: "udp", Host: netip.MustParseAddrPort("127.0.0.1:18053"), Pod: pod(podUDP.LocalAddr())},
		{Name: "http6", Protocol: "tcp", Host: netip.MustParseAddrPort("[::1]:18080"), Pod: pod(podTCP6.Addr())},
	}
	_, pinned := os.Stat(sockDir())
	ns.do(func() error { return Firewall{}.addSockets(uuid, ports) })
	removed := false
	t.Cleanup(func() {
		if !removed {
			ns.try(func() error { return removeSockets(func([16]byte) bool { return false }) })
		}
	})

	// TCP: dialled, accepted by the pod's listener, peer as dialled.
	for _, c := range []struct{ dial, host string }{
		{"127.0.0.1:18080", "127.0.0.1:18080"},
		{"127.0.0.9:18081", "127.0.0.9:18081"},
		{"[::1]:18080", "[::1]:18080"},
	} {
		ln := podTCP
		if c.dial[0] == '[' {
			ln = podTCP6
		}
		var conn net.Conn
		ns.do(func() (err error) {
			conn, err = net.DialTimeout("tcp", c.dial, 3*time.Second)
			return err
		})
		accepted, err := accept(ln)
		if err != nil {
			t.Fatalf("%s: the pod's listener: %v", c.dial, err)
		}
		if got := conn.RemoteAddr().String(); got != c.host {
			t.Errorf("%s: the client's peer is %s, want what it dialled", c.dial, got)
		}
		if accepted.RemoteAddr().String() != conn.LocalAddr().String() {
			t.Errorf("%s: the pod accepted %s, the client is %s", c.dial, accepted.RemoteAddr(), conn.LocalAddr())
		}
		conn.Close()
		accepted.Close()
	}

	// UDP: sent to the host port, received by the pod, answered from it,
	// the answer seen as from the host port.
	var client net.PacketConn
	ns.do(func() (err error) {
		client, err = net.ListenPacket("udp", "127.0.0.1:0")
		return err
	})
	defer client.Close()
	host := net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:18053"))
	if _, err := client.WriteTo([]byte("q"), host); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	podUDP.SetDeadline(time.Now().Add(3 * time.Second))
	_, from, err := podUDP.ReadFrom(buf)
	if err != nil {
		t.Fatalf("udp: the pod received nothing: %v", err)
	}
	if _, err := podUDP.WriteTo([]byte("a"), from); err != nil {
		t.Fatal(err)
	}
	client.SetDeadline(time.Now().Add(3 * time.Second))
	if _, src, err := client.ReadFrom(buf); err != nil || src.String() != host.String() {
		t.Errorf("udp: the answer came from %v (%v), want %s", src, err, host)
	}

	// UDP from a dual-stack socket (what Go's ListenPacket("udp", ":0")
	// makes): the kernel sends a v4-mapped destination through the v4
	// sendmsg hook, and hands the answer's source to the v6 recvmsg hook
	// as ::ffff:a.b.c.d, which must find the v4 entry the send made.
	var dual net.PacketConn
	ns.do(func() (err error) {
		dual, err = net.ListenPacket("udp", ":0")
		return err
	})
	defer dual.Close()
	if _, err := dual.WriteTo([]byte("q"), host); err != nil {
		t.Fatal(err)
	}
	podUDP.SetDeadline(time.Now().Add(3 * time.Second))
	if _, from, err = podUDP.ReadFrom(buf); err != nil {
		t.Fatalf("udp from a dual-stack socket: the pod received nothing: %v", err)
	}
	if _, err := podUDP.WriteTo([]byte("a"), from); err != nil {
		t.Fatal(err)
	}
	dual.SetDeadline(time.Now().Add(3 * time.Second))
	if _, src, err := dual.ReadFrom(buf); err != nil || src.String() != host.String() {
		t.Errorf("udp from a dual-stack socket: the answer came from %v (%v), want %s", src, err, host)
	}

	// Another namespace: its own 127.0.0.1:18080.
	var own net.Listener
	other.do(func() (err error) {
		own, err = net.Listen("tcp", "127.0.0.1:18080")
		return err
	})
	defer own.Close()
	var conn net.Conn
	other.do(func() (err error) {
		conn, err = net.DialTimeout("tcp", "127.0.0.1:18080", 3*time.Second)
		return err
	})
	if a, err := accept(own); err != nil {
		t.Errorf("another namespace's connection did not reach its own listener: %v", err)
	} else {
		a.Close()
	}
	conn.Close()

	// The pod's end: no translation, and no pins when nothing else
	// published.
	ns.do(func() error {
		id, _ := podUUID(uuid)
		return removeSockets(func(u [16]byte) bool { return u != id })
	})
	removed = true
	err = ns.try(func() error {
		c, err := net.DialTimeout("tcp", "127.0.0.1:18080", 3*time.Second)
		if err == nil {
			c.Close()
			return errors.New("still reached the pod")
		}
		return nil
	})
	if err != nil {
		t.Errorf("after the pod's end, 127.0.0.1:18080: %v", err)
	}
	if _, err := os.Stat(sockDir()); pinned != nil && !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left after the last entry: %v", sockDir(), err)
	}
}

// accept takes the next connection of ln within 3 seconds.
func accept(ln net.Listener) (net.Conn, error) {
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(3 * time.Second))
	return ln.Accept()
}

// TestProgramRefusedWithLog: a program the verifier refuses is an error
// that carries the verifier's reason.
func TestProgramRefusedWithLog(t *testing.T) {
	testenv.NeedRoot(t, "bpf(2)")
	code, err := assemble([]insn{exit()}) // r0 never set
	if err != nil {
		t.Fatal(err)
	}
	fd, err := bpfProgLoad(code, unix.BPF_CGROUP_INET4_CONNECT, "acirun_test")
	if err == nil {
		unix.Close(fd)
		t.Fatal("a program returning an unset r0 was loaded")
	}
	if !strings.Contains(err.Error(), "R0") {
		t.Errorf("the error lacks the verifier's reason: %v", err)
	}
}

// TestInstallTakesStalePodsSockets: a pod that is no longer alive and
// holds a port another pod now publishes gives up its entries in the
// socket path with its rules, in that Install: the programs run before
// the rules, so its entry sent the host's connections to the port to the
// dead pod's address until the new pod's own entries replaced it, once
// its apps had started (or, if the socket path failed for it, until the
// sweep after that).
func TestInstallTakesStalePodsSockets(t *testing.T) {
	host := newTestNS(t)
	root := t.TempDir()
	fw := DefaultFirewall(root)
	_, att := podOnNetwork(t, host, Default(root), "/pods/a", "ac-a")
	const a, b = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9", "1a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
	ports := []PortMap{{Name: "http", Protocol: "tcp", Host: netip.MustParseAddrPort("127.0.0.1:18090"), Pod: netip.AddrPortFrom(att.Addr, 8080)}}
	rules := func(uuid string) PodRules {
		return PodRules{UUID: uuid, Owner: "/pods/" + uuid, HostIndex: att.HostIndex, HostIface: att.HostIface,
			Gateways: []netip.Addr{att.Gateway}, Ports: ports}
	}
	t.Cleanup(func() { host.try(func() error { return removeSockets(func([16]byte) bool { return false }) }) })
	host.do(func() error {
		if _, err := fw.Install(context.Background(), rules(a), everyoneAlive); err != nil {
			return err
		}
		if msg := fw.PublishSockets(context.Background(), a, ports); !strings.Contains(msg, "connect()") {
			return errors.New(msg)
		}
		_, err := fw.Install(context.Background(), rules(b), func(owner string) bool { return owner != "/pods/"+a })
		return err
	})
	host.do(func() error {
		m, err := openSocketPath(false)
		if err != nil || m == nil {
			return err
		}
		defer m.close()
		id, _ := podUUID(a)
		key, next, value := []byte(nil), make([]byte, sockKeySize), make([]byte, sockValueSize)
		for bpfMapNextKey(m.ports, key, next) == nil {
			key = append(key[:0], next...)
			if bpfMapLookup(m.ports, key, value) != nil {
				continue
			}
			if o, _ := sockEntry(key, value); o.uuid == id {
				return errors.New("the dead pod's entry is still in the socket path after another pod's Install took its port")
			}
		}
		return nil
	})
}

// TestRemoveSocketsPartialPins: a set-up killed between the pins of its
// two maps leaves the ports map alone; the next removal unpins it, and
// keeps no descriptor of it.
func TestRemoveSocketsPartialPins(t *testing.T) {
	testenv.NeedRoot(t, "bpf(2)")
	if _, err := os.Stat(sockDir()); err == nil {
		t.Skipf("%s is in use", sockDir())
	}
	if err := mountBPF(); err != nil {
		t.Skip(err)
	}
	if err := os.Mkdir(sockDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unpinSocketPath() })
	fd, err := pinnedMap(sockPortsPin, true, unix.BPF_MAP_TYPE_HASH, unix.BPF_F_NO_PREALLOC, sockKeySize, sockValueSize, sockMaxPorts)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	before := testenv.OpenFDs(t)
	if err := removeSockets(func([16]byte) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if after := testenv.OpenFDs(t); after != before {
		t.Errorf("%d descriptors open after the removal, %d before", after, before)
	}
	if _, err := os.Stat(sockDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left with an empty ports map and no reverse map: %v", sockDir(), err)
	}
}

// TestRemoveRulesDespiteSocketPath: a socket path that cannot be read (here
// a directory where the ports map's pin should be) fails Remove and
// RemoveStale, which say so, but the pods' rules still go: before, each
// returned at that error and left the rules in the table.
func TestRemoveRulesDespiteSocketPath(t *testing.T) {
	host := newTestNS(t)
	if _, err := os.Stat(sockDir()); err == nil {
		t.Skipf("%s is in use", sockDir())
	}
	if err := mountBPF(); err != nil {
		t.Skip(err)
	}
	bad := filepath.Join(sockDir(), sockPortsPin)
	if err := os.MkdirAll(bad, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(bad); os.Remove(sockDir()) })
	root := t.TempDir()
	fw := DefaultFirewall(root)
	_, att := podOnNetwork(t, host, Default(root), "/pods/a", "ac-a")
	install := func(uuid string) {
		host.do(func() error {
			_, err := fw.Install(context.Background(), PodRules{UUID: uuid, Owner: "/pods/" + uuid, HostIndex: att.HostIndex, HostIface: att.HostIface,
				Gateways: []netip.Addr{att.Gateway}, Ports: []PortMap{{Name: "http", Protocol: "tcp", Host: netip.MustParseAddrPort("127.0.0.1:18090"), Pod: netip.AddrPortFrom(att.Addr, 8080)}}}, everyoneAlive)
			return err
		})
	}
	const a = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
	install(a)
	err := host.try(func() error { return fw.Remove(context.Background(), a) })
	if err == nil || !strings.Contains(err.Error(), "socket path") {
		t.Errorf("Remove: %v, want the socket path's error", err)
	}
	if n := ruleCount(t, host); n >= 1000 {
		t.Errorf("Remove left the pod's chains (%d)", n)
	}
	install(a)
	err = host.try(func() error {
		_, err := fw.RemoveStale(context.Background(), func(string) bool { return false })
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "socket path") {
		t.Errorf("RemoveStale: %v, want the socket path's error", err)
	}
	if n := ruleCount(t, host); n >= 1000 {
		t.Errorf("RemoveStale left the stale pod's chains (%d)", n)
	}
}

// TestSocketPathReplacesPrograms: a link pinned by an acirun whose program
// differs from this one's (here a connect4 program that only lets the
// connection through) has its program replaced when a pod publishes, so
// that the host's connections are translated by this acirun's programs;
// the pins' names carry the maps' layout, not the programs'. Before, the
// old program stayed attached until the last publishing pod ended. A
// second publish finds the programs the same and leaves them.
func TestSocketPathReplacesPrograms(t *testing.T) {
	ns := newTestNS(t)
	if _, err := os.Stat(sockDir()); err == nil {
		t.Skipf("%s is in use", sockDir())
	}
	connect4 := sockHooks()[0]
	pin := filepath.Join(sockDir(), connect4.name+sockPinVersion)
	t.Cleanup(func() { ns.try(func() error { return removeSockets(func([16]byte) bool { return false }) }) })
	ns.do(func() error {
		if err := mountBPF(); err != nil {
			return err
		}
		if err := os.Mkdir(sockDir(), 0o700); err != nil {
			return err
		}
		for _, m := range []struct {
			name        string
			typ, flags  uint32
			value, size uint32
		}{
			{sockPortsPin, unix.BPF_MAP_TYPE_HASH, unix.BPF_F_NO_PREALLOC, sockValueSize, sockMaxPorts},
			{sockRevPin, unix.BPF_MAP_TYPE_LRU_HASH, 0, revValueSize, sockMaxSockets},
		} {
			fd, err := pinnedMap(m.name, true, m.typ, m.flags, sockKeySize, m.value, m.size)
			if err != nil {
				return err
			}
			unix.Close(fd)
		}
		code, err := assemble([]insn{movImm(0, 1), exit()})
		if err != nil {
			return err
		}
		pfd, err := bpfProgLoad(code, connect4.attach, "acirun_old")
		if err != nil {
			return err
		}
		defer unix.Close(pfd)
		cgroup, err := openCgroupRoot()
		if err != nil {
			return err
		}
		defer unix.Close(cgroup)
		lfd, err := bpfLinkCreate(pfd, cgroup, connect4.attach)
		if err != nil {
			return err
		}
		defer unix.Close(lfd)
		return bpfObjPin(lfd, pin)
	})
	var podTCP net.Listener
	ns.do(func() (err error) {
		podTCP, err = net.Listen("tcp", "127.0.0.2:0")
		return err
	})
	defer podTCP.Close()
	ports := []PortMap{{Name: "http", Protocol: "tcp", Host: netip.MustParseAddrPort("127.0.0.1:18082"), Pod: podTCP.Addr().(*net.TCPAddr).AddrPort()}}
	// attached is the id and the tag of the program the pin's link
	// attaches, and want the tag of this acirun's, which progTags must
	// compute (or every publish loads each program to learn it).
	attached := func() (id uint32, tag, want [unix.BPF_TAG_SIZE]byte) {
		ns.do(func() error {
			m, err := openSocketPath(false)
			if err != nil || m == nil {
				return fmt.Errorf("the socket path's maps: %v", err)
			}
			defer m.close()
			lfd, err := bpfObjGet(pin)
			if err != nil {
				return err
			}
			defer unix.Close(lfd)
			var link [16]byte
			if err := bpfObjGetInfo(lfd, link[:]); err != nil {
				return err
			}
			id = binary.NativeEndian.Uint32(link[8:])
			pfd, err := bpfProgGetFDByID(id)
			if err != nil {
				return err
			}
			defer unix.Close(pfd)
			if tag, err = progTag(pfd); err != nil {
				return err
			}
			ours, err := loadHook(connect4, m)
			if err != nil {
				return err
			}
			defer unix.Close(ours)
			if want, err = progTag(ours); err != nil {
				return err
			}
			code, err := assemble(hookProgram(connect4, m))
			if err != nil {
				return err
			}
			if tags := progTags(code); want != tags[0] && want != tags[1] {
				t.Errorf("the kernel's tag of program %s is %x, progTags computed %x", connect4.name, want, tags)
			}
			return nil
		})
		return id, tag, want
	}
	if _, tag, want := attached(); tag == want {
		t.Fatal("the stand-in program has this acirun's tag")
	}
	const uuid = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
	ns.do(func() error { return Firewall{}.addSockets(uuid, ports) })
	id, tag, want := attached()
	if tag != want {
		t.Errorf("the pinned link still attaches program %x, want %x", tag, want)
	}
	var conn net.Conn
	err := ns.try(func() (err error) {
		conn, err = net.DialTimeout("tcp", "127.0.0.1:18082", 3*time.Second)
		return err
	})
	if err != nil {
		t.Fatalf("127.0.0.1:18082 not translated to the pod's address: %v", err)
	}
	conn.Close()
	if a, err := accept(podTCP); err != nil {
		t.Errorf("the pod's listener: %v", err)
	} else {
		a.Close()
	}
	ns.do(func() error { return Firewall{}.addSockets(uuid, ports) })
	if again, _, _ := attached(); again != id {
		t.Errorf("a second publish replaced the same program (id %d, now %d)", id, again)
	}
}
