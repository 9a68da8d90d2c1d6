package e2e

// Published ports in the kernel and the pod network's firewall, in the
// box's network namespace and namespaces the tests make inside it: a port
// an app declares answers on every address of the host, a client elsewhere
// is seen with its own address, the host's publish setting restricts it,
// a pod's rules go however it ends, spoofed sources are dropped, and a
// restricted pod reaches the host only.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
)

// podRules lists what acirun's nftables table in the box holds of the pod:
// its chains, and the rules of the base chains tagged with its UUID.
func podRules(t *testing.T, p *boxPod, uuid string) []string {
	t.Helper()
	var found []string
	inBox(t, p, func() error {
		c, err := nftables.New()
		if err != nil {
			return err
		}
		chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
		if err != nil {
			return err
		}
		for _, ch := range chains {
			if ch.Table.Name != "acirun" {
				continue
			}
			if strings.Contains(ch.Name, uuid) {
				found = append(found, "chain "+ch.Name)
				continue
			}
			rules, err := c.GetRules(ch.Table, ch)
			if err != nil {
				return err
			}
			for _, r := range rules {
				if strings.Contains(string(r.UserData), uuid) {
					found = append(found, fmt.Sprintf("rule in %s: %s", ch.Name, r.UserData))
				}
			}
		}
		return nil
	})
	return found
}

// clientNetNS makes the namespace name in the box, linked to the box's by
// a veth pair: the box's end has 10.214.N.1/24 and fd14:N::1/64, the
// namespace's 10.214.N.2/24 and fd14:N::2/64 and its default routes
// through the box. It goes with the test.
func clientNetNS(t *testing.T, p *boxPod, name string, n int) (boxAddr, clientAddr string) {
	t.Helper()
	ctx := context.Background()
	boxAddr, clientAddr = fmt.Sprintf("10.214.%d.1", n), fmt.Sprintf("10.214.%d.2", n)
	box6, client6 := fmt.Sprintf("fd14:%d::1", n), fmt.Sprintf("fd14:%d::2", n)
	for _, cmd := range [][]string{
		{"ip", "netns", "add", name},
		{"ip", "link", "add", name + "-h", "type", "veth", "peer", "name", name + "-c", "netns", name},
		{"ip", "addr", "add", boxAddr + "/24", "dev", name + "-h"},
		{"ip", "link", "set", name + "-h", "up"},
		{"ip", "-n", name, "addr", "add", clientAddr + "/24", "dev", name + "-c"},
		{"ip", "-n", name, "link", "set", name + "-c", "up"},
		{"ip", "-n", name, "link", "set", "lo", "up"},
		{"ip", "-n", name, "route", "add", "default", "via", boxAddr},
		{"ip", "addr", "add", box6 + "/64", "dev", name + "-h", "nodad"},
		{"ip", "-n", name, "addr", "add", client6 + "/64", "dev", name + "-c", "nodad"},
		{"ip", "-n", name, "-6", "route", "add", "default", "via", box6},
	} {
		if err := p.b.Exec(ctx, cmd...); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		p.b.Exec(context.Background(), "ip", "link", "del", name+"-h")
		p.b.Exec(context.Background(), "ip", "netns", "del", name)
	})
	return boxAddr, clientAddr
}

// waitOutput waits up to 15s for the pod's output to hold n lines that
// start with prefix.
func (bg *bgPod) waitOutput(prefix string, n int) string {
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if strings.Count("\n"+bg.out.String(), "\n"+prefix) >= n {
			break
		}
	}
	return bg.out.String()
}

