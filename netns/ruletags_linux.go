package netns

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// ruleLister lists rules by their tags (list) and chains by their names
// and hooks (chains) over one NETLINK_NETFILTER socket, opened on the
// first listing and closed by close, reading every answer into one buffer.
type ruleLister struct {
	fd  int // the socket; 0 until the first listing
	buf []byte
}

func (l *ruleLister) list(chain string) ([]*nftables.Rule, error) {
	rules, err := l.ruleTags(chain)
	if err != nil {
		return nil, fmt.Errorf("firewall: list rules of chain %s: %w", chain, err)
	}
	return rules, nil
}

func (l *ruleLister) close() {
	if l.fd != 0 {
		unix.Close(l.fd)
	}
}

// dump sends the NFT_MSG_GET* request typ with NLM_F_DUMP for family,
// with the attributes attrs (appendAttr's), on the lister's socket (opened
// on the first request), and calls each with the body of every message of
// the answer.
func (l *ruleLister) dump(typ uint16, family byte, attrs []byte, each func([]byte) error) error {
	return l.request(typ, unix.NLM_F_DUMP, family, attrs, each)
}

// request is dump with the request's flags besides NLM_F_REQUEST: with
// NLM_F_ACK instead of NLM_F_DUMP, it gets one object, and an error
// (unix.ENOENT for one that does not exist) or the acknowledgement ends
// the answer.
func (l *ruleLister) request(typ, flags uint16, family byte, attrs []byte, each func([]byte) error) error {
	if l.fd == 0 {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			unix.Close(fd)
			return err
		}
		// Larger than any part of a dump (the kernel's parts are at most
		// 32 KiB): a part is never cut.
		l.fd, l.buf = fd, make([]byte, 64<<10)
	}
	// struct nlmsghdr, struct nfgenmsg (the family, NFNETLINK_V0, resource
	// id 0), then the attributes.
	req := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+4+len(attrs))
	req = append(req, family, unix.NFNETLINK_V0, 0, 0)
	req = append(req, attrs...)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.NFNL_SUBSYS_NFTABLES<<8|typ)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|flags)
	binary.NativeEndian.PutUint32(req[8:], 1) // the sequence number
	if err := unix.Sendto(l.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	for {
		n, _, flags, _, err := unix.Recvmsg(l.fd, l.buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if flags&unix.MSG_TRUNC != 0 {
			return errors.New("an answer longer than the buffer")
		}
		msgs, err := syscall.ParseNetlinkMessage(l.buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return nil
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return errors.New("a short error message")
				}
				if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
					return unix.Errno(-e)
				}
				return nil
			}
			if err := each(m.Data); err != nil {
				return err
			}
		}
	}
}

// ruleTags lists the rules of acirun's base chain chain by their handles
// and user data alone: all that a pod's start and end need of the other
// pods' jump rules (their tags, and the handles to delete them by).
// nftables.Conn.GetRules decodes every expression of every rule into Go
// values, and that decoding was what grew a pod's start with the number of
// pods (with 100 pods, a third of the start's page faults and most of its
// firewall CPU): here the expressions are skipped unread, and the dump is
// read into the lister's one buffer.
//
// Each rule is returned with its table, chain, handle and user data, as
// nftables.Conn.DelRule needs them.
func (l *ruleLister) ruleTags(chain string) ([]*nftables.Rule, error) {
	t := table()
	attrs := appendAttr(nil, unix.NFTA_RULE_TABLE, append([]byte(t.Name), 0))
	attrs = appendAttr(attrs, unix.NFTA_RULE_CHAIN, append([]byte(chain), 0))
	ch := &nftables.Chain{Name: chain, Table: t}
	var rules []*nftables.Rule
	err := l.dump(unix.NFT_MSG_GETRULE, byte(t.Family), attrs, func(b []byte) error {
		r, err := parseRuleTag(b)
		if err != nil {
			return err
		}
		r.Table, r.Chain = t, ch
		rules = append(rules, r)
		return nil
	})
	return rules, err
}

