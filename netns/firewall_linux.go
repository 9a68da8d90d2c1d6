package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/acirun/acirun/internal/flock"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// tableName is acirun's nftables table, of family inet: every rule of
// acirun's pod networks, IPv4 and IPv6, is in it and nothing of acirun's is
// anywhere else. `nft delete table inet acirun` removes them all; the next
// pod makes the table again, and the pods running meanwhile lose their
// published ports and their NAT.
const tableName = "acirun"

// legacyTable is the table (family ip) that held the masquerade rule before
// the inet table did; it is removed when the inet table is made.
const legacyTable = "acirun"

// The base chains of the table. Each hook has its chain, and each pod
// with rules of its own jumps from it to chains of its own (podChain),
// through a rule whose user data names the pod (podTag); the masquerade
// and antispoof chains hold rules shared by all pods.
const (
	chainAntiSpoof   = "antispoof"   // filter, prerouting, raw priority: anti-spoofing (spoofRules)
	chainGuard       = "guard"       // filter, prerouting, raw priority: an older acirun's anti-spoofing, per pod
	chainPrerouting  = "prerouting"  // nat, prerouting, dstnat: published ports, from elsewhere
	chainOutput      = "output"      // nat, output, dstnat: published ports, from the host
	chainPostrouting = "postrouting" // nat, postrouting, srcnat: loopback and hairpin
	chainMasquerade  = "masquerade"  // nat, postrouting, srcnat: the shared rules
	chainForward     = "forward"     // filter, forward: restricted pods
)

// podTagPrefix starts the user data of a pod's jump rules: "acirun pod
// UUID OWNER". The kernel keeps at most 256 bytes of it. The jump rule in
// the output chain also lists the pod's published ports after the tag
// (portsTag), so that a pod's start learns every pod's ports from the one
// dump of that chain it makes anyway.
const podTagPrefix = "acirun pod "

// portsMore, as the ports part of an output jump rule's tag, says that the
// ports did not fit in it: they are read from the pod's output chain.
const portsMore = "+"

// portsTag is the user data of a pod's jump rule in the output chain: tag,
// then NUL and the published ports ("tcp 0.0.0.0:8080"), each after a NUL
// (an owner, a path, has none), or NUL and portsMore when they do not fit.
func portsTag(tag []byte, ports []PortMap) []byte {
	b := slices.Clone(tag)
	for _, m := range ports {
		b = append(b, 0)
		b = append(b, portUserData(m)...)
	}
	if len(b) > maxUserData {
		b = append(slices.Clone(tag), 0)
		b = append(b, portsMore...)
	}
	return b
}

// portUserData is how a published port is kept in user data: "tcp
// 0.0.0.0:8080".
func portUserData(m PortMap) string { return m.Protocol + " " + m.Host.String() }

// maxUserData is the kernel's limit on a rule's user data.
const maxUserData = 256

func table() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyINet, Name: tableName}
}

// baseChain describes one base chain of the table.
func baseChain(name string) *nftables.Chain {
	c := &nftables.Chain{Name: name, Table: table()}
	switch name {
	case chainGuard, chainAntiSpoof:
		c.Type, c.Hooknum, c.Priority = nftables.ChainTypeFilter, nftables.ChainHookPrerouting, nftables.ChainPriorityRaw
	case chainPrerouting:
		c.Type, c.Hooknum, c.Priority = nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest
	case chainOutput:
		c.Type, c.Hooknum, c.Priority = nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest
	case chainPostrouting, chainMasquerade:
		c.Type, c.Hooknum, c.Priority = nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource
	case chainForward:
		c.Type, c.Hooknum, c.Priority = nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter
	}
	return c
}

// podBaseChains are the base chains from which a pod's chains are jumped
// to, each to the pod's chain of the same name. Only pods an older acirun
// started have a guard chain.
var podBaseChains = []string{chainGuard, chainPrerouting, chainOutput, chainPostrouting, chainForward}

// podMarkChains are the base chains of which every pod with rules has one
// (a published port has an output rule; a restricted pod has a forward
// one; an older acirun gave every pod a guard chain): the pods of the
// table are named by their jump rules.
var podMarkChains = [...]string{chainOutput, chainForward, chainGuard}

// spoofTag is the user data of the antispoof chain's first rule: the
// chain holds exactly spoofRules when it has as many rules and the first
// carries it.
const spoofTag = "acirun antispoof fib"

