package e2e

// The default network's addresses: IPv6 beside IPv4, addresses usable at
// once, leases given back however a pod ends, many pods at once, an
// IPv6-only network, and the host end of each pod's link deaf to what a pod
// could change the host's routes or addresses with. Everything happens in
// the box's network namespace (tests/box) and namespaces made in it.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The default network's subnets (netns.DefaultSubnet, DefaultSubnet6).
var (
	defaultSubnet  = netip.MustParsePrefix("172.16.28.0/24")
	defaultSubnet6 = netip.MustParsePrefix("fd61:6369:7275::/64")
)

// leaseDir is where the box's pods lease their addresses.
const leaseDir = "/run/acirun/net/default"

// boxGetFamily is boxGet over network ("tcp4" or "tcp6").
func boxGetFamily(t *testing.T, p *boxPod, network, url string) (string, error) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Close = true
	var c net.Conn
	if err := p.b.InNetNS("", func() (err error) {
		c, err = net.DialTimeout(network, req.URL.Host, 5*time.Second)
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

// inPodNet runs a command in the network namespace of the pod whose
// directory is dir (its PID 1's) and returns its output.
func inPodNet(t *testing.T, p *boxPod, ctx context.Context, dir string, args ...string) string {
	t.Helper()
	out, err := p.b.Output(ctx, append([]string{"nsenter", "-t", ppid1(t, dir), "-n"}, args...)...)
	if err != nil {
		t.Fatalf("%s in the pod's network namespace: %v\n%s", args, err, out)
	}
	return string(out)
}

// boxOut runs a command in the box and returns its output.
func boxOut(t *testing.T, p *boxPod, ctx context.Context, args ...string) string {
	t.Helper()
	out, err := p.b.Output(ctx, args...)
	if err != nil {
		t.Fatalf("%s in the box: %v\n%s", args, err, out)
	}
	return string(out)
}

// leaseFiles lists the leases of the box's default network.
func leaseFiles(t *testing.T, p *boxPod) []string {
	t.Helper()
	dir, err := p.b.Path(leaseDir)
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	return names
}

// hostEnds lists the host ends of pod links in the box.
func hostEnds(t *testing.T, p *boxPod) []string {
	t.Helper()
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

// awaitHostEndsGone waits for the kernel to remove the host ends of the
// ended pods' links (by name, or all of the box's with none named) with
// the pods' network namespaces, which it does in its own time after each
// pod's end, and fails the test if one is still there after 20s.
func awaitHostEndsGone(t *testing.T, p *boxPod, names ...string) {
	t.Helper()
	left := func() []string {
		return slices.DeleteFunc(hostEnds(t, p), func(n string) bool { return len(names) > 0 && !slices.Contains(names, n) })
	}
	for deadline := time.Now().Add(20 * time.Second); len(left()) > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("host ends %q still there 20s after their pods ended", left())
		}
	}
}

// reclaim is what gives back the addresses of ended pods on the default
// network: their ends gave them back on condition of their links, which
// the kernel removes in its own time; once those are gone, acirun gc
// (as the next pod's start would) takes them back. It removes the ended
// pods too.
func reclaim(t *testing.T, p *boxPod, ctx context.Context, hostIfaces ...string) {
	t.Helper()
	awaitHostEndsGone(t, p, hostIfaces...)
	if out, err := p.b.Output(ctx, p.acirun("gc", "--grace-period=0s")...); err != nil {
		t.Fatalf("acirun gc: %v\n%s", err, out)
	}
}

// hostIface names the host end of the link of the pod uuid.
func hostIface(uuid string) string {
	return "ac-" + strings.ReplaceAll(uuid, "-", "")[:12]
}

// checkNet checks a pod's net.json on the default network with both
// families and returns its addresses.
func checkNet(t *testing.T, n netJSON) (v4, v6 netip.Addr) {
	t.Helper()
	v4, err4 := netip.ParseAddr(n.IP)
	v6, err6 := netip.ParseAddr(n.IP6)
	if err4 != nil || err6 != nil || !defaultSubnet.Contains(v4) || !defaultSubnet6.Contains(v6) ||
		n.Gateway != "172.16.28.1" || n.Gateway6 != "fd61:6369:7275::1" {
		t.Fatalf("net.json: %+v, want an address in %s and one in %s, gateways 172.16.28.1 and fd61:6369:7275::1", n, defaultSubnet, defaultSubnet6)
	}
	return v4, v6
}

// TestPodNetworkIPv6: a pod on the default network has an IPv4 and an IPv6
// address with a default route each, both usable at once (no duplicate
// address detection on either end); the host reaches it over IPv6, and it
// reaches the host at the IPv6 gateway; status and list show the address;
// when the pod ends both leases are given back.
func TestPodNetworkIPv6(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	web := p.image(podImage(t, podManifest(t, "example.com/net6-web", map[string]any{
		"ports": []map[string]any{{"name": "http", "protocol": "tcp", "port": 8080}},
	}, "addrs", "+", "serve", ":8080"), nil))
	client := p.image(podImage(t, podManifest(t, "example.com/net6-client", nil, "sleep", "1h"), nil))

	a := p.startPod(ctx, "serving", web)
	na := a.net()
	_, v6 := checkNet(t, na)
	// Reached over IPv6 the moment the app listens: no address of the
	// link was left tentative.
	if body, err := boxGetFamily(t, p, "tcp6", "http://"+netip.AddrPortFrom(v6, 8080).String()+"/"); err != nil || body != "hello from testapp\n" {
		t.Errorf("GET the pod at its IPv6 address from the host: %q, %v", body, err)
	}
	if !strings.Contains(a.out.String(), "addr eth0 "+na.IP6+"/128") || !strings.Contains(a.out.String(), "addr eth0 "+na.IP+"/32") {
		t.Errorf("the app does not see both its addresses on eth0:\n%s", a.out.String())
	}
	if r := inPodNet(t, p, ctx, a.dir, "ip", "-6", "route", "show", "default"); !strings.HasPrefix(r, "default via fd61:6369:7275::1 dev eth0 ") {
		t.Errorf("the pod's IPv6 default route: %q", r)
	}
	if r := inPodNet(t, p, ctx, a.dir, "ip", "-4", "route", "show", "default"); !strings.HasPrefix(r, "default via 172.16.28.1 dev eth0 ") {
		t.Errorf("the pod's IPv4 default route: %q", r)
	}
	if ad := inPodNet(t, p, ctx, a.dir, "ip", "-6", "addr", "show", "dev", "eth0"); !strings.Contains(ad, "inet6 "+na.IP6+"/128 scope global nodad") || strings.Contains(ad, "tentative") {
		t.Errorf("the pod's eth0: want %s/128 without duplicate address detection, nothing tentative:\n%s", na.IP6, ad)
	}
	if ad := boxOut(t, p, ctx, "ip", "-6", "addr", "show", "dev", na.HostInterface); !strings.Contains(ad, "inet6 fd61:6369:7275::1/128 scope global nodad") || strings.Contains(ad, "tentative") {
		t.Errorf("the host end %s: want fd61:6369:7275::1/128 without duplicate address detection, nothing tentative:\n%s", na.HostInterface, ad)
	}
	if r := boxOut(t, p, ctx, "ip", "-6", "route", "show", na.IP6); !strings.HasPrefix(r, na.IP6+" dev "+na.HostInterface+" ") {
		t.Errorf("the host's route to the pod: %q", r)
	}
	for sysctl, want := range map[string]string{
		"ipv6/conf/all/forwarding": "1",
		"ipv4/ip_forward":          "1",
	} {
		if got := strings.TrimSpace(boxOut(t, p, ctx, "cat", "/proc/sys/net/"+sysctl)); got != want {
			t.Errorf("net.%s = %s, want %s", strings.ReplaceAll(sysctl, "/", "."), got, want)
		}
	}

	// The pod reaches the host at the IPv6 gateway (a server the test runs
	// in the box's namespace, on every address).
	var ln net.Listener
	inBox(t, p, func() (err error) {
		ln, err = net.Listen("tcp6", "[::]:0")
		return err
	})
	defer ln.Close()
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(w, "host saw %s\n", host)
	}))
	url := fmt.Sprintf("http://[fd61:6369:7275::1]:%d/", ln.Addr().(*net.TCPAddr).Port)
	c := p.startPod(ctx, "get ", client, "--exec=/testapp", "--", "get", url, "+", "get", "http://["+na.IP6+"]:8080/", "+", "sleep", "1h")
	for deadline := time.Now().Add(15 * time.Second); strings.Count(c.out.String(), "\nget ") < 2 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	nc := c.net()
	for _, want := range []string{
		"get " + url + " status=200 body=host saw " + nc.IP6,                   // pod to host, with its own address
		"get http://[" + na.IP6 + "]:8080/ status=200 body=hello from testapp", // pod to pod
	} {
		if !strings.Contains(c.out.String(), want) {
			t.Errorf("the client pod lacks %q:\n%s", want, c.out.String())
		}
	}

	if st := boxOut(t, p, ctx, p.acirun("status", a.uuid)...); !strings.Contains(st, "\nip="+na.IP+"\nip6="+na.IP6+"\n") {
		t.Errorf("acirun status: want ip= and ip6=:\n%s", st)
	}
	if l := boxOut(t, p, ctx, p.acirun("list", "--format=json")...); !strings.Contains(l, `"ip6": "`+na.IP6+`"`) || !strings.Contains(l, `"gateway6": "fd61:6369:7275::1"`) {
		t.Errorf("acirun list --format=json: want the pod's ip6 and gateway6:\n%s", l)
	}
	leases := leaseFiles(t, p)
	for _, want := range []string{na.IP, na.IP6} {
		if b, err := p.b.Output(ctx, "cat", filepath.Join(leaseDir, want)); err != nil || strings.TrimSpace(string(b)) != a.dir {
			t.Errorf("lease %s: %q, %v; want the pod directory (leases %v)", want, b, err, leases)
		}
	}

	a.stop(p)
	reclaim(t, p, ctx, na.HostInterface)
	for _, gone := range []string{na.IP, na.IP6} {
		if _, err := p.b.Output(ctx, "test", "!", "-e", filepath.Join(leaseDir, gone)); err != nil {
			t.Errorf("the lease of %s outlived its pod and its link", gone)
		}
	}
	if r := boxOut(t, p, ctx, "ip", "-6", "route", "show", na.IP6); r != "" {
		t.Errorf("the host's route to the ended pod stayed: %q", r)
	}
	c.stop(p)
}

