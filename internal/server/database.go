package server

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/runner"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/postgres"
	"slipway.dev/slipway/internal/store/sqlite"
)

// The defaults of the heartbeat contract (Config.NodeBeat, NodeFence,
// NodeTTL).
const (
	// nodeBeat is how often a server records that it is alive, and looks
	// for the jobs of servers that are not.
	nodeBeat = 5 * time.Second
	// nodeFence is how long after the start of its last heartbeat that
	// succeeded a server fences itself: it takes no work and cancels the
	// steps it runs, since the others will soon count it dead.
	nodeFence = 15 * time.Second
	// nodeTTL is how long after its last heartbeat a server counts as
	// dead: its running jobs are rescued by the others. Twice nodeFence:
	// the other half is the margin for the fenced server's steps to stop
	// and for the clocks of two machines to disagree.
	nodeTTL = 30 * time.Second
)

// isPostgres reports whether a --database value names PostgreSQL.
func isPostgres(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

// checkDatabase says what is wrong with a --database value.
func checkDatabase(database string) error {
	if database == "" || isPostgres(database) {
		return nil
	}
	return fmt.Errorf("server: --database %s: want a postgres:// URL (postgres://USER:PASSWORD@HOST:PORT/DB), or nothing for SQLite in the data directory", postgres.Redact(database))
}

// openStore opens the store the config names — PostgreSQL, or SQLite in
// the data directory — and River's driver over it, and registers what
// closes them.
func (s *Server) openStore(ctx context.Context) (riverdriver.Driver[*sql.Tx], error) {
	if !isPostgres(s.cfg.Database) {
		db, err := sqlite.Open(ctx, filepath.Join(s.cfg.DataDir, DBFile), sqlite.Options{Logger: s.logger})
		if err != nil {
			return nil, fmt.Errorf("server: open store: %w", err)
		}
		s.db = db
		s.closers = append(s.closers, func(context.Context) error { return db.Close() })
		if err := secureDBFiles(s.cfg.DataDir); err != nil {
			return nil, err
		}
		return riversqlite.New(db.WriteDB()), nil
	}
	db, err := postgres.Open(ctx, s.cfg.Database, postgres.Options{Logger: s.logger})
	if err != nil {
		return nil, fmt.Errorf("server: open store: %w", err)
	}
	s.db = db
	s.closers = append(s.closers, func(context.Context) error { return db.Close() })
	// River listens for its jobs' notifications on a pool of its own, so
	// that an insert on one server wakes the workers of every other.
	listen, err := pgxpool.New(ctx, s.cfg.Database)
	if err != nil {
		return nil, fmt.Errorf("server: open the queue's listener on %s: %w", postgres.Redact(s.cfg.Database), err)
	}
	s.closers = append(s.closers, func(context.Context) error { listen.Close(); return nil })
	return riverdatabasesql.NewWithPgxListener(db.WriteDB(), listen), nil
}

// keyFingerprintSetting names the setting that holds the fingerprint of
// the secret key the store's secrets are sealed with.
const keyFingerprintSetting = "secret_key_fingerprint"

// checkSecretKey records the fingerprint of key (an HMAC of a fixed text,
// never the key) the first time, and refuses a key whose fingerprint
// differs: envvars, repository credentials and TOOL_DEPLOY_TOKEN are
// sealed with it, and servers sharing a database must share it.
func (s *Server) checkSecretKey(ctx context.Context, key []byte) error {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("slipway secret key fingerprint"))
	fp := hex.EncodeToString(mac.Sum(nil))[:16]
	return s.db.InTx(ctx, func(tx store.Tx) error {
		if err := tx.NamedLock(ctx, store.NodesLock); err != nil {
			return err
		}
		got, err := tx.SettingGet(ctx, keyFingerprintSetting)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return tx.SettingPut(ctx, keyFingerprintSetting, fp)
		case err != nil:
			return err
		case got != fp:
			return fmt.Errorf("server: the secret key in %s (fingerprint %s) is not the one this database's secrets are sealed with (fingerprint %s): servers sharing a database share one key; copy %s from the data directory of the server that first used the database",
				filepath.Join(s.cfg.DataDir, SecretKeyFile), fp, got, SecretKeyFile)
		}
		return nil
	})
}

// now returns the current time, from Config.Now when set.
func (s *Server) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

