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

// ruleLister lists rules by their tags (list) over one NETLINK_NETFILTER
// socket, opened on the first listing and closed by close, reading every
// answer into one buffer.
type ruleLister struct {
	fd  int // the socket; 0 until the first listing
	buf []byte
}

func (l *ruleLister) list(chain string) ([]*nftables.Rule, error) {
	if l.fd == 0 {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		if err != nil {
			return nil, fmt.Errorf("firewall: nftables: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("firewall: nftables: %w", err)
		}
		// Larger than any part of a dump (the kernel's parts are at most
		// 32 KiB): a part is never cut.
		l.fd, l.buf = fd, make([]byte, 64<<10)
	}
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
	// struct nlmsghdr, struct nfgenmsg (the family, NFNETLINK_V0, resource
	// id 0), then the table's and the chain's names.
	req := make([]byte, unix.NLMSG_HDRLEN, 64+len(chain))
	req = append(req, byte(t.Family), unix.NFNETLINK_V0, 0, 0)
	req = appendAttr(req, unix.NFTA_RULE_TABLE, append([]byte(t.Name), 0))
	req = appendAttr(req, unix.NFTA_RULE_CHAIN, append([]byte(chain), 0))
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_GETRULE)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], 1) // the sequence number
	if err := unix.Sendto(l.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	ch := &nftables.Chain{Name: chain, Table: t}
	var rules []*nftables.Rule
	for {
		n, _, flags, _, err := unix.Recvmsg(l.fd, l.buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if flags&unix.MSG_TRUNC != 0 {
			return nil, errors.New("an answer longer than the buffer")
		}
		msgs, err := syscall.ParseNetlinkMessage(l.buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return rules, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return nil, errors.New("a short error message")
				}
				if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
					return nil, unix.Errno(-e)
				}
				return rules, nil
			}
			r, err := parseRuleTag(m.Data)
			if err != nil {
				return nil, err
			}
			r.Table, r.Chain = t, ch
			rules = append(rules, r)
		}
	}
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

// parseRuleTag reads a rule's handle and user data (copied) from the body
// of an NFT_MSG_NEWRULE message (struct nfgenmsg, then the attributes),
// skipping every other attribute unread.
func parseRuleTag(b []byte) (*nftables.Rule, error) {
	if len(b) < 4 {
		return nil, errors.New("short rule message")
	}
	r := &nftables.Rule{}
	for b = b[4:]; len(b) > 0; {
		if len(b) < unix.SizeofNlAttr {
			return nil, errors.New("a truncated attribute")
		}
		n := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		if n < unix.SizeofNlAttr || n > len(b) {
			return nil, fmt.Errorf("an attribute of %d bytes in %d", n, len(b))
		}
		data := b[unix.SizeofNlAttr:n]
		switch typ {
		case unix.NFTA_RULE_HANDLE:
			if len(data) != 8 {
				return nil, fmt.Errorf("a handle of %d bytes", len(data))
			}
			r.Handle = binary.BigEndian.Uint64(data)
		case unix.NFTA_RULE_USERDATA:
			r.UserData = bytes.Clone(data)
		}
		n = (n + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1)
		if n > len(b) {
			n = len(b)
		}
		b = b[n:]
	}
	if r.Handle == 0 {
		return nil, errors.New("a rule without a handle")
	}
	return r, nil
}