// podChain names the pod's own chain for base chain base: "pod-UUID-base".
func podChain(uuid, base string) string { return "pod-" + uuid + "-" + base }

// Firewall is acirun's nftables table in the caller's network namespace,
// with the lock that serialises its changes among the host's pods.
type Firewall struct {
	// LockFile serialises the changes of the table and the check of the
	// host's ports against them. It should not outlive a boot.
	LockFile string
	// crashAt is Network.crashAt, for Install's step.
	crashAt func(attachStep)
}

// DefaultFirewall is the firewall of the pod networks whose leases are
// under leaseRoot (as Default has them).
func DefaultFirewall(leaseRoot string) Firewall {
	return Firewall{LockFile: filepath.Join(leaseRoot, "firewall.lock")}
}

// PodRules are what the firewall holds for one pod.
type PodRules struct {
	UUID  string // the pod's UUID: its chains' names
	Owner string // the pod directory: the pod is alive while its owner is
	// HostIndex is the interface index of the host end of the pod's link.
	HostIndex int
	HostIface string
	// Gateways are the host end's addresses, one per family: the source
	// of the host's loopback connections to the pod's published ports,
	// and of its hairpin connections.
	Gateways []netip.Addr
	// Ports are the ports to publish: what cannot be (a host port that
	// is taken) is an error, or a warning for an Implicit one.
	Ports []PortMap
	// Restricted: the pod reaches the host and nothing beyond it.
	Restricted bool
	// Gone are owners known to be no longer alive (Attachment's
	// TookBackFrom: the pod has their addresses now); their pods' rules,
	// which may still send traffic to those addresses, are removed with
	// the pod's installation.
	Gone []string
}

// Published is what Install did for a pod.
type Published struct {
	Ports    []PortMap // the ports published, in the order given
	Warnings []string  // ports left out, and what may keep the pod from the world
	// Rules: the pod has rules of its own in the table (a port
	// published, or restriction), which Remove takes out. A pod without
	// has none to remove: its anti-spoofing is the shared chain's.
	Rules bool
}

func (f Firewall) lock(ctx context.Context) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(f.LockFile), 0o700); err != nil {
		return nil, fmt.Errorf("firewall: %w", err)
	}
	l, err := flock.Lock(ctx, f.LockFile, true)
	if err != nil {
		return nil, fmt.Errorf("firewall: %w", err)
	}
	return l, nil
}

