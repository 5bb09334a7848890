package sandbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"slipway.dev/slipway/internal/atomicfile"
	"slipway.dev/slipway/internal/slipway"
)

// Mode says whether processes are sandboxed.
type Mode string

// The modes.
const (
	// Bubblewrap confines processes (the default).
	Bubblewrap Mode = "bubblewrap"
	// Off runs processes unconfined as the server's user. Only for a
	// single-user workstation that asks for it.
	Off Mode = "off"
)

// Defaults of [Config].
const (
	DefaultUIDBase  = 1_000_000_000
	DefaultUIDCount = 1_000_000
	DefaultTmpSize  = 256 << 20
	DefaultPids     = 1024
)

// SystemPath is the PATH of sandboxed processes, before the bin directories
// of [Config.ReadOnlyPaths].
const SystemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Inside paths.
const (
	// AppDir is where the artifact (or a build's directory) is mounted.
	AppDir = "/app"
	// homeParent holds the tool's home, /data/project/<tool> (Toolforge's
	// layout).
	homeParent = "/data/project"
)

// Config configures a [Sandbox].
type Config struct {
	// Mode is Bubblewrap unless Off is asked for explicitly.
	Mode Mode
	// Dir keeps the sandbox's own state: the uid of each tool and the
	// generated passwd and group files. Required unless Mode is Off.
	Dir string
	// Name tells the cgroups of this server from those of other servers on
	// the same host (e.g. a hash of the data directory). Required unless
	// Mode is Off.
	Name string
	// UIDBase and UIDCount delimit the uids given to tools (when the server
	// runs as root); defaults DefaultUIDBase and DefaultUIDCount.
	UIDBase, UIDCount int
	// ReadOnlyPaths are host directories processes see read-only at the
	// same path, e.g. a Go toolchain under /opt. Their bin directories join
	// the PATH of [Sandbox.Path].
	ReadOnlyPaths []string
	// Limits selects the limits backend: "" (auto), "cgroup2", "cgroup1",
	// "rlimit" or "none".
	Limits string
	// Network is NetworkAuto, NetworkIsolated or NetworkShared (see
	// network.go): whether tools may connect to this host's ports other
	// than the servers' API and proxy.
	Network string
	// Logger receives the sandbox's logs; default slog.Default().
	Logger *slog.Logger
	// Ask are the files a process that may ask questions gets
	// ([Process.Ask]): the slipway binary and the CA of the API.
	Ask AskFiles
}

// AskFiles are what `slipway ask` needs inside a sandbox besides its
// environment: the program, and the CA to trust the API's certificate.
type AskFiles struct {
	// Binary is the slipway executable on the host (the server's own):
	// a process that asks sees it read-only as [AskBinDir]/slipway, first
	// on its PATH. Empty: none.
	Binary string
	// CA is the certificate of the CA that signed the API's TLS
	// certificate, when the server made it: seen read-only at
	// [AskCAFile], which $SLIPWAY_CA_FILE names. Empty: none.
	CA string
}

// Where a process that asks finds the slipway binary and the API's CA.
const (
	AskBinDir = "/run/slipway/bin"
	AskCAFile = "/run/slipway/ca.crt"
	// EnvCAFile names the CA file in the environment of a process that
	// asks.
	EnvCAFile = "SLIPWAY_CA_FILE"
)

// Sandbox starts confined processes. It is safe for concurrent use.
type Sandbox struct {
	cfg     Config
	seccomp string // the filter's file
	logger  *slog.Logger
	root    bool // the server runs as root: a uid per tool
	bwrap   string
	setpriv string
	version string
	layout  hostLayout
	limits  limiter
	uids    *uidMap
	// net isolates the tools' network; nil when it is shared, netShared
	// then says why.
	net       *netFilter
	netShared string
}

// Unconfined returns a sandbox that is off: processes run as the server's
// user with its view of the filesystem (see [Off]).
func Unconfined() *Sandbox {
	return &Sandbox{cfg: Config{Mode: Off}, logger: slog.Default(), limits: noLimits{reason: "the sandbox is off"}}
}

// ErrUnavailable is wrapped by [New]'s error when the sandbox cannot work on
// this host; the message says why and what to install.
var ErrUnavailable = errors.New("the sandbox cannot work on this host")

