package sandbox

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"slipway.dev/slipway/internal/flock"
)

// Network isolation. Tools share the host's network namespace (they need
// to reach the internet, and the proxy and health checks reach their
// ports), so what keeps a tool from another tool's ports is a firewall rule
// on the tools' uids: with a uid per tool (the server is root), nftables
// refuses every new connection from a tool's uid to an address of this host
// (`fib daddr type local`: loopback and the host's own addresses), except
// to the ports of an allow-list — the API and the proxy of each Slipway
// server of the host, and DNS — and to the ports the tool's own processes
// were given (a health check script reaches its component's $PORT). Only
// connection attempts are refused (a TCP SYN without ACK, any UDP
// datagram), so a tool's server still answers the proxy and the health
// checks, which connect as root.
//
// The table is the host's, shared by its servers: each adds its uid
// range's rules (once) and its own ports to the allow-list, takes its ports
// out when it stops (a tool's own ports stay while its processes, which
// outlive the server, run). Give each server of a host its own uid range
// (--sandbox-uid-base): two servers giving one uid to two tools would let
// them reach each other.

// Network modes of [Config.Network].
const (
	// NetworkAuto isolates when it can (root and nftables), and says so
	// when it cannot.
	NetworkAuto = ""
	// NetworkIsolated isolates, or New fails.
	NetworkIsolated = "isolated"
	// NetworkShared leaves the host's network as it is.
	NetworkShared = "shared"
)

const (
	nftTable    = "slipway"
	nftAllowed  = "allowed_ports" // ports of this host every tool may reach
	nftOwnPorts = "tool_ports"    // uid . port: a tool's own ports
	nftChain    = "output"
)

// netFilter is the nftables rule set of this server's tools.
type netFilter struct {
	nft     string
	comment string // names this server's uid range's rules
	rules   []string
	// nftMu serializes this server's changes to the sets (the host's lock
	// serializes the servers'); it comes before mu.
	nftMu sync.Mutex
	mu    sync.Mutex
	ports []int            // this server's own ports in the allow-list
	held  map[string][]int // unit key → the ports it holds
	// released are entries this server's units no longer hold, deleted
	// together off the critical path:
	// until then a tool can still reach a port of its own no one uses.
	released map[[2]int]bool
	cleanup  *time.Timer // set while a clean-up is due
	// known is the sets' elements as this server last saw or left them,
	// valid while the ruleset's generation is still knownGen (nil:
	// unknown); nftMu guards both. A change by anyone moves the
	// generation, so a component's start need not list the table again.
	known    elemSet
	knownGen uint32
	logger   *slog.Logger
	// runs counts the nft processes run (list or change), batches the
	// changes made over netlink, for tests.
	runs, batches atomic.Int64
}

// cleanDelay gathers the releases of a deployment into one deletion.
const cleanDelay = 500 * time.Millisecond

// setupNetwork decides how the network is isolated; the allowed ports come
// with [Sandbox.IsolateNetwork] once the server listens.
func (s *Sandbox) setupNetwork(ctx context.Context) error {
	why := ""
	switch {
	case s.cfg.Network == NetworkShared:
		why = "--sandbox-network shared"
	case !s.root:
		why = "the server is not root, so tools share its uid"
	default:
		nft, err := exec.LookPath("nft")
		if err != nil {
			why = "nftables (nft) is not installed: apt-get install nftables"
			break
		}
		f := newNetFilter(nft, s.cfg.UIDBase, s.cfg.UIDBase+s.cfg.UIDCount-1)
		if err := f.ensure(ctx); err != nil {
			why = "nftables refused the rules: " + err.Error()
			break
		}
		f.logger = s.logger
		s.net = f
	}
	if s.net == nil {
		if s.cfg.Network == NetworkIsolated {
			return fmt.Errorf("%w: tools' network cannot be isolated: %s", ErrUnavailable, why)
		}
		s.netShared = why
	}
	return nil
}