// TestPublishedPorts: a declared port is published on every address of the
// host: it answers on the box's non-loopback addresses (IPv4 and IPv6), on
// 127.0.0.1, on ::1 and on the gateway; a client in a namespace of its
// own, reaching the box over a veth pair, is seen by the app with its own
// address (both families); a second pod reaches the port at the host's
// addresses (hairpin) and is seen with its own.
func TestPublishedPorts(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	boxAddr, clientAddr := clientNetNS(t, p, "pubc", 1)
	web := p.servingImage("example.com/pub-web", 8080)
	client := p.image(podImage(t, podManifest(t, "example.com/pub-client", nil, "sleep", "1h"), nil))

	a := p.startPod(ctx, "serving", web)
	na := a.net()
	if len(na.Ports) != 2 || na.Ports[0].Host != "0.0.0.0:8080" || na.Ports[1].Host != "[::]:8080" || na.Ports[1].Pod != "["+na.IP6+"]:8080" {
		t.Errorf("published %+v, want http on 0.0.0.0:8080 and [::]:8080", na.Ports)
	}
	if out := a.out.String(); strings.Contains(out, "not published") || strings.Contains(out, "WARNING") {
		t.Errorf("warnings from a pod whose port is free:\n%s", out)
	}
	for _, url := range []string{"http://" + boxAddr + ":8080/", "http://127.0.0.1:8080/", "http://172.16.28.1:8080/",
		"http://[::1]:8080/", "http://[fd14:1::1]:8080/", "http://[" + na.Gateway6 + "]:8080/"} {
		if body, err := boxGet(t, p, "", url); err != nil || body != "hello from testapp\n" {
			t.Errorf("GET %s from the host: %q, %v", url, body, err)
		}
	}
	if body, err := boxGet(t, p, "pubc", "http://"+boxAddr+":8080/"); err != nil || body != "hello from testapp\n" {
		t.Errorf("GET from the client's namespace: %q, %v", body, err)
	}
	if body, err := boxGet(t, p, "pubc", "http://[fd14:1::1]:8080/"); err != nil || body != "hello from testapp\n" {
		t.Errorf("GET from the client's namespace over IPv6: %q, %v", body, err)
	}
	for _, from := range []string{clientAddr + ":", "[fd14:1::2]:"} {
		if out := a.waitOutput("request from "+from, 1); !strings.Contains(out, "request from "+from) {
			t.Errorf("the app did not see the client's own address %s:\n%s", from, out)
		}
	}

	c := p.startPod(ctx, "get ", client, "--exec=/testapp", "--", "get", "http://"+boxAddr+":8080/", "+", "get", "http://172.16.28.1:8080/", "+", "sleep", "1h")
	nc := c.net()
	out := c.waitOutput("get ", 2)
	for _, want := range []string{
		"get http://" + boxAddr + ":8080/ status=200 body=hello from testapp",
		"get http://172.16.28.1:8080/ status=200 body=hello from testapp",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the second pod lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(a.waitOutput("request from "+nc.IP+":", 2), "request from "+nc.IP+":"); n != 2 {
		t.Errorf("the app saw the second pod's address %s %d times, want 2:\n%s", nc.IP, n, a.out.String())
	}
	a.stop(p)
	c.stop(p)
	if rules := podRules(t, p, a.uuid); len(rules) > 0 {
		t.Errorf("the ended pod's rules are left: %q", rules)
	}
	if body, err := boxGet(t, p, "pubc", "http://"+boxAddr+":8080/"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("the port still answers after the pod ended: %q, %v; want the connection refused (nothing listening)", body, err)
	}
}

// TestPublishSetting: the host's publish setting in LOCAL-CONFIG/network.d:
// loopback publishes declared ports on 127.0.0.1 only, none nowhere (the
// pod still answers at its own address, and --port still publishes); a
// value it does not know refuses the pod, naming the file.
func TestPublishSetting(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	web := p.servingImage("example.com/pub-setting", 8082)
	var conf string
	setting := func(v string) {
		conf = p.networkConfig("publish.json", `{"rktKind": "network", "rktVersion": "v1", "publish": "`+v+`"}`)
	}

	setting("loopback")
	a := p.startPod(ctx, "serving", web)
	na := a.net()
	if len(na.Ports) != 2 || na.Ports[0].Host != "127.0.0.1:8082" || na.Ports[1].Host != "[::1]:8082" {
		t.Errorf("publish=loopback: published %+v, want http on 127.0.0.1:8082 and [::1]:8082", na.Ports)
	}
	for _, url := range []string{"http://127.0.0.1:8082/", "http://[::1]:8082/"} {
		if body, err := boxGet(t, p, "", url); err != nil || body != "hello from testapp\n" {
			t.Errorf("publish=loopback: GET %s: %q, %v", url, body, err)
		}
	}
	for _, url := range []string{"http://172.16.28.1:8082/", "http://[" + na.Gateway6 + "]:8082/"} {
		if body, err := boxGet(t, p, "", url); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("publish=loopback: the port answers on %s: %q, %v; want the connection refused (nothing listening)", url, body, err)
		}
	}
	a.stop(p)

	setting("none")
	b := p.startPod(ctx, "serving", web)
	nb := b.net()
	if len(nb.Ports) != 0 {
		t.Errorf("publish=none: published %+v", nb.Ports)
	}
	if body, err := boxGet(t, p, "", "http://127.0.0.1:8082/"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("publish=none: the port answers on 127.0.0.1: %q, %v; want the connection refused (nothing listening)", body, err)
	}
	if body, err := boxGet(t, p, "", "http://"+nb.IP+":8082/"); err != nil || body != "hello from testapp\n" {
		t.Errorf("publish=none: GET the pod's address: %q, %v", body, err)
	}
	c := p.startPod(ctx, "serving", "--port=http:18082", web)
	if nc := c.net(); len(nc.Ports) == 0 || nc.Ports[0].Host != "0.0.0.0:18082" {
		t.Errorf("publish=none with --port=http:18082: published %+v", nc.Ports)
	}
	if body, err := boxGet(t, p, "", "http://127.0.0.1:18082/"); err != nil || body != "hello from testapp\n" {
		t.Errorf("publish=none with --port: GET 127.0.0.1:18082: %q, %v", body, err)
	}
	b.stop(p)
	c.stop(p)

	setting("everywhere")
	cmd := p.b.Command(ctx, p.acirun("run", "--insecure-options=image", web)...)
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 254 || !strings.Contains(string(out), "network config "+conf) ||
		!strings.Contains(string(out), `publish "everywhere": want all`) {
		t.Errorf("publish=everywhere: exit %v, want 254 and the file named:\n%s", cmd.ProcessState, out)
	}
}

