package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// CutGit is what cuts need of git beyond the [Resolver]: writing a frozen
// cut's release branch (internal/git.Client).
type CutGit interface {
	// PushBranch makes branch point at commit, if it is at old now (""
	// : absent), never forcing.
	PushBranch(ctx context.Context, repository, branch, commit, old string) error
	// CherryPickOnto picks commit onto onto, pushes the pick to branch
	// (which must be at onto) and returns it.
	CherryPickOnto(ctx context.Context, repository, branch, commit, onto string) (string, error)
}

// Cuts serves a tool's named releases (cuts) and their change requests
// (httpapi.Cuts). Who may do what is checked by httpapi's access kinds;
// the actor of ctx is recorded.
type Cuts struct {
	app
}

// NewCuts returns the cuts service over an engine.
func NewCuts(eng *Engine) *Cuts { return &Cuts{app: newApp(eng)} }

// CutRequest is what cutting a release names.
type CutRequest = slipway.CutRequest

// cutGit returns the git adapter's release branch operations.
func (s *Cuts) cutGit() (CutGit, error) { return s.eng.cutGit() }

func (e *Engine) cutGit() (CutGit, error) {
	g, ok := e.source.(CutGit)
	if !ok {
		return nil, slipway.Errorf(slipway.EUnavailable, "This server cannot write release branches (its git adapter has no push).")
	}
	return g, nil
}

// repositoryOf returns the repository of the tool's component (or of
// all its components, when they share one) and a context with the
// latest config's source scope.
func (s *Cuts) repositoryOf(ctx context.Context, tool, component string) (string, context.Context, error) {
	sc, err := s.store.ConfigGetLatest(ctx, tool)
	if errors.Is(err, store.ErrNotFound) || (err == nil && sc.Deleted) {
		return "", ctx, slipway.Errorf(slipway.ENotFound, "Tool %s has no config: a release is cut from a component's repository", tool)
	} else if err != nil {
		return "", ctx, err
	}
	cfg, err := parseStored(sc.Raw)
	if err != nil {
		return "", ctx, err
	}
	repos := map[string][]string{}
	for name, c := range cfg.Components {
		if c.Build.Source != nil && c.Build.Source.Repository != "" && (component == "" || component == name) {
			repos[c.Build.Source.Repository] = append(repos[c.Build.Source.Repository], name)
		}
	}
	gctx := s.eng.scopeOf(ctx, tool, sc.Version)
	switch {
	case len(repos) == 1:
		for r := range repos {
			return r, gctx, nil
		}
	case component != "":
		if _, ok := cfg.Components[component]; !ok {
			return "", ctx, slipway.Errorf(slipway.EInvalid, "component: tool %s has no component %q", tool, component)
		}
		return "", ctx, slipway.Errorf(slipway.EInvalid, "component: %s does not build from a git repository", component)
	case len(repos) == 0:
		return "", ctx, slipway.Errorf(slipway.EInvalid, "Tool %s has no component that builds from a git repository", tool)
	}
	var names []string
	for _, cs := range repos {
		names = append(names, cs[0])
	}
	slices.Sort(names)
	return "", ctx, slipway.Errorf(slipway.EInvalid, "component: the components of %s build from %d repositories: name one (%s)", tool, len(repos), strings.Join(names, ", "))
}

// resolve returns the commit ref names in repo, as an EInvalid error
// naming field when it names none.
func (s *Cuts) resolve(ctx context.Context, field, repo, ref string) (string, error) {
	m, err := s.source.ResolveAll(ctx, repo, []string{ref})
	if sha, ok := m[ref]; ok {
		return sha, nil
	}
	if err == nil {
		err = fmt.Errorf("%q names nothing in %s", ref, slipway.RedactURL(repo))
	}
	if !s.cfg.TransientFunc(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return "", slipway.Errorf(slipway.EInvalid, "%s: %s", field, err.Error())
	}
	return "", fmt.Errorf("%s: resolve %q in %s: %w", field, ref, slipway.RedactURL(repo), err)
}

