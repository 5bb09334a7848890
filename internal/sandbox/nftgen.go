package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// rulesetGen returns the generation of the host's nftables ruleset: the
// kernel adds one at every transaction that changes any table, whoever
// commits it (nft, another Slipway server, a firewall manager). It is one
// netlink request (NFT_MSG_GETGEN), microseconds, where listing the table
// with nft costs a process and ~10 ms.
func rulesetGen() (uint32, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return 0, fmt.Errorf("nftables generation: socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("nftables generation: bind: %w", err)
	}
	const seq = 1
	// nlmsghdr (16 bytes) and nfgenmsg (4 bytes: family, version, res_id).
	req := make([]byte, unix.NLMSG_HDRLEN+sizeofNfgenmsg)
	binary.NativeEndian.PutUint32(req[0:4], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:6], unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_GETGEN)
	binary.NativeEndian.PutUint16(req[6:8], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(req[8:12], seq)
	req[16] = unix.AF_UNSPEC
	req[17] = unix.NFNETLINK_V0
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("nftables generation: send: %w", err)
	}
	buf := make([]byte, 4096)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("nftables generation: receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return 0, fmt.Errorf("nftables generation: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := int32(binary.NativeEndian.Uint32(m.Data[:4])); e != 0 {
						return 0, fmt.Errorf("nftables generation: %w", unix.Errno(-e))
					}
				}
				continue // an acknowledgement
			case unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWGEN:
				return genID(m.Data)
			}
		}
	}
}

// sizeofNfgenmsg is the size of struct nfgenmsg.
const sizeofNfgenmsg = 4

// genID reads NFTA_GEN_ID from a NFT_MSG_NEWGEN message's payload.
func genID(data []byte) (uint32, error) {
	if len(data) < sizeofNfgenmsg {
		return 0, errors.New("nftables generation: short answer")
	}
	attrs := data[sizeofNfgenmsg:]
	for len(attrs) >= unix.SizeofNlAttr {
		l := int(binary.NativeEndian.Uint16(attrs[0:2]))
		typ := binary.NativeEndian.Uint16(attrs[2:4]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		if l < unix.SizeofNlAttr || l > len(attrs) {
			break
		}
		if typ == unix.NFTA_GEN_ID && l >= unix.SizeofNlAttr+4 {
			return binary.BigEndian.Uint32(attrs[unix.SizeofNlAttr : unix.SizeofNlAttr+4]), nil
		}
		attrs = attrs[min((l+unix.NLA_ALIGNTO-1)&^(unix.NLA_ALIGNTO-1), len(attrs)):]
	}
	return 0, errors.New("nftables generation: no NFTA_GEN_ID in the answer")
}

// nlMsg appends a netlink message of type typ with an nfgenmsg of family
// and resID (network order) and the attributes attrs to b.
func nlMsg(b []byte, typ, flags uint16, seq uint32, family uint8, resID uint16, attrs []byte) []byte {
	n := unix.NLMSG_HDRLEN + sizeofNfgenmsg + len(attrs)
	b = binary.NativeEndian.AppendUint32(b, uint32(n))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0) // port: the kernel's
	b = append(b, family, unix.NFNETLINK_V0)
	b = binary.BigEndian.AppendUint16(b, resID)
	b = append(b, attrs...)
	return nlPad(b)
}

// nlAttr appends attribute typ holding v to b.
func nlAttr(b []byte, typ uint16, v []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(unix.SizeofNlAttr+len(v)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, v...)
	return nlPad(b)
}

func nlPad(b []byte) []byte {
	for len(b)%unix.NLA_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

// elemKey is the key of e in set as the kernel holds it: a port is two
// bytes in network order; uid . port is the uid in host order and the port,
// each in a 4-byte register (the port's padded with zeros).
func elemKey(set string, e [2]int) []byte {
	if set != nftOwnPorts {
		return binary.BigEndian.AppendUint16(nil, uint16(e[0]))
	}
	k := binary.NativeEndian.AppendUint32(nil, uint32(e[0]))
	k = binary.BigEndian.AppendUint16(k, uint16(e[1]))
	return append(k, 0, 0)
}

// netlinkBatch applies ops to the table in one nftables transaction over
// netlink: what `nft -f` of the same script does, without a process (nft
// costs ~20 ms of CPU a run on a loaded host). The transaction is all or
// nothing: on an error nothing changed.
func netlinkBatch(ops []nftOp) error { return netlinkBatchTable(nftTable, ops) }

// netlinkBatchTable is netlinkBatch on the inet table tableName.
func netlinkBatchTable(tableName string, ops []nftOp) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink bind: %w", err)
	}
	table := tableName + "\x00"
	var b []byte
	seq := uint32(1)
	b = nlMsg(b, unix.NFNL_MSG_BATCH_BEGIN, unix.NLM_F_REQUEST, seq, unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES, nil)
	pending := map[uint32]bool{}
	for _, o := range ops {
		if len(o.elems) == 0 {
			continue
		}
		var list []byte
		for _, e := range o.elems {
			key := nlAttr(nil, unix.NFTA_DATA_VALUE, elemKey(o.set, e))
			elem := nlAttr(nil, unix.NLA_F_NESTED|unix.NFTA_SET_ELEM_KEY, key)
			list = nlAttr(list, unix.NLA_F_NESTED|unix.NFTA_LIST_ELEM, elem)
		}
		attrs := nlAttr(nil, unix.NFTA_SET_ELEM_LIST_TABLE, []byte(table))
		attrs = nlAttr(attrs, unix.NFTA_SET_ELEM_LIST_SET, []byte(o.set+"\x00"))
		attrs = nlAttr(attrs, unix.NLA_F_NESTED|unix.NFTA_SET_ELEM_LIST_ELEMENTS, list)
		typ, flags := uint16(unix.NFT_MSG_NEWSETELEM), uint16(unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE)
		if o.del {
			typ, flags = unix.NFT_MSG_DELSETELEM, unix.NLM_F_REQUEST|unix.NLM_F_ACK
		}
		seq++
		pending[seq] = true
		b = nlMsg(b, unix.NFNL_SUBSYS_NFTABLES<<8|typ, flags, seq, unix.NFPROTO_INET, 0, attrs)
	}
	if len(pending) == 0 {
		return nil
	}
	seq++
	b = nlMsg(b, unix.NFNL_MSG_BATCH_END, unix.NLM_F_REQUEST, seq, unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES, nil)
	if err := unix.Sendto(fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	// Every message asked for an acknowledgement: all of them come once
	// the batch is done, an error for each that failed.
	var failed error
	buf := make([]byte, 1<<16)
	for len(pending) > 0 {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("netlink: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type != unix.NLMSG_ERROR || !pending[m.Header.Seq] {
				continue
			}
			delete(pending, m.Header.Seq)
			if len(m.Data) < 4 {
				return errors.New("netlink: short acknowledgement")
			}
			if e := int32(binary.NativeEndian.Uint32(m.Data[:4])); e != 0 && failed == nil {
				failed = fmt.Errorf("netlink: %w", unix.Errno(-e))
			}
		}
	}
	return failed
}
