package e2e

// Named networks (--net=NAME[,NAME2]) from CNI configurations in
// LOCAL-CONFIG/net.d, run through Debian's containernetworking-plugins
// (bridge, host-local, portmap, firewall), in the box's own network
// namespace: nothing here touches the test machine's network.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/testenv"
)

// cniNet is net.json's record of one named network.
type cniNet struct {
	Name, Interface string
	IPs, Gateways   []string
	HostInterfaces  []string
	Ports           []struct{ Name, Protocol, Host, Pod string }
}

// cniNetJSON is net.json of a pod on named networks.
type cniNetJSON struct {
	Network, Interface, IP string
	Networks               []cniNet
}

func (bg *bgPod) cniNet() cniNetJSON {
	bg.t.Helper()
	b, err := os.ReadFile(filepath.Join(bg.dir, "net.json"))
	if err != nil {
		bg.t.Fatalf("net.json: %v", err)
	}
	var n cniNetJSON
	if err := json.Unmarshal(b, &n); err != nil {
		bg.t.Fatalf("net.json %s: %v", b, err)
	}
	return n
}

// cniSetup writes the test's network configurations into its local
// configuration's net.d: cnitest (a bridge with host-local addresses from
// 10.99.0.0/24, portmap and firewall), cnitwo (another bridge,
// 10.98.0.0/24) and cni6 (a bridge on fd42:99::/64 only), each keeping
// its leases in a directory of the test. It returns that directory.
func cniSetup(t *testing.T, p *boxPod) string {
	t.Helper()
	testenv.NeedTool(t, "/usr/lib/cni/bridge", "the named-network tests run Debian's containernetworking-plugins (scripts/setup installs them)")
	testenv.NeedTool(t, "iptables", "the portmap and bridge plugins write their rules with iptables (scripts/setup installs it)")
	leases := filepath.Join(p.dir, "cni-leases")
	netd := filepath.Join(p.dir, "etc", "net.d")
	if err := os.MkdirAll(netd, 0o755); err != nil {
		t.Fatal(err)
	}
	bridge := func(name, br, subnet, route string, more ...string) string {
		plugins := append([]string{fmt.Sprintf(`{"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": true,
			"ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": %q}]], "routes": [{"dst": %q}]}}`,
			br, leases, subnet, route)}, more...)
		return fmt.Sprintf(`{"cniVersion": "1.0.0", "name": %q, "plugins": [%s]}`, name, strings.Join(plugins, ", "))
	}
	for file, conf := range map[string]string{
		"10-cnitest.conflist": bridge("cnitest", "accni0", "10.99.0.0/24", "0.0.0.0/0",
			`{"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}`, `{"type": "firewall", "backend": "iptables"}`),
		"20-cnitwo.conflist": bridge("cnitwo", "accni1", "10.98.0.0/24", "10.98.0.0/16"),
		"30-cni6.conflist":   bridge("cni6", "accni6", "fd42:99::/64", "::/0"),
	} {
		if err := os.WriteFile(filepath.Join(netd, file), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return leases
}

// cniRun runs acirun ARGS in the box and returns its combined output and
// exit code.
func cniRun(t *testing.T, p *boxPod, ctx context.Context, args ...string) (string, int) {
	t.Helper()
	cmd := p.b.Command(ctx, p.acirun(args...)...)
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil {
		t.Fatalf("acirun %s: %v", strings.Join(args, " "), err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// cniGet does an HTTP GET of url from the box's network namespace, over
// IPv4 or IPv6 as the URL's host is (boxGet's, for IPv6 too).
func cniGet(t *testing.T, p *boxPod, url string) (string, error) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Close = true
	var c net.Conn
	if err := p.b.InNetNS("", func() (err error) {
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

// cniLeft lists what a pod's named networks may leave in the box: the
// host-local lease files of its addresses, its links on the host (all but
// the bridges, which are the networks' and stay), iptables rules naming
// it, and its state and network namespace mount under /run/acirun/cni.
func cniLeft(t *testing.T, p *boxPod, ctx context.Context, leases, uuid string, n cniNetJSON) []string {
	t.Helper()
	var left []string
	for _, a := range n.Networks {
		for _, ip := range a.IPs {
			lease := filepath.Join(leases, a.Name, netip.MustParsePrefix(ip).Addr().String())
			if _, err := os.Stat(lease); err == nil {
				left = append(left, "lease "+lease)
			}
		}
		inBox(t, p, func() error {
			for _, l := range a.HostInterfaces {
				if strings.HasPrefix(l, "accni") {
					continue
				}
				if _, err := net.InterfaceByName(l); err == nil {
					left = append(left, "link "+l)
				}
			}
			return nil
		})
	}
	for _, cmd := range []string{"iptables-save", "ip6tables-save"} {
		out, err := p.b.Output(ctx, cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, uuid) {
				left = append(left, cmd+": "+l)
				continue
			}
			for _, a := range n.Networks {
				for _, ip := range a.IPs {
					if strings.Contains(l, netip.MustParsePrefix(ip).Addr().String()+"/") {
						left = append(left, cmd+": "+l)
					}
				}
			}
		}
	}
	if state, err := p.b.Path("/run/acirun/cni/pods/" + uuid); err != nil {
		t.Fatal(err)
	} else if _, err := os.Stat(state); err == nil {
		left = append(left, "state /run/acirun/cni/pods/"+uuid)
	}
	mi, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", p.b.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, uuid) {
			left = append(left, "mount "+l)
		}
	}
	return left
}

// TestCNINetworks: a pod on a CNI bridge network gets an address from the
// range host-local leases, its declared port answers through portmap, and
// status shows where it is; a second pod asks for its address with IP=
// and is on two networks at once, one interface each; a pod that ends
// leaves no lease, link or rule; one whose supervisor is killed with
// SIGKILL leaves them until acirun gc, which takes them all away.
func TestCNINetworks(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	leases := cniSetup(t, p)
	web := p.image(podImage(t, podManifest(t, "example.com/cni-web", map[string]any{
		"ports": []map[string]any{{"name": "http", "protocol": "tcp", "port": 8082}},
	}, "addrs", "+", "serve", ":8082"), nil))

	a := p.startPod(ctx, "serving", "--net=cnitest", web)
	na := a.cniNet()
	if len(na.Networks) != 1 || na.Network != "cnitest" || na.Interface != "eth0" || len(na.Networks[0].IPs) != 1 {
		t.Fatalf("net.json of a pod on cnitest: %+v", na)
	}
	ipA := netip.MustParsePrefix(na.Networks[0].IPs[0])
	if !netip.MustParsePrefix("10.99.0.0/24").Contains(ipA.Addr()) || ipA.Bits() != 24 || na.IP != ipA.Addr().String() {
		t.Fatalf("pod a's address %s (ip %s) is not from cnitest's range 10.99.0.0/24", ipA, na.IP)
	}
	if !strings.Contains(a.out.String(), "addr eth0 "+ipA.String()) {
		t.Errorf("the app does not see %s on eth0:\n%s", ipA, a.out.String())
	}
	if b, err := os.ReadFile(filepath.Join(leases, "cnitest", ipA.Addr().String())); err != nil || !strings.Contains(string(b), a.uuid) {
		t.Errorf("host-local's lease of %s: %q, %v; want the pod's UUID", ipA.Addr(), b, err)
	}
	if ports := na.Networks[0].Ports; len(ports) != 1 || ports[0].Name != "http" || ports[0].Host != "0.0.0.0:8082" || ports[0].Pod != ipA.Addr().String()+":8082" {
		t.Errorf("published ports: %+v", ports)
	}
	// The pod's own address, and its port published by portmap on the
	// box's address on the bridge.
	for _, url := range []string{"http://" + ipA.Addr().String() + ":8082/", "http://10.99.0.1:8082/"} {
		if body, err := cniGet(t, p, url); err != nil || body != "hello from testapp\n" {
			t.Errorf("GET %s from the box: %q, %v", url, body, err)
		}
	}
	if st, err := p.b.Output(ctx, p.acirun("status", a.uuid)...); err != nil ||
		!strings.Contains(string(st), "\nnetwork=cnitest\nip="+ipA.Addr().String()+"\nport-http=0.0.0.0:8082/tcp\nnetwork-cnitest=eth0 "+ipA.String()+"\n") {
		t.Errorf("acirun status of a pod on cnitest: %s %v", st, err)
	}
	if ls, err := p.b.Output(ctx, p.acirun("list", "--format=json")...); err != nil || !strings.Contains(string(ls), `"name": "cnitest"`) {
		t.Errorf("acirun list --format=json does not show the pod's network: %s %v", ls, err)
	}

	// Two networks at once, the first with the address asked for, and the
	// port published where --port says, by the first network's portmap.
	b := p.startPod(ctx, "serving", "--net=cnitest:IP=10.99.0.77,cnitwo", "--port=http:18082", web)
	nb := b.cniNet()
	if len(nb.Networks) != 2 || nb.Networks[0].Name != "cnitest" || nb.Networks[0].Interface != "eth0" ||
		nb.Networks[1].Name != "cnitwo" || nb.Networks[1].Interface != "eth1" {
		t.Fatalf("net.json of a pod on cnitest and cnitwo: %+v", nb)
	}
	if ips := nb.Networks[0].IPs; len(ips) != 1 || ips[0] != "10.99.0.77/24" {
		t.Errorf("--net=cnitest:IP=10.99.0.77 gave %v", ips)
	}
	ipB2 := netip.MustParsePrefix(nb.Networks[1].IPs[0])
	if !netip.MustParsePrefix("10.98.0.0/24").Contains(ipB2.Addr()) {
		t.Errorf("cnitwo gave %s", ipB2)
	}
	for _, want := range []string{"addr eth0 10.99.0.77/24", "addr eth1 " + ipB2.String()} {
		if !strings.Contains(b.out.String(), want) {
			t.Errorf("pod b lacks %q:\n%s", want, b.out.String())
		}
	}
	if body, err := cniGet(t, p, "http://"+ipB2.Addr().String()+":8082/"); err != nil || body != "hello from testapp\n" {
		t.Errorf("GET pod b on cnitwo: %q, %v", body, err)
	}
	if ports := nb.Networks[0].Ports; len(ports) != 1 || ports[0].Host != "0.0.0.0:18082" || ports[0].Pod != "10.99.0.77:8082" || len(nb.Networks[1].Ports) != 0 {
		t.Errorf("--port=http:18082 on cnitest and cnitwo published %+v and %+v", ports, nb.Networks[1].Ports)
	}
	if body, err := cniGet(t, p, "http://10.99.0.1:18082/"); err != nil || body != "hello from testapp\n" {
		t.Errorf("GET pod b through --port=http:18082: %q, %v", body, err)
	}
	// An address already taken is refused, and nothing is left of the try.
	if out, code := cniRun(t, p, ctx, "run", "--insecure-options=image", "--net=cnitest:IP=10.99.0.77", web); code == 0 || !strings.Contains(out, "10.99.0.77") {
		t.Errorf("a second pod asking for 10.99.0.77: exit %d\n%s", code, out)
	}

	// Ended: no lease, link or rule of pod a.
	if left := cniLeft(t, p, ctx, leases, a.uuid, na); len(left) == 0 {
		t.Fatalf("cniLeft finds nothing of the running pod a")
	}
	a.stop(p)
	if left := cniLeft(t, p, ctx, leases, a.uuid, na); len(left) > 0 {
		t.Errorf("pod a ended and left:\n%s", strings.Join(left, "\n"))
	}

	// Killed: its namespace is kept by the bind mount until acirun gc,
	// which runs DEL from libcni's cache.
	b.kill(p)
	if left := cniLeft(t, p, ctx, leases, b.uuid, nb); len(left) == 0 {
		t.Errorf("nothing of the killed pod b is left for gc to take: the test cannot tell that gc did it")
	}
	if out, err := p.b.Output(ctx, p.acirun("gc")...); err != nil {
		t.Fatalf("acirun gc: %v\n%s", err, out)
	}
	if left := cniLeft(t, p, ctx, leases, b.uuid, nb); len(left) > 0 {
		t.Errorf("pod b was killed, and after acirun gc there is left:\n%s", strings.Join(left, "\n"))
	}
	// Its address is free again.
	c := p.startPod(ctx, "serving", "--net=cnitest:IP=10.99.0.77", web)
	nc := c.cniNet()
	if len(nc.Networks) != 1 || nc.Networks[0].IPs[0] != "10.99.0.77/24" {
		t.Errorf("10.99.0.77 after gc: %+v", nc)
	}
	// Killed too, and what it left goes when the next pod starts.
	c.kill(p)
	if left := cniLeft(t, p, ctx, leases, c.uuid, nc); len(left) == 0 {
		t.Errorf("nothing of the killed pod c is left for the next start to take")
	}
	// The next pod gets the address only if c's lease went first; once
	// it has ended too, nothing of c (nor of it) is left.
	d := p.startPod(ctx, "serving", "--net=cnitest:IP=10.99.0.77", web)
	d.stop(p)
	if left := cniLeft(t, p, ctx, leases, c.uuid, nc); len(left) > 0 {
		t.Errorf("pod c was killed, and after the next pod started (and ended) there is left:\n%s", strings.Join(left, "\n"))
	}
}

// kill kills the pod's supervisor (stage1 run) with SIGKILL and waits for
// acirun run to end.
func (bg *bgPod) kill(p *boxPod) {
	bg.t.Helper()
	pid, err := os.ReadFile(filepath.Join(bg.dir, "pid"))
	if err != nil {
		bg.t.Fatal(err)
	}
	if err := p.b.Exec(context.Background(), "kill", "-KILL", strings.TrimSpace(string(pid))); err != nil {
		bg.t.Fatal(err)
	}
	select {
	case <-bg.done:
	case <-time.After(20 * time.Second):
		bg.t.Fatal("acirun run did not end after SIGKILL")
	}
}

// TestCNINetworkIPv6: a network of IPv6 addresses only gives the pod one,
// and the box reaches the pod's port there.
func TestCNINetworkIPv6(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	leases := cniSetup(t, p)
	web := p.image(podImage(t, podManifest(t, "example.com/cni-web6", nil, "addrs", "+", "serve", ":8083"), nil))
	a := p.startPod(ctx, "serving", "--net=cni6", web)
	na := a.cniNet()
	if len(na.Networks) != 1 || len(na.Networks[0].IPs) != 1 {
		t.Fatalf("net.json of a pod on cni6: %+v", na)
	}
	ip := netip.MustParsePrefix(na.Networks[0].IPs[0])
	if !netip.MustParsePrefix("fd42:99::/64").Contains(ip.Addr()) {
		t.Fatalf("cni6 gave %s", ip)
	}
	if strings.Contains(a.out.String(), "addr eth0 10.") || !strings.Contains(a.out.String(), "addr eth0 "+ip.String()) {
		t.Errorf("the pod's eth0 should have %s alone of the network's addresses:\n%s", ip, a.out.String())
	}
	if st, err := p.b.Output(ctx, p.acirun("status", a.uuid)...); err != nil || strings.Contains(string(st), "\nip=") ||
		!strings.Contains(string(st), "\nip6="+ip.Addr().String()+"\n") || !strings.Contains(string(st), "\nnetwork-cni6=eth0 "+ip.String()+"\n") {
		t.Errorf("acirun status of a pod on cni6: %s %v", st, err)
	}
	url := "http://" + netip.AddrPortFrom(ip.Addr(), 8083).String() + "/"
	// The bridge's own address (the pod's gateway) is tentative until
	// duplicate address detection is over, a second or two after the
	// plugin adds it: until then neither side can answer the other.
	start := time.Now()
	for {
		body, err := cniGet(t, p, url)
		if err == nil && body == "hello from testapp\n" {
			t.Logf("GET %s answered after %v", url, time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Since(start) > 15*time.Second {
			t.Errorf("GET %s from the box: %q, %v", url, body, err)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	a.stop(p)
	if left := cniLeft(t, p, ctx, leases, a.uuid, na); len(left) > 0 {
		t.Errorf("the pod on cni6 ended and left:\n%s", strings.Join(left, "\n"))
	}
}

// TestCNINetworkErrors: an unknown network (the error lists those there
// are), a missing plugin (named, with where it was looked for) and an
// invalid configuration file (named, with the reason) refuse the pod
// before anything is prepared.
func TestCNINetworkErrors(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cniSetup(t, p)
	netd := filepath.Join(p.dir, "etc", "net.d")
	if err := os.WriteFile(filepath.Join(netd, "40-missing.conflist"),
		[]byte(`{"cniVersion": "1.0.0", "name": "cnimissing", "plugins": [{"type": "acirun-no-such-plugin"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	web := p.image(podImage(t, podManifest(t, "example.com/cni-bad", nil, "sleep", "1h"), nil))
	for _, tc := range []struct {
		net, want string
	}{
		{"nosuch", "unknown network nosuch: the networks in " + netd + " are cnitest, cnitwo, cni6, cnimissing"},
		{"cnitest,nosuch", "unknown network nosuch"},
		{"cnimissing", "network cnimissing (" + netd + "/40-missing.conflist): plugin acirun-no-such-plugin not found in /usr/lib/cni:/opt/cni/bin"},
		{"cnitest:IP=10.99.0.300", "IP=10.99.0.300: want one IPv4 or IPv6 address"},
	} {
		for _, cmd := range []string{"run", "prepare"} {
			out, code := cniRun(t, p, ctx, cmd, "--insecure-options=image", "--net="+tc.net, web)
			if code == 0 || !strings.Contains(out, tc.want) {
				t.Errorf("acirun %s --net=%s: exit %d, want non-zero and %q:\n%s", cmd, tc.net, code, tc.want, out)
			}
		}
	}
	// A --port that no network of the pod can publish (cnitwo has no
	// portmap); a prepared pod started on an unknown network.
	served := p.image(podImage(t, podManifest(t, "example.com/cni-bad-port", map[string]any{
		"ports": []map[string]any{{"name": "http", "protocol": "tcp", "port": 8084}},
	}, "sleep", "1h"), nil))
	if out, code := cniRun(t, p, ctx, "run", "--insecure-options=image", "--net=cnitwo", "--port=http:18084", served); code == 0 ||
		!strings.Contains(out, "port http is to be published (--port), and no plugin of --net=cnitwo has the portMappings capability") {
		t.Errorf("--port on a network without portmap: exit %d\n%s", code, out)
	}
	out, code := cniRun(t, p, ctx, "prepare", "--insecure-options=image", web)
	if code != 0 {
		t.Fatalf("prepare: exit %d\n%s", code, out)
	}
	uuid := strings.TrimSpace(out[strings.LastIndexByte(strings.TrimSpace(out), '\n')+1:])
	if out, code := cniRun(t, p, ctx, "run-prepared", "--net=nosuch", uuid); code == 0 || !strings.Contains(out, "pod "+uuid+": unknown network nosuch") {
		t.Errorf("run-prepared --net=nosuch: exit %d\n%s", code, out)
	}
	if out, code := cniRun(t, p, ctx, "rm", uuid); code != 0 {
		t.Errorf("rm of the prepared pod: exit %d\n%s", code, out)
	}
	if err := os.WriteFile(filepath.Join(netd, "50-bad.conflist"), []byte(`{"cniVersion": "1.0.0", "name": "bad", "plugins": [{"type": "bridge"`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = cniRun(t, p, ctx, "run", "--insecure-options=image", "--net=cnitest", web)
	if want := "network configuration " + netd + "/50-bad.conflist: error parsing configuration list"; code == 0 || !strings.Contains(out, want) {
		t.Errorf("a pod while net.d holds an invalid file: exit %d, want %q:\n%s", code, want, out)
	}
	if ents, err := os.ReadDir(filepath.Join(p.data, "pods")); err == nil {
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), ".") {
				t.Errorf("a refused pod left pod %s", e.Name())
			}
		}
	}
}
