// Package store is the persistence seam. One contract, two dialects:
// sqlite (embedded default, modernc.org/sqlite) and postgres (pgx). Both
// implementations run the conformance suite in storetest, including a
// close-and-reopen check and a concurrency group.
//
// All SQL lives in the implementation packages (sqlstore, written once for
// both). Both dialects are database/sql based, so the runner can enqueue
// River jobs in the same transaction that records a step's result (see
// [Tx.SQL]).
//
// # Concurrency contract
//
// Several transactions may run at once (several goroutines, several
// servers on one PostgreSQL database). A transaction that reads rows to
// decide what to write takes the locks of what it decides about first,
// before its reads:
//
//   - [Tx.ToolLock] for decisions about a tool as a whole: which
//     deployment of a tool runs and which wait (create, supersede, start
//     the successor), the config's next version, starting an ad-hoc job,
//     deleting or starting a build;
//   - [Tx.DeploymentLock] (the tool's lock, then the deployment's) for
//     decisions about one deployment: recording a step's outcome and
//     scheduling the next steps, cancelling, finishing.
//
// Locks are taken in this order only — a tool before its deployments,
// never the other way round — so two transactions never deadlock on them.
// They are held until the transaction ends, and a transaction that takes
// one after another transaction committed sees everything that one wrote.
// Counters (config versions, step order, event numbers) are allocated
// under these locks and follow commit order.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// ErrNotFound is returned (wrapped) when a row does not exist.
var ErrNotFound = errors.New("not found")

// Store is a database handle.
type Store interface {
	Queries
	// InTx runs fn in one write transaction: everything fn does commits
	// together, or not at all when fn returns an error.
	//
	// fn may run more than once: a transaction that the database aborted
	// for a reason worth retrying (a deadlock, a serialization failure) is
	// run again from the start. So fn must have no effect outside tx — no
	// files written or removed, no processes started, nothing sent — and
	// must reset whatever it collects on each run.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// WriteDB returns the pool that write transactions use; the runner
	// hands it to River so that jobs and rows share transactions.
	WriteDB() *sql.DB
	// Close closes the database. It is safe to call twice.
	Close() error
}

// Tx is a transaction.
type Tx interface {
	Queries
	// SQL returns the underlying transaction, for River's InsertTx.
	SQL() *sql.Tx
	// ToolLock makes sure the tool's row exists (created at now when it
	// did not) and holds its lock until the transaction ends (see the
	// package's concurrency contract).
	ToolLock(ctx context.Context, tool string, now time.Time) error
	// DeploymentLock takes the tool's lock and then the deployment's,
	// holds both until the transaction ends, and returns the deployment as
	// it is once they are held.
	DeploymentLock(ctx context.Context, tool, id string) (slipway.Deployment, error)
	// NamedLock holds a named lock until the transaction ends, for a
	// decision with no row of its own ([NodesLock]). ErrNotFound for a
	// name that is not one of the store's.
	NamedLock(ctx context.Context, name string) error
}

// StoredConfig is one version of a tool's config as stored.
type StoredConfig struct {
	Tool    string
	Version int
	// Raw is the set-fields JSON (slipway.ToolConfig.Raw). Empty for a
	// deletion marker.
	Raw       json.RawMessage
	Deleted   bool
	CreatedAt time.Time
	// CreatedBy names the credential that created the version (the request
	// log's name: admin, tool-token:<id>, …); "" when it was not recorded
	// (versions from before it was). CreatedByAdmin is true when that was
	// the admin (or the server itself).
	CreatedBy      string
	CreatedByAdmin bool
}

// RepoCredential is the credential of a repository URL or source_url as
// stored: sealed by internal/auth, never in the clear. URL is the redacted
// URL (https://***@host/path) that configs carry.
type RepoCredential struct {
	Tool      string
	URL       string
	Sealed    string
	UpdatedAt time.Time
}

// PollState is what polling last saw of a component's ref.
type PollState struct {
	Tool      string
	Component string
	Ref       string
	Commit    string
	SeenAt    time.Time
}

// NotifySubscription is a notification subscription as stored: a
// webhook's signing secret only sealed (bound to the tool and the
// subscription).
type NotifySubscription struct {
	slipway.NotifySubscription
	Sealed string
}