// pushError maps a push's failure to what the caller can act on.
func pushError(branch string, err error) error {
	if errors.Is(err, slipway.ErrBranchMoved) {
		return slipway.Errorf(slipway.EConflict, "Branch %s: %s", branch, err.Error())
	}
	return fmt.Errorf("write branch %s: %w", branch, err)
}

// CutCreate cuts a release of tool. A frozen cut creates its release
// branch (release/<name>) in the repository first; a branch of that name
// already elsewhere is EConflict, as is a cut of that name.
func (s *Cuts) CutCreate(ctx context.Context, tool string, r CutRequest) (slipway.Cut, error) {
	actor := slipway.ActorFrom(ctx)
	var probs []string
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.Cut{}, err
	}
	if err := slipway.ValidateCutName("name", r.Name); err != nil {
		probs = append(probs, err.Error())
	}
	if err := slipway.ValidateBranchName("branch", r.Branch); err != nil {
		probs = append(probs, err.Error())
	}
	if len(r.At) > 255 || strings.HasPrefix(r.At, "-") || strings.ContainsAny(r.At, " \x00\n\r\t") {
		probs = append(probs, fmt.Sprintf("at: %q is not a commit", r.At))
	}
	if len(probs) > 0 {
		return slipway.Cut{}, slipway.Errorf(slipway.EInvalid, "Cannot cut: %s", strings.Join(probs, "; "))
	}
	if _, err := s.store.CutGet(ctx, tool, r.Name); err == nil {
		return slipway.Cut{}, slipway.Errorf(slipway.EConflict, "Tool %s has a release %s already: a later fix is a new release", tool, r.Name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return slipway.Cut{}, err
	}
	repo, gctx, err := s.repositoryOf(ctx, tool, r.Component)
	if err != nil {
		return slipway.Cut{}, err
	}
	tip, err := s.resolve(gctx, "branch", repo, "refs/heads/"+r.Branch)
	if err != nil {
		return slipway.Cut{}, err
	}
	head := tip
	if r.At != "" {
		if head, err = s.resolve(gctx, "at", repo, r.At); err != nil {
			return slipway.Cut{}, err
		}
		on, err := s.source.Contains(gctx, repo, head, tip)
		if err != nil {
			return slipway.Cut{}, err
		}
		if !on {
			return slipway.Cut{}, slipway.Errorf(slipway.EInvalid, "at: commit %s is not on branch %s", head[:12], r.Branch)
		}
	}
	now := s.now()
	c := slipway.Cut{
		Tool: tool, Name: r.Name, Repository: repo, Branch: r.Branch, Base: head, Head: head, State: slipway.CutMutable,
		CreatedAt: now, CreatedBy: actor.Name, UpdatedAt: now,
	}
	if r.Frozen {
		c.State, c.FrozenAt, c.FrozenBy = slipway.CutFrozen, now, actor.Name
		g, err := s.cutGit()
		if err != nil {
			return slipway.Cut{}, err
		}
		if err := g.PushBranch(gctx, repo, c.ReleaseBranch(), head, ""); err != nil {
			return slipway.Cut{}, pushError(c.ReleaseBranch(), err)
		}
	}
	err = s.eng.tx(ctx, "", func(t txn) error {
		if err := t.ToolLock(ctx, tool, now); err != nil {
			return err
		}
		created, err := t.CutCreate(ctx, c)
		if err == nil && !created {
			err = slipway.Errorf(slipway.EConflict, "Tool %s has a release %s already: a later fix is a new release", tool, r.Name)
		}
		if err != nil {
			return err
		}
		return s.eng.triggerFlows(ctx, t, tool, actor.Name, "release "+r.Name+" cut", slipway.FlowReleaseCut)
	})
	if err != nil {
		return slipway.Cut{}, fmt.Errorf("cut %s of %s: %w", r.Name, tool, err)
	}
	return c, nil
}

