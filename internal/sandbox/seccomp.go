package sandbox

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"syscall"
)

// The seccomp filter every sandboxed process gets (bubblewrap --seccomp):
// it refuses what a tool has no use for and what widens the kernel's attack
// surface beyond a plain unprivileged process — above all new user
// namespaces, which would make the tool root in a namespace of its own and
// give it mount, network and other privileged code paths of the kernel.
// Everything else is allowed. System calls of another ABI than the host's
// (32-bit x86 on x86-64, x32) are refused altogether: their numbers differ,
// and a filter of one ABI would not see them.

// classic BPF opcodes (linux/filter.h) and seccomp return values.
const (
	bpfLD   = 0x00
	bpfW    = 0x00
	bpfABS  = 0x20
	bpfJMP  = 0x05
	bpfJEQ  = 0x10
	bpfJGE  = 0x30
	bpfJSET = 0x40
	bpfK    = 0x00
	bpfRET  = 0x06

	seccompRetAllow = 0x7fff0000
	seccompRetErrno = 0x00050000

	// offsets in struct seccomp_data
	offNr   = 0
	offArch = 4
	offArg0 = 16 // low 32 bits on a little-endian machine

	cloneNewUser = 0x10000000
	x32Bit       = 0x40000000
)

// seccompArch is what the filter knows of one architecture.
type seccompArch struct {
	audit uint32
	// userns are the calls whose first argument is a flags word that may
	// ask for a new user namespace (unshare, clone).
	userns []uint32
	// clone3 passes its flags in memory the filter cannot read: refused
	// with ENOSYS, so that libc falls back to clone.
	clone3 uint32
	// denied are refused with EPERM.
	denied []uint32
}

var seccompArches = map[string]seccompArch{
	"amd64": {
		audit:  0xc000003e,
		userns: []uint32{272, 56}, // unshare, clone
		clone3: 435,
		// keyctl, add_key, request_key, bpf, perf_event_open, userfaultfd,
		// kexec_load, kexec_file_load, setns, open_by_handle_at,
		// fsopen, fsconfig, fsmount, fspick, move_mount, open_tree,
		// mount_setattr, pidfd_getfd, process_vm_readv, process_vm_writev
		denied: []uint32{250, 248, 249, 321, 298, 323, 246, 320, 308, 304, 430, 431, 432, 433, 429, 428, 442, 438, 310, 311},
	},
	"arm64": {
		audit:  0xc00000b7,
		userns: []uint32{97, 220},
		clone3: 435,
		denied: []uint32{219, 217, 218, 280, 241, 282, 104, 294, 268, 265, 430, 431, 432, 433, 429, 428, 442, 438, 270, 271},
	},
}

// seccompProgram returns the filter for this machine's architecture as
// bubblewrap reads it (struct sock_filter, host byte order), or an error
// on an architecture the filter does not know.
func seccompProgram() ([]byte, error) {
	a, ok := seccompArches[runtime.GOARCH]
	if !ok {
		return nil, fmt.Errorf("no seccomp filter for %s", runtime.GOARCH)
	}
	type insn struct {
		code   uint16
		jt, jf uint8
		k      uint32
	}
	eperm := seccompRetErrno | uint32(syscall.EPERM)
	var prog []insn
	ret := func(v uint32) { prog = append(prog, insn{code: bpfRET | bpfK, k: v}) }
	// Another ABI: refuse.
	prog = append(prog, insn{code: bpfLD | bpfW | bpfABS, k: offArch},
		insn{code: bpfJMP | bpfJEQ | bpfK, jt: 1, jf: 0, k: a.audit})
	ret(eperm)
	prog = append(prog, insn{code: bpfLD | bpfW | bpfABS, k: offNr})
	if runtime.GOARCH == "amd64" { // x32 calls share the arch value
		prog = append(prog, insn{code: bpfJMP | bpfJGE | bpfK, jt: 0, jf: 1, k: x32Bit})
		ret(eperm)
	}
	// clone3: ENOSYS.
	prog = append(prog, insn{code: bpfJMP | bpfJEQ | bpfK, jt: 0, jf: 1, k: a.clone3})
	ret(seccompRetErrno | uint32(syscall.ENOSYS))
	for _, nr := range a.denied {
		prog = append(prog, insn{code: bpfJMP | bpfJEQ | bpfK, jt: 0, jf: 1, k: nr})
		ret(eperm)
	}
	// unshare and clone: EPERM when the flags ask for a user namespace.
	for _, nr := range a.userns {
		prog = append(prog,
			insn{code: bpfJMP | bpfJEQ | bpfK, jt: 0, jf: 4, k: nr},
			insn{code: bpfLD | bpfW | bpfABS, k: offArg0},
			insn{code: bpfJMP | bpfJSET | bpfK, jt: 0, jf: 1, k: cloneNewUser})
		ret(eperm)
		ret(seccompRetAllow)
	}
	ret(seccompRetAllow)
	out := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		out = binary.NativeEndian.AppendUint16(out, in.code)
		out = append(out, in.jt, in.jf)
		out = binary.NativeEndian.AppendUint32(out, in.k)
	}
	return out, nil
}
