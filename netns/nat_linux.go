package netns

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// natTable is the nftables table (family ip) that holds acirun's NAT
// rules. `nft delete table ip acirun` removes them all; the next pod makes
// them again.
const natTable = "acirun"

// ensureMasquerade makes sure the host masquerades what the subnet's pods
// send anywhere but to the subnet itself:
//
//	table ip acirun {
//		chain postrouting {
//			type nat hook postrouting priority srcnat
//			ip saddr SUBNET ip daddr != SUBNET masquerade
//		}
//	}
//
// The chain is flushed and its rule written in one transaction, so pods
// starting at the same time end with the same single rule.
//
// When the chain holds that one rule already (tagged with its subnet in the
// rule's user data), nothing is written: a transaction that deletes a rule
// waits for an RCU grace period, about 15 ms of every pod's start.
func ensureMasquerade(subnet netip.Prefix) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	subnet = subnet.Masked()
	tag := []byte("acirun masquerade " + subnet.String())
	table := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: natTable}
	chain := &nftables.Chain{
		Name:     "postrouting",
		Table:    table,
		Type:     nftables.ChainTypeNAT,
		Hooknum:  nftables.ChainHookPostrouting,
		Priority: nftables.ChainPriorityNATSource,
	}
	if rules, err := c.GetRules(table, chain); err == nil && len(rules) == 1 && bytes.Equal(rules[0].UserData, tag) {
		return nil
	}
	t := c.AddTable(table)
	ch := c.AddChain(chain)
	c.FlushChain(ch)
	mask := net.CIDRMask(subnet.Bits(), 32)
	net4 := subnet.Addr().AsSlice()
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, UserData: tag, Exprs: []expr.Any{
		// ip saddr SUBNET
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: net4},
		// ip daddr != SUBNET
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: net4},
		&expr.Masq{},
	}})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: masquerade %s: %w", subnet, err)
	}
	return nil
}