// Install puts the pod's rules into the table in one transaction: its
// published ports (DNAT in prerouting and output), the masquerade of its
// hairpin traffic, and for a restricted pod the drop of what it starts
// beyond the host; and makes sure the anti-spoofing rules every pod's link
// shares are there (spoofRules). A pod with none of the first adds
// nothing: no transaction at all. The rules of a pod of
// the same UUID go in the same transaction, and so do those of the pods
// whose owners are in p.Gone and of a pod holding a host port this pod
// publishes if that pod is no longer alive (alive is asked about the owner
// of each such port), such as a stage1 killed with SIGKILL. The rules of
// the other pods that are no longer alive, which name neither this pod's
// ports nor its addresses, are left to RemoveStale, which the pod's start
// runs once the apps have started: asking about every pod here would grow
// every start with the number of pods. On error nothing of the pod's is
// left in the table.
func (f Firewall) Install(ctx context.Context, p PodRules, alive func(owner string) bool) (*Published, error) {
	tag := []byte(podTagPrefix + p.UUID + " " + p.Owner)
	if len(tag) > maxUserData {
		return nil, fmt.Errorf("firewall: pod directory %s: its name is too long to tag the pod's rules (%d bytes, the kernel keeps %d)", p.Owner, len(tag), maxUserData)
	}
	l, err := f.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer flock.Unlock(l)
	var rl ruleLister
	defer rl.close()
	// The table's state without a look at every pod's chains, and the
	// base chains' rules only as needed: every pod has a jump rule in
	// each base chain it uses.
	own := len(p.Ports) > 0 || p.Restricted
	st, err := installState(&rl, p.UUID, own)
	if err != nil {
		return nil, err
	}
	var stale []string
	if st.hasPod(p.UUID) {
		stale = append(stale, p.UUID)
	}
	spoofReady, err := hasSpoofRules(&rl, st)
	if err != nil {
		return nil, err
	}
	pub := &Published{}
	if !own && spoofReady && len(stale) == 0 && len(p.Gone) == 0 {
		// Nothing to add, nothing to take out: no connection to write
		// on, no transaction.
		f.reached(stepRulesInstalled)
		pub.Warnings = forwardWarnings(st, p)
		return pub, nil
	}
	c, err := dial()
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	var taken []ownedPort
	var listeners []listener
	if len(p.Ports) > 0 {
		if err := st.readRules(&rl, chainOutput); err != nil {
			return nil, err
		}
		if taken, err = publishedPorts(c, st, stale); err != nil {
			return nil, err
		}
		// A pod that holds one of the ports and is no longer alive
		// gives it up.
		for _, t := range taken {
			if !slices.Contains(stale, t.uuid) && slices.ContainsFunc(p.Ports, t.conflicts) && !alive(t.dir) {
				stale = append(stale, t.uuid)
			}
		}
		taken = slices.DeleteFunc(taken, func(t ownedPort) bool { return slices.Contains(stale, t.uuid) })
		if listeners, err = hostListeners(); err != nil {
			return nil, fmt.Errorf("firewall: %w", err)
		}
	}
	// The stale pods' rules go in the batch that adds the pod's: one
	// transaction, and a failed one leaves the table as it was.
	if len(stale) > 0 || len(p.Gone) > 0 {
		// Their chains are named by the full listing (installState
		// names those of a pod of this UUID only).
		full, err := listState(&rl)
		if err != nil {
			return nil, err
		}
		for uuid, owner := range full.pods() {
			if slices.Contains(p.Gone, owner) && !slices.Contains(stale, uuid) {
				stale = append(stale, uuid)
			}
		}
		removePods(c, full, stale)
		// Their ports in the socket path go too, first, as Remove takes
		// them: the programs run before the rules, and a dead pod's entry
		// would send the host's connections to its address until this
		// pod's own replaced it, once its apps started.
		// That failing fails no start: the pod's own entries replace
		// theirs, and the next sweep or acirun gc tries again.
		if err := removeSockets(func(u [16]byte) bool {
			return !slices.ContainsFunc(stale, func(s string) bool { id, err := podUUID(s); return err == nil && id == u })
		}); err != nil {
			pub.Warnings = append(pub.Warnings, fmt.Sprintf("WARNING: the ports of the ended pods %s stay in the socket path until acirun gc: %v", strings.Join(stale, ", "), err))
		}
	}
	for _, m := range p.Ports {
		if err := checkProtocol(m.Protocol); err != nil {
			if m.Implicit {
				pub.Warnings = append(pub.Warnings, fmt.Sprintf("WARNING: port %s not published: %v", m.Name, err))
				continue
			}
			return nil, fmt.Errorf("publish port %s: %w", m.Name, err)
		}
		who := portOwner(m, listeners, taken)
		if who == "" {
			pub.Ports = append(pub.Ports, m)
			taken = append(taken, ownedPort{protocol: m.Protocol, host: m.Host, owner: "pod " + p.UUID})
			continue
		}
		if m.Implicit {
			pub.Warnings = append(pub.Warnings, fmt.Sprintf("WARNING: port %s (%s) not published on %s: the host's port %d is taken by %s; the pod answers at its own address", m.Name, m.Protocol, hostName(m.Host.Addr()), m.Host.Port(), who))
			continue
		}
		return nil, fmt.Errorf("publish port %s (%s) on %s: the host's port %d is taken by %s", m.Name, m.Protocol, hostName(m.Host.Addr()), m.Host.Port(), who)
	}

	// The table and the base chains are made when missing only, and
	// only those the pod uses: adding what exists is no error, but the
	// kernel's commit does the work of an update for each.
	t := table()
	changed := len(stale) > 0 || len(p.Gone) > 0 || !spoofReady
	if !st.table {
		c.AddTable(t)
	}
	if !spoofReady {
		ch := c.AddChain(baseChain(chainAntiSpoof))
		c.FlushChain(ch)
		for i, r := range spoofRules() {
			rule := &nftables.Rule{Table: t, Chain: ch, Exprs: r}
			if i == 0 {
				rule.UserData = []byte(spoofTag)
			}
			c.AddRule(rule)
		}
	}
	chains := map[string]*nftables.Chain{}
	add := func(base string, exprs []expr.Any, userData []byte) {
		ch := chains[base]
		if ch == nil {
			if _, ok := st.base[base]; !ok {
				c.AddChain(baseChain(base))
			}
			ch = c.AddChain(&nftables.Chain{Name: podChain(p.UUID, base), Table: t})
			chains[base] = ch
			jt := tag
			if base == chainOutput {
				jt = portsTag(tag, pub.Ports)
			}
			c.AddRule(&nftables.Rule{Table: t, Chain: baseChain(base), UserData: jt, Exprs: cat(matchJump(base, p.HostIndex, pub.Ports), []expr.Any{jump(ch.Name)})})
		}
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs, UserData: userData})
	}
	var loopback4, loopback6 bool
	for _, m := range pub.Ports {
		pre, out := dnatRules(m)
		if pre != nil {
			add(chainPrerouting, pre, nil)
		}
		// The host's port is kept on the output rule too, where
		// publishedPorts finds it when the jump's tag has no room.
		add(chainOutput, out, []byte(portUserData(m)))
		if a := m.Host.Addr(); a.IsUnspecified() || a.IsLoopback() {
			loopback4, loopback6 = loopback4 || a.Is4(), loopback6 || a.Is6()
		}
	}
	if len(pub.Ports) > 0 {
		for _, r := range snatRules(p.HostIndex, p.Gateways) {
			add(chainPostrouting, r, nil)
		}
	}
	if p.Restricted {
		add(chainForward, restrictRule(), nil)
	}
	pub.Rules = len(chains) > 0
	if changed || pub.Rules {
		if err := c.Flush(); err != nil {
			return nil, fmt.Errorf("firewall: rules of pod %s: %w", p.UUID, err)
		}
	}
	f.reached(stepRulesInstalled)
	if err := allowLoopback(p.HostIface, p.HostIndex, loopback4, loopback6); err != nil {
		if st, lerr := listState(&rl); lerr == nil && removePods(c, st, []string{p.UUID}) {
			c.Flush()
		}
		return nil, fmt.Errorf("firewall: ports on the host's loopback: %w", err)
	}
	pub.Warnings = append(pub.Warnings, forwardWarnings(st, p)...)
	return pub, nil
}