// newNode returns this server as a node of the store: its ID is the host
// name and a random suffix.
func (s *Server) newNode() store.Node {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	now := s.now()
	return store.Node{
		ID:   fmt.Sprintf("%s-%s", strings.ReplaceAll(host, " ", "_"), hex.EncodeToString(b[:])),
		Host: host, PID: os.Getpid(), Target: cmp.Or(s.cfg.Target, TargetLocal), StartedAt: now, SeenAt: now,
	}
}

// join registers this server as a node of the store. Servers may share a store only when
// every one of them runs the Kubernetes target: with the local target,
// components are processes on the server's own machine, supervised by
// that server alone, so the deployments one server plans would run
// components on the other's machine. A server on the local target is
// therefore refused when any other is live, and any server is refused
// while a live one runs the local target; the error says which. Dead
// nodes are forgotten.
func (s *Server) join(ctx context.Context, me store.Node) error {
	now := me.SeenAt
	return s.db.InTx(ctx, func(tx store.Tx) error {
		if err := tx.NamedLock(ctx, store.NodesLock); err != nil {
			return err
		}
		nodes, err := tx.NodeList(ctx)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if s.dead(n, me.Host, now) {
				if err := tx.NodeDelete(ctx, n.ID); err != nil {
					return err
				}
				continue
			}
			if err := shareable(me, n, now); err != nil {
				return err
			}
		}
		return tx.NodeBeat(ctx, me)
	})
}

// shareable says why server me may not share its store with the live
// node n: one of them runs the local target.
func shareable(me, n store.Node, now time.Time) error {
	if me.Target == TargetKubernetes && n.Target == TargetKubernetes {
		return nil
	}
	other := fmt.Sprintf("node %s (pid %d on %s, target %s, seen %s ago)", n.ID, n.PID, n.Host, n.Target, now.Sub(n.SeenAt).Round(time.Second))
	if me.Target != TargetKubernetes {
		return fmt.Errorf("server: another slipway server works on this database: %s. This server's target is %s, which runs the components on this machine, supervised by this server alone, so it must be the only server on its database: stop that one first, or give this one a database of its own. Several servers share a database only when every one runs --target %s",
			other, me.Target, TargetKubernetes)
	}
	return fmt.Errorf("server: another slipway server works on this database: %s. That server's target is %s, which runs the components on its own machine, supervised by it alone, so it must be the only server on its database: stop it first, or give this one a database of its own. Several servers share a database only when every one runs --target %s",
		other, n.Target, TargetKubernetes)
}

// migrateQueue applies River's migrations. On PostgreSQL several servers
// may start at once, and River's migrator takes no lock: the migrations
// run while this server holds the nodes lock (the transaction holding it
// only waits; River migrates on connections of its own), so they run once.
func (s *Server) migrateQueue(ctx context.Context, driver riverdriver.Driver[*sql.Tx]) error {
	if !isPostgres(s.cfg.Database) {
		// SQLite: one server (the data directory's lock), and its one
		// write connection is what a transaction would hold.
		if err := runner.Migrate(ctx, driver); err != nil {
			return fmt.Errorf("server: %w", err)
		}
		return nil
	}
	err := s.db.InTx(ctx, func(tx store.Tx) error {
		if err := tx.NamedLock(ctx, store.NodesLock); err != nil {
			return err
		}
		return runner.Migrate(ctx, driver)
	})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// recoverIfAlone puts right what the last stop left (recoverAlone) when
// no other server is live on the store. With others live (all on the
// Kubernetes target, join checked) the cluster and the records are theirs
// at work: a restore could re-apply the previous version of a component
// one of them is rolling out, or prune one it is adding, and a build or
// deletion in progress there would look interrupted; it is left to a
// server that starts alone. The nodes lock is held throughout, so a
// server joining meanwhile waits, and runs no step during the restore.
func (s *Server) recoverIfAlone(ctx context.Context, builder build.Builder) error {
	if !isPostgres(s.cfg.Database) {
		return s.recoverAlone(ctx, builder) // alone: the data directory's lock
	}
	host, _ := os.Hostname()
	return s.db.InTx(ctx, func(tx store.Tx) error {
		if err := tx.NamedLock(ctx, store.NodesLock); err != nil {
			return err
		}
		nodes, err := tx.NodeList(ctx)
		if err != nil {
			return err
		}
		now := s.now()
		for _, n := range nodes {
			if n.ID != s.nodeID && !s.dead(n, host, now) {
				s.logger.InfoContext(ctx, "other servers work on this database: restoring the live components and settling interrupted builds is left to a server that starts alone", "node", n.ID)
				return nil
			}
		}
		return s.recoverAlone(ctx, builder)
	})
}

// beat records this server's heartbeat every NodeBeat and rescues the
// running jobs of nodes that stopped beating, until ctx ends; then it
// forgets this node, so that the next server to start need not wait. Each
// heartbeat may take one NodeBeat at most; one that succeeds tells the
// fence (fenceState.beaten), and re-registers a node that others forgot.
func (s *Server) beat(ctx context.Context, me store.Node) {
	t := time.NewTicker(s.cfg.NodeBeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := s.db.NodeDelete(dctx, me.ID); err != nil {
				s.logger.WarnContext(dctx, "forget this node", "node", me.ID, "error", err.Error())
			}
			cancel()
			return
		case <-t.C:
		}
		start := time.Now()
		me.SeenAt = s.now()
		bctx, cancel := context.WithTimeout(ctx, s.cfg.NodeBeat)
		err := s.db.NodeBeat(bctx, me)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.fence.failed(err)
				s.logger.WarnContext(ctx, "node heartbeat", "node", me.ID, "error", err.Error())
			}
			continue
		}
		if s.fence.beaten(start, s.cfg.NodeFence) {
			s.runner.Unfence()
			s.logger.InfoContext(ctx, "node heartbeat recorded again: this server is no longer fenced, and takes work again", "node", me.ID)
		}
		if _, err := s.rescueOrphans(ctx); err != nil {
			s.logger.WarnContext(ctx, "rescue the jobs of dead nodes", "error", err.Error())
		}
	}
}

