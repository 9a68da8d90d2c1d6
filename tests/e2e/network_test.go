package e2e

// The default pod network, in the box (tests/box), whose network namespace
// stands for the host's: nothing here touches the test machine's network.
// A pod gets its own address on a veth pair; the box reaches it there and,
// for the ports its app declares, on the box's loopback; --port publishes a
// port elsewhere; pods reach each other and, through NAT, an "upstream"
// network namespace the test makes inside the box; and when a pod ends its
// link, lease and ports are gone.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// bgPod is a pod started in the box in the background.
type bgPod struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *lockedOutput
	done chan struct{}
	uuid string
	dir  string
}

// lockedOutput collects a command's output for reading while it runs.
type lockedOutput struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *lockedOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *lockedOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// startPod starts `acirun run ARGS` in the box and waits until its output
// has a line starting with ready.
func (p *boxPod) startPod(ctx context.Context, ready string, args ...string) *bgPod {
	p.t.Helper()
	uuidFile := filepath.Join(p.dir, fmt.Sprintf("uuid-%d", time.Now().UnixNano()))
	cmd := p.b.Command(ctx, p.acirun(append([]string{"--debug", "run", "--insecure-options=image", "--uuid-file-save=" + uuidFile}, args...)...)...)
	bg := &bgPod{t: p.t, cmd: cmd, out: &lockedOutput{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = bg.out, bg.out
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	go func() { cmd.Wait(); close(bg.done) }()
	p.t.Cleanup(func() {
		select {
		case <-bg.done:
		default:
			if bg.uuid != "" {
				p.b.Exec(context.Background(), "machinectl", "terminate", "acirun-"+bg.uuid)
			}
			select {
			case <-bg.done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
			}
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(uuidFile); err == nil && bg.uuid == "" {
			bg.uuid = strings.TrimSpace(string(b))
			bg.dir = filepath.Join(p.data, "pods", bg.uuid)
		}
		if bg.uuid != "" && strings.Contains("\n"+bg.out.String(), "\n"+ready) {
			return bg
		}
		select {
		case <-bg.done:
			p.t.Fatalf("acirun run %q ended before %q:\n%s", args, ready, bg.out.String())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("acirun run %q: no %q after 30s:\n%s", args, ready, bg.out.String())
		}
	}
}

// stop terminates the pod's machine and waits for acirun run to end.
func (bg *bgPod) stop(p *boxPod) {
	bg.t.Helper()
	if err := p.b.Exec(context.Background(), "machinectl", "terminate", "acirun-"+bg.uuid); err != nil {
		bg.t.Fatal(err)
	}
	select {
	case <-bg.done:
	case <-time.After(30 * time.Second):
		bg.t.Fatalf("pod %s still running 30s after machinectl terminate", bg.uuid)
	}
}

// netJSON is POD-DIR/net.json.
type netJSON struct {
	Network, Interface, IP, Gateway, IP6, Gateway6, HostInterface string
	Ports                                                         []struct{ Name, Protocol, Host, Pod string }
}

func (bg *bgPod) net() netJSON {
	bg.t.Helper()
	b, err := os.ReadFile(filepath.Join(bg.dir, "net.json"))
	if err != nil {
		bg.t.Fatalf("net.json: %v", err)
	}
	var n netJSON
	if err := json.Unmarshal(b, &n); err != nil {
		bg.t.Fatalf("net.json %s: %v", b, err)
	}
	return n
}

// boxGet does an HTTP GET from the box's network namespace (or one made in
// it, by name) and returns the body. The connection is made on InNetNS's
// thread itself: an http.Client would dial from other threads, which are
// in the test machine's namespace.
func boxGet(t *testing.T, p *boxPod, ns, url string) (string, error) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Close = true
	var c net.Conn
	if err := p.b.InNetNS(ns, func() (err error) {
		c, err = net.DialTimeout("tcp", req.URL.Host, 5*time.Second)
		return err
	}); err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := req.Write(c); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// machineInterfaces asks machined, over the box's system bus, for the
// network interfaces of the pod's machine (machinectl show omits them).
func machineInterfaces(t *testing.T, p *boxPod, ctx context.Context, uuid string) []int32 {
	t.Helper()
	conn, err := p.b.SystemBus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var path dbus.ObjectPath
	if err := conn.Object("org.freedesktop.machine1", "/org/freedesktop/machine1").CallWithContext(ctx,
		"org.freedesktop.machine1.Manager.GetMachine", 0, "acirun-"+uuid).Store(&path); err != nil {
		t.Fatal(err)
	}
	v, err := conn.Object("org.freedesktop.machine1", path).GetProperty("org.freedesktop.machine1.Machine.NetworkInterfaces")
	if err != nil {
		t.Fatal(err)
	}
	ifs, _ := v.Value().([]int32)
	return ifs
}

// inBox runs f in the box's network namespace.
func inBox(t *testing.T, p *boxPod, f func() error) {
	t.Helper()
	if err := p.b.InNetNS("", f); err != nil {
		t.Fatal(err)
	}
}

func TestPodNetwork(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	web := p.image(podImage(t, podManifest(t, "example.com/net-web", map[string]any{
		"ports": []map[string]any{{"name": "http", "protocol": "tcp", "port": 8080}},
	}, "addrs", "+", "serve", ":8080"), nil))
	client := p.image(podImage(t, podManifest(t, "example.com/net-client", nil, "sleep", "1h"), nil))

	// One pod on the default network (no --net: the default).
	a := p.startPod(ctx, "serving", web)
	na := a.net()
	addr, err := netip.ParseAddr(na.IP)
	if err != nil || !netip.MustParsePrefix("172.16.28.0/24").Contains(addr) || na.Gateway != "172.16.28.1" ||
		na.Network != "default" || na.Interface != "eth0" || !strings.HasPrefix(na.HostInterface, "ac-") {
		t.Fatalf("net.json: %+v", na)
	}
	if !strings.Contains(a.out.String(), "addr eth0 "+na.IP+"/32") || !strings.Contains(a.out.String(), "addr lo 127.0.0.1/8") {
		t.Errorf("the app does not see its address on eth0 and loopback:\n%s", a.out.String())
	}
	if len(na.Ports) == 0 || na.Ports[0].Host != "0.0.0.0:8080" || na.Ports[0].Pod != na.IP+":8080" {
		t.Errorf("published ports: %+v, want http on 0.0.0.0:8080 (every address) first", na.Ports)
	}
	// The host reaches the pod at its address, and at the declared port on
	// its own loopback (TestPublishedPorts: on its other addresses).
	for _, url := range []string{"http://" + na.IP + ":8080/", "http://127.0.0.1:8080/"} {
		if body, err := boxGet(t, p, "", url); err != nil || body != "hello from testapp\n" {
			t.Errorf("GET %s from the host: %q, %v", url, body, err)
		}
	}
	var hostIndex int
	inBox(t, p, func() error {
		i, err := net.InterfaceByName(na.HostInterface)
		if err != nil {
			return err
		}
		hostIndex = i.Index
		as, _ := i.Addrs()
		var v4 []string
		for _, a := range as {
			if a.(*net.IPNet).IP.To4() != nil {
				v4 = append(v4, a.String())
			}
		}
		if len(v4) != 1 || v4[0] != "172.16.28.1/32" {
			t.Errorf("host end %s has IPv4 addresses %v, want 172.16.28.1/32", na.HostInterface, v4)
		}
		return nil
	})
	if ifs := machineInterfaces(t, p, ctx, a.uuid); len(ifs) != 1 || ifs[0] != int32(hostIndex) {
		t.Errorf("machined has the pod's interfaces as %v, want the host end's index %d", ifs, hostIndex)
	}
	if st, err := p.b.Output(ctx, p.acirun("status", a.uuid)...); err != nil ||
		!strings.Contains(string(st), "\nnetwork=default\nip="+na.IP+"\nip6="+na.IP6+"\nport-http=0.0.0.0:8080/tcp\n") {
		t.Errorf("acirun status of a pod on the default network: %s %v", st, err)
	}
	lease := filepath.Join("/run/acirun/net/default", na.IP)
	if b, err := p.b.Output(ctx, "cat", lease); err != nil || strings.TrimSpace(string(b)) != a.dir {
		t.Errorf("lease %s: %q, %v; want the pod directory %s", lease, b, err, a.dir)
	}

	// A second pod publishing its port elsewhere, and a third that reaches
	// the first through the host.
	b := p.startPod(ctx, "serving", "--port=http:18080", web)
	nb := b.net()
	if nb.IP == na.IP {
		t.Fatalf("two pods with the address %s", na.IP)
	}
	if len(nb.Ports) != 2 || nb.Ports[0].Host != "0.0.0.0:18080" || nb.Ports[1].Host != "[::]:18080" {
		t.Errorf("--port=http:18080: published %+v, want every address of both families", nb.Ports)
	}
	if strings.Contains(b.out.String(), "not published") {
		t.Errorf("the second pod, whose http --port names, tried its declared port too:\n%s", b.out.String())
	}
	if body, err := boxGet(t, p, "", "http://127.0.0.1:18080/"); err != nil || body != "hello from testapp\n" {
		t.Errorf("GET the second pod on its --port: %q, %v", body, err)
	}
	c := p.startPod(ctx, "get ", client, "--exec=/testapp", "--", "get", "http://"+na.IP+":8080/", "+", "get", "http://172.16.28.1:18080/", "+", "sleep", "1h")
	for deadline := time.Now().Add(15 * time.Second); strings.Count(c.out.String(), "\nget ") < 2 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{
		"get http://" + na.IP + ":8080/ status=200 body=hello from testapp", // pod to pod
		"get http://172.16.28.1:18080/ status=200 body=hello from testapp",  // pod to the host's published port
	} {
		if !strings.Contains(c.out.String(), want) {
			t.Errorf("the client pod lacks %q:\n%s", want, c.out.String())
		}
	}

	// Ended: port and rules are gone at once; the link with the pod's
	// network namespace, in the kernel's time, and the lease with it
	// (once gc or the next start looks).
	a.stop(p)
	if body, err := boxGet(t, p, "", "http://127.0.0.1:8080/"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("127.0.0.1:8080 still answers after the pod ended: %q, %v; want the connection refused (nothing listening)", body, err)
	}
	if rules := podRules(t, p, a.uuid); len(rules) > 0 {
		t.Errorf("the ended pod's rules are left: %q", rules)
	}
	reclaim(t, p, ctx, na.HostInterface)
	if _, err := p.b.Output(ctx, "test", "!", "-e", lease); err != nil {
		t.Errorf("the lease %s outlived its pod and its link", lease)
	}
	b.stop(p)
	c.stop(p)
}

// TestPodNetworkNAT: a pod reaches a network beyond the host (an "upstream"
// namespace made in the box, routed from the box's own), and what arrives
// there comes from the host's address: the pod's is masqueraded.
func TestPodNetworkNAT(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, cmd := range [][]string{
		{"ip", "netns", "add", "upstream"},
		{"ip", "link", "add", "up-host", "type", "veth", "peer", "name", "up-world", "netns", "upstream"},
		{"ip", "addr", "add", "198.51.100.2/24", "dev", "up-host"},
		{"ip", "link", "set", "up-host", "up"},
		{"ip", "-n", "upstream", "addr", "add", "198.51.100.1/24", "dev", "up-world"},
		{"ip", "-n", "upstream", "link", "set", "up-world", "up"},
		{"ip", "-n", "upstream", "link", "set", "lo", "up"},
	} {
		if err := p.b.Exec(ctx, cmd...); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		p.b.Exec(context.Background(), "ip", "link", "del", "up-host")
		p.b.Exec(context.Background(), "ip", "netns", "del", "upstream")
	})
	// The upstream server says who called.
	var ln net.Listener
	if err := p.b.InNetNS("upstream", func() (err error) {
		ln, err = net.Listen("tcp4", "198.51.100.1:80")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(w, "from=%s\n", host)
	}))

	img := p.image(podImage(t, podManifest(t, "example.com/net-nat", nil, "get", "http://198.51.100.1/"), nil))
	out, err := p.b.Output(ctx, p.acirun("run", "--insecure-options=image", img)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "get http://198.51.100.1/ status=200 body=from=198.51.100.2") {
		t.Errorf("the pod's request upstream, want it from the host's 198.51.100.2:\n%s", out)
	}
}

// servingImage is the image name whose app serves HTTP on port, a port it
// declares as "http".
func (p *boxPod) servingImage(name string, port int) string {
	p.t.Helper()
	return p.image(podImage(p.t, podManifest(p.t, name, map[string]any{
		"ports": []map[string]any{{"name": "http", "protocol": "tcp", "port": port}},
	}, "serve", ":"+strconv.Itoa(port)), nil))
}

// networkConfig writes the default network's settings, content, to the
// file name of the local configuration's network.d (made if need be), and
// returns its path, as acirun's errors name it.
func (p *boxPod) networkConfig(name, content string) string {
	p.t.Helper()
	conf := filepath.Join(p.dir, "etc", "network.d", name)
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
	return conf
}

// TestPodNetworkBadInput: a port the pod asks for that is taken, or that no
// app declares, refuses the pod and leaves no link, lease or pod running.
func TestPodNetworkBadInput(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	web := p.servingImage("example.com/net-bad", 8080)
	var busy net.Listener
	inBox(t, p, func() (err error) {
		busy, err = net.Listen("tcp4", "0.0.0.0:18081")
		return err
	})
	defer busy.Close()
	links := func() []string {
		var names []string
		inBox(t, p, func() error {
			ifs, err := net.Interfaces()
			for _, i := range ifs {
				if strings.HasPrefix(i.Name, "ac-") {
					names = append(names, i.Name)
				}
			}
			return err
		})
		return names
	}
	before := links()
	leases, _ := p.b.Output(ctx, "ls", "/run/acirun/net/default")
	for _, tc := range []struct {
		port string
		want []string
	}{
		{"--port=http:18081", []string{"publish port http (tcp) on every IPv4 address: the host's port 18081 is taken by a socket on 0.0.0.0:18081"}},
		{"--port=http:127.0.0.1:18081", []string{"publish port http (tcp) on 127.0.0.1: the host's port 18081 is taken by a socket on 0.0.0.0:18081"}},
		{"--port=https:443", []string{"--port=https: no app of the pod declares a port named https (they declare http)"}},
	} {
		cmd := p.b.Command(ctx, p.acirun("run", "--insecure-options=image", tc.port, web)...)
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 254 {
			t.Errorf("%s: %v, want exit code 254:\n%s", tc.port, err, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.port, w, out)
			}
		}
	}
	if after := links(); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("host ends before %v, after the refused pods %v", before, after)
	}
	if after, _ := p.b.Output(ctx, "ls", "/run/acirun/net/default"); string(after) != string(leases) {
		t.Errorf("leases before:\n%s\nafter the refused pods:\n%s", leases, after)
	}
}