// PublishSockets puts the ports Install published for the pod uuid into
// the socket path (sockprog.go), so that the host's own connections to
// them are translated at connect() rather than by the rules, and says how
// they are translated, for the debug output. It is not part of Install:
// the first pod that publishes loads and attaches the programs (~3.5 ms
// of CPU), which the pod's start need not wait for, since the rules
// translate those connections meanwhile. The pod's Remove must come
// after it.
func (f Firewall) PublishSockets(ctx context.Context, uuid string, ports []PortMap) string {
	l, err := f.lock(ctx)
	if err != nil {
		return fmt.Sprintf("the host's own connections to the published ports are translated by nftables (%v)", err)
	}
	defer flock.Unlock(l)
	return f.publishSockets(uuid, ports)
}

// forwardWarnings warns of a host firewall that drops forwarded packets
// (forwardDrops), for a pod that is not restricted.
func forwardWarnings(st *tableState, p PodRules) []string {
	if p.Restricted {
		return nil
	}
	if w := forwardDrops(st.others); w != "" {
		return []string{fmt.Sprintf("WARNING: %s: the pod may not reach beyond the host, nor be reached from elsewhere at its published ports, unless that firewall accepts what is forwarded from and to %s", w, p.HostIface)}
	}
	return nil
}

// allowLoopback lets the host's connections from a loopback address reach
// the pod's link and their answers come back, for ports published on the
// host's loopback (v4: 127.0.0.1, v6: ::1). The DNAT in output sends a
// packet with a loopback source out of the link (masqueraded on its way
// out), and the answer, translated back in prerouting, arrives on the link
// for a loopback address. IPv4 drops both as martians unless the link has
// route_localnet. IPv6 looks up a route to ::1 on the interface the answer
// arrived on (the loopback address is one of those only matched on their
// own interface) and finds none, so the link gets a local route to ::1 of
// its own. Both go with the link. Neither opens the host's loopback to
// the pod: the kernel drops what arrives for a loopback address on any
// interface but lo before any of this (ip_rcv's and ip6_rcv's checks run
// before prerouting), and prerouting never translates to one.
func allowLoopback(iface string, index int, v4, v6 bool) error {
	if v4 && iface != "" {
		path := filepath.Join("/proc/sys/net/ipv4/conf", iface, "route_localnet")
		if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
			return err
		}
	}
	if v6 && index != 0 {
		r := &netlink.Route{LinkIndex: index, Dst: hostNet(netip.IPv6Loopback()), Type: unix.RTN_LOCAL, Table: unix.RT_TABLE_LOCAL}
		if err := netlink.RouteAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("local route to ::1 on %s: %w", iface, err)
		}
	}
	return nil
}