// TestPodNetworkKilledLeases: a pod whose supervisor is killed with SIGKILL
// cannot give its addresses back; its link goes with its namespace, and
// acirun gc gives both leases back.
func TestPodNetworkKilledLeases(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/net6-killed", nil, "print", "up", "+", "sleep", "1h"), nil))
	a := p.startPod(ctx, "up", img)
	na := a.net()
	checkNet(t, na)
	a.kill(p)
	for deadline := time.Now().Add(10 * time.Second); strings.Contains(strings.Join(hostEnds(t, p), " "), na.HostInterface); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the host end %s outlived its killed pod by 10s", na.HostInterface)
		}
	}
	held := strings.Join(leaseFiles(t, p), " ")
	if !strings.Contains(held, na.IP) || !strings.Contains(held, na.IP6) {
		t.Fatalf("leases after SIGKILL: %s; want the killed pod's %s and %s still there (nothing could give them back)", held, na.IP, na.IP6)
	}
	if out, err := p.b.Output(ctx, p.acirun("gc", "--grace-period=0s")...); err != nil {
		t.Fatalf("acirun gc: %v\n%s", err, out)
	}
	left := strings.Join(leaseFiles(t, p), " ")
	for _, a := range []string{na.IP, na.IP6} {
		if strings.Contains(left, a) {
			t.Errorf("the killed pod's lease of %s outlived acirun gc (leases: %s)", a, left)
		}
	}
}