// CutGet returns one of tool's cuts; a mutable one with its head moved to
// its branch's tip (it follows the branch).
func (s *Cuts) CutGet(ctx context.Context, tool, name string) (slipway.Cut, error) {
	c, err := s.get(ctx, tool, name)
	if err != nil || c.State != slipway.CutMutable {
		return c, err
	}
	_, gctx, err := s.repositoryOf(ctx, tool, "")
	if err != nil {
		gctx = s.eng.scopeOf(ctx, tool, 0)
	}
	tip, err := s.resolve(gctx, "branch", c.Repository, "refs/heads/"+c.Branch)
	if err != nil {
		return c, fmt.Errorf("release %s follows branch %s: %w", name, c.Branch, err)
	}
	if tip == c.Head {
		return c, nil
	}
	next := c
	next.Head, next.UpdatedAt = tip, s.now()
	if _, err := s.store.CutUpdate(ctx, next, c.Head, slipway.CutMutable); err != nil {
		return c, err
	}
	return s.get(ctx, tool, name)
}

func (s *Cuts) get(ctx context.Context, tool, name string) (slipway.Cut, error) {
	if err := slipway.ValidateCutName("name", name); err != nil {
		return slipway.Cut{}, err
	}
	c, err := s.store.CutGet(ctx, tool, name)
	if errors.Is(err, store.ErrNotFound) {
		return c, slipway.Errorf(slipway.ENotFound, "Release %s not found for tool %s", name, tool)
	}
	return c, err
}

// CutList returns tool's cuts, newest first (heads as stored).
func (s *Cuts) CutList(ctx context.Context, tool string) ([]slipway.Cut, error) {
	cs, err := s.store.CutList(ctx, tool)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		cs = []slipway.Cut{}
	}
	return cs, nil
}

// CutFreeze freezes a mutable cut at its branch's tip (or at, a commit
// on it): its release branch is created there, and from then on only an
// approved change request changes it. Freezing a frozen cut is
// EConflict.
func (s *Cuts) CutFreeze(ctx context.Context, tool, name, at string) (slipway.Cut, error) {
	c, err := s.CutGet(ctx, tool, name)
	if err != nil {
		return c, err
	}
	if c.State == slipway.CutFrozen {
		return c, slipway.Errorf(slipway.EConflict, "Release %s of %s is frozen already (since %s, by %s)", name, tool, c.FrozenAt.UTC().Format(time.RFC3339), c.FrozenBy)
	}
	_, gctx, err := s.repositoryOf(ctx, tool, "")
	if err != nil {
		gctx = s.eng.scopeOf(ctx, tool, 0)
	}
	head := c.Head
	if at != "" {
		if head, err = s.resolve(gctx, "at", c.Repository, at); err != nil {
			return c, err
		}
		if on, err := s.source.Contains(gctx, c.Repository, head, c.Head); err != nil {
			return c, err
		} else if !on {
			return c, slipway.Errorf(slipway.EInvalid, "at: commit %s is not on branch %s", head[:12], c.Branch)
		}
	}
	g, err := s.cutGit()
	if err != nil {
		return c, err
	}
	if err := g.PushBranch(gctx, c.Repository, c.ReleaseBranch(), head, ""); err != nil {
		return c, pushError(c.ReleaseBranch(), err)
	}
	actor, now := slipway.ActorFrom(ctx), s.now()
	next := c
	next.Head, next.State, next.FrozenAt, next.FrozenBy, next.UpdatedAt = head, slipway.CutFrozen, now, actor.Name, now
	ok, err := s.store.CutUpdate(ctx, next, c.Head, slipway.CutMutable)
	if err != nil {
		return c, err
	}
	if !ok {
		return c, slipway.Errorf(slipway.EConflict, "Release %s of %s changed meanwhile; read it again", name, tool)
	}
	return next, nil
}