// matchJump is what a pod's jump rule in base chain base matches: its
// link for the guard (what comes in from the pod), the forward chain
// (what the pod sends on) and the hairpin (what goes out to it). For the
// published ports (prerouting, output), ports are the pod's: when its
// rules in that chain are all for one protocol and host port, the jump
// matches them, else every packet. The first packet of every connection
// of the host runs the jump rule of every pod that publishes a port, and
// a jump that fails costs less than a jump into the pod's chain and back.
func matchJump(base string, index int, ports []PortMap) []expr.Any {
	switch base {
	case chainGuard, chainForward:
		return matchInterface(index, false)
	case chainPostrouting:
		return matchInterface(index, true)
	case chainPrerouting, chainOutput:
		var one *PortMap
		for i, m := range ports {
			if base == chainPrerouting && m.Host.Addr().IsLoopback() {
				continue // no prerouting rule (dnatRules)
			}
			if one != nil && (m.Protocol != one.Protocol || m.Host.Port() != one.Host.Port()) {
				return nil
			}
			one = &ports[i]
		}
		if one != nil {
			return matchPort(one.Protocol, one.Host.Port())
		}
	}
	return nil
}

// Remove takes the pod's rules out of the table, if it has any, and its
// ports out of the socket path's map before them.
// A socket path that fails is reported, and the rules go all the same.
func (f Firewall) Remove(ctx context.Context, uuid string) (err error) {
	l, err := f.lock(ctx)
	if err != nil {
		return err
	}
	defer flock.Unlock(l)
	var sockErr error
	if id, err := podUUID(uuid); err == nil {
		if err := removeSockets(func(u [16]byte) bool { return u != id }); err != nil {
			sockErr = fmt.Errorf("remove ports of pod %s: %w", uuid, err)
		}
	}
	defer func() { err = errors.Join(sockErr, err) }()
	c, err := dial()
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	var rl ruleLister
	defer rl.close()
	st, err := listState(&rl)
	if err != nil {
		return err
	}
	if !removePods(c, st, []string{uuid}) {
		return nil
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: remove rules of pod %s: %w", uuid, err)
	}
	return nil
}

// RemoveStale takes out of the table the rules of every pod whose owner is
// not alive, and returns their UUIDs. The pods are named by the tags of
// the jump rules of podMarkChains (every pod with rules has one there):
// one dump of each of those chains the table has, and the full listing
// only when a pod is to be removed. It runs after every pod's start on the
// default network, so the look at every pod it is stays small. The ports
// of those pods, and of any pod without rules (the table flushed by hand),
// go out of the socket path's map first, as Remove takes them; should
// that fail, the rules go all the same, and the error is returned.
func (f Firewall) RemoveStale(ctx context.Context, alive func(owner string) bool) ([]string, error) {
	l, err := f.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer flock.Unlock(l)
	var rl ruleLister
	defer rl.close()
	keep := map[[16]byte]bool{}
	tables, err := rl.tables()
	if err != nil || !slices.ContainsFunc(tables, func(t *nftables.Table) bool {
		return t.Name == tableName && t.Family == nftables.TableFamilyINet
	}) {
		// No nftables, or no table: no rules, and no port either.
		return nil, removeSockets(func(u [16]byte) bool { return keep[u] })
	}
	var stale []string
	seen := map[string]bool{}
	for _, name := range podMarkChains {
		rules, err := rl.list(name)
		if errors.Is(err, unix.ENOENT) {
			continue // no such chain: no pod there
		}
		if err != nil {
			return nil, err
		}
		for _, r := range rules {
			if uuid, owner, ok := parseTag(r.UserData); ok && !seen[uuid] {
				seen[uuid] = true
				if !alive(owner) {
					stale = append(stale, uuid)
				} else if id, err := podUUID(uuid); err == nil {
					keep[id] = true
				}
			}
		}
	}
	sockErr := removeSockets(func(u [16]byte) bool { return keep[u] })
	if len(stale) == 0 {
		return nil, sockErr
	}
	stale, err = removeStaleRules(&rl, stale)
	return stale, errors.Join(sockErr, err)
}

// removeStaleRules takes the rules of the pods stale out of the table.
func removeStaleRules(rl *ruleLister, stale []string) ([]string, error) {
	slices.Sort(stale)
	c, err := dial()
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	st, err := listState(rl)
	if err != nil {
		return nil, err
	}
	if !removePods(c, st, stale) {
		return stale, nil
	}
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("firewall: remove rules of pods %s: %w", strings.Join(stale, ", "), err)
	}
	return stale, nil
}