// New checks that the sandbox works on this host (bubblewrap and setpriv are
// there, and a trial sandbox starts) and chooses the limits backend.
func New(ctx context.Context, cfg Config) (*Sandbox, error) {
	logger := cmp.Or(cfg.Logger, slog.Default()).With("component", "sandbox")
	if cfg.Mode == "" {
		cfg.Mode = Bubblewrap
	}
	s := &Sandbox{cfg: cfg, logger: logger}
	switch cfg.Mode {
	case Off:
		u := Unconfined()
		u.logger = logger
		u.cfg.Ask = cfg.Ask
		return u, nil
	case Bubblewrap:
	default:
		return nil, fmt.Errorf("sandbox: unknown mode %q (want %s or %s)", cfg.Mode, Bubblewrap, Off)
	}
	if cfg.Dir == "" || cfg.Name == "" {
		return nil, errors.New("sandbox: Dir and Name are required")
	}
	s.cfg.UIDBase = cmp.Or(cfg.UIDBase, DefaultUIDBase)
	s.cfg.UIDCount = cmp.Or(cfg.UIDCount, DefaultUIDCount)
	s.root = os.Geteuid() == 0
	var err error
	if s.bwrap, err = exec.LookPath("bwrap"); err != nil {
		return nil, fmt.Errorf("sandbox: %w: bubblewrap (bwrap) is not installed: apt-get install bubblewrap", ErrUnavailable)
	}
	if s.root {
		if s.setpriv, err = exec.LookPath("setpriv"); err != nil {
			return nil, fmt.Errorf("sandbox: %w: setpriv is not installed: apt-get install util-linux", ErrUnavailable)
		}
	}
	if out, err := exec.CommandContext(ctx, s.bwrap, "--version").Output(); err == nil {
		s.version = strings.TrimSpace(string(out))
	}
	s.layout = readHostLayout()
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "etc"), 0o700); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	prog, err := seccompProgram()
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w: %w", ErrUnavailable, err)
	}
	s.seccomp = filepath.Join(cfg.Dir, "seccomp.bpf")
	if err := atomicfile.Write(s.seccomp, prog, 0o600); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if s.cfg.Ask, err = s.readableAskFiles(cfg.Ask); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if s.uids, err = loadUIDs(filepath.Join(cfg.Dir, "uids"), s.cfg.UIDBase, s.cfg.UIDCount); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if s.limits, err = chooseLimits(cfg.Limits, cfg.Name, s.root); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s.limits.close() // cgroups a previous server left empty
	if err := s.setupNetwork(ctx); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if err := s.probe(ctx); err != nil {
		return nil, fmt.Errorf("sandbox: %w: a trial sandbox failed: %w", ErrUnavailable, err)
	}
	logger.InfoContext(ctx, "sandbox ready", "bwrap", s.version, "uid_per_tool", s.root, "limits", s.limits.name())
	return s, nil
}

// probeTool is the identity of the trial sandbox: not a valid tool name, so
// no tool ever shares its uid.
const probeTool = "_probe"