// Webhook is a tool's push webhook as stored: its secret only sealed
// (internal/auth binds it to the tool).
type Webhook struct {
	Tool      string
	Sealed    string
	CreatedAt time.Time
}

// DeploymentStatusUpdate changes a deployment's status.
type DeploymentStatusUpdate struct {
	Tool       string
	ID         string
	Status     slipway.DeploymentStatus
	LongStatus string
	// FinishedAt is set when Status is final.
	FinishedAt time.Time
	UpdatedAt  time.Time
	// IfStatusIn, when not empty, makes the update conditional: it only
	// applies when the current status is one of these.
	IfStatusIn []slipway.DeploymentStatus
}

// StepUpdate changes a step. Zero-valued optional fields are left as they
// are, except State, Detail and the times, which are always written.
type StepUpdate struct {
	DeploymentID string
	Key          string
	State        slipway.StepState
	Detail       string
	Attempt      int
	// BuildKey and Commit, when not empty, replace the stored ones.
	BuildKey   string
	Commit     string
	StartedAt  time.Time
	FinishedAt time.Time
	// IfStateIn, when not empty, makes the update conditional.
	IfStateIn []slipway.StepState
}

// DeployToken is a tool's deploy token as stored: never the token itself,
// only its SHA-256 hex hash, which requests are compared against. The token
// is kept, encrypted, as the tool's TOOL_DEPLOY_TOKEN envvar ([EnvVar]).
// internal/auth makes both.
type DeployToken struct {
	Tool      string
	Hash      string
	CreatedAt time.Time
}

// LegacyDeployTokenSeal is a deploy token sealed the way Slipway stored
// it before envvars existed (AES-256-GCM under the server's key, the tool
// name as additional data). Migration 0006 moved these out of the deploy
// token table; the server, which has the key, turns each into the tool's
// TOOL_DEPLOY_TOKEN envvar at startup and deletes it.
type LegacyDeployTokenSeal struct {
	Tool   string
	Sealed string
}

// EnvVar is one of a tool's envvars as stored: the value only sealed
// (AES-256-GCM under the server's key, bound to the tool and the name);
// internal/auth seals and opens it.
type EnvVar struct {
	Tool      string
	Name      string
	Sealed    string
	UpdatedAt time.Time
}

// Node is a Slipway server working on the store, as it last said.
type Node struct {
	ID   string
	Host string
	PID  int
	// Target names the runtime the server runs components on ("local").
	Target    string
	StartedAt time.Time
	// SeenAt is the server's last heartbeat.
	SeenAt time.Time
}

// DomainsLock is the [Tx.NamedLock] that serializes claims of custom
// domains, so that two tools cannot claim overlapping names at once.
const DomainsLock = "domains"

// Certificate is a TLS certificate the proxy obtained (its chain and key,
// or the ACME account's key), as stored: sealed by internal/auth, never in
// the clear.
type Certificate struct {
	Name      string
	Sealed    string
	UpdatedAt time.Time
}

// NodesLock is the [Tx.NamedLock] that serializes servers joining.
const NodesLock = "nodes"

// Change is what a [Notifier] heard: a deployment whose events, status,
// steps or questions changed in a transaction another process committed.
type Change struct {
	// DeploymentID is the deployment that changed; empty with All.
	DeploymentID string
	// All says that changes may have been missed (the listener lost its
	// connection and made a new one): every watcher should look again.
	All bool
}

// Notifier is implemented by a store that several processes share
// (PostgreSQL): the transactions that append a deployment's events or
// change its status, its steps or its questions announce it on commit,
// and Listen hears what every process commits, its own included. A store
// that one process owns (SQLite) has no Notifier: that process's own
// broker hears everything.
type Notifier interface {
	// Listen returns the changes committed from now until ctx ends; the
	// channel is closed then. It returns an error when it cannot listen at
	// all; a connection lost later is made again (with backoff) and
	// reported as a Change with All set, since changes may have been
	// missed meanwhile.
	Listen(ctx context.Context) (<-chan Change, error)
}

// ReleaseFilter selects a tool's releases for [Queries.ReleaseList]:
// each set field narrows the list.
type ReleaseFilter struct {
	Tool         string
	Environment  string
	Component    string
	Commit       string
	DeploymentID string
	// Before lists only releases with a smaller sequence number (paging).
	Before int64
	// Latest keeps only the newest release of each environment and
	// component among those selected: with Before, the live state as it
	// was right after release Before-1.
	Latest bool
	// Limit bounds the list (0: no limit).
	Limit int
}

