package netns

import (
	"bytes"
	"context"
	"encoding/binary"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// TestRuleTags lists the base chains of a table the test fills, in a
// namespace of its own, both ways: ruleTags finds every rule
// nftables.Conn.GetRules does, with the same handle and user data, chains
// every chain nftables.Conn.ListChains does, with the same table, hook and
// policy (another table's forward chain among them), and listState's pods
// and their removal work from them.
func TestRuleTags(t *testing.T) {
	ns := newTestNS(t)
	fw := DefaultFirewall(t.TempDir())
	for i, uuid := range []string{"aaaa", "bbbb", "cccc"} {
		ns.do(func() error {
			_, err := fw.Install(context.Background(), PodRules{
				UUID: uuid, Owner: "/pods/" + uuid, HostIndex: 100 + i, HostIface: "ac-" + uuid, Restricted: true,
			}, everyoneAlive)
			return err
		})
	}
	ns.do(func() error {
		c, err := nftables.New()
		if err != nil {
			return err
		}
		var l ruleLister
		defer l.close()
		for _, base := range podBaseChains {
			want, err := c.GetRules(table(), baseChain(base))
			if err != nil {
				want = nil // a chain no pod needed
			}
			got, err := l.list(base)
			if err != nil && want != nil {
				t.Fatalf("chain %s: %v", base, err)
			}
			if len(got) != len(want) {
				t.Fatalf("chain %s: %d rules, GetRules %d", base, len(got), len(want))
			}
			for i := range got {
				if got[i].Handle != want[i].Handle || !bytes.Equal(got[i].UserData, want[i].UserData) ||
					got[i].Chain.Name != base || got[i].Table.Name != tableName {
					t.Errorf("chain %s rule %d: handle %d user data %q, GetRules %d %q", base, i, got[i].Handle, got[i].UserData, want[i].Handle, want[i].UserData)
				}
			}
		}
		if got := len(must(l.list(chainForward))); got != 3 {
			t.Errorf("forward chain: %d jump rules, want 3", got)
		}
		other := c.AddTable(&nftables.Table{Name: "filter", Family: nftables.TableFamilyIPv4})
		drop := nftables.ChainPolicyDrop
		c.AddChain(&nftables.Chain{Name: "FORWARD", Table: other, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
		if err := c.Flush(); err != nil {
			return err
		}
		want, err := c.ListChains()
		if err != nil {
			return err
		}
		got, err := l.chains(unix.NFPROTO_UNSPEC)
		if err != nil {
			return err
		}
		// The other table's, antispoof, forward and the pods' own.
		if len(got) != len(want) || len(got) < 1+2+3 {
			t.Fatalf("chains: %d, ListChains %d", len(got), len(want))
		}
		forward := 0
		for i := range got {
			g, w := got[i], want[i]
			if g.Name != w.Name || g.Table.Name != w.Table.Name || g.Table.Family != w.Table.Family ||
				(g.Hooknum == nil) != (w.Hooknum == nil) || g.Hooknum != nil && *g.Hooknum != *w.Hooknum ||
				(g.Policy == nil) != (w.Policy == nil) || g.Policy != nil && *g.Policy != *w.Policy {
				t.Errorf("chain %d: %s %s %s hook %v policy %v, ListChains %s %s %s hook %v policy %v", i,
					familyName(g.Table.Family), g.Table.Name, g.Name, g.Hooknum, g.Policy, familyName(w.Table.Family), w.Table.Name, w.Name, w.Hooknum, w.Policy)
			}
			if g.Hooknum != nil && *g.Hooknum == *nftables.ChainHookForward {
				forward++
			}
		}
		if forward != 2 {
			t.Errorf("%d forward chains, want ours and the other table's", forward)
		}
		if w := forwardDrops(got); !strings.Contains(w, "table ip filter, chain FORWARD, policy drop") {
			t.Errorf("forwardDrops of the listed chains: %q", w)
		}
		// installState learns the same of the table without listing its
		// chains, and lists them for a pod of a UUID it has.
		full, err := listChains(&l)
		if err != nil {
			return err
		}
		for _, uuid := range []string{"dddd", "bbbb"} {
			st, err := installState(&l, uuid, true)
			if err != nil {
				return err
			}
			if !st.table || !maps.EqualFunc(st.base, full.base, func(a, b []*nftables.Rule) bool { return len(a) == len(b) }) ||
				len(st.others) != 1 || st.others[0].Name != "FORWARD" || forwardDrops(st.others) != forwardDrops(full.others) ||
				st.hasPod(uuid) != (uuid == "bbbb") || uuid == "bbbb" && len(st.own) != len(full.own) {
				t.Errorf("installState for %s: table %t, base chains %v, others %d, own %d; listChains: base chains %v, own %d", uuid, st.table, slices.Sorted(maps.Keys(st.base)), len(st.others), len(st.own), slices.Sorted(maps.Keys(full.base)), len(full.own))
			}
		}
		tables, err := l.tables()
		if err != nil {
			return err
		}
		wantTables, err := c.ListTables()
		if err != nil {
			return err
		}
		if len(tables) != len(wantTables) || len(tables) != 2 {
			t.Errorf("tables: %d, ListTables %d, want 2", len(tables), len(wantTables))
		}
		for i := range tables {
			if i < len(wantTables) && (tables[i].Name != wantTables[i].Name || tables[i].Family != wantTables[i].Family) {
				t.Errorf("table %d: %s %s, ListTables %s %s", i, familyName(tables[i].Family), tables[i].Name, familyName(wantTables[i].Family), wantTables[i].Name)
			}
		}
		for name, want := range map[string]bool{chainForward: true, chainAntiSpoof: true, podChain("aaaa", chainForward): true, podChain("dddd", chainForward): false, chainGuard: false, chainMasquerade: false} {
			if got, err := l.hasChain(name); got != want || err != nil {
				t.Errorf("hasChain(%s) = %t, %v; want %t", name, got, err, want)
			}
		}
		c.DelTable(other)
		if err := c.Flush(); err != nil {
			return err
		}
		if st, err := installState(&l, "dddd", true); err != nil || len(st.others) != 0 {
			t.Errorf("installState with no other table: %d other chains, %v", len(st.others), err)
		}
		st, err := listState(&l)
		if err != nil {
			return err
		}
		if p := st.pods(); len(p) != 3 || p["bbbb"] != "/pods/bbbb" {
			t.Errorf("pods %v", p)
		}
		if !st.hasPod("bbbb") || st.hasPod("bbb") || st.hasPod("dddd") {
			t.Errorf("hasPod: bbbb %t, bbb %t, dddd %t; want true, false, false", st.hasPod("bbbb"), st.hasPod("bbb"), st.hasPod("dddd"))
		}
		return nil
	})
	ns.do(func() error { return fw.Remove(context.Background(), "bbbb") })
	ns.do(func() error {
		p, err := listPods()
		if err != nil {
			return err
		}
		if len(p) != 2 || p["bbbb"] != "" {
			t.Errorf("after Remove: pods %v", p)
		}
		return nil
	})
}

// ruleMsg is the body of an NFT_MSG_NEWRULE message with a handle and
// user data.
func ruleMsg(handle uint64, userData string) []byte {
	b := []byte{unix.NFPROTO_INET, 0, 0, 0}
	b = appendAttr(b, unix.NFTA_RULE_TABLE, append([]byte(tableName), 0))
	if handle != 0 {
		b = appendAttr(b, unix.NFTA_RULE_HANDLE, binary.BigEndian.AppendUint64(nil, handle))
	}
	b = appendAttr(b, unix.NFTA_RULE_EXPRESSIONS|unix.NLA_F_NESTED, []byte{8, 0, 1, 0, 1, 2, 3, 4})
	return appendAttr(b, unix.NFTA_RULE_USERDATA, []byte(userData))
}

func TestParseRuleTag(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     []byte
		handle uint64
		tag    string
		err    string // the refusal's reason; "" for none
	}{
		{"tagged", ruleMsg(7, "acirun pod aaaa /pods/a"), 7, "acirun pod aaaa /pods/a", ""},
		{"untagged", ruleMsg(9, ""), 9, "", ""},
		{"no handle", ruleMsg(0, "x"), 0, "", "a rule without a handle"},
		{"short", []byte{1, 0}, 0, "", "short rule message"},
		{"attribute header cut", []byte{1, 0, 0, 0, 8, 0}, 0, "", "a truncated attribute"},
		{"truncated attribute", ruleMsg(7, "abc")[:10], 0, "", "an attribute of 11 bytes in 6"},
		{"attribute longer than the message", ruleMsg(7, "abc")[:len(ruleMsg(7, "abc"))-4], 0, "", "an attribute of "},
		{"short handle", appendAttr([]byte{1, 0, 0, 0}, unix.NFTA_RULE_HANDLE, []byte{1, 2}), 0, "", "a handle of 2 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseRuleTag(tc.in)
			if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			if err == nil && (r.Handle != tc.handle || string(r.UserData) != tc.tag) {
				t.Errorf("handle %d user data %q, want %d %q", r.Handle, r.UserData, tc.handle, tc.tag)
			}
		})
	}
}

func FuzzParseRuleTag(f *testing.F) {
	f.Add(ruleMsg(7, "acirun pod aaaa /pods/a"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := parseRuleTag(in)
		if err == nil && r.Handle == 0 {
			t.Fatalf("%x: a rule without a handle", in)
		}
	})
}

// chainMsg is the body of an NFT_MSG_NEWCHAIN message of family ip: table
// and name, and when hook is not 0 a hook (and priority) and a policy.
func chainMsg(tableName, name string, hook, policy uint32) []byte {
	b := []byte{unix.NFPROTO_IPV4, 0, 0, 0}
	b = appendAttr(b, unix.NFTA_CHAIN_TABLE, append([]byte(tableName), 0))
	b = appendAttr(b, unix.NFTA_CHAIN_HANDLE, binary.BigEndian.AppendUint64(nil, 1))
	b = appendAttr(b, unix.NFTA_CHAIN_NAME, append([]byte(name), 0))
	if hook != 0 {
		h := appendAttr(nil, unix.NFTA_HOOK_HOOKNUM, binary.BigEndian.AppendUint32(nil, hook))
		h = appendAttr(h, unix.NFTA_HOOK_PRIORITY, binary.BigEndian.AppendUint32(nil, 0))
		b = appendAttr(b, unix.NFTA_CHAIN_HOOK|unix.NLA_F_NESTED, h)
		b = appendAttr(b, unix.NFTA_CHAIN_POLICY, binary.BigEndian.AppendUint32(nil, policy))
	}
	return b
}

func TestParseTable(t *testing.T) {
	msg := appendAttr([]byte{unix.NFPROTO_INET, 0, 0, 0}, unix.NFTA_TABLE_NAME, append([]byte("acirun"), 0))
	msg = appendAttr(msg, unix.NFTA_TABLE_FLAGS, []byte{0, 0, 0, 0})
	for _, tc := range []struct {
		name, in, want, err string
	}{
		{"table", string(msg), "acirun", ""},
		{"short", "\x01\x00", "", "short table message"},
		{"no name", string(msg[:4]), "", "a table without a name"},
		{"attribute longer than the message", string(msg[:len(msg)-4]), "", "an attribute of "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb, err := parseTable([]byte(tc.in))
			if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			if err == nil && (tb.Name != tc.want || tb.Family != nftables.TableFamilyINet) {
				t.Errorf("table %s %s, want inet %s", familyName(tb.Family), tb.Name, tc.want)
			}
		})
	}
}