// CutUpdate is a direct change of a cut: a mutable one's head moves to
// its branch's tip (or to, a commit on it); a frozen one refuses it with
// EConflict: its changes go through change requests.
func (s *Cuts) CutUpdate(ctx context.Context, tool, name, to string) (slipway.Cut, error) {
	c, err := s.get(ctx, tool, name)
	if err != nil {
		return c, err
	}
	if c.State == slipway.CutFrozen {
		return c, slipway.Errorf(slipway.EConflict, "Release %s of %s is frozen: it changes only by an approved change request (slipway releases change-request create %s --commit SHA)", name, tool, name)
	}
	if to == "" {
		return s.CutGet(ctx, tool, name)
	}
	_, gctx, err := s.repositoryOf(ctx, tool, "")
	if err != nil {
		gctx = s.eng.scopeOf(ctx, tool, 0)
	}
	tip, err := s.resolve(gctx, "branch", c.Repository, "refs/heads/"+c.Branch)
	if err != nil {
		return c, err
	}
	head, err := s.resolve(gctx, "to", c.Repository, to)
	if err != nil {
		return c, err
	}
	if on, err := s.source.Contains(gctx, c.Repository, head, tip); err != nil {
		return c, err
	} else if !on {
		return c, slipway.Errorf(slipway.EInvalid, "to: commit %s is not on branch %s, which release %s follows", head[:12], c.Branch, name)
	}
	next := c
	next.Head, next.UpdatedAt = head, s.now()
	err = s.eng.tx(ctx, "", func(t txn) error {
		if err := t.ToolLock(ctx, tool, next.UpdatedAt); err != nil {
			return err
		}
		if ok, err := t.CutUpdate(ctx, next, c.Head, slipway.CutMutable); err != nil || !ok {
			return errors.Join(err, slipway.Errorf(slipway.EConflict, "Release %s of %s changed meanwhile; read it again", name, tool))
		}
		if head == c.Head {
			return nil
		}
		return s.eng.triggerFlows(ctx, t, tool, slipway.ActorFrom(ctx).Name, "release "+name+" updated", slipway.FlowReleaseUpdated)
	})
	if err != nil {
		return c, err
	}
	return next, nil
}

// ChangeRequestCreate asks to cherry-pick commit into the frozen cut
// name: it records the request and opens its question (answers approve
// or refuse; the requester may not answer it), in one transaction. A
// mutable cut, a commit the cut has (merged or picked), an unknown commit
// are refused.
func (s *Cuts) ChangeRequestCreate(ctx context.Context, tool, name, commit, reason string) (slipway.ChangeRequest, error) {
	actor := slipway.ActorFrom(ctx)
	c, err := s.get(ctx, tool, name)
	if err != nil {
		return slipway.ChangeRequest{}, err
	}
	switch {
	case commit == "" || len(commit) > 64 || strings.HasPrefix(commit, "-") || strings.ContainsAny(commit, " \x00\n\r\t"):
		return slipway.ChangeRequest{}, slipway.Errorf(slipway.EInvalid, "commit: %q is not a commit", commit)
	case len(reason) > slipway.MaxPromptBytes/2:
		return slipway.ChangeRequest{}, slipway.Errorf(slipway.EInvalid, "reason: longer than %d bytes", slipway.MaxPromptBytes/2)
	case c.State != slipway.CutFrozen:
		return slipway.ChangeRequest{}, slipway.Errorf(slipway.EConflict, "Release %s of %s is not frozen: it follows branch %s, so merge the commit there", name, tool, c.Branch)
	}
	_, gctx, err := s.repositoryOf(ctx, tool, "")
	if err != nil {
		gctx = s.eng.scopeOf(ctx, tool, 0)
	}
	sha, err := s.resolve(gctx, "commit", c.Repository, commit)
	if err != nil {
		return slipway.ChangeRequest{}, err
	}
	if in, err := s.source.Contains(gctx, c.Repository, sha, c.Head); err != nil {
		return slipway.ChangeRequest{}, err
	} else if in {
		return slipway.ChangeRequest{}, slipway.Errorf(slipway.EConflict, "Release %s of %s has commit %s already", name, tool, sha[:12])
	}
	if pick, err := s.source.CherryPick(gctx, c.Repository, sha, c.Head); err != nil {
		return slipway.ChangeRequest{}, err
	} else if pick.Found() {
		return slipway.ChangeRequest{}, slipway.Errorf(slipway.EConflict, "Release %s of %s has commit %s already, cherry-picked as %s", name, tool, sha[:12], pick.Commit[:12])
	}
	subject := ""
	if l, err := s.source.FirstParentLog(gctx, c.Repository, "", sha, 1); err == nil && len(l.Commits) == 1 {
		subject = l.Commits[0].Subject
	}
	now := s.now()
	cr := slipway.ChangeRequest{
		Tool: tool, Cut: name, Commit: sha, Reason: reason, State: slipway.CRRequested, QuestionID: newQuestionID(),
		RequestedBy: actor.Name, RequestedAt: now, UpdatedAt: now,
	}
	err = s.eng.tx(ctx, "", func(t txn) error {
		if err := t.ToolLock(ctx, tool, now); err != nil {
			return err
		}
		cur, err := t.CutGet(ctx, tool, name)
		if err != nil {
			return err
		}
		if cur.State != slipway.CutFrozen {
			return slipway.Errorf(slipway.EConflict, "Release %s of %s is not frozen", name, tool)
		}
		if cr, err = t.ChangeRequestCreate(ctx, cr); err != nil {
			return err
		}
		prompt := fmt.Sprintf("Cherry-pick %s into frozen release %s of %s (change request %d by %s)?", sha[:12], name, tool, cr.Seq, actor.Name)
		if subject != "" {
			prompt += "\nCommit: " + firstLine(subject)
		}
		if reason != "" {
			prompt += "\nReason: " + reason
		}
		q := slipway.Question{
			ID: cr.QuestionID, Tool: tool, StepKey: slipway.ChangeRequestStep(cr.Seq), Key: "change-request",
			Origin: slipway.OriginChangeRequest, Prompt: prompt,
			Options: []slipway.QuestionOption{
				{Label: "Approve: cherry-pick it", Value: slipway.CRAnswerApprove},
				{Label: "Refuse", Value: slipway.CRAnswerRefuse},
			},
			Policy:    slipway.AnswerPolicy{ForbidInitiator: true},
			Initiator: actor.Name, CreatedAt: now, DeadlineAt: now.Add(slipway.DefaultQuestionTimeout),
			OnDeadline: slipway.DeadlineFail, State: slipway.QuestionOpen,
		}
		_, err = s.eng.ask(ctx, t, q)
		return err
	})
	if err != nil {
		return cr, fmt.Errorf("change request for %s of %s: %w", name, tool, err)
	}
	return cr, nil
}