// TestPodNetworkDNS: a pod on the default network that asks for no DNS gets
// the host's name servers it can reach: behind systemd-resolved's stub,
// resolved's upstream servers.
func TestPodNetworkDNS(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conf, err := p.b.Path("/etc/resolv.conf")
	if err != nil {
		t.Fatal(err)
	}
	saved, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.WriteFile(conf, saved, 0o644)
		p.b.Exec(context.Background(), "rm", "-rf", "/run/systemd/resolve")
	})
	if err := os.WriteFile(conf, []byte("nameserver 127.0.0.53\nsearch corp.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.b.Exec(ctx, "mkdir", "-p", "/run/systemd/resolve"); err != nil {
		t.Fatal(err)
	}
	if err := p.b.WriteFile("/run/systemd/resolve/resolv.conf", []byte("nameserver 192.0.2.53\nsearch corp.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	img := p.image(podImage(t, podManifest(t, "example.com/net-dns", nil, "cat", "/etc/resolv.conf"), nil))
	out, err := p.b.Output(ctx, p.acirun("run", "--insecure-options=image", img)...)
	if err != nil || !strings.Contains(string(out), "\nnameserver 192.0.2.53\nsearch corp.example\n") || strings.Contains(string(out), "127.0.0.53") {
		t.Errorf("the pod's resolv.conf on the default network: %v\n%s", err, out)
	}
	out, err = p.b.Output(ctx, p.acirun("run", "--insecure-options=image", "--dns=198.51.100.53", img)...)
	if err != nil || !strings.Contains(string(out), "nameserver 198.51.100.53\n") || strings.Contains(string(out), "192.0.2.53") {
		t.Errorf("--dns on the default network: %v\n%s", err, out)
	}
}

// TestPodNetworkKilled: the supervisor killed with SIGKILL takes the pod
// with it, and its link goes too (the kernel removes the veth pair with
// the pod's namespace); its rules in acirun's nftables table stay until
// the next pod starts, which removes them and takes the port (the dead
// pod's lease is taken back when its address is needed:
// netns.TestLeaseWrapsAndTakesBackStale); `acirun gc` removes those of a
// pod killed after that, and its lease.
func TestPodNetworkKilled(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	web := p.servingImage("example.com/net-killed", 8081)
	a := p.startPod(ctx, "serving", web)
	na := a.net()
	a.kill(p)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		gone := true
		inBox(t, p, func() error {
			_, err := net.InterfaceByName(na.HostInterface)
			gone = err != nil
			return nil
		})
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host end %s outlived its killed pod by 10s", na.HostInterface)
		}
	}
	if rules := podRules(t, p, a.uuid); len(rules) == 0 {
		t.Errorf("the killed pod left no rules: the test shows nothing")
	}
	b := p.startPod(ctx, "serving", web)
	if nb := b.net(); len(nb.Ports) == 0 || nb.Ports[0].Host != "0.0.0.0:8081" {
		t.Errorf("the next pod did not get the port back: %+v\n%s", nb.Ports, b.out.String())
	}
	if rules := podRules(t, p, a.uuid); len(rules) > 0 {
		t.Errorf("the killed pod's rules outlived the next pod's start: %q", rules)
	}
	if body, err := boxGet(t, p, "", "http://127.0.0.1:8081/"); err != nil || body != "hello from testapp\n" {
		t.Errorf("GET the next pod: %q, %v", body, err)
	}

	// Killed again, and collected by gc.
	nb := b.net()
	b.kill(p)
	if out, err := p.b.Output(ctx, p.acirun("gc", "--grace-period=0s")...); err != nil {
		t.Fatalf("acirun gc: %v\n%s", err, out)
	}
	if rules := podRules(t, p, b.uuid); len(rules) > 0 {
		t.Errorf("acirun gc left the killed pod's rules: %q", rules)
	}
	if _, err := p.b.Output(ctx, "test", "!", "-e", filepath.Join("/run/acirun/net/default", nb.IP)); err != nil {
		t.Errorf("acirun gc left the killed pod's lease of %s", nb.IP)
	}
}

