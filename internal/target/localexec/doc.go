// Package localexec is the [target.Driver] that runs components as processes
// on this host: the embedded default of Slipway's local mode.
//
// # Layout on disk
//
// Everything lives under [Config.Dir]:
//
//	<tool>/<component>/state.json       what runs: spec, generation, instance IDs and pids (written atomically)
//	<tool>/<component>/<replica>.log    output of replica N (0-based), appended by the child itself
//	<tool>/<component>/runs/<runID>.log output of a one-off run
//	<tool>/<component>/runs/<runID>.json its result (or, while it runs, its instance ID and pid)
//	<tool>/home                         the tool's HOME (see [Config.HomeDir])
//
// Scheduled components append every run to 0.log.
//
// # Processes
//
// A component's command is a Procfile process type of its artifact (its
// command line is run) or else a shell command; both run as /bin/sh -c in the
// artifact directory, with a minimal environment (PATH, HOME, LANG, TOOL_NAME,
// COMPONENT, PORT and the spec's Env), each in its own process group. Output
// goes straight to the log file, which the child holds open itself, so logs
// keep flowing when the server is gone.
//
// Continuous components run [slipway.RunSpec.ReplicaCount] replicas, each on
// its own loopback port (exported as PORT when the component sets a port; the
// user's port is the "container port"). A supervisor restarts a replica that
// exits, after 1s, 2s, 4s … up to 60s, resetting once a run lasted 60s; three
// exits within [Config.StartupTimeout] are a crash loop. Published components
// are served by the front door (internal/edge) at http://<tool>.localhost:<port>/,
// which asks [Driver.Backend] for a replica that is up.
//
// Apply of a changed continuous spec, while a generation serves, is a
// surge: the new generation's replicas start beside the old ones, on
// ports of their own, and take no traffic until all of them are healthy;
// then the proxy switches to them at once (one lock), and the old replicas
// are drained: each is stopped (SIGTERM, StopTimeout, SIGKILL) once the
// proxy has no request in flight to it, or after StopTimeout. When the new
// generation crash loops, or is not healthy within StartupTimeout or
// before a WaitHealthy gives up, it is stopped and the old one serves on;
// WaitHealthy then returns a [target.KeptError]. Both generations, and
// replicas being drained, are in state.json, so a server that dies
// mid-rollout leaves processes the next one adopts: it resumes the
// rollout, and stops what was being drained. A component with nothing
// serving (first start, crash loop) is stopped and started instead.
//
// A continuous component with a port also has a service address: a
// loopback port of its own, kept across replacements and server restarts
// (state.json), on which the server forwards each TCP connection to a
// serving replica. The tool's processes get the addresses of the tool's
// components started before them as $SLIPWAY_<COMPONENT>_URL
// ("http://127.0.0.1:<port>"; wait_for orders the starts), as Toolforge's
// components reach each other by Kubernetes service name. With the network
// isolated only the tool may connect to it.
//
// Scheduled components are registered in an in-process cron (UTC). The
// Toolforge macros @hourly, @daily, @weekly, @monthly and @yearly become
// concrete expressions with fields picked pseudo-randomly but stably from
// "<tool> <component>". Each run has the component's timeout and retries; a
// run still going when the next one fires makes that one skip. The last 10
// results are kept in state.json.
//
// # Crash safety
//
// Every process the driver starts (a replica, at Apply or at a restart by its
// supervisor, a one-off run, an attempt of a scheduled run) gets a fresh
// random instance ID, which is recorded first (in state.json, or
// runs/<runID>.json for a one-off run), then given to the process as
// SLIPWAY_INSTANCE in its environment (its children inherit it), and only
// then, once the process runs, joined by its pid, process group and start
// time from /proc/<pid>/stat, which guards against pid reuse. When the server
// dies (even by SIGKILL) the processes keep running; [Driver.Start] of the
// next server adopts the ones still alive, watches them through a pidfd and
// supervises them as before, so nothing starts twice. A process recorded only
// by its instance ID (the server died between the spawn and the write of the
// pid), or whose recorded pid is gone, is looked for in /proc/*/environ, in
// one pass for all of them; the group leader, else the oldest process, with
// that ID is adopted. Only when none is found is a replica started anew. A
// scheduled run in progress is adopted too (later cron fires skip while it
// runs). One-off runs are adopted the same way by a retried [Driver.RunOnce]
// with the same run ID, which runs the command only if the recorded one never
// started; exit codes of one-off and scheduled runs reach the next server
// through a small exit-code file written by a wrapper shell. The
// "--- started pid N" line of a log is written by the process's shell
// itself, so it is there even when the server died right after the spawn. A
// graceful [Driver.Stop] instead stops every process.
//
// # Isolation
//
// Processes run in the tool's sandbox ([Config.Sandbox]: bubblewrap with
// setpriv as the tool's own uid, cgroup limits, the artifact read-only at
// /app, the network isolated from other tools' ports); see
// internal/sandbox and SECURITY.md. With the sandbox off they run
// unconfined as the server's user, and [Driver.Start] logs a warning.
package localexec