// TestPodNetworkMany: 20 pods at once on the default network, each with its
// own IPv4 and IPv6 address, each reached at both by the host; once they
// have ended no link, route or lease of theirs is left.
func TestPodNetworkMany(t *testing.T) {
	const pods = 20
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	web := p.servingImage("example.com/net6-many", 8080)
	linksBefore, leasesBefore := hostEnds(t, p), leaseFiles(t, p)
	var all []*bgPod
	seen := map[netip.Addr]string{}
	for i := 0; i < pods; i++ {
		bg := p.startPod(ctx, "serving", web)
		all = append(all, bg)
		v4, v6 := checkNet(t, bg.net())
		for _, a := range []netip.Addr{v4, v6} {
			if other, dup := seen[a]; dup {
				t.Fatalf("pods %s and %s both have %s", other, bg.uuid, a)
			}
			seen[a] = bg.uuid
		}
	}
	for _, bg := range all {
		n := bg.net()
		for _, tc := range []struct{ network, addr string }{{"tcp4", n.IP}, {"tcp6", n.IP6}} {
			url := "http://" + netip.AddrPortFrom(netip.MustParseAddr(tc.addr), 8080).String() + "/"
			if body, err := boxGetFamily(t, p, tc.network, url); err != nil || body != "hello from testapp\n" {
				t.Errorf("pod %s: GET %s: %q, %v", bg.uuid, url, body, err)
			}
		}
	}
	var ifaces []string
	for _, bg := range all {
		bg.stop(p)
		ifaces = append(ifaces, bg.net().HostInterface)
	}
	reclaim(t, p, ctx, ifaces...)
	if after := hostEnds(t, p); strings.Join(after, " ") != strings.Join(linksBefore, " ") {
		t.Errorf("host ends before the pods %v, after %v", linksBefore, after)
	}
	if after := leaseFiles(t, p); strings.Join(after, " ") != strings.Join(leasesBefore, " ") {
		t.Errorf("leases before the pods %v, after %v", leasesBefore, after)
	}
	if r := boxOut(t, p, ctx, "ip", "-6", "route", "show", defaultSubnet6.String()); r != "" {
		t.Errorf("routes into %s left after the pods ended:\n%s", defaultSubnet6, r)
	}
}