func newNetFilter(nft string, first, last int) *netFilter {
	uids := fmt.Sprintf("%d-%d", first, last)
	f := &netFilter{
		nft: nft, comment: "slipway/2 uids " + uids,
		held: map[string][]int{}, released: map[[2]int]bool{},
	}
	// A new connection (SYN without ACK; for UDP any datagram) from a
	// tool to this host, to neither an allowed port nor one of its own.
	f.rules = []string{
		fmt.Sprintf(`meta skuid %s fib daddr type local tcp flags & (syn | ack) == syn tcp dport != @%s meta skuid . tcp dport != @%s reject with tcp reset comment "%s tcp"`,
			uids, nftAllowed, nftOwnPorts, f.comment),
		fmt.Sprintf(`meta skuid %s fib daddr type local meta l4proto udp udp dport != @%s meta skuid . udp dport != @%s reject comment "%s udp"`,
			uids, nftAllowed, nftOwnPorts, f.comment),
	}
	return f
}

// nftLock serializes the changes of the servers of this host to the
// shared table, so that two starting at once do not both add their rules.
// It is in /run, which only root writes (isolation needs a root server):
// in /tmp any local user could hold it and stall every server's start,
// and a private /tmp (systemd PrivateTmp) would give each server its own.
var nftLock = "/run/slipway-nftables.lock"

// ensure makes the table, its sets (with DNS allowed) and chain, and this
// uid range's rules when the table does not have them yet.
func (f *netFilter) ensure(ctx context.Context) error {
	return f.locked(ctx, func() error { return f.ensureLocked(ctx) })
}

func (f *netFilter) ensureLocked(ctx context.Context) error {
	script := fmt.Sprintf(`add table inet %[1]s
add set inet %[1]s %[2]s { type inet_service; }
add set inet %[1]s %[3]s { type uid . inet_service; }
add chain inet %[1]s %[4]s { type filter hook output priority 0; policy accept; }
add element inet %[1]s %[2]s { 53 }
`, nftTable, nftAllowed, nftOwnPorts, nftChain)
	if err := f.run(ctx, script); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, f.nft, "list", "chain", "inet", nftTable, nftChain).CombinedOutput()
	if err != nil {
		return fmt.Errorf("list the chain: %w: %s", err, bytes.TrimSpace(out))
	}
	if bytes.Contains(out, []byte(`"`+f.comment+` tcp"`)) && bytes.Contains(out, []byte(`"`+f.comment+` udp"`)) {
		return nil
	}
	// A half-made set (a crash between the two) gets both again: a rule
	// twice only costs a comparison.
	var b strings.Builder
	for _, r := range f.rules {
		fmt.Fprintf(&b, "add rule inet %s %s %s\n", nftTable, nftChain, r)
	}
	return f.run(ctx, b.String())
}

// elemSet holds the elements of the table's sets by set name: [port, 0]
// (allowed_ports) or [uid, port] (tool_ports).
type elemSet map[string]map[[2]int]bool

// apply applies ops to es as nft does, and reports whether one changed
// anything (adding an element that is there, as nft does, changes nothing).
func (es elemSet) apply(ops []nftOp) (changed bool) {
	for _, o := range ops {
		set := es[o.set]
		if set == nil {
			set = map[[2]int]bool{}
			es[o.set] = set
		}
		for _, e := range o.elems {
			if o.del == set[e] {
				changed = true
				if o.del {
					delete(set, e)
				} else {
					set[e] = true
				}
			}
		}
	}
	return changed
}

// nftOp adds elements to a set of the table, or deletes them.
type nftOp struct {
	del   bool
	set   string
	elems [][2]int // as in elemSet
}

func (o nftOp) String() string {
	verb := "add"
	if o.del {
		verb = "delete"
	}
	s := make([]string, len(o.elems))
	for i, e := range o.elems {
		if o.set == nftOwnPorts {
			s[i] = fmt.Sprintf("%d . %d", e[0], e[1])
		} else {
			s[i] = strconv.Itoa(e[0])
		}
	}
	return fmt.Sprintf("%s element inet %s %s { %s }\n", verb, nftTable, o.set, strings.Join(s, ", "))
}