// chains lists the chains of every table of family (every family for
// unix.NFPROTO_UNSPEC) in one dump, each with its table's name and family,
// its name, and for a base chain its hook and policy: what listState
// needs of them. Nothing of a chain is decoded into more than that,
// unlike nftables.Conn.ListChains, whose decoding of every pod's five
// chains grew every pod's start with the number of pods.
func (l *ruleLister) chains(family byte) ([]*nftables.Chain, error) {
	var chains []*nftables.Chain
	err := l.dump(unix.NFT_MSG_GETCHAIN, family, nil, func(b []byte) error {
		ch, err := parseChain(b)
		if err != nil {
			return err
		}
		chains = append(chains, ch)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("firewall: list chains: %w", err)
	}
	return chains, nil
}

// tables lists every table, by family and name, in one dump.
func (l *ruleLister) tables() ([]*nftables.Table, error) {
	var tables []*nftables.Table
	err := l.dump(unix.NFT_MSG_GETTABLE, unix.NFPROTO_UNSPEC, nil, func(b []byte) error {
		t, err := parseTable(b)
		if err != nil {
			return err
		}
		tables = append(tables, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("firewall: list tables: %w", err)
	}
	return tables, nil
}

// hasChain reports whether acirun's table has the chain name: one
// request, whatever the number of chains.
func (l *ruleLister) hasChain(name string) (bool, error) {
	t := table()
	attrs := appendAttr(nil, unix.NFTA_CHAIN_TABLE, append([]byte(t.Name), 0))
	attrs = appendAttr(attrs, unix.NFTA_CHAIN_NAME, append([]byte(name), 0))
	found := false
	err := l.request(unix.NFT_MSG_GETCHAIN, unix.NLM_F_ACK, byte(t.Family), attrs, func([]byte) error {
		found = true
		return nil
	})
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("firewall: look up chain %s: %w", name, err)
	}
	return found, nil
}

// appendAttr appends a netlink attribute (struct nlattr, then data,
// padded to 4 bytes) to b.
func appendAttr(b []byte, typ uint16, data []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(unix.SizeofNlAttr+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%unix.NLA_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

// eachAttr calls f with the type (its flags cleared) and data of each
// netlink attribute in b, in order, and stops at f's first error.
func eachAttr(b []byte, f func(typ uint16, data []byte) error) error {
	for len(b) > 0 {
		if len(b) < unix.SizeofNlAttr {
			return errors.New("a truncated attribute")
		}
		n := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		if n < unix.SizeofNlAttr || n > len(b) {
			return fmt.Errorf("an attribute of %d bytes in %d", n, len(b))
		}
		if err := f(typ, b[unix.SizeofNlAttr:n]); err != nil {
			return err
		}
		n = (n + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1)
		if n > len(b) {
			n = len(b)
		}
		b = b[n:]
	}
	return nil
}

// parseRuleTag reads a rule's handle and user data (copied) from the body
// of an NFT_MSG_NEWRULE message (struct nfgenmsg, then the attributes),
// skipping every other attribute unread.
func parseRuleTag(b []byte) (*nftables.Rule, error) {
	if len(b) < 4 {
		return nil, errors.New("short rule message")
	}
	r := &nftables.Rule{}
	err := eachAttr(b[4:], func(typ uint16, data []byte) error {
		switch typ {
		case unix.NFTA_RULE_HANDLE:
			if len(data) != 8 {
				return fmt.Errorf("a handle of %d bytes", len(data))
			}
			r.Handle = binary.BigEndian.Uint64(data)
		case unix.NFTA_RULE_USERDATA:
			r.UserData = bytes.Clone(data)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if r.Handle == 0 {
		return nil, errors.New("a rule without a handle")
	}
	return r, nil
}

// parseTable reads a table's family (the nfgenmsg's) and name from the
// body of an NFT_MSG_NEWTABLE message, skipping every other attribute
// unread.
func parseTable(b []byte) (*nftables.Table, error) {
	if len(b) < 4 {
		return nil, errors.New("short table message")
	}
	t := &nftables.Table{Family: nftables.TableFamily(b[0])}
	err := eachAttr(b[4:], func(typ uint16, data []byte) error {
		if typ == unix.NFTA_TABLE_NAME {
			t.Name = string(bytes.TrimRight(data, "\x00"))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if t.Name == "" {
		return nil, errors.New("a table without a name")
	}
	return t, nil
}

// parseChain reads a chain from the body of an NFT_MSG_NEWCHAIN message
// (struct nfgenmsg, then the attributes): its table's family (the
// nfgenmsg's) and name, its name, and for a base chain its hook number and
// policy; every other attribute is skipped unread.
func parseChain(b []byte) (*nftables.Chain, error) {
	if len(b) < 4 {
		return nil, errors.New("short chain message")
	}
	ch := &nftables.Chain{Table: &nftables.Table{Family: nftables.TableFamily(b[0])}}
	str := func(data []byte) string { return string(bytes.TrimRight(data, "\x00")) }
	err := eachAttr(b[4:], func(typ uint16, data []byte) error {
		switch typ {
		case unix.NFTA_CHAIN_TABLE:
			ch.Table.Name = str(data)
		case unix.NFTA_CHAIN_NAME:
			ch.Name = str(data)
		case unix.NFTA_CHAIN_POLICY:
			if len(data) != 4 {
				return fmt.Errorf("a policy of %d bytes", len(data))
			}
			p := nftables.ChainPolicy(binary.BigEndian.Uint32(data))
			ch.Policy = &p
		case unix.NFTA_CHAIN_HOOK:
			return eachAttr(data, func(typ uint16, data []byte) error {
				if typ == unix.NFTA_HOOK_HOOKNUM {
					if len(data) != 4 {
						return fmt.Errorf("a hook number of %d bytes", len(data))
					}
					ch.Hooknum = nftables.ChainHookRef(nftables.ChainHook(binary.BigEndian.Uint32(data)))
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if ch.Table.Name == "" || ch.Name == "" {
		return nil, errors.New("a chain without a table or a name")
	}
	return ch, nil
}