// probe starts a trial sandbox as a tool would get it: its own uid, its
// mounts, a cgroup of its own with limits.
func (s *Sandbox) probe(ctx context.Context) error {
	dir, err := os.MkdirTemp(s.cfg.Dir, "probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := s.PrepareDir(probeTool, dir); err != nil {
		return err
	}
	var out strings.Builder
	cmd, err := s.Command(ctx, Process{
		Tool:    probeTool,
		Unit:    "probe-" + filepath.Base(dir),
		Limits:  Limits{MemoryBytes: 64 << 20, MilliCPU: 100},
		Command: "test -r /app/. && test -w /tmp/. && test ! -e /proc/self/root" + dir,
		Dir:     AppDir,
		Mounts:  []Mount{{Source: dir, Target: AppDir}},
		Stdout:  &out,
		Stderr:  &out,
	})
	if err != nil {
		return err
	}
	err = cmd.Run()
	cmd.Cgroup.Remove()
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Close removes the cgroup directories of this server that no process tree
// uses any more (trees that outlive the server keep theirs), and takes the
// server's ports out of the tools' network allow-list.
func (s *Sandbox) Close() { s.Shutdown(context.Background()) }

// Shutdown is Close with the caller's context (which may be done: the
// clean-up gets 10 s anyway).
func (s *Sandbox) Shutdown(ctx context.Context) {
	if s.limits != nil {
		s.limits.close()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.closeNetwork(ctx); err != nil {
		s.logger.WarnContext(ctx, "tools' network allow-list not cleaned up", "error", err.Error())
	}
}

// Enabled reports whether processes are confined.
func (s *Sandbox) Enabled() bool { return s.cfg.Mode != Off }

// Describe says in one line how processes are confined, for the startup
// log and healthz.
func (s *Sandbox) Describe() string {
	if !s.Enabled() {
		return "off: tool processes run unconfined as the server's user and can read the data directory"
	}
	who := "a uid per tool"
	if !s.root {
		who = "the server's uid in a user namespace (the server is not root)"
	}
	network := "network: tools reach no port of this host but the servers' API and proxy (nftables)"
	if s.net == nil {
		network = "network: shared with the host, tools can reach each other's ports (" + s.netShared + ")"
	}
	return fmt.Sprintf("%s; %s; limits: %s; %s", cmp.Or(s.version, "bubblewrap"), who, s.limits.describe(), network)
}

// LimitsBackend names how limits are enforced: "cgroup v2", "cgroup v1",
// "rlimit" or "none".
func (s *Sandbox) LimitsBackend() string { return s.limits.name() }

// Mount is a host directory seen inside.
type Mount struct {
	Source string // host path
	Target string // path inside
	// Writable mounts read-write; the default is read-only.
	Writable bool
}

// Limits bound a process tree; zero means no limit (Pids: DefaultPids).
type Limits struct {
	MemoryBytes int64
	MilliCPU    int64
	Pids        int64
}

// String describes l as a config would: "memory 512Mi, cpu 0.5, pids 1024".
func (l Limits) String() string {
	var parts []string
	if l.MemoryBytes > 0 {
		parts = append(parts, "memory "+slipway.FormatMemory(l.MemoryBytes))
	}
	if l.MilliCPU > 0 {
		parts = append(parts, "cpu "+strconv.FormatFloat(float64(l.MilliCPU)/1000, 'f', -1, 64))
	}
	if l.Pids > 0 {
		parts = append(parts, "pids "+strconv.FormatInt(l.Pids, 10))
	}
	return strings.Join(parts, ", ")
}

// Process is one process tree to start.
type Process struct {
	// Tool whose identity the process takes. Required.
	Tool string
	// Unit names the process tree's cgroup; it must be unique among the
	// tool's running trees (an instance ID). Empty: no cgroup, no limits.
	Unit string
	// Command is a /bin/sh -c command line.
	Command string
	// Env is the whole environment of the command.
	Env map[string]string
	// Dir is the working directory, inside.
	Dir string
	// Mounts are the directories the process sees besides the system's.
	Mounts []Mount
	// Home, when set, is the tool's home on the host: it is mounted
	// writable at [Sandbox.HomePath] and HOME points there.
	Home string
	// TmpSize bounds /tmp; default DefaultTmpSize.
	TmpSize int64
	Limits  Limits
	// Marker, when set, makes the launcher write
	// "--- started pid <pid> <Marker>" to Stdout first, <pid> being the pid
	// the caller records.
	Marker string
	// Stdout and Stderr receive the output. *os.File values are handed to
	// the process directly (it keeps writing when the server is gone).
	Stdout, Stderr io.Writer
	// StatusFile, when set, receives the exit status of the command when
	// it ends, even when the server is gone by then (see [ReadStatus]).
	StatusFile *os.File
	// Outlive keeps the process tree running when the server dies (a
	// component's processes, which the next server adopts). Without it the
	// tree dies with the server (a build step, a health check).
	Outlive bool
	// Ask gives the process the [Config.Ask] files: the slipway binary
	// first on its PATH and the API's CA named by $SLIPWAY_CA_FILE (the
	// caller gives SLIPWAY_URL and SLIPWAY_ASK_TOKEN in Env).
	Ask bool
}

// Cmd is a process ready to start: Cmd.Start or Cmd.Run it. Its Cgroup
// holds the process tree once started; Release it when the tree is gone.
type Cmd struct {
	*exec.Cmd
	Cgroup Cgroup
	// closeAfterStart are files only the start needs: the seccomp filter
	// bubblewrap reads, the cgroup v2 directory clone3 puts the process in.
	closeAfterStart []*os.File
}

// Start starts the process.
func (c *Cmd) Start() error {
	err := c.Cmd.Start()
	c.closeFiles()
	if err != nil {
		c.Cgroup.Remove()
	}
	return err
}

func (c *Cmd) closeFiles() {
	for _, f := range c.closeAfterStart {
		_ = f.Close() // read-only: nothing to lose
	}
	c.closeAfterStart = nil
}

// Run starts the process and waits for it.
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// HomePath returns where a tool's home is seen from inside.
func (s *Sandbox) HomePath(tool, hostPath string) string {
	if !s.Enabled() {
		return hostPath
	}
	return homeParent + "/" + tool
}

// Inside returns where the host path of mount m is seen from inside: its
// Target, or its Source when the sandbox is off.
func (s *Sandbox) Inside(m Mount) string {
	if !s.Enabled() {
		return m.Source
	}
	return m.Target
}

// Path returns the PATH of sandboxed processes: the entries of hostPath
// that a sandbox sees (those under the system directories and
// [Config.ReadOnlyPaths]), the bin directories of ReadOnlyPaths, then
// [SystemPath]; hostPath itself when the sandbox is off.
func (s *Sandbox) Path(hostPath string) string {
	if !s.Enabled() {
		return hostPath
	}
	visible := append(slices.Clone(s.layout.dirs), s.cfg.ReadOnlyPaths...)
	for d := range s.layout.links {
		visible = append(visible, d)
	}
	var dirs []string
	add := func(d string) {
		if d != "" && filepath.IsAbs(d) && !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	for _, d := range filepath.SplitList(hostPath) {
		if underAny(d, visible) {
			add(d)
		}
	}
	for _, d := range s.cfg.ReadOnlyPaths {
		if fi, err := os.Stat(filepath.Join(d, "bin")); err == nil && fi.IsDir() {
			add(filepath.Join(d, "bin"))
		}
	}
	for _, d := range filepath.SplitList(SystemPath) {
		add(d)
	}
	return strings.Join(dirs, ":")
}

// UID returns the uid a tool's processes run as, allocating one the first
// time; the server's uid when the sandbox is off or the server is not root.
func (s *Sandbox) UID(tool string) (int, error) {
	if !s.Enabled() || !s.root {
		return os.Getuid(), nil
	}
	return s.uids.get(tool)
}

// PrepareDir makes dir (and its parents) and gives dir to the tool: owned by
// its uid, mode 0700. Parents are made 0700 and left to the server. dir may
// lie in a directory the tool writes (its build cache): whatever the tool
// left at dir that is not a directory (a symlink to /etc, say) is replaced,
// and dir is changed through a descriptor opened without following links,
// so the server never changes anything else.
func (s *Sandbox) PrepareDir(tool, dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = os.Mkdir(dir, 0o700)
	case err == nil && !fi.IsDir():
		if err = os.Remove(dir); err == nil {
			err = os.Mkdir(dir, 0o700)
		}
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if !s.Enabled() || !s.root {
		return nil
	}
	uid, err := s.UID(tool)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Chown(uid, uid); err != nil {
		return err
	}
	return f.Chmod(0o700)
}

// GiveTree makes the tool the owner of every file under dir (a build
// directory the server has just checked out), so that its build can write
// there. It works through an os.Root, so a symlink in the tree never leads
// it out of dir.
func (s *Sandbox) GiveTree(tool, dir string) error {
	if !s.Enabled() || !s.root {
		return nil
	}
	uid, err := s.UID(tool)
	if err != nil {
		return err
	}
	return ChownTree(dir, uid, func(fs.DirEntry) bool { return true })
}

// ChownTree gives the entries under dir that want approves, and dir
// itself, to uid (as uid:uid), through an os.Root: symlinks are changed
// themselves, never followed, and nothing outside dir is reached.
func ChownTree(dir string, uid int, want func(fs.DirEntry) bool) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !want(d) {
			return err
		}
		return root.Lchown(p, uid, uid)
	})
}