// TestPodNetworkRouterAdvertisement: a router advertisement sent from
// inside a pod (a default router and a prefix to take an address from)
// changes none of the host's routes or addresses, even on a host whose new
// links take advertisements while forwarding (accept_ra=2, as on hosts that
// get their own address by SLAAC and run containers): the host end of the
// pod's link is made deaf to them before it comes up.
func TestPodNetworkRouterAdvertisement(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	set := func(sysctl, v string) {
		t.Helper()
		if err := p.b.Exec(ctx, "sh", "-c", "echo "+v+" > /proc/sys/net/"+sysctl); err != nil {
			t.Fatalf("set %s: %v", sysctl, err)
		}
	}
	for sysctl, v := range map[string]string{
		"ipv6/conf/default/accept_ra":        "2",
		"ipv6/conf/default/autoconf":         "1",
		"ipv6/conf/default/accept_redirects": "1",
		"ipv4/conf/default/accept_redirects": "1",
	} {
		old := strings.TrimSpace(boxOut(t, p, ctx, "cat", "/proc/sys/net/"+sysctl))
		t.Cleanup(func() { p.b.Exec(context.Background(), "sh", "-c", "echo "+old+" > /proc/sys/net/"+sysctl) })
		set(sysctl, v)
	}
	// The app waits before it advertises, so that the host's state is
	// taken with the pod's link up and before anything is sent.
	img := p.image(podImage(t, podManifest(t, "example.com/net6-ra", nil,
		"print", "up", "+", "sleep", "2s", "+", "ra", "eth0", "2001:db8:bad::/64", "+", "sleep", "1h"), nil))
	a := p.startPod(ctx, "up", img)
	na := a.net()
	checkNet(t, na)
	state := func() string {
		var b strings.Builder
		for _, args := range [][]string{
			{"ip", "-4", "route", "show", "table", "all"}, {"ip", "-6", "route", "show", "table", "all"},
			{"ip", "-4", "addr"}, {"ip", "-6", "addr"},
		} {
			b.WriteString(boxOut(t, p, ctx, args...))
		}
		// Lifetimes count down; the addresses and routes are what count.
		var keep []string
		for _, l := range strings.Split(b.String(), "\n") {
			if !strings.Contains(l, "valid_lft") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	before := state()
	for _, sysctl := range []string{"ipv6/conf/" + na.HostInterface + "/accept_ra", "ipv6/conf/" + na.HostInterface + "/accept_redirects",
		"ipv4/conf/" + na.HostInterface + "/accept_redirects", "ipv4/conf/" + na.HostInterface + "/send_redirects"} {
		if v := strings.TrimSpace(boxOut(t, p, ctx, "cat", "/proc/sys/net/"+sysctl)); v != "0" {
			t.Errorf("net.%s = %s, want 0", strings.ReplaceAll(sysctl, "/", "."), v)
		}
	}
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(a.out.String(), "ra eth0 "); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the pod sent no router advertisement:\n%s", a.out.String())
		}
	}
	if !strings.Contains(a.out.String(), "ra eth0 ok") {
		t.Fatalf("the pod could not send its router advertisement:\n%s", a.out.String())
	}
	time.Sleep(time.Second) // what the kernel would do with it is done at once
	if after := state(); after != before {
		t.Errorf("the host's routes or addresses changed after a router advertisement from the pod\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if strings.Contains(state(), "2001:db8:bad") {
		t.Errorf("the host took the pod's advertised prefix")
	}
	a.stop(p)
}

// TestPodNetworkIPv6Only: with the host's network.d setting subnet none
// (and a subnet6 of its own), the default network is IPv6 only: the pod has
// an IPv6 address and default route and no IPv4 one, the host reaches it
// and it reaches its metadata service over IPv6. With subnet6 none it is
// IPv4 only, and the host end has IPv6 disabled. A configuration without
// any family is refused naming the file.
func TestPodNetworkIPv6Only(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var conf string
	write := func(s string) { conf = p.networkConfig("50-v6only.json", s) }
	write(`{"rktKind": "network", "rktVersion": "v1", "subnet": "none", "subnet6": "fd00:ac:6::/64"}`)
	web := p.image(podImage(t, podManifest(t, "example.com/net6-only", nil,
		"addrs", "+", "meta", "pod/uuid", "+", "serve", ":8080"), nil))
	a := p.startPod(ctx, "serving", web)
	n := a.net()
	v6, err := netip.ParseAddr(n.IP6)
	if err != nil || n.IP != "" || n.Gateway != "" || n.Gateway6 != "fd00:ac:6::1" || !netip.MustParsePrefix("fd00:ac:6::/64").Contains(v6) {
		t.Fatalf("net.json of an IPv6-only pod: %+v", n)
	}
	if out := a.out.String(); strings.Contains(out, "addr eth0 172.") || !strings.Contains(out, "addr eth0 "+n.IP6+"/128") ||
		!strings.Contains(out, "meta pod/uuid status=200 body="+a.uuid) {
		t.Errorf("the app: want its IPv6 address alone on eth0 and its metadata over IPv6:\n%s", out)
	}
	if r := inPodNet(t, p, ctx, a.dir, "ip", "-4", "route"); r != "" {
		t.Errorf("IPv4 routes in an IPv6-only pod: %q", r)
	}
	if r := inPodNet(t, p, ctx, a.dir, "ip", "-6", "route", "show", "default"); !strings.HasPrefix(r, "default via fd00:ac:6::1 dev eth0 ") {
		t.Errorf("the pod's IPv6 default route: %q", r)
	}
	if ad := boxOut(t, p, ctx, "ip", "-4", "addr", "show", "dev", n.HostInterface); ad != "" {
		t.Errorf("the host end of an IPv6-only pod has IPv4 addresses:\n%s", ad)
	}
	if body, err := boxGetFamily(t, p, "tcp6", "http://["+n.IP6+"]:8080/"); err != nil || body != "hello from testapp\n" {
		t.Errorf("GET the IPv6-only pod: %q, %v", body, err)
	}
	if st := boxOut(t, p, ctx, p.acirun("status", a.uuid)...); strings.Contains(st, "\nip=") || !strings.Contains(st, "\nnetwork=default\nip6="+n.IP6+"\n") {
		t.Errorf("acirun status of an IPv6-only pod:\n%s", st)
	}
	a.stop(p)
	reclaim(t, p, ctx, n.HostInterface)
	if _, err := p.b.Output(ctx, "test", "!", "-e", filepath.Join(leaseDir, n.IP6)); err != nil {
		t.Errorf("the lease of %s outlived its pod and its link", n.IP6)
	}

	// IPv4 only: no IPv6 address or route in the pod, and IPv6 disabled on
	// the host end, which then ignores every IPv6 packet of the pod.
	write(`{"rktKind": "network", "rktVersion": "v1", "subnet6": "none"}`)
	b := p.startPod(ctx, "serving", web)
	nb := b.net()
	if nb.IP == "" || nb.IP6 != "" || nb.Gateway6 != "" {
		t.Errorf("net.json of an IPv4-only pod: %+v", nb)
	}
	if r := inPodNet(t, p, ctx, b.dir, "ip", "-6", "route", "show", "default"); r != "" {
		t.Errorf("an IPv6 default route in an IPv4-only pod: %q", r)
	}
	if v := strings.TrimSpace(boxOut(t, p, ctx, "cat", "/proc/sys/net/ipv6/conf/"+nb.HostInterface+"/disable_ipv6")); v != "1" {
		t.Errorf("the host end of an IPv4-only pod has disable_ipv6=%s, want 1", v)
	}
	if ad := boxOut(t, p, ctx, "ip", "-6", "addr", "show", "dev", nb.HostInterface); ad != "" {
		t.Errorf("the host end of an IPv4-only pod has IPv6 addresses:\n%s", ad)
	}
	b.stop(p)

	// Neither family, or a subnet too small: refused before anything runs.
	for _, tc := range []struct{ conf, want string }{
		{`{"rktKind": "network", "rktVersion": "v1", "subnet": "none", "subnet6": "none"}`, "the default network needs IPv4, IPv6 or both"},
		{`{"rktKind": "network", "rktVersion": "v1", "subnet6": "fd00:ac:6::/127"}`, "want an IPv6 subnet of at least 4 addresses"},
		{`{"rktKind": "network", "rktVersion": "v1", "subnet": "10.1.2.3/16"}`, "has host bits set: write it as 10.1.0.0/16"},
	} {
		write(tc.conf)
		cmd := p.b.Command(ctx, p.acirun("run", "--insecure-options=image", web)...)
		out, _ := cmd.CombinedOutput()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() == 0 || !strings.Contains(string(out), "network config "+conf) ||
			!strings.Contains(string(out), tc.want) {
			t.Errorf("%s: want a non-zero exit naming %s and %q:\n%s", tc.conf, conf, tc.want, out)
		}
	}
}