// dial opens the one netlink socket an operation on the table makes all
// its requests over. Without AsLasting the library opens a socket for each
// request and waits for each answer through the runtime's poller: a dozen
// sockets and hundreds of syscalls of every pod's start. The caller closes
// it with CloseLasting.
func dial() (*nftables.Conn, error) {
	c, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, fmt.Errorf("firewall: nftables: %w", err)
	}
	return c, nil
}

// tableState is what one listing of the host's chains, and of the rules of
// acirun's base chains, tells: whether the table is there, the base chains
// with the pods' jump rules in each, the pods' own chains, and the base
// chains of the other tables (for forwardDrops). The pods' own chains are
// named, not read: only publishedPorts reads them, and only for a pod that
// publishes ports.
type tableState struct {
	table  bool
	base   map[string][]*nftables.Rule // base chain name → its tagged jump rules, once read (readRules)
	read   map[string]bool             // the base chains whose rules were read
	own    []*nftables.Chain           // the pods' chains
	others []*nftables.Chain           // the chains of the other tables
}

// listState lists the chains of every table in one dump and the rules of
// acirun's base chains (one dump each, read for their tags and handles
// only: ruleTags). No table (or no nftables) is no pod.
func listState(l *ruleLister) (*tableState, error) {
	st, err := listChains(l)
	if err != nil {
		return nil, err
	}
	return st, st.readRules(l, podBaseChains...)
}

// listChains lists the chains of every table in one dump (ruleLister's
// chains), without the rules of any: what a pod's start needs when no pod
// of its UUID is in the table and it publishes no port. No table (or no
// nftables) is no pod.
func listChains(l *ruleLister) (*tableState, error) {
	st := &tableState{base: map[string][]*nftables.Rule{}, read: map[string]bool{}}
	chains, err := l.chains(unix.NFPROTO_UNSPEC)
	if err != nil {
		return st, nil // no nftables: no rules
	}
	for _, ch := range chains {
		if ch.Table.Name != tableName || ch.Table.Family != nftables.TableFamilyINet {
			st.others = append(st.others, ch)
			continue
		}
		st.table = true
		switch {
		case slices.Contains(podBaseChains, ch.Name):
			st.base[ch.Name] = nil
		case strings.HasPrefix(ch.Name, "pod-"):
			st.own = append(st.own, ch)
		}
	}
	// (A table without a chain is not in the listing: Install makes it
	// again, which is no error.)
	return st, nil
}

// installState is what Install needs of the table before it adds a pod's
// rules, learnt without a dump of the chains of acirun's table, whose
// number grows with the pods: whether the table is there (one dump of the
// tables), which base chains it has (a lookup each, when bases: the pod
// will have rules of its own to jump to from them), the chains of the
// other tables (for forwardDrops: a dump of those of each family among
// ip, ip6 and inet that has another table; on a host with another inet
// table, acirun's chains come with it and are left out), and whether a
// pod of UUID uuid has chains (its chains of podMarkChains, one of which
// every pod with rules has, are looked up): if so, the state is
// listChains', which names them.
func installState(l *ruleLister, uuid string, bases bool) (*tableState, error) {
	st := &tableState{base: map[string][]*nftables.Rule{}, read: map[string]bool{}}
	tables, err := l.tables()
	if err != nil {
		return st, nil // no nftables: no rules
	}
	families := map[nftables.TableFamily]bool{}
	for _, t := range tables {
		if t.Name == tableName && t.Family == nftables.TableFamilyINet {
			st.table = true
			continue
		}
		families[t.Family] = true
	}
	for _, f := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6, nftables.TableFamilyINet} {
		if !families[f] {
			continue
		}
		chains, err := l.chains(byte(f))
		if err != nil {
			return nil, err
		}
		for _, ch := range chains {
			if ch.Table.Name != tableName || ch.Table.Family != nftables.TableFamilyINet {
				st.others = append(st.others, ch)
			}
		}
	}
	if !st.table {
		return st, nil
	}
	for _, name := range podMarkChains {
		if ok, err := l.hasChain(podChain(uuid, name)); err != nil || ok {
			if err != nil {
				return nil, err
			}
			return listChains(l)
		}
	}
	if !bases {
		return st, nil
	}
	for _, name := range podBaseChains {
		ok, err := l.hasChain(name)
		if err != nil {
			return nil, err
		}
		if ok {
			st.base[name] = nil
		}
	}
	return st, nil
}