// TestPublishTaken: a declared port the host already listens on is not
// published: the pod says so, naming the port and the process, and runs;
// the same port asked for with --port refuses the pod. A port another pod
// publishes is taken as well.
func TestPublishTaken(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	web := p.servingImage("example.com/pub-taken", 8083)
	// A listener of a process in the box (socat-free: a pod on the host's
	// network, whose app listens on the port).
	holder := p.startPod(ctx, "serving", "--net=host", web)
	a := p.startPod(ctx, "serving", web)
	out := a.out.String()
	if !strings.Contains(out, "WARNING: port http (tcp) not published on every IPv4 address: the host's port 8083 is taken by a socket on ") ||
		!strings.Contains(out, "(testapp)") {
		t.Errorf("no warning naming the port and its process:\n%s", out)
	}
	if na := a.net(); len(na.Ports) != 0 {
		t.Errorf("published %+v over the host's listener", na.Ports)
	}
	holder.stop(p)
	a.stop(p)

	b := p.startPod(ctx, "serving", web)
	c := p.startPod(ctx, "serving", web)
	if !strings.Contains(c.out.String(), "the host's port 8083 is taken by pod "+b.uuid) {
		t.Errorf("the second pod with the port does not name the first:\n%s", c.out.String())
	}
	if body, err := boxGet(t, p, "", "http://127.0.0.1:8083/"); err != nil || body != "hello from testapp\n" {
		t.Errorf("GET the first pod's port: %q, %v", body, err)
	}
	b.stop(p)
	c.stop(p)
}