func FuzzParseTable(f *testing.F) {
	f.Add(appendAttr([]byte{unix.NFPROTO_INET, 0, 0, 0}, unix.NFTA_TABLE_NAME, append([]byte("acirun"), 0)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		if tb, err := parseTable(in); err == nil && tb.Name == "" {
			t.Fatalf("%x: a table without a name", in)
		}
	})
}

func TestParseChain(t *testing.T) {
	forward := chainMsg("filter", "FORWARD", unix.NF_INET_FORWARD, uint32(nftables.ChainPolicyDrop))
	for _, tc := range []struct {
		name         string
		in           []byte
		table, chain string
		hook, policy int    // -1 for none
		err          string // the refusal's reason; "" for none
	}{
		{"base chain", forward, "filter", "FORWARD", unix.NF_INET_FORWARD, int(nftables.ChainPolicyDrop), ""},
		{"regular chain", chainMsg("acirun", "pod-aaaa-guard", 0, 0), "acirun", "pod-aaaa-guard", -1, -1, ""},
		{"short", []byte{2, 0}, "", "", 0, 0, "short chain message"},
		{"no name", []byte{2, 0, 0, 0}, "", "", 0, 0, "a chain without a table or a name"},
		{"attribute longer than the message", forward[:len(forward)-4], "", "", 0, 0, "an attribute of "},
		{"short policy", appendAttr(chainMsg("t", "c", 0, 0), unix.NFTA_CHAIN_POLICY, []byte{1}), "", "", 0, 0, "a policy of 1 bytes"},
		{"short hook number", appendAttr(chainMsg("t", "c", 0, 0), unix.NFTA_CHAIN_HOOK|unix.NLA_F_NESTED, appendAttr(nil, unix.NFTA_HOOK_HOOKNUM, []byte{1, 2})), "", "", 0, 0, "a hook number of 2 bytes"},
		{"truncated hook", appendAttr(chainMsg("t", "c", 0, 0), unix.NFTA_CHAIN_HOOK|unix.NLA_F_NESTED, []byte{8, 0}), "", "", 0, 0, "a truncated attribute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := parseChain(tc.in)
			if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			if err != nil {
				return
			}
			hook, policy := -1, -1
			if ch.Hooknum != nil {
				hook = int(*ch.Hooknum)
			}
			if ch.Policy != nil {
				policy = int(*ch.Policy)
			}
			if ch.Table.Name != tc.table || ch.Table.Family != nftables.TableFamilyIPv4 || ch.Name != tc.chain || hook != tc.hook || policy != tc.policy {
				t.Errorf("table %s family %d chain %s hook %d policy %d, want %s ip %s %d %d", ch.Table.Name, ch.Table.Family, ch.Name, hook, policy, tc.table, tc.chain, tc.hook, tc.policy)
			}
		})
	}
}

func FuzzParseChain(f *testing.F) {
	f.Add(chainMsg("filter", "FORWARD", unix.NF_INET_FORWARD, uint32(nftables.ChainPolicyDrop)))
	f.Add(chainMsg("acirun", "pod-aaaa-guard", 0, 0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		ch, err := parseChain(in)
		if err == nil && (ch.Name == "" || ch.Table == nil || ch.Table.Name == "") {
			t.Fatalf("%x: a chain without a table or a name", in)
		}
	})
}
