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