// TestPodContainment: what a pod sends with a source address that is not
// its own (another pod's, the host's) is dropped on the host end of its
// link, while its own address passes; a --net=default-restricted pod
// reaches the host but nothing beyond it (another namespace routed from
// the box), where a default pod reaches both; a host firewall that drops
// forwarded packets is named when a pod starts.
func TestPodContainment(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	boxAddr, clientAddr := clientNetNS(t, p, "upc", 2)
	// A UDP sink on the host, and an HTTP server on the host and beyond it.
	var sink net.PacketConn
	inBox(t, p, func() (err error) {
		sink, err = net.ListenPacket("udp4", "0.0.0.0:18099")
		return err
	})
	defer sink.Close()
	var mu sync.Mutex
	var got []string
	go func() {
		b := make([]byte, 100)
		for {
			n, from, err := sink.ReadFrom(b)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, fmt.Sprintf("%s %s", from.(*net.UDPAddr).IP, b[:n]))
			mu.Unlock()
		}
	}()
	serveHTTP := func(ns, addr string) {
		var ln net.Listener
		if err := p.b.InNetNS(ns, func() (err error) {
			ln, err = net.Listen("tcp4", addr)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hi") }))
	}
	serveHTTP("", "0.0.0.0:18098")
	serveHTTP("upc", clientAddr+":80")

	img := p.image(podImage(t, podManifest(t, "example.com/containment", nil, "sleep", "1h"), nil))
	a := p.startPod(ctx, "sent", img, "--exec=/testapp", "--",
		"udp-from", "172.16.28.250", "172.16.28.1:18099", "+", "udp-from", "172.16.28.1", "172.16.28.1:18099", "+",
		"udp-from", boxAddr, "172.16.28.1:18099", "+", "udp-from", "eth0", "172.16.28.1:18099", "+", "print", "sent", "+", "sleep", "1h")
	na := a.net()
	if out := a.out.String(); strings.Count(out, " ok\n") != 4 {
		t.Errorf("the pod could not send its datagrams:\n%s", out)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 {
			break
		}
	}
	time.Sleep(200 * time.Millisecond) // the spoofed ones, had they passed, were sent first
	mu.Lock()
	if want := []string{na.IP + " from " + na.IP}; !slices.Equal(got, want) {
		t.Errorf("the host received %q, want only %q", got, want)
	}
	mu.Unlock()
	a.stop(p)

	gets := []string{"get", "http://172.16.28.1:18098/", "+", "get", "http://" + clientAddr + "/", "+", "sleep", "1h"}
	r := p.startPod(ctx, "get ", append([]string{"--net=default-restricted", img, "--exec=/testapp", "--"}, gets...)...)
	out := r.waitOutput("get ", 2)
	if !strings.Contains(out, "get http://172.16.28.1:18098/ status=200 body=hi") ||
		!strings.Contains(out, "get http://"+clientAddr+"/ error=") {
		t.Errorf("restricted pod: want the host reached and nothing beyond:\n%s", out)
	}
	d := p.startPod(ctx, "get ", append([]string{img, "--exec=/testapp", "--"}, gets...)...)
	out = d.waitOutput("get ", 2)
	if !strings.Contains(out, "get http://172.16.28.1:18098/ status=200 body=hi") ||
		!strings.Contains(out, "get http://"+clientAddr+"/ status=200 body=hi") {
		t.Errorf("default pod: want the host and beyond reached:\n%s", out)
	}
	r.stop(p)
	d.stop(p)

	// A host firewall whose forward chain drops by default.
	inBox(t, p, func() error {
		c, err := nftables.New()
		if err != nil {
			return err
		}
		tb := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "hostfw"})
		drop := nftables.ChainPolicyDrop
		c.AddChain(&nftables.Chain{Name: "FORWARD", Table: tb, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
		return c.Flush()
	})
	defer inBox(t, p, func() error {
		c, err := nftables.New()
		if err != nil {
			return err
		}
		c.DelTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "hostfw"})
		return c.Flush()
	})
	f := p.startPod(ctx, "sleeping", img, "--exec=/testapp", "--", "print", "sleeping", "+", "sleep", "1h")
	if !strings.Contains(f.out.String(), "WARNING: the host's firewall drops forwarded packets by default (table ip hostfw, chain FORWARD, policy drop)") {
		t.Errorf("no warning of the host's firewall:\n%s", f.out.String())
	}
	f.stop(p)
}

// sockClient is a client run in the box (in its cgroups, where the socket
// path's programs see it): for each "tcp|udp ADDR PORT" argument it
// connects (udp too, which then sends a datagram), or with "sendto" sends
// a datagram from a socket it does not connect, and prints what its socket
// says: the local address (the gateway when the socket went to the pod's
// address itself, the loopback address dialled when the rules translate
// its packets; an unconnected socket's is unspecified), the peer
// (getpeername) or the source of the answer (recvfrom), and the answer; or
// the error.
const sockClient = `
import socket, sys
for arg in sys.argv[1:]:
    proto, addr, port = arg.split()
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    try:
        if proto == "tcp":
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect((addr, int(port)))
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            body = s.recv(4096).split(b"\r\n")[-1].decode().strip()
            print(arg, "local=%s peer=%s:%d body=%s" % (s.getsockname()[0], s.getpeername()[0], s.getpeername()[1], body))
        else:
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.settimeout(5)
            if proto == "udp":
                s.connect((addr, int(port)))
            s.sendto(b"ping", (addr, int(port)))
            data, src = s.recvfrom(100)
            print(arg, "local=%s from=%s:%d body=%s" % (s.getsockname()[0], src[0], src[1], data.decode()))
    except OSError as e:
        print(arg, "error=%s" % e.strerror)
`