// Command prepares p; see [Cmd]. The context kills the process tree when it
// is done, as exec.CommandContext does; pass context.WithoutCancel for
// processes that must outlive the caller.
func (s *Sandbox) Command(ctx context.Context, p Process) (*Cmd, error) {
	if p.Tool == "" || p.Command == "" {
		return nil, errors.New("sandbox: a process needs a tool and a command")
	}
	if strings.ContainsRune(p.Command, 0) {
		return nil, errors.New("sandbox: the command contains a NUL byte")
	}
	env := maps.Clone(p.Env)
	if env == nil {
		env = map[string]string{}
	}
	if p.Home != "" {
		env["HOME"] = s.HomePath(p.Tool, p.Home)
	}
	if p.Ask {
		s.askEnv(env)
	}
	var inner []string // what runs inside: the command, as the tool
	var extra []*os.File
	if p.StatusFile != nil {
		extra = append(extra, p.StatusFile) // fd 3
	}
	cmd := &Cmd{}
	if s.Enabled() {
		uid, err := s.UID(p.Tool)
		if err != nil {
			return nil, fmt.Errorf("sandbox: uid of %s: %w", p.Tool, err)
		}
		filter, err := os.Open(s.seccomp)
		if err != nil {
			return nil, fmt.Errorf("sandbox: seccomp filter: %w", err)
		}
		cmd.closeAfterStart = append(cmd.closeAfterStart, filter)
		extra = append(extra, filter)
		args, err := s.bwrapArgs(p, uid, 2+len(extra))
		if err != nil {
			cmd.closeFiles()
			return nil, err
		}
		inner = append([]string{s.bwrap}, args...)
		if s.root {
			inner = append(inner, s.setpriv, "--reuid="+strconv.Itoa(uid), "--regid="+strconv.Itoa(uid), "--clear-groups",
				"--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--")
		}
		inner = append(inner, "/bin/sh", "-c", p.Command)
	} else {
		inner = []string{"/bin/sh", "-c", p.Command}
		if p.StatusFile != nil {
			// bubblewrap's --json-status-fd, done by a shell: the exit status
			// of the command goes to fd 3, which the command does not get.
			inner = []string{"/bin/sh", "-c", `"$@" 3>&-; c=$?; echo "{ \"exit-code\": $c }" >&3; exit "$c"`, "slipway-run", "/bin/sh", "-c", p.Command}
		}
	}

	var joinFiles []string
	if p.Unit != "" && s.Enabled() {
		cg, err := s.limits.create(p.Tool, p.Unit, s.effective(p.Limits))
		if err != nil {
			cmd.closeFiles()
			return nil, fmt.Errorf("sandbox: limits of %s: %w", p.Tool, err)
		}
		cmd.Cgroup = cg
		joinFiles = s.limits.joinFiles(cg)
		if pre := s.limits.prefix(s.effective(p.Limits)); len(pre) > 0 {
			inner = append(pre, inner...)
		}
	}
	argv := launcher(joinFiles, p.Marker, inner)
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Env = sortedEnv(env)
	c.Dir = "/"
	if !s.Enabled() {
		c.Dir = p.Dir
	}
	c.Stdout, c.Stderr = p.Stdout, p.Stderr
	c.ExtraFiles = extra
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// A cancelled context ends the whole tree: every process of the
	// session's group, and of the cgroup.
	c.Cancel = func() error {
		Kill(c.Process.Pid, cmd.Cgroup)
		return nil
	}
	fd, err := s.limits.cloneInto(cmd.Cgroup)
	if err != nil {
		cmd.Cgroup.Remove()
		cmd.closeFiles()
		return nil, fmt.Errorf("sandbox: cgroup of %s: %w", p.Tool, err)
	}
	if fd != nil {
		cmd.closeAfterStart = append(cmd.closeAfterStart, fd)
		c.SysProcAttr.UseCgroupFD = true
		c.SysProcAttr.CgroupFD = int(fd.Fd())
	}
	cmd.Cmd = c
	return cmd, nil
}

// effective fills the default pids limit.
func (s *Sandbox) effective(l Limits) Limits {
	if l.Pids == 0 {
		l.Pids = DefaultPids
	}
	return l
}

// launchScript joins the cgroups named by its first arguments, writes the
// start marker and execs the rest: $1 is the number of cgroup files, then
// the files, then the marker (possibly empty), then the command.
const launchScript = `n=$1; shift
while [ "$n" -gt 0 ]; do echo $$ >"$1" || exit 125; shift; n=$((n-1)); done
m=$1; shift
[ -z "$m" ] || printf '%s\n' "--- started pid $$ $m"
exec "$@"`

// launcher returns the argv that joins cgroups, writes the marker and execs
// inner.
func launcher(joinFiles []string, marker string, inner []string) []string {
	argv := []string{"/bin/sh", "-c", launchScript, "slipway-launch", strconv.Itoa(len(joinFiles))}
	argv = append(argv, joinFiles...)
	argv = append(argv, marker)
	return append(argv, inner...)
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

func sortedEnv(m map[string]string) []string {
	env := make([]string, 0, len(m))
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env
}
