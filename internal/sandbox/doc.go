// Package sandbox confines the processes of a tool: every build step and every
// process of a component runs as an unprivileged identity of its own tool, in
// namespaces of its own, seeing only what it needs, within resource limits.
//
// # What a sandboxed process sees
//
// A process is started by bubblewrap (bwrap) in new PID, mount, IPC and UTS
// namespaces (and a cgroup namespace where the kernel has one). Its
// filesystem is built from nothing:
//
//	/usr, /etc (its secrets masked), /bin, /lib… read-only from the host
//	/app                    the artifact: read-only for runs, the build directory for builds
//	/data/project/<tool>    the tool's home (HOME), writable, as on Toolforge
//	/tmp, /var/tmp          a size-limited tmpfs of its own
//	/dev, /proc             minimal devices, and the processes of its own namespace only
//	/etc/passwd, /etc/group the host's plus the tool's user (tools.<tool>)
//
// plus the read-only paths of [Config.ReadOnlyPaths] (toolchains installed
// outside /usr). The data directory, other tools' files, the server's /proc
// and the processes of the server and of other tools are not there. The
// network is the host's (see SECURITY.md for what that means).
//
// # Identity
//
// When the server runs as root, each tool gets a uid (and a gid of the same
// number) of its own from [Config.UIDBase] on, kept in Dir/uids so that it
// never changes. bubblewrap runs as root to build the namespaces and mounts,
// then setpriv switches to the tool's uid and gid with no supplementary
// groups, no capabilities (bounding and inheritable sets cleared) and
// no_new_privs, and runs the command. A tool's files on the host (its home,
// its build caches) belong to its uid, mode 0700.
//
// When the server is not root, bubblewrap makes an unprivileged user
// namespace that maps the server's uid; tools then share that uid outside,
// and are kept apart by the namespaces and mounts alone.
//
// # Limits
//
// Memory, CPU and a pids limit are enforced per process tree with cgroups,
// by a backend chosen at start: cgroup v2 where the unified hierarchy has the
// memory, cpu and pids controllers, else cgroup v1 (as on hybrid hosts),
// else rlimits (RLIMIT_DATA for memory, RLIMIT_NPROC for pids; no CPU
// limit), which [Sandbox.Describe] reports as the last resort it is. Each
// started process tree gets a cgroup of its own,
// <own cgroup>/slipway-<name>/<tool>/<unit>, joined before bubblewrap runs
// (v1: by the launching shell writing its pid; v2: clone3 into the cgroup),
// so nothing the tool starts escapes it. A cgroup's OOM-kill count tells an
// out-of-memory kill from any other SIGKILL.
//
// # Launch
//
// Every process starts as /bin/sh -c <launcher> on the host: the launcher
// joins the cgroup, writes the "--- started pid <pid> <marker>" line to the
// log (its pid is the one the caller records), and execs bubblewrap. The
// process is a session leader without a controlling terminal, so nothing in
// the sandbox can inject input into a terminal. bubblewrap's monitor stays
// the recorded process; its exit status is the command's (128+signal when
// killed), and with a status file it also writes that status to a file, so
// a later server learns how a process it did not start ended. A tree that
// must outlive the server (a component's, adopted by the next server) is
// started without bubblewrap's --die-with-parent; the others (builds,
// health checks) die with the server. Either way, SIGKILL to the leader's
// process group reaches the namespace's init, whose death ends every
// process of the namespace, and the cgroup catches the rest.
//
// # Off
//
// [Off] runs commands directly as the server's user with the server's view of
// the filesystem (paths inside are the host paths). It exists for a
// single-user workstation that asks for it explicitly; the server says so
// at start and in healthz.
package sandbox
