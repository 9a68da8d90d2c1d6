package netns

import (
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
func ensureMasquerade(subnet netip.Prefix) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: natTable})
	ch := c.AddChain(&nftables.Chain{
		Name:     "postrouting",
		Table:    t,
		Type:     nftables.ChainTypeNAT,
		Hooknum:  nftables.ChainHookPostrouting,
		Priority: nftables.ChainPriorityNATSource,
	})
	c.FlushChain(ch)
	subnet = subnet.Masked()
	mask := net.CIDRMask(subnet.Bits(), 32)
	net4 := subnet.Addr().AsSlice()
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
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
