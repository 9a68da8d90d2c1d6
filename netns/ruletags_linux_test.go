package netns

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// TestRuleTags lists the base chains of a table the test fills, in a
// namespace of its own, both ways: ruleTags finds every rule
// nftables.Conn.GetRules does, with the same handle and user data, and
// listState's pods and their removal work from them.
func TestRuleTags(t *testing.T) {
	ns := newTestNS(t)
	fw := DefaultFirewall(t.TempDir())
	for i, uuid := range []string{"aaaa", "bbbb", "cccc"} {
		ns.do(func() error {
			_, err := fw.Install(context.Background(), PodRules{
				UUID: uuid, Owner: "/pods/" + uuid, HostIndex: 100 + i, HostIface: "ac-" + uuid,
				Addrs: []netip.Addr{netip.AddrFrom4([4]byte{172, 16, 28, byte(2 + i)})},
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
		if got := len(must(l.list(chainGuard))); got != 3 {
			t.Errorf("guard chain: %d jump rules, want 3", got)
		}
		st, err := listState(c)
		if err != nil {
			return err
		}
		if p := st.pods(); len(p) != 3 || p["bbbb"] != "/pods/bbbb" {
			t.Errorf("pods %v", p)
		}
		return nil
	})
	ns.do(func() error { return fw.Remove(context.Background(), "bbbb") })
	ns.do(func() error {
		c, err := nftables.New()
		if err != nil {
			return err
		}
		st, err := listState(c)
		if err != nil {
			return err
		}
		if p := st.pods(); len(p) != 2 || p["bbbb"] != "" {
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