// sockPins lists the socket path's pins in the box's bpffs ("" when there
// are none).
func sockPins(t *testing.T, p *boxPod) string {
	t.Helper()
	out, err := p.b.Output(context.Background(), "sh", "-c", "ls /sys/fs/bpf/acirun 2>/dev/null | tr '\\n' ' '")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestPublishedPortsSocketPath: the box's own connections to a port
// published on every address, at 127.0.0.1 and ::1, are connected by the
// socket path (cgroup BPF) to the pod's address itself: their socket's
// local address is the gateway, not the loopback address the rules would
// leave it (no DNAT touched them), while getpeername still says what was
// dialled; a UDP port's answer comes from the address sent to, both
// families, from a connected socket and from one that is not. Another network namespace's 127.0.0.1 is not translated. The
// programs and maps are pinned while the pod publishes and gone once it
// ends, and once a pod whose supervisor was killed with SIGKILL is taken
// away by acirun gc.
func TestPublishedPortsSocketPath(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/pub-sock", map[string]any{
		"ports": []map[string]any{{"name": "http", "protocol": "tcp", "port": 8086}, {"name": "echo", "protocol": "udp", "port": 8087}},
	}, "udp-echo", ":8087", "+", "serve", ":8086"), nil))
	if pins := sockPins(t, p); pins != "" {
		t.Fatalf("pins before any pod: %s", pins)
	}
	a := p.startPod(ctx, "serving", img)
	na := a.net()
	// The socket path is set up once the apps have started, in the
	// background (the rules translate meanwhile).
	pins := sockPins(t, p)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(pins, "ports-v1") && time.Now().Before(deadline); pins = sockPins(t, p) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(pins, "ports-v1") || !strings.Contains(pins, "connect4-v1") {
		t.Errorf("pinned while the pod publishes: %q, want the ports map and the programs' links", pins)
	}
	out, err := p.b.Output(ctx, "python3", "-c", sockClient, "tcp 127.0.0.1 8086", "tcp ::1 8086", "udp 127.0.0.1 8087", "udp ::1 8087",
		"sendto 127.0.0.1 8087", "sendto ::1 8087")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, want := range []string{
		"tcp 127.0.0.1 8086 local=" + na.Gateway + " peer=127.0.0.1:8086 body=hello from testapp",
		"tcp ::1 8086 local=" + na.Gateway6 + " peer=::1:8086 body=hello from testapp",
		"udp 127.0.0.1 8087 local=" + na.Gateway + " from=127.0.0.1:8087 body=echo ping",
		"udp ::1 8087 local=" + na.Gateway6 + " from=::1:8087 body=echo ping",
		"sendto 127.0.0.1 8087 local=0.0.0.0 from=127.0.0.1:8087 body=echo ping",
		"sendto ::1 8087 local=:: from=::1:8087 body=echo ping",
	} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("the box's client lacks %q:\n%s", want, out)
		}
	}
	// Another namespace: nothing listens on its 127.0.0.1:8086.
	for _, cmd := range [][]string{{"ip", "netns", "add", "pubsock"}, {"ip", "-n", "pubsock", "link", "set", "lo", "up"}} {
		if err := p.b.Exec(ctx, cmd...); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { p.b.Exec(context.Background(), "ip", "netns", "del", "pubsock") })
	out, err = p.b.Output(ctx, "ip", "netns", "exec", "pubsock", "python3", "-c", sockClient, "tcp 127.0.0.1 8086")
	if err != nil || !strings.Contains(string(out), "tcp 127.0.0.1 8086 error=Connection refused") {
		t.Errorf("another namespace's 127.0.0.1:8086: %s (%v), want the connection refused", out, err)
	}
	a.stop(p)
	if pins := sockPins(t, p); pins != "" {
		t.Errorf("pinned after the only publishing pod ended: %s", pins)
	}

	b := p.startPod(ctx, "serving", img)
	pins = sockPins(t, p)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(pins, "ports-v1") && time.Now().Before(deadline); pins = sockPins(t, p) {
		time.Sleep(50 * time.Millisecond)
	}
	b.kill(p)
	if pins := sockPins(t, p); !strings.Contains(pins, "ports-v1") {
		t.Errorf("the killed pod's port is no longer pinned before gc (%q): the check below proves nothing", pins)
	}
	if out, err := p.b.Output(ctx, p.acirun("gc", "--grace-period=0s")...); err != nil {
		t.Fatalf("acirun gc: %v\n%s", err, out)
	}
	if pins := sockPins(t, p); pins != "" {
		t.Errorf("pinned after the killed pod's gc: %s", pins)
	}
}