// QuestionFilter selects questions for [Queries.QuestionList]: each set
// field narrows the list.
type QuestionFilter struct {
	// Tool is the tool; "" every tool.
	Tool string
	// DeploymentID is the deployment asking.
	DeploymentID string
	// State is the questions' state.
	State slipway.QuestionState
	// Limit bounds the list (0: no limit).
	Limit int
}

// APIToken is a tool-scoped API token as stored: never the token itself,
// only its SHA-256 hex hash. internal/auth makes it.
type APIToken struct {
	ID          string
	Tool        string
	Hash        string
	Description string
	CreatedAt   time.Time
	// LastUsedAt is the zero time when it is not recorded.
	LastUsedAt time.Time
}

// Session is a web UI session as stored: never the session's id, only its
// SHA-256 hex hash (IDHash), which the id a browser sends is hashed to and
// looked up by. internal/web makes and checks it.
type Session struct {
	IDHash string
	// Credential names the credential the session was opened with, never
	// its secret: admin, tool-token:<id>, cert:<serial>, proxy:<addr>.
	// Revoking an API token deletes the sessions opened with it.
	Credential string
	// Admin and Tool are who the session acts as, as that credential did.
	Admin bool
	Tool  string
	// CSRFSecret is the token every unsafe request of the session must
	// carry (a form field or a header).
	CSRFSecret string
	CreatedAt  time.Time
	// LastSeenAt is the last request (recorded at most every minute or so;
	// the idle limit is counted from it), ExpiresAt the absolute end.
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// Queries are the reads and writes, available on a [Store] and on a [Tx].
// Methods return an error wrapping [ErrNotFound] for missing rows unless
// they say otherwise.
type Queries interface {
	// ToolEnsure creates the tool if it does not exist.
	ToolEnsure(ctx context.Context, name string, now time.Time) error
	// ToolList returns every tool name, sorted.
	ToolList(ctx context.Context) ([]string, error)

	// ConfigCreate stores a new config version and returns its number
	// (1, 2, …; versions are never reused, even after a delete).
	ConfigCreate(ctx context.Context, tool string, raw json.RawMessage, now time.Time) (int, error)
	// ConfigCreateBy is ConfigCreate recording who created the version.
	ConfigCreateBy(ctx context.Context, tool string, raw json.RawMessage, by slipway.Actor, now time.Time) (int, error)
	// ConfigGetLatest returns the newest version; ErrNotFound when there is
	// none or the newest is a deletion marker.
	ConfigGetLatest(ctx context.Context, tool string) (StoredConfig, error)
	// ConfigVersions returns every tool's newest config version (a
	// deletion marker's included), by tool: one cheap read for callers
	// that cache parsed configs and re-read only the changed ones.
	ConfigVersions(ctx context.Context) (map[string]int, error)
	// ConfigGet returns one version (deletion markers included).
	ConfigGet(ctx context.Context, tool string, version int) (StoredConfig, error)
	// ConfigDelete appends a deletion marker and returns the config it
	// deleted; ErrNotFound when there is no live config.
	ConfigDelete(ctx context.Context, tool string, now time.Time) (StoredConfig, error)

	// RepoCredentialPut stores the credential of a tool's URL (insert or
	// replace).
	RepoCredentialPut(ctx context.Context, c RepoCredential) error
	// RepoCredentialGet returns the credential of a tool's URL.
	RepoCredentialGet(ctx context.Context, tool, url string) (RepoCredential, error)
	// RepoCredentialPrune deletes the tool's credentials whose URL is not
	// in keep (all of them when keep is empty) and returns how many it
	// deleted.
	RepoCredentialPrune(ctx context.Context, tool string, keep []string) (int, error)

	// DomainAdd inserts a tool's custom domain. Callers check the claim
	// rules under [DomainsLock] first; a name already stored is an error.
	DomainAdd(ctx context.Context, d slipway.Domain) error
	// DomainList returns a tool's custom domains, or every tool's when
	// tool is "", by name.
	DomainList(ctx context.Context, tool string) ([]slipway.Domain, error)
	// DomainDelete deletes a tool's custom domain; ErrNotFound when the
	// tool has no such name.
	DomainDelete(ctx context.Context, tool, name string) error
	// CertificatePut stores a certificate (insert or replace).
	CertificatePut(ctx context.Context, c Certificate) error
	// CertificateGet returns a certificate; ErrNotFound when there is none.
	CertificateGet(ctx context.Context, name string) (Certificate, error)
	// CertificateDelete deletes a certificate; nothing when there is none.
	CertificateDelete(ctx context.Context, name string) error

	// DeploymentCreate inserts a deployment (without steps).
	DeploymentCreate(ctx context.Context, d slipway.Deployment) error
	// DeploymentGet returns a deployment without its steps.
	DeploymentGet(ctx context.Context, tool, id string) (slipway.Deployment, error)
	// DeploymentLatest returns the tool's newest deployment.
	DeploymentLatest(ctx context.Context, tool string) (slipway.Deployment, error)
	// DeploymentList returns the tool's deployments, oldest first.
	DeploymentList(ctx context.Context, tool string) ([]slipway.Deployment, error)
	// DeploymentListUnfinished returns the deployments of tool (of every
	// tool when tool is "") whose status is not final, oldest first.
	DeploymentListUnfinished(ctx context.Context, tool string) ([]slipway.Deployment, error)
	// DeploymentUpdateStatus changes a status; ok is false when IfStatusIn
	// did not match (nothing changed).
	DeploymentUpdateStatus(ctx context.Context, u DeploymentStatusUpdate) (ok bool, err error)
	// DeploymentSetRolledBackBy records that deployment id was rolled
	// back by the deployment by. ErrNotFound when id does not exist.
	DeploymentSetRolledBackBy(ctx context.Context, tool, id, by string) error
	// DeploymentDelete deletes a deployment with its steps and events.
	DeploymentDelete(ctx context.Context, tool, id string) error
	// DeploymentPrune deletes the tool's oldest final deployments beyond the
	// newest keep ones, and returns the deleted IDs.
	DeploymentPrune(ctx context.Context, tool string, keep int) ([]string, error)

	// StepsCreate inserts a deployment's plan; the order of steps is kept
	// and StepList returns them in it.
	StepsCreate(ctx context.Context, steps []slipway.Step) error
	// StepList returns a deployment's steps in plan order (empty, not an
	// error, before the plan exists).
	StepList(ctx context.Context, deploymentID string) ([]slipway.Step, error)
	// StepListToolBrief returns the steps of every deployment of the
	// tool, by deployment ID, each in plan order (a deployment without
	// steps has no entry): one read for a list of deployments. The steps
	// have what the list shows and derives its builds and runs from: not
	// their Commit, SpecHash, StartedAt and FinishedAt, which are zero.
	StepListToolBrief(ctx context.Context, tool string) (map[string][]slipway.Step, error)
	// StepGet returns one step.
	StepGet(ctx context.Context, deploymentID, key string) (slipway.Step, error)
	// StepUpdate changes a step; ok is false when IfStateIn did not match.
	StepUpdate(ctx context.Context, u StepUpdate) (ok bool, err error)

	// BuildCreate inserts a build record; builds are identified by (tool,
	// ID), and creating one that exists is an error.
	BuildCreate(ctx context.Context, b slipway.Build) error
	// BuildUpsert inserts a build record or, when one with its (tool, ID)
	// exists, replaces its mutable fields (as BuildUpdate), atomically:
	// two writers of one record never collide.
	BuildUpsert(ctx context.Context, b slipway.Build) error
	// BuildUpdate replaces the mutable fields (status, commit, artifact,
	// error, log path, updated time) of a build.
	BuildUpdate(ctx context.Context, b slipway.Build) error
	// BuildGet returns a build by ID.
	BuildGet(ctx context.Context, tool, id string) (slipway.Build, error)
	// BuildFindSuccessful returns the newest successful build with this
	// key, for any component of any tool.
	BuildFindSuccessful(ctx context.Context, key string) (slipway.Build, error)
	// BuildList returns the tool's builds, newest first.
	BuildList(ctx context.Context, tool string) ([]slipway.Build, error)
	// BuildDelete deletes a build record (one marked deleting too);
	// ErrNotFound when it does not exist.
	BuildDelete(ctx context.Context, tool, id string) error
	// BuildSetDeleting marks a build record as being deleted (or unmarks
	// it). A marked record is invisible to BuildGet, BuildList and
	// BuildFindSuccessful: its files are removed after the transaction
	// that marked it commits, and then the record itself. ErrNotFound when
	// it does not exist.
	BuildSetDeleting(ctx context.Context, tool, id string, deleting bool) error
	// BuildListDeleting returns the records marked deleting, of every
	// tool: deletions a stopped server did not finish.
	BuildListDeleting(ctx context.Context) ([]slipway.Build, error)

	// LiveRunPut records what was applied for a component (insert or
	// replace).
	LiveRunPut(ctx context.Context, r slipway.LiveRun) error
	// LiveRunList returns the tool's live components, by name.
	LiveRunList(ctx context.Context, tool string) ([]slipway.LiveRun, error)
	// LiveRunListAll returns every tool's live components.
	LiveRunListAll(ctx context.Context) ([]slipway.LiveRun, error)
	// LiveRunDelete forgets a component; deleting an unknown one is not an
	// error.
	LiveRunDelete(ctx context.Context, tool, component string) error

	// JobRunPut records an ad-hoc one-off job of the jobs API (insert or
	// replace).
	JobRunPut(ctx context.Context, r slipway.JobRun) error
	// JobRunGet returns one ad-hoc one-off job.
	JobRunGet(ctx context.Context, tool, name string) (slipway.JobRun, error)
	// JobRunList returns the tool's ad-hoc one-off jobs, by name; an empty
	// list when there are none.
	JobRunList(ctx context.Context, tool string) ([]slipway.JobRun, error)
	// JobRunDelete forgets an ad-hoc one-off job; deleting an unknown one is
	// not an error.
	JobRunDelete(ctx context.Context, tool, name string) error

	// DeployTokenGet returns the tool's deploy token.
	DeployTokenGet(ctx context.Context, tool string) (DeployToken, error)
	// DeployTokenPut stores the tool's deploy token (insert or replace).
	DeployTokenPut(ctx context.Context, t DeployToken) error
	// DeployTokenDelete deletes the tool's deploy token; ErrNotFound when it
	// has none.
	DeployTokenDelete(ctx context.Context, tool string) error

	// LegacyDeployTokenSeals returns the deploy tokens sealed before
	// migration 0006 that are still to be moved into envvars, by tool; an
	// empty list when there are none.
	LegacyDeployTokenSeals(ctx context.Context) ([]LegacyDeployTokenSeal, error)
	// LegacyDeployTokenSealDelete forgets the tool's legacy sealed token;
	// deleting none is not an error.
	LegacyDeployTokenSealDelete(ctx context.Context, tool string) error

	// EnvVarPut stores one of a tool's envvars (insert or replace).
	EnvVarPut(ctx context.Context, v EnvVar) error
	// EnvVarGet returns one of a tool's envvars.
	EnvVarGet(ctx context.Context, tool, name string) (EnvVar, error)
	// EnvVarList returns the tool's envvars by name; an empty list when
	// there are none.
	EnvVarList(ctx context.Context, tool string) ([]EnvVar, error)
	// EnvVarDelete deletes one of a tool's envvars; ErrNotFound when it does
	// not exist.
	EnvVarDelete(ctx context.Context, tool, name string) error

	// APITokenCreate inserts an API token; an ID or hash that exists is an
	// error.
	APITokenCreate(ctx context.Context, t APIToken) error
	// APITokenByHash returns the API token with this hash.
	APITokenByHash(ctx context.Context, hash string) (APIToken, error)
	// APITokenList returns the tool's API tokens (every tool's when tool is
	// ""), oldest first; an empty list when there are none.
	APITokenList(ctx context.Context, tool string) ([]APIToken, error)
	// APITokenDelete deletes an API token; ErrNotFound when it does not
	// exist.
	APITokenDelete(ctx context.Context, id string) error

	// SessionCreate inserts a web UI session; an IDHash that exists is an
	// error.
	SessionCreate(ctx context.Context, s Session) error
	// SessionGet returns the session with this id hash.
	SessionGet(ctx context.Context, idHash string) (Session, error)
	// SessionTouch records a request of the session at seen; ErrNotFound
	// when it does not exist.
	SessionTouch(ctx context.Context, idHash string, seen time.Time) error
	// SessionDelete deletes a session; deleting none is not an error.
	SessionDelete(ctx context.Context, idHash string) error
	// SessionDeleteByCredential deletes every session opened with the
	// credential (the name [Session.Credential] holds) and returns how many
	// it deleted.
	SessionDeleteByCredential(ctx context.Context, credential string) (int, error)
	// SessionPrune deletes the sessions that expired at now or before, and
	// those last seen before idleSince; it returns how many it deleted.
	SessionPrune(ctx context.Context, now, idleSince time.Time) (int, error)

	// BuildLeaseTake takes a build slot of the tool for a deployment's
	// build step, unless limit steps of the tool already hold one; a step
	// that holds one takes it again. Leases of steps that are final no
	// longer count (and are deleted). Reports whether the step holds a
	// slot, and how many the tool's builds hold in all. It takes the
	// tool's lock.
	BuildLeaseTake(ctx context.Context, tool, deploymentID, key string, limit int, now time.Time) (ok bool, held int, err error)
	// BuildLeaseRelease gives a step's build slot back; releasing none is
	// not an error.
	BuildLeaseRelease(ctx context.Context, deploymentID, key string) error

	// NodeBeat records a server's heartbeat (insert or replace).
	NodeBeat(ctx context.Context, n Node) error
	// NodeList returns the servers that beat, by ID; an empty list when
	// there are none.
	NodeList(ctx context.Context) ([]Node, error)
	// NodeDelete forgets a server; deleting an unknown one is not an
	// error.
	NodeDelete(ctx context.Context, id string) error

	// SettingGet returns an installation setting.
	SettingGet(ctx context.Context, name string) (string, error)
	// SettingPut stores an installation setting (insert or replace).
	SettingPut(ctx context.Context, name, value string) error

	// QuestionCreate inserts q (Seq is assigned) unless the tool's
	// deployment step already asked a question with q.Key, and returns the
	// stored question and whether it is new. Callers hold the deployment's
	// lock.
	QuestionCreate(ctx context.Context, q slipway.Question) (slipway.Question, bool, error)
	// QuestionGet returns one of the tool's questions; ErrNotFound when
	// there is none.
	QuestionGet(ctx context.Context, tool, id string) (slipway.Question, error)
	// QuestionList returns the questions f selects, newest first; an empty
	// list when there are none.
	QuestionList(ctx context.Context, f QuestionFilter) ([]slipway.Question, error)
	// QuestionUpdate writes q's state, answer and approvals if it is still
	// in state from, and reports whether it was (a question settles once).
	QuestionUpdate(ctx context.Context, q slipway.Question, from slipway.QuestionState) (bool, error)
	// QuestionLogAppend appends to a question's log and returns the
	// entry's sequence number.
	QuestionLogAppend(ctx context.Context, e slipway.QuestionLogEntry) (int64, error)
	// QuestionLogList returns a question's log, oldest first.
	QuestionLogList(ctx context.Context, tool, questionID string) ([]slipway.QuestionLogEntry, error)

	// ReleaseAppend appends a release (a component version made live or
	// removed) and returns its sequence number. Releases are never pruned
	// with deployments.
	ReleaseAppend(ctx context.Context, r slipway.Release) (int64, error)
	// ReleaseList returns the releases f selects, newest first; an empty
	// list when there are none.
	ReleaseList(ctx context.Context, f ReleaseFilter) ([]slipway.Release, error)
	// ReleasePrune deletes up to limit releases (every tool's) applied
	// before before, oldest first, that a newer release of the same
	// component in the same environment superseded before before, and
	// returns how many it deleted: what is left from before on is the
	// whole history of that window, with the release each component was
	// on when it began; a live component's current release is never
	// deleted. Release retention by age calls it; deployments never do.
	ReleasePrune(ctx context.Context, before time.Time, limit int) (int, error)
	// ReleaseBuildKeys returns the build keys (each once, none empty) of
	// the tool's releases that ReleasePrune(since) keeps: those applied at
	// since or later and the one each component was on in each
	// environment at since; every release's when since is zero. Artifact
	// retention keeps those artifacts.
	ReleaseBuildKeys(ctx context.Context, tool string, since time.Time) ([]string, error)

	// CutCreate inserts a tool's cut; false (nothing written) when the
	// tool has a cut of that name.
	CutCreate(ctx context.Context, c slipway.Cut) (bool, error)
	// CutGet returns one of a tool's cuts; ErrNotFound when there is none.
	CutGet(ctx context.Context, tool, name string) (slipway.Cut, error)
	// CutList returns a tool's cuts, newest first.
	CutList(ctx context.Context, tool string) ([]slipway.Cut, error)
	// CutUpdate writes c's head, state, picks, frozen and updated fields
	// if its head is still fromHead and its state fromState; false when
	// it is not (another change came first).
	CutUpdate(ctx context.Context, c slipway.Cut, fromHead string, fromState slipway.CutState) (bool, error)
	// ChangeRequestCreate inserts cr with the tool's next seq (the caller
	// holds the tool's lock) and returns it.
	ChangeRequestCreate(ctx context.Context, cr slipway.ChangeRequest) (slipway.ChangeRequest, error)
	// ChangeRequestGet returns one of a tool's change requests;
	// ErrNotFound when there is none.
	ChangeRequestGet(ctx context.Context, tool string, seq int64) (slipway.ChangeRequest, error)
	// ChangeRequestList returns a tool's change requests (of cut when not
	// ""), newest first.
	ChangeRequestList(ctx context.Context, tool, cut string) ([]slipway.ChangeRequest, error)
	// ChangeRequestUpdate writes cr's state, decision, onto, pick, detail
	// and updated time if its state is still from; false when it is not.
	ChangeRequestUpdate(ctx context.Context, cr slipway.ChangeRequest, from slipway.ChangeRequestState) (bool, error)

	// PlanPut stores a release plan (insert, or replace the one of its
	// name keeping its creation time and creator).
	PlanPut(ctx context.Context, p slipway.ReleasePlan) error
	// PlanGet returns a release plan; ErrNotFound when there is none.
	PlanGet(ctx context.Context, name string) (slipway.ReleasePlan, error)
	// PlanList returns every release plan, by name.
	PlanList(ctx context.Context) ([]slipway.ReleasePlan, error)
	// PlanDelete deletes a release plan; false when there was none. Its
	// trains stay.
	PlanDelete(ctx context.Context, name string) (bool, error)
	// TrainCreate inserts a train (at version 1) and its members' cells.
	TrainCreate(ctx context.Context, t slipway.Train, cells []slipway.TrainMember) error
	// TrainGet returns a train; ErrNotFound when there is none.
	TrainGet(ctx context.Context, id string) (slipway.Train, error)
	// TrainList returns the trains, newest first, at most limit (0: all).
	TrainList(ctx context.Context, limit int) ([]slipway.Train, error)
	// TrainUpdate writes t's state, stage, answers, reason and updated
	// time, and the version after t.Version, if the stored train is still
	// at t.Version; false when it is not (another update came first).
	TrainUpdate(ctx context.Context, t slipway.Train) (bool, error)
	// TrainMemberList returns a train's cells by stage, then member.
	TrainMemberList(ctx context.Context, trainID string) ([]slipway.TrainMember, error)
	// TrainMemberUpdate writes a cell's state, reason and times (never
	// its deployment: see TrainMemberClaim).
	TrainMemberUpdate(ctx context.Context, m slipway.TrainMember) error
	// TrainMemberClaim records m's deployment, state and start time on
	// its cell if the cell has no deployment yet; false when it has one
	// (a deployment made before, which the caller adopts). The creating
	// transaction of the deployment calls it, so a cell gets one
	// deployment however often its creation is tried.
	TrainMemberClaim(ctx context.Context, m slipway.TrainMember) (bool, error)
	// WebhookPut stores a tool's push webhook secret (insert or replace).
	WebhookPut(ctx context.Context, w Webhook) error
	// WebhookGet returns a tool's push webhook.
	WebhookGet(ctx context.Context, tool string) (Webhook, error)
	// WebhookDelete deletes a tool's push webhook (its delivery log stays
	// until pruned); ErrNotFound when there is none.
	WebhookDelete(ctx context.Context, tool string) error
	// WebhookDeliveryAdd records a delivery unless the tool already has
	// one with its ID, and reports whether it did: false is a replay. Two
	// servers adding the same delivery at once record it once.
	WebhookDeliveryAdd(ctx context.Context, d slipway.WebhookDelivery) (bool, error)
	// WebhookDeliveryGet returns one of a tool's deliveries.
	WebhookDeliveryGet(ctx context.Context, tool, id string) (slipway.WebhookDelivery, error)
	// WebhookDeliveryUpdate writes a delivery's outcome, message and
	// deployment; ErrNotFound when it is not recorded.
	WebhookDeliveryUpdate(ctx context.Context, d slipway.WebhookDelivery) error
	// WebhookDeliveryList returns the tool's deliveries, newest first, at
	// most limit (0: no limit); an empty list when there are none.
	WebhookDeliveryList(ctx context.Context, tool string, limit int) ([]slipway.WebhookDelivery, error)
	// WebhookDeliveryPrune deletes the deliveries (every tool's) received
	// before before and returns how many it deleted.
	WebhookDeliveryPrune(ctx context.Context, before time.Time) (int, error)

	// NotifySubscriptionCreate inserts a notification subscription; an ID
	// that exists is an error.
	NotifySubscriptionCreate(ctx context.Context, s NotifySubscription) error
	// NotifySubscriptionGet returns one of a tool's subscriptions.
	NotifySubscriptionGet(ctx context.Context, tool, id string) (NotifySubscription, error)
	// NotifySubscriptionList returns the tool's subscriptions, oldest
	// first; an empty list when there are none.
	NotifySubscriptionList(ctx context.Context, tool string) ([]NotifySubscription, error)
	// NotifySubscriptionDelete deletes one of a tool's subscriptions (its
	// deliveries stay until pruned); ErrNotFound when there is none.
	NotifySubscriptionDelete(ctx context.Context, tool, id string) error
	// NotifyDeliveryAdd records a delivery unless its subscription has one
	// for the same event and subject, and reports whether it did.
	NotifyDeliveryAdd(ctx context.Context, d slipway.NotifyDelivery) (bool, error)
	// NotifyDeliveryGet returns one of a tool's deliveries.
	NotifyDeliveryGet(ctx context.Context, tool, id string) (slipway.NotifyDelivery, error)
	// NotifyDeliveryUpdate writes a delivery's state, attempts, last
	// status and error; ErrNotFound when it is not recorded.
	NotifyDeliveryUpdate(ctx context.Context, d slipway.NotifyDelivery) error
	// NotifyDeliveryList returns the tool's deliveries (one
	// subscription's when subscription is not ""), newest first, at most
	// limit (0: no limit).
	NotifyDeliveryList(ctx context.Context, tool, subscription string, limit int) ([]slipway.NotifyDelivery, error)
	// NotifyAttemptAdd records an attempt of a delivery.
	NotifyAttemptAdd(ctx context.Context, a slipway.NotifyAttempt) error
	// NotifyAttemptList returns a delivery's attempts, oldest first.
	NotifyAttemptList(ctx context.Context, tool, deliveryID string) ([]slipway.NotifyAttempt, error)
	// NotifyDeliveryPrune deletes the deliveries (every tool's) created
	// before before, with their attempts, and returns how many deliveries
	// it deleted.
	NotifyDeliveryPrune(ctx context.Context, before time.Time) (int, error)

	// PollStateList returns every polled component's state (every tool's
	// when tool is ""), by tool and component; an empty list when there
	// are none.
	PollStateList(ctx context.Context, tool string) ([]PollState, error)
	// PollStateAdvance moves a component's state to next if it still
	// holds commit from ("" : if there is none yet) and reports whether
	// it did. Called in the transaction that creates the deployment of
	// next, it makes a new commit deploy once across restarts and servers.
	PollStateAdvance(ctx context.Context, from string, next PollState) (bool, error)
	// PollStateDelete forgets the states of the tool's components not in
	// keep and returns how many it deleted.
	PollStateDelete(ctx context.Context, tool string, keep []string) (int, error)

	// EventAppend appends an event and returns its sequence number: the
	// deployment's next (1, 2, …), allocated under the deployment's lock,
	// so that numbers follow commit order. ErrNotFound when the deployment
	// does not exist.
	EventAppend(ctx context.Context, e slipway.Event) (int64, error)
	// EventList returns a deployment's events with Seq > after, oldest
	// first, at most limit (0: no limit).
	EventList(ctx context.Context, deploymentID string, after int64, limit int) ([]slipway.Event, error)
}