// portElems returns ports as elements of allowed_ports.
func portElems(ports []int) [][2]int {
	out := make([][2]int, len(ports))
	for i, p := range ports {
		out[i] = [2]int{p, 0}
	}
	return out
}

// elements lists the elements of the table's sets.
func (f *netFilter) elements(ctx context.Context) (elemSet, error) {
	f.runs.Add(1)
	out, err := exec.CommandContext(ctx, f.nft, "-j", "list", "table", "inet", nftTable).Output()
	if err != nil {
		return nil, fmt.Errorf("list the table %s: %w", nftTable, err)
	}
	var doc struct {
		Nftables []struct {
			Set *struct {
				Name string            `json:"name"`
				Elem []json.RawMessage `json:"elem"`
			} `json:"set"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("list the table %s: %w", nftTable, err)
	}
	elems := elemSet{}
	for _, o := range doc.Nftables {
		if o.Set == nil {
			continue
		}
		set := o.Set.Name
		if elems[set] == nil {
			elems[set] = map[[2]int]bool{}
		}
		for _, raw := range o.Set.Elem {
			var port int
			var concat struct {
				Concat []int `json:"concat"`
			}
			switch {
			case json.Unmarshal(raw, &port) == nil:
				elems[set][[2]int{port, 0}] = true
			case json.Unmarshal(raw, &concat) == nil && len(concat.Concat) == 2:
				elems[set][[2]int{concat.Concat[0], concat.Concat[1]}] = true
			default:
				return nil, fmt.Errorf("list the set %s: unexpected element %s", set, raw)
			}
		}
	}
	return elems, nil
}

// listeningPorts returns the TCP ports this host listens on.
func listeningPorts() (map[int]bool, error) {
	ports := map[int]bool{}
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st ...; st 0A is LISTEN.
			fields := strings.Fields(line)
			if len(fields) < 4 || fields[3] != "0A" {
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); ok && err == nil {
				ports[int(p)] = true
			}
		}
	}
	return ports, nil
}

func (f *netFilter) run(ctx context.Context, script string) error {
	f.runs.Add(1)
	cmd := exec.CommandContext(ctx, f.nft, "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// IsolateNetwork lets tools reach these ports of this host (the server's
// API and proxy) and no other, when the network is isolated (see
// [Config.Network]); it does nothing otherwise.
func (s *Sandbox) IsolateNetwork(ctx context.Context, ports ...int) error {
	if s.net == nil || len(ports) == 0 {
		return nil
	}
	f := s.net
	if err := f.ensure(ctx); err != nil { // another server may have taken the table away
		return fmt.Errorf("sandbox: network: %w", err)
	}
	f.nftMu.Lock()
	defer f.nftMu.Unlock()
	err := f.change(ctx, func(elems elemSet) []nftOp {
		ops := []nftOp{{set: nftAllowed, elems: portElems(ports)}}
		// Ports of servers that died without taking theirs out: no one
		// listens there any more, and a tool may be given one next. (A
		// server listens before it adds its ports, under the lock we hold.)
		listening, err := listeningPorts()
		if err != nil {
			return ops // pruned next time
		}
		var stale []int
		for e := range elems[nftAllowed] {
			if e[0] != 53 && !listening[e[0]] && !slices.Contains(ports, e[0]) {
				stale = append(stale, e[0])
			}
		}
		if len(stale) > 0 {
			slices.Sort(stale)
			ops = append(ops, nftOp{del: true, set: nftAllowed, elems: portElems(stale)})
		}
		return ops
	})
	if err != nil {
		return fmt.Errorf("sandbox: network: %w", err)
	}
	f.mu.Lock()
	f.ports = append(f.ports, ports...)
	f.mu.Unlock()
	return nil
}

// HoldPorts records that the processes of a tool's unit (a component) now
// listen on ports (none: it stopped), so that the tool's own processes may
// connect to them, and no other tool's: whoever held one of these ports
// before (a process gone while no server watched it) loses it. Only the
// ports the unit does not hold yet cost nftables work: one netlink batch,
// and a listing of the table (nft) before it when the ruleset changed
// since this server last saw it (its generation moved); a call that adds none, e.g.
// after a rollout's old replicas stopped, changes the bookkeeping only. It
// does nothing when the network is not isolated.
func (s *Sandbox) HoldPorts(ctx context.Context, tool, unit string, ports []int) error {
	if s.net == nil {
		return nil
	}
	uid, err := s.UID(tool)
	if err != nil {
		return fmt.Errorf("sandbox: network: %w", err)
	}
	ports = slices.DeleteFunc(slices.Clone(ports), func(p int) bool { return p <= 0 })
	f := s.net
	f.nftMu.Lock()
	defer f.nftMu.Unlock()
	key := tool + "/" + unit
	// The ports the unit holds already are in the set (this server added
	// them, and took them from everyone else then): only new ones are
	// added. Skipping an add never opens a port; another server that took
	// one of ours meanwhile (it was free) keeps it.
	f.mu.Lock()
	var fresh []int
	for _, p := range ports {
		if !slices.Contains(f.held[key], p) {
			fresh = append(fresh, p)
		}
	}
	f.mu.Unlock()
	if len(fresh) > 0 {
		err := f.change(ctx, func(elems elemSet) []nftOp {
			// Ours now, and no other tool's or server's (it was free).
			var del, unallow [][2]int
			for _, p := range fresh {
				if elems[nftAllowed][[2]int{p, 0}] {
					unallow = append(unallow, [2]int{p, 0})
				}
			}
			for e := range elems[nftOwnPorts] {
				if e[0] != uid && slices.Contains(fresh, e[1]) {
					del = append(del, e)
				}
			}
			add := make([][2]int, len(fresh))
			for i, p := range fresh {
				add[i] = [2]int{uid, p}
			}
			ops := []nftOp{{set: nftOwnPorts, elems: add}}
			if len(del) > 0 {
				slices.SortFunc(del, func(a, b [2]int) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
				ops = append(ops, nftOp{del: true, set: nftOwnPorts, elems: del})
			}
			if len(unallow) > 0 {
				ops = append(ops, nftOp{del: true, set: nftAllowed, elems: unallow})
			}
			return ops
		})
		if err != nil {
			return fmt.Errorf("sandbox: network: hold ports %v of %s: %w", ports, key, err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// Another unit of this server that held one of the fresh ports lost it
	// (its entry was deleted, or is this one's when the tool is the same):
	// it must neither skip adding it again nor release it.
	for k, held := range f.held {
		if k == key {
			continue
		}
		if held = slices.DeleteFunc(held, func(p int) bool { return slices.Contains(fresh, p) }); len(held) == 0 {
			delete(f.held, k)
		} else {
			f.held[k] = held
		}
	}
	for _, p := range f.held[key] {
		if !slices.Contains(ports, p) {
			f.released[[2]int{uid, p}] = true
		}
	}
	for _, p := range ports {
		delete(f.released, [2]int{uid, p})
	}
	if len(ports) == 0 {
		delete(f.held, key)
	} else {
		f.held[key] = ports
	}
	if len(f.released) > 0 && f.cleanup == nil {
		ctx := context.WithoutCancel(ctx)
		f.cleanup = time.AfterFunc(cleanDelay, func() { f.clean(ctx) })
	}
	return nil
}

// clean deletes the released entries that are still released.
func (f *netFilter) clean(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	f.nftMu.Lock()
	defer f.nftMu.Unlock()
	f.mu.Lock()
	gone := f.released
	f.released = map[[2]int]bool{}
	if f.cleanup != nil {
		f.cleanup.Stop()
		f.cleanup = nil
	}
	f.mu.Unlock()
	if len(gone) == 0 {
		return // an earlier clean-up took them
	}
	// nft refuses to delete an element that is not there (another server
	// may have taken the port since): adding the entries first, in the same
	// transaction, deletes them whether they were there or not, with one
	// batch instead of a listing and a deletion.
	del := make([][2]int, 0, len(gone))
	for e := range gone {
		del = append(del, e)
	}
	slices.SortFunc(del, func(a, b [2]int) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	err := f.locked(ctx, func() error {
		return f.apply(ctx, []nftOp{{set: nftOwnPorts, elems: del}, {del: true, set: nftOwnPorts, elems: del}})
	})
	if err != nil {
		// Taken anyway when the port goes to another tool.
		f.logger.WarnContext(ctx, "sandbox: network: released ports not deleted", "error", err.Error())
	}
}

// closeNetwork takes this server's ports out of the allow-list. The tools'
// own ports stay: their processes outlive the server.
func (s *Sandbox) closeNetwork(ctx context.Context) error {
	if s.net == nil {
		return nil
	}
	f := s.net
	f.clean(ctx) // what is due now
	f.nftMu.Lock()
	defer f.nftMu.Unlock()
	f.mu.Lock()
	ports := f.ports
	f.ports = nil
	f.mu.Unlock()
	if len(ports) == 0 {
		return nil
	}
	err := f.change(ctx, func(elems elemSet) []nftOp {
		var gone []int
		for _, p := range ports {
			if p != 53 && elems[nftAllowed][[2]int{p, 0}] && !slices.Contains(gone, p) {
				gone = append(gone, p)
			}
		}
		if len(gone) == 0 {
			return nil
		}
		return []nftOp{{del: true, set: nftAllowed, elems: portElems(gone)}}
	})
	if err != nil {
		return fmt.Errorf("sandbox: network: %w", err)
	}
	return nil
}

// change runs the operations that edit makes from the sets' elements,
// holding the host's lock: nft refuses to delete an element that is not
// there, so no other server may change the sets in between. The elements
// are the ones this server knows when the ruleset's generation has not
// moved since it last saw them, and listed otherwise.
func (f *netFilter) change(ctx context.Context, edit func(elems elemSet) []nftOp) error {
	return f.locked(ctx, func() error {
		gen, genErr := rulesetGen()
		if genErr != nil || f.known == nil || gen != f.knownGen {
			f.known = nil
			elems, err := f.elements(ctx)
			if err != nil {
				return err
			}
			if genErr == nil {
				// Read before the listing: a change in between moves the
				// generation past it, and the next change lists again.
				f.known, f.knownGen = elems, gen
			} else {
				return f.batch(ctx, edit(elems))
			}
		}
		return f.apply(ctx, edit(f.known))
	})
}

// apply runs ops (nothing when there are none) holding the host's lock,
// and keeps the known elements up to date when nothing else changed the
// ruleset meanwhile: the generation moved by one for a batch that changed
// anything, not at all for one that changed nothing (nft's transaction).
func (f *netFilter) apply(ctx context.Context, ops []nftOp) error {
	script := render(ops)
	if script == "" {
		return nil
	}
	known := f.known
	if known != nil {
		if g, err := rulesetGen(); err != nil || g != f.knownGen {
			known = nil
		}
	}
	f.known = nil // unknown until checked
	if err := f.batch(ctx, ops); err != nil {
		return err
	}
	if known == nil {
		return nil
	}
	want := f.knownGen
	if known.apply(ops) {
		want++
	}
	if g, err := rulesetGen(); err == nil && g == want {
		f.known, f.knownGen = known, g
	}
	return nil
}

// batch makes the changes of ops in one transaction: over netlink (no
// process, ~0.1 ms), or with nft when netlink fails (which then says why
// in its words; the transaction is all or nothing, so nothing of a failed
// batch was changed).
func (f *netFilter) batch(ctx context.Context, ops []nftOp) error {
	script := render(ops)
	if script == "" {
		return nil
	}
	if err := netlinkBatch(ops); err == nil {
		f.batches.Add(1)
		return nil
	}
	return f.run(ctx, script)
}

// render returns the nft script of ops ("" for none).
func render(ops []nftOp) string {
	var b strings.Builder
	for _, o := range ops {
		if len(o.elems) > 0 {
			b.WriteString(o.String())
		}
	}
	return b.String()
}

// locked runs fn holding the host's lock on the table.
func (f *netFilter) locked(ctx context.Context, fn func() error) error {
	unlock, err := flock.Lock(ctx, nftLock)
	if err != nil {
		return fmt.Errorf("lock %s: %w", nftLock, err)
	}
	defer unlock()
	return fn()
}