// hasSpoofRules reports whether the table's antispoof chain holds
// spoofRules (one dump of that chain's rules, which are few): the chain and
// its rules are made in one transaction, and the first rule's tag says
// which rules they are.
func hasSpoofRules(l *ruleLister, st *tableState) (bool, error) {
	if !st.table {
		return false, nil
	}
	rules, err := l.list(chainAntiSpoof)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return len(rules) == len(spoofRules()) && string(rules[0].UserData) == spoofTag, nil
}

// readRules reads the tagged jump rules of the base chains names (those
// the table has, and not read yet), one dump each.
func (st *tableState) readRules(l *ruleLister, names ...string) error {
	for _, name := range names {
		if _, ok := st.base[name]; !ok || st.read[name] {
			continue
		}
		rules, err := l.list(name)
		if err != nil {
			return err
		}
		var tagged []*nftables.Rule
		for _, r := range rules {
			if _, _, ok := parseTag(r.UserData); ok {
				tagged = append(tagged, r)
			}
		}
		st.base[name], st.read[name] = tagged, true
	}
	return nil
}

// hasPod reports whether the table has chains of the pod uuid.
func (st *tableState) hasPod(uuid string) bool {
	return slices.ContainsFunc(st.own, func(ch *nftables.Chain) bool { return strings.HasPrefix(ch.Name, "pod-"+uuid+"-") })
}

// pods returns the pods that have rules in the table (by their jump rules'
// tags), UUID to owner.
func (st *tableState) pods() map[string]string {
	pods := map[string]string{}
	for _, rules := range st.base {
		for _, r := range rules {
			if uuid, owner, ok := parseTag(r.UserData); ok {
				pods[uuid] = owner
			}
		}
	}
	return pods
}

// listPods returns the pods that have rules in the table, UUID to owner.
func listPods() (map[string]string, error) {
	var l ruleLister
	defer l.close()
	st, err := listState(&l)
	if err != nil {
		return nil, err
	}
	return st.pods(), nil
}

// parseTag reads a jump rule's user data.
func parseTag(b []byte) (uuid, owner string, ok bool) {
	rest, ok := bytes.CutPrefix(b, []byte(podTagPrefix))
	if !ok {
		return "", "", false
	}
	rest, _, _ = bytes.Cut(rest, []byte{0}) // the ports of an output jump
	u, o, ok := strings.Cut(string(rest), " ")
	if !ok || u == "" || o == "" {
		return "", "", false
	}
	return u, o, true
}

// removePods queues into c's batch the deletion of the pods' jump rules and
// chains, as st lists them, and says whether it queued anything; the
// caller flushes. Nothing to delete is no transaction at all: one that
// deletes waits for an RCU grace period.
func removePods(c *nftables.Conn, st *tableState, uuids []string) bool {
	if len(uuids) == 0 {
		return false
	}
	n := 0
	for _, name := range podBaseChains {
		for _, r := range st.base[name] {
			if uuid, _, ok := parseTag(r.UserData); ok && slices.Contains(uuids, uuid) {
				// DelRule errs only on a rule without a handle,
				// and listed rules have theirs.
				if c.DelRule(r) == nil {
					n++
				}
			}
		}
	}
	for _, ch := range st.own {
		for _, u := range uuids {
			if strings.HasPrefix(ch.Name, "pod-"+u+"-") {
				c.FlushChain(ch)
				c.DelChain(ch)
				n++
			}
		}
	}
	return n > 0
}

// ownedPort is a host port published by a pod.
type ownedPort struct {
	protocol string
	host     netip.AddrPort
	owner    string // "pod UUID"
	uuid     string // the pod's UUID, "" for one of the pod being installed
	dir      string // the pod's owner (its directory)
}

// conflicts reports whether publishing m would take t's port: the same
// protocol and port number on host addresses of the same family that
// overlap.
func (t ownedPort) conflicts(m PortMap) bool {
	return t.protocol == m.Protocol && t.host.Port() == m.Host.Port() && t.host.Addr().Is4() == m.Host.Addr().Is4() &&
		(overlaps(m.Host.Addr(), t.host.Addr()) || overlaps(t.host.Addr(), m.Host.Addr()))
}