// fenceState is what a server knows of its own heartbeats. The times are
// this process's (monotonic): the fence is measured from the start of the
// last heartbeat that succeeded, when it stamped the SeenAt that the
// other servers measure NodeTTL from, so that it always comes first.
type fenceState struct {
	mu sync.Mutex
	// last is when the last heartbeat that succeeded started.
	last time.Time
	// lastErr is the error of the last heartbeat that failed.
	lastErr error
	// since is when the server fenced itself; zero when it is not fenced.
	since time.Time
	// cancelled is how many running jobs the fence cancelled.
	cancelled int
	// ok wakes the guard after each heartbeat that succeeded.
	ok chan struct{}
}

// init starts the state at the first heartbeat (the join), which starts
// at now.
func (f *fenceState) init(now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last, f.ok = now, make(chan struct{}, 1)
}

// failed records the error of a heartbeat.
func (f *fenceState) failed(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastErr = err
}

// lastError returns the error of the last heartbeat that failed, or says
// that none failed (the last one is stuck). Hold mu.
func (f *fenceState) lastError() error {
	if f.lastErr == nil {
		return errNoBeatError
	}
	return f.lastErr
}

// errNoBeatError is the last error of a server whose heartbeats did not
// fail but did not return either.
var errNoBeatError = errors.New("none failed: the last heartbeat has not returned")

// beaten records a heartbeat that started at start and succeeded, and
// reports whether it ends the fence: the server was fenced, and the
// heartbeat is recent enough (less than fence ago) to count.
func (f *fenceState) beaten(start time.Time, fence time.Duration) (unfenced bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if start.After(f.last) {
		f.last = start
	}
	if !f.since.IsZero() && time.Since(start) < fence {
		f.since, f.lastErr = time.Time{}, nil
		unfenced = true
	}
	select {
	case f.ok <- struct{}{}:
	default:
	}
	return unfenced
}

// guard fences the server (runner.Fence: no new work, running jobs
// cancelled) once its last heartbeat that succeeded started NodeFence ago,
// until ctx ends. It runs apart from beat, so that a heartbeat stuck in a
// dead connection cannot delay it; beat ends the fence.
func (s *Server) guard(ctx context.Context) {
	t := time.NewTimer(s.cfg.NodeFence)
	defer t.Stop()
	for {
		s.fence.mu.Lock()
		last, fenced := s.fence.last, !s.fence.since.IsZero()
		s.fence.mu.Unlock()
		if !fenced {
			t.Reset(time.Until(last.Add(s.cfg.NodeFence)))
		}
		select {
		case <-ctx.Done():
			return
		case <-s.fence.ok:
			continue
		case <-t.C:
		}
		s.fence.mu.Lock()
		silent := time.Since(s.fence.last)
		fence := silent >= s.cfg.NodeFence && s.fence.since.IsZero()
		var reason error
		if fence {
			s.fence.since = time.Now()
			reason = fmt.Errorf("no heartbeat recorded for %s (the last error: %w)", silent.Round(time.Millisecond), s.fence.lastError())
		}
		s.fence.mu.Unlock()
		if fence {
			n := s.runner.Fence(reason)
			s.fence.mu.Lock()
			s.fence.cancelled = n
			s.fence.mu.Unlock()
			s.logger.ErrorContext(ctx, "fenced: this server takes no work and cancelled its running steps until a heartbeat succeeds, since the other servers rescue its jobs",
				"node", s.nodeID, "reason", reason.Error(), "cancelled", n, "rescue_after", s.cfg.NodeTTL)
		}
	}
}