// ChangeRequestList returns tool's change requests (of cut name when not
// ""), newest first.
func (s *Cuts) ChangeRequestList(ctx context.Context, tool, name string) ([]slipway.ChangeRequest, error) {
	if name != "" {
		if _, err := s.get(ctx, tool, name); err != nil {
			return nil, err
		}
	}
	crs, err := s.store.ChangeRequestList(ctx, tool, name)
	if err != nil {
		return nil, err
	}
	if crs == nil {
		crs = []slipway.ChangeRequest{}
	}
	return crs, nil
}

// ChangeRequestGet returns one of tool's change requests.
func (s *Cuts) ChangeRequestGet(ctx context.Context, tool string, seq int64) (slipway.ChangeRequest, error) {
	cr, err := s.store.ChangeRequestGet(ctx, tool, seq)
	if errors.Is(err, store.ErrNotFound) {
		return cr, slipway.Errorf(slipway.ENotFound, "Change request %d not found for tool %s", seq, tool)
	}
	return cr, err
}

// ChangeRequestApply applies an approved change request again (one whose
// push failed); an applied one is returned as it is.
func (s *Cuts) ChangeRequestApply(ctx context.Context, tool string, seq int64) (slipway.ChangeRequest, error) {
	cr, err := s.ChangeRequestGet(ctx, tool, seq)
	if err != nil {
		return cr, err
	}
	switch cr.State {
	case slipway.CRApproved, slipway.CRFailed:
	case slipway.CRApplied:
		return cr, nil
	case slipway.CRRequested:
		return cr, slipway.Errorf(slipway.EConflict, "Change request %d of %s is not approved yet: answer question %s", seq, tool, cr.QuestionID)
	case slipway.CRRefused, slipway.CRExpired, slipway.CRConflict:
		return cr, slipway.Errorf(slipway.EConflict, "Change request %d of %s is %s: ask again with a new change request", seq, tool, cr.State)
	}
	return s.eng.applyChangeRequest(ctx, tool, seq)
}