// TestPodMetadata: on the default network every app has AC_METADATA_URL,
// served by its pod's own supervisor on the gateway: the pod's UUID, its
// image's ID, and an identity signature that another pod verifies. A pod
// that uses another's URL reaches only its own service, which refuses the
// other's token.
func TestPodMetadata(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/net-meta", nil, "sleep", "1h"), nil))
	id := strings.TrimSpace(func() string {
		out, err := p.b.Output(ctx, p.acirun("fetch", "--insecure-options=image", "--full", img)...)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}())
	a := p.startPod(ctx, "meta-sign", img, "--exec=/testapp", "--", "env", "+",
		"meta", "pod/uuid", "+", "meta", "apps/net-meta/image/id", "+", "meta-sign", "hello from a", "+", "sleep", "1h")
	out := a.out.String()
	var url, sig string
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "AC_METADATA_URL="); ok {
			url = v
		}
		if v, ok := strings.CutPrefix(l, "meta-sign status=200 signature="); ok {
			sig = v
		}
	}
	if !strings.HasPrefix(url, "http://172.16.28.1:18112/") || len(url) != len("http://172.16.28.1:18112/")+32 {
		t.Fatalf("AC_METADATA_URL=%q, want the gateway, port 18112 and a 128-bit token:\n%s", url, out)
	}
	for _, want := range []string{
		"meta pod/uuid status=200 body=" + a.uuid,
		"meta apps/net-meta/image/id status=200 body=" + id,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("pod a lacks %q:\n%s", want, out)
		}
	}
	if sig == "" {
		t.Fatalf("pod a signed nothing:\n%s", out)
	}

	b := p.startPod(ctx, "meta-verify", img, "--exec=/testapp", "--",
		"meta-verify", "hello from a", a.uuid, sig, "+", "meta-verify", "hello from b", a.uuid, sig, "+",
		"get", url+"/acMetadata/v1/pod/uuid", "+", "sleep", "1h")
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(b.out.String(), "\nget ") && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	outB := b.out.String()
	for _, want := range []string{
		"meta-verify status=200\nmeta-verify status=403\n",  // a's signature verifies, only for what a signed
		"get " + url + "/acMetadata/v1/pod/uuid status=401", // a's token at b's own service
	} {
		if !strings.Contains(outB, want) {
			t.Errorf("pod b lacks %q:\n%s", want, outB)
		}
	}
	a.stop(p)
	b.stop(p)
	if _, err := p.b.Output(ctx, "test", "-s", "/run/acirun/metadata/hmac.key"); err != nil {
		t.Errorf("no host key in /run/acirun/metadata: %v", err)
	}
}

