package netns

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ruleLister lists rules by their tags (list); its socket is opened on
// the first listing, and closed by close.
type ruleLister struct{ c *netlink.Conn }

func (l *ruleLister) list(chain string) ([]*nftables.Rule, error) {
	if l.c == nil {
		c, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
		if err != nil {
			return nil, fmt.Errorf("firewall: nftables: %w", err)
		}
		l.c = c
	}
	return ruleTags(l.c, chain)
}

func (l *ruleLister) close() {
	if l.c != nil {
		l.c.Close()
	}
}

// ruleTags lists the rules of acirun's base chain chain by their handles
// and user data alone, over c (a NETLINK_NETFILTER socket): all that a
// pod's start and end need of the other pods' jump rules (their tags, and
// the handles to delete them by). nftables.Conn.GetRules decodes every
// expression of every rule into Go values, and that decoding was what
// grew a pod's start with the number of pods (with 100 pods, a third of
// the start's page faults and most of its firewall CPU): here the
// expressions are skipped unread.
//
// Each rule is returned with its table, chain, handle and user data, as
// nftables.Conn.DelRule needs them.
func ruleTags(c *netlink.Conn, chain string) ([]*nftables.Rule, error) {
	t := table()
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_RULE_TABLE, Data: append([]byte(t.Name), 0)},
		{Type: unix.NFTA_RULE_CHAIN, Data: append([]byte(chain), 0)},
	})
	if err != nil {
		return nil, fmt.Errorf("firewall: list rules of chain %s: %w", chain, err)
	}
	req := netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETRULE),
			Flags: netlink.Request | netlink.Dump,
		},
		// struct nfgenmsg: the family, NFNETLINK_V0, resource id 0.
		Data: append([]byte{byte(t.Family), unix.NFNETLINK_V0, 0, 0}, attrs...),
	}
	msgs, err := c.Execute(req)
	if err != nil {
		return nil, fmt.Errorf("firewall: list rules of chain %s: %w", chain, err)
	}
	ch := &nftables.Chain{Name: chain, Table: t}
	rules := make([]*nftables.Rule, 0, len(msgs))
	for _, m := range msgs {
		r, err := parseRuleTag(m.Data)
		if err != nil {
			return nil, fmt.Errorf("firewall: list rules of chain %s: %w", chain, err)
		}
		r.Table, r.Chain = t, ch
		rules = append(rules, r)
	}
	return rules, nil
}

// parseRuleTag reads a rule's handle and user data from the body of an
// NFT_MSG_NEWRULE message (struct nfgenmsg, then the attributes).
func parseRuleTag(b []byte) (*nftables.Rule, error) {
	if len(b) < 4 {
		return nil, errors.New("short rule message")
	}
	ad, err := netlink.NewAttributeDecoder(b[4:])
	if err != nil {
		return nil, err
	}
	ad.ByteOrder = binary.BigEndian
	r := &nftables.Rule{}
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_RULE_HANDLE:
			r.Handle = ad.Uint64()
		case unix.NFTA_RULE_USERDATA:
			r.UserData = ad.Bytes()
		}
	}
	if err := ad.Err(); err != nil {
		return nil, err
	}
	if r.Handle == 0 {
		return nil, errors.New("a rule without a handle")
	}
	return r, nil
}