// decideChangeRequest records the answer to a change request's question
// (q, settled) on the request, in the answer's transaction.
func (e *Engine) decideChangeRequest(ctx context.Context, t txn, q slipway.Question, seq int64) error {
	cr, err := t.ChangeRequestGet(ctx, q.Tool, seq)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if cr.State != slipway.CRRequested {
		return nil
	}
	from := cr.State
	cr.DecidedBy, cr.DecidedAt, cr.UpdatedAt, cr.Detail = q.SettledBy, q.SettledAt, q.SettledAt, q.Comment
	switch {
	case q.State == slipway.QuestionAnswered && q.Value == slipway.CRAnswerApprove:
		cr.State = slipway.CRApproved
	case q.State == slipway.QuestionExpired:
		cr.State, cr.Detail = slipway.CRExpired, "no answer by the deadline"
	default:
		cr.State = slipway.CRRefused
	}
	_, err = t.ChangeRequestUpdate(ctx, cr, from)
	return err
}

// applyChangeRequest cherry-picks an approved change request's commit
// onto its cut's release branch and records the pick as the cut's head.
// The pick and push happen outside any transaction; the record after, from
// the head the pick was made on. A conflict or a push that failed is
// recorded on the request (conflict, failed), not returned.
func (e *Engine) applyChangeRequest(ctx context.Context, tool string, seq int64) (slipway.ChangeRequest, error) {
	cr, err := e.store.ChangeRequestGet(ctx, tool, seq)
	if err != nil {
		return cr, err
	}
	if cr.State != slipway.CRApproved && cr.State != slipway.CRFailed {
		return cr, nil
	}
	c, err := e.store.CutGet(ctx, tool, cr.Cut)
	if err != nil {
		return cr, err
	}
	g, err := e.cutGit()
	if err != nil {
		return cr, err
	}
	version := 0
	if sc, err := e.store.ConfigGetLatest(ctx, tool); err == nil {
		version = sc.Version
	}
	gctx := e.scopeOf(ctx, tool, version)
	from, next := cr.State, cr
	next.Onto, next.UpdatedAt = c.Head, e.now()
	pick, perr := g.CherryPickOnto(gctx, c.Repository, c.ReleaseBranch(), cr.Commit, c.Head)
	switch {
	case errors.Is(perr, slipway.ErrPickConflict):
		next.State, next.Detail = slipway.CRConflict, perr.Error()
	case perr != nil:
		next.State, next.Detail = slipway.CRFailed, perr.Error()
	default:
		next.State, next.Pick, next.Detail = slipway.CRApplied, pick, cmp.Or(cr.Detail, "")
	}
	err = e.tx(ctx, "", func(t txn) error {
		if err := t.ToolLock(ctx, tool, next.UpdatedAt); err != nil {
			return err
		}
		if next.State == slipway.CRApplied {
			moved := c
			moved.Head, moved.Picks, moved.UpdatedAt = pick, c.Picks+1, next.UpdatedAt
			ok, err := t.CutUpdate(ctx, moved, c.Head, slipway.CutFrozen)
			if err != nil {
				return err
			}
			if !ok {
				return slipway.Errorf(slipway.EConflict, "Release %s of %s moved while change request %d was applied", c.Name, tool, seq)
			}
		}
		ok, err := t.ChangeRequestUpdate(ctx, next, from)
		if err == nil && !ok {
			err = slipway.Errorf(slipway.EConflict, "Change request %d of %s changed while it was applied", seq, tool)
		}
		if err != nil || next.State != slipway.CRApplied {
			return err
		}
		// The approved pick is on the release branch now: what a flow
		// started by the approval deploys has it.
		return e.triggerFlows(ctx, t, tool, cmp.Or(cr.DecidedBy, "system"), fmt.Sprintf("change request %d of release %s applied", seq, c.Name),
			slipway.FlowChangeRequestApproved, slipway.FlowReleaseUpdated)
	})
	if err != nil {
		return cr, fmt.Errorf("apply change request %d of %s: %w", seq, tool, err)
	}
	return next, nil
}

// maxCutPickChecks bounds the commits of cut notes whose pick is looked
// for by patch-id (those without git's -x line): each is one git call.
const maxCutPickChecks = 50