// TestPodMetadataOtherNetworks: a pod with no network has its metadata
// service on its own loopback (a listener its supervisor makes inside the
// pod's namespace), one on the host's network on a free port of the host's
// loopback; both answer with the pod's UUID and the app's annotations: the
// image's, with --user-annotation (before the image, then the app's own)
// over them.
func TestPodMetadataOtherNetworks(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var m map[string]any
	if err := json.Unmarshal(podManifest(t, "example.com/meta-nets", nil, "env", "+", "meta", "pod/uuid", "+", "meta", "apps/meta-nets/annotations"), &m); err != nil {
		t.Fatal(err)
	}
	m["annotations"] = []map[string]string{{"name": "owner", "value": "image"}, {"name": "authors", "value": "acirun"}}
	manifest, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	img := p.image(podImage(t, manifest, nil))
	for _, tc := range []struct {
		net, url string
		flags    []string
		annots   string
	}{
		{"none", "http://127.0.0.1:18112/", []string{"--user-annotation=example.com/team=ops", img, "--user-annotation=owner=user", "--user-label=tier=test"},
			`[{"name":"owner","value":"user"},{"name":"authors","value":"acirun"},{"name":"example.com/team","value":"ops"}]`},
		{"host", "http://127.0.0.1:", []string{img}, `[{"name":"owner","value":"image"},{"name":"authors","value":"acirun"}]`},
	} {
		uuidFile := filepath.Join(p.dir, "uuid-"+tc.net)
		out, err := p.b.Output(ctx, p.acirun(append([]string{"run", "--insecure-options=image", "--net=" + tc.net, "--uuid-file-save=" + uuidFile}, tc.flags...)...)...)
		if err != nil {
			t.Fatalf("--net=%s: %v\n%s", tc.net, err, out)
		}
		uuid, _ := os.ReadFile(uuidFile)
		if !strings.Contains(string(out), "AC_METADATA_URL="+tc.url) ||
			!strings.Contains(string(out), "meta pod/uuid status=200 body="+strings.TrimSpace(string(uuid))) {
			t.Errorf("--net=%s: want AC_METADATA_URL=%s… and the pod's UUID from it:\n%s", tc.net, tc.url, out)
		}
		if want := "meta apps/meta-nets/annotations status=200 body=" + tc.annots; !strings.Contains(string(out), want) {
			t.Errorf("--net=%s: want %s:\n%s", tc.net, want, out)
		}
	}
	// The user label stays in the app's userLabels in the pod manifest.
	uuid, _ := os.ReadFile(filepath.Join(p.dir, "uuid-none"))
	pm, err := p.b.Output(ctx, p.acirun("cat-manifest", strings.TrimSpace(string(uuid)))...)
	var got struct {
		Apps []struct {
			App struct{ UserAnnotations, UserLabels map[string]string }
		}
	}
	if err == nil {
		err = json.Unmarshal(pm, &got)
	}
	if err != nil || len(got.Apps) != 1 ||
		!reflect.DeepEqual(got.Apps[0].App.UserAnnotations, map[string]string{"example.com/team": "ops", "owner": "user"}) ||
		!reflect.DeepEqual(got.Apps[0].App.UserLabels, map[string]string{"tier": "test"}) {
		t.Errorf("cat-manifest: %v: want the app's userAnnotations and userLabels:\n%s", err, pm)
	}
}