// fenced returns the healthz check of the node: nil, or why the server is
// fenced and how many of its jobs are still stopping.
func (s *Server) fenced() error {
	s.fence.mu.Lock()
	since, last, lastErr, cancelled := s.fence.since, s.fence.last, s.fence.lastError(), s.fence.cancelled
	s.fence.mu.Unlock()
	if since.IsZero() {
		return nil
	}
	working := 0
	if s.runner != nil {
		working = s.runner.Working()
	}
	return fmt.Errorf("fenced for %s: no heartbeat recorded for %s (the last error: %w); this server takes no work, and cancelled the jobs it ran (cancelled: %d, still stopping: %d), since the other servers rescue them after %s; it resumes when a heartbeat succeeds",
		time.Since(since).Round(time.Millisecond), time.Since(last).Round(time.Millisecond), lastErr, cancelled, working, s.cfg.NodeTTL)
}

// dead reports whether node n (not this server) is dead: with SQLite
// every other node is (the data directory's lock, which this server
// holds, proves the server that wrote it is gone); a node that did not
// beat for NodeTTL is (it fenced itself NodeTTL - NodeFence before); so is one on this host whose process is gone, so
// that a server restarted after a crash need not wait out the TTL.
func (s *Server) dead(n store.Node, host string, now time.Time) bool {
	switch {
	case !isPostgres(s.cfg.Database):
		return true
	case now.Sub(n.SeenAt) > s.cfg.NodeTTL:
		return true
	case n.Host == host && n.PID > 0:
		return errors.Is(syscall.Kill(n.PID, 0), syscall.ESRCH)
	}
	return false
}

// rescueOrphans makes the jobs that dead nodes left running available
// again (runner.RescueOrphans), and returns how many.
func (s *Server) rescueOrphans(ctx context.Context) (int, error) {
	nodes, err := s.db.NodeList(ctx)
	if err != nil {
		return 0, err
	}
	now := s.now()
	host, _ := os.Hostname()
	alive := map[string]bool{s.nodeID: true}
	for _, n := range nodes {
		if n.ID != s.nodeID && !s.dead(n, host, now) {
			alive[n.ID] = true
		}
	}
	return s.runner.RescueOrphans(ctx, func(id string) bool { return alive[id] })
}

// eventRecheckNotified is how often a watcher re-reads the store when the
// store notifies changes (PostgreSQL): only the safety net for a
// notification lost in a way the listener did not notice.
const eventRecheckNotified = 10 * time.Second

// eventRecheck returns Config.EventRecheck, or its default: 1s when this
// server's own commits are all there is (SQLite), eventRecheckNotified
// when the store notifies the changes other servers commit.
func (s *Server) eventRecheck() time.Duration {
	if s.cfg.EventRecheck > 0 {
		return s.cfg.EventRecheck
	}
	if _, ok := s.db.(store.Notifier); ok {
		return eventRecheckNotified
	}
	return time.Second
}

// listenChanges hands the changes that the store notifies (every
// server's commits, on PostgreSQL) to the engine, which wakes the
// watchers of the deployments they name, until the server stops. A store
// that does not notify (SQLite: this server is alone) needs nothing.
func (s *Server) listenChanges(ctx context.Context) error {
	n, ok := s.db.(store.Notifier)
	if !ok {
		return nil
	}
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	changes, err := n.Listen(lctx)
	if err != nil {
		stop()
		return fmt.Errorf("server: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range changes {
			s.engine.Heard(c)
		}
	}()
	s.closers = append(s.closers, func(context.Context) error { stop(); <-done; return nil })
	return nil
}