// CutNotes returns the changes between two cuts of tool (from, to: names)
// of one repository, with the cherry-picks named both ways: a commit that
// is a pick names its origin, a commit of to that from has as a pick
// names the pick.
func (s *Cuts) CutNotes(ctx context.Context, tool, fromName, toName string) (slipway.CutNotes, error) {
	from, err := s.get(ctx, tool, fromName)
	if err != nil {
		return slipway.CutNotes{}, withField("from", err)
	}
	to, err := s.get(ctx, tool, toName)
	if err != nil {
		return slipway.CutNotes{}, withField("to", err)
	}
	if from.Repository != to.Repository {
		return slipway.CutNotes{}, slipway.Errorf(slipway.EInvalid, "to: release %s is of %s, release %s of %s: notes compare releases of one repository",
			toName, slipway.RedactURL(to.Repository), fromName, slipway.RedactURL(from.Repository))
	}
	n := slipway.CutNotes{Tool: tool, Repository: to.Repository, From: from, To: to, Change: slipway.NotesUnchanged}
	if from.Head == to.Head {
		return n, nil
	}
	_, gctx, err := s.repositoryOf(ctx, tool, "")
	if err != nil {
		gctx = s.eng.scopeOf(ctx, tool, 0)
	}
	repo := to.Repository
	added, err := s.source.FirstParentLog(gctx, repo, from.Head, to.Head, 0)
	if err != nil {
		return n, err
	}
	removed, err := s.source.FirstParentLog(gctx, repo, to.Head, from.Head, 0)
	if err != nil {
		return n, err
	}
	if missing := slices.Concat(added.Missing, removed.Missing); len(missing) > 0 {
		return n, slipway.Errorf(slipway.EConflict, "The repository no longer has commit %s", missing[0])
	}
	n.Truncated = added.Truncated || removed.Truncated
	switch {
	case len(removed.Commits) == 0:
		n.Change = slipway.NotesChanged
	case len(added.Commits) == 0:
		n.Change = slipway.NotesRolledBack
	default:
		n.Change = slipway.CutDiverged
		if len(removed.Commits) > 0 {
			n.Base = firstParentOf(removed.Commits[len(removed.Commits)-1])
		}
	}
	n.Commits, n.Removed = cutCommits(added.Commits), cutCommits(removed.Commits)
	// Pair the picks: by git's -x line first, else by patch-id (the
	// existing cherry-pick detection), a bounded number of times.
	index := map[string]int{}
	for i, c := range n.Commits {
		index[c.Hash] = i
	}
	checks := 0
	for i, r := range n.Removed {
		origin := r.PickedFrom
		if origin == "" && checks < maxCutPickChecks && len(r.Parents) == 1 {
			checks++
			if p, err := s.source.CherryPick(gctx, repo, r.Hash, to.Head); err == nil && p.Found() {
				origin = p.Commit
				n.Removed[i].PickedFrom = origin
			}
		}
		if j, ok := index[origin]; ok {
			n.Commits[j].PickedAs = r.Hash
		}
	}
	for i, c := range n.Commits {
		if c.PickedFrom == "" && c.PickedAs == "" && len(n.Removed) > 0 && checks < maxCutPickChecks && len(c.Parents) == 1 {
			checks++
			if p, err := s.source.CherryPick(gctx, repo, c.Hash, from.Head); err == nil && p.Found() {
				n.Commits[i].PickedAs = p.Commit
			}
		}
	}
	return n, nil
}

// withField prefixes a not-found error's message with the field that
// named it, as an EInvalid error (a bad parameter, not a missing route).
func withField(field string, err error) error {
	if e, ok := errors.AsType[*slipway.Error](err); ok && e.Code == slipway.ENotFound {
		return slipway.Errorf(slipway.EInvalid, "%s: %s", field, e.Message)
	}
	return err
}

// firstParentOf returns a commit's first parent ("" for a root).
func firstParentOf(c slipway.Commit) string {
	if len(c.Parents) == 0 {
		return ""
	}
	return c.Parents[0]
}

// cutCommits classifies commits for cut notes.
func cutCommits(cs []slipway.Commit) []slipway.CutNoteCommit {
	out := make([]slipway.CutNoteCommit, len(cs))
	for i, c := range cs {
		out[i] = slipway.CutNoteCommit{NoteCommit: slipway.ClassifyCommit(c), PickedFrom: slipway.PickedFromTrailer(c)}
	}
	return out
}