// publishedPorts lists the ports the table publishes, leaving out the
// pods in skip (those being removed). They are read from the tags of the
// output chain's jump rules (portsTag), which listState has; only a pod
// whose ports did not fit there, or whose rules an older acirun made, has
// its own output chain read.
func publishedPorts(c *nftables.Conn, st *tableState, skip []string) ([]ownedPort, error) {
	var ports []ownedPort
	add := func(uuid, owner, userData string) {
		proto, hp, ok := strings.Cut(userData, " ")
		if !ok {
			return
		}
		if ap, err := netip.ParseAddrPort(hp); err == nil {
			ports = append(ports, ownedPort{protocol: proto, host: ap, owner: "pod " + uuid, uuid: uuid, dir: owner})
		}
	}
	for _, r := range st.base[chainOutput] {
		uuid, owner, ok := parseTag(r.UserData)
		if !ok || slices.Contains(skip, uuid) {
			continue
		}
		if _, list, ok := bytes.Cut(r.UserData, []byte{0}); ok && string(list) != portsMore {
			for _, p := range bytes.Split(list, []byte{0}) {
				add(uuid, owner, string(p))
			}
			continue
		}
		ch := &nftables.Chain{Name: podChain(uuid, chainOutput), Table: table()}
		rules, err := c.GetRules(table(), ch)
		if err != nil {
			return nil, fmt.Errorf("firewall: list rules of chain %s: %w", ch.Name, err)
		}
		for _, r := range rules {
			add(uuid, owner, string(r.UserData))
		}
	}
	return ports, nil
}

// ensureMasquerade makes sure the masquerade chain holds exactly the
// shared rules for subnets (masqueradeRules), tagged together in the first
// rule's user data. The chain is flushed and its rules written in one
// transaction, so pods starting at the same time end with the same rules.
//
// When the chain holds them already, nothing is written: a transaction
// that deletes a rule waits for an RCU grace period, about 15 ms of every
// pod's start. That is known from the rules' tags and count alone (one
// dump, read as ruleTags reads it), without decoding their expressions
// as nftables.Conn.GetRules would, on a connection of its own: a third of
// a millisecond of every start's CPU.
func ensureMasquerade(subnets ...netip.Prefix) error {
	var names []string
	for i, s := range subnets {
		subnets[i] = s.Masked()
		names = append(names, subnets[i].String())
	}
	tag := []byte("acirun masquerade " + strings.Join(names, " "))
	want := masqueradeRules(subnets)
	var rl ruleLister
	defer rl.close()
	if rules, err := rl.list(chainMasquerade); err == nil && len(rules) == len(want) && bytes.Equal(rules[0].UserData, tag) {
		return nil
	}
	c, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	defer c.CloseLasting()
	if _, err := c.ListTableOfFamily(legacyTable, nftables.TableFamilyIPv4); err == nil {
		c.DelTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: legacyTable})
	}
	t := c.AddTable(table())
	ch := c.AddChain(baseChain(chainMasquerade))
	c.FlushChain(ch)
	for i, r := range want {
		rule := &nftables.Rule{Table: t, Chain: ch, Exprs: r}
		if i == 0 {
			rule.UserData = tag
		}
		c.AddRule(rule)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: masquerade %s: %w", strings.Join(names, ", "), err)
	}
	return nil
}

// forwardDrops looks for a base chain of another table on the forward hook
// whose policy is drop (iptables' FORWARD with -P DROP, as Docker sets it,
// or an nftables firewall), and names it: such a chain drops the pods'
// traffic unless one of its rules accepts it, and no rule of ours can
// override another table's verdict. "" if there is none.
func forwardDrops(chains []*nftables.Chain) string {
	for _, ch := range chains {
		if ch.Hooknum == nil || *ch.Hooknum != *nftables.ChainHookForward || ch.Policy == nil || *ch.Policy != nftables.ChainPolicyDrop {
			continue
		}
		switch ch.Table.Family {
		case nftables.TableFamilyIPv4, nftables.TableFamilyIPv6, nftables.TableFamilyINet:
			return fmt.Sprintf("the host's firewall drops forwarded packets by default (table %s %s, chain %s, policy drop)", familyName(ch.Table.Family), ch.Table.Name, ch.Name)
		}
	}
	return ""
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyINet:
		return "inet"
	}
	return fmt.Sprint(f)
}

// hostName says which host addresses a are: "every address" for an
// unspecified one.
func hostName(a netip.Addr) string {
	if a.IsUnspecified() {
		if a.Is4() {
			return "every IPv4 address"
		}
		return "every IPv6 address"
	}
	return a.String()
}
