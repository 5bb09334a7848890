package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// notesComponentWalk bounds how many of an environment's releases (up to
// To) Notes looks through to find its components.
const notesComponentWalk = 1000

// Notes returns the changes between two points of the tool's release
// history in an environment, per component, from each repository's
// first-parent history, classified by [slipway.ClassifyCommit].
//
// q.To, a release number, is the point compared to: each component's
// newest release up to the last one the deployment that made release q.To
// made (what that deployment left; 0: each component's current release).
// q.From is the point compared from, likewise (0: each component's
// release before its To release). The environment is q.Environment, else the one of the
// releases given, else [slipway.DefaultEnvironment]. Components are those
// with a release among the environment's last 1,000 up to To, or
// q.Component alone.
//
// EInvalid, naming the field, for a bad tool, a negative number, a number
// that is no release of the tool or is another environment's, From after
// To, or a component without releases; ENotFound when the environment has
// no releases.
func (s *Releases) Notes(ctx context.Context, tool string, q slipway.NotesQuery) (slipway.ReleaseNotes, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.ReleaseNotes{}, err
	}
	for _, f := range []struct {
		name string
		seq  int64
	}{{"from", q.From}, {"to", q.To}} {
		if f.seq < 0 {
			return slipway.ReleaseNotes{}, slipway.Errorf(slipway.EInvalid, "%s: %d is not a release number (the # of `slipway releases list`)", f.name, f.seq)
		}
	}
	if q.From > 0 && q.To > 0 && q.From > q.To {
		return slipway.ReleaseNotes{}, slipway.Errorf(slipway.EInvalid, "from: release %d comes after to (release %d): give the older release first", q.From, q.To)
	}
	env := q.Environment
	// The points compared: the last release of the deployment that made
	// release q.To (q.From).
	toPoint, fromPoint := q.To, q.From
	for _, f := range []struct {
		name  string
		seq   int64
		point *int64
	}{{"to", q.To, &toPoint}, {"from", q.From, &fromPoint}} {
		if f.seq == 0 {
			continue
		}
		r, err := s.releaseAt(ctx, store.ReleaseFilter{Tool: tool}, f.seq)
		if err != nil {
			return slipway.ReleaseNotes{}, err
		}
		if r.Seq != f.seq {
			return slipway.ReleaseNotes{}, slipway.Errorf(slipway.EInvalid, "%s: tool %s has no release %d (see `slipway releases list`)", f.name, tool, f.seq)
		}
		if env == "" {
			env = r.Environment
		}
		if r.Environment != env {
			return slipway.ReleaseNotes{}, slipway.Errorf(slipway.EInvalid, "%s: release %d is of environment %s, not %s", f.name, f.seq, r.Environment, env)
		}
		// The number stands for what its deployment left: up to the last
		// release that deployment made.
		last, err := s.store.ReleaseList(ctx, store.ReleaseFilter{Tool: tool, Environment: env, DeploymentID: r.DeploymentID, Limit: 1})
		if err != nil {
			return slipway.ReleaseNotes{}, fmt.Errorf("releases of deployment %s: %w", r.DeploymentID, err)
		}
		if len(last) > 0 && last[0].Seq > *f.point {
			*f.point = last[0].Seq
		}
	}
	env = cmp.Or(env, slipway.DefaultEnvironment)
	out := slipway.ReleaseNotes{Tool: tool, Environment: env, From: q.From, To: q.To, Components: []slipway.ComponentNotes{}}

	var names []string
	if q.Component != "" {
		names = []string{q.Component}
	} else {
		f := store.ReleaseFilter{Tool: tool, Environment: env, Limit: notesComponentWalk}
		if toPoint > 0 {
			f.Before = toPoint + 1
		}
		rs, err := s.store.ReleaseList(ctx, f)
		if err != nil {
			return out, fmt.Errorf("releases of %s: %w", tool, err)
		}
		if len(rs) == 0 {
			return out, slipway.Errorf(slipway.ENotFound, "Tool %s has no releases in environment %s.", tool, env)
		}
		for _, r := range rs {
			if !slices.Contains(names, r.Component) {
				names = append(names, r.Component)
			}
		}
		slices.Sort(names)
	}
	repos := &notesRepos{s: s, tool: tool, configs: map[int]slipway.ToolConfig{}}
	for _, name := range names {
		f := store.ReleaseFilter{Tool: tool, Environment: env, Component: name, Limit: 2}
		if toPoint > 0 {
			f.Before = toPoint + 1
		}
		rs, err := s.store.ReleaseList(ctx, f)
		if err != nil {
			return out, fmt.Errorf("releases of %s of %s: %w", name, tool, err)
		}
		if len(rs) == 0 {
			if q.Component != "" {
				upTo := ""
				if q.To > 0 {
					upTo = fmt.Sprintf(" up to release %d", q.To)
				}
				return out, slipway.Errorf(slipway.EInvalid, "component: %s has no releases in environment %s%s", name, env, upTo)
			}
			continue
		}
		to, from := rs[0], slipway.Release{}
		if fromPoint > 0 {
			if from, err = s.releaseAt(ctx, store.ReleaseFilter{Tool: tool, Environment: env, Component: name}, fromPoint); err != nil {
				return out, err
			}
		} else if len(rs) > 1 {
			from = rs[1]
		}
		cn, err := s.componentNotes(ctx, tool, repos, from, to)
		if err != nil {
			return out, err
		}
		out.Components = append(out.Components, cn)
	}
	return out, nil
}

// releaseAt returns the newest release f selects with a number at most
// seq (a zero Release when there is none).
func (s *Releases) releaseAt(ctx context.Context, f store.ReleaseFilter, seq int64) (slipway.Release, error) {
	f.Before, f.Limit = seq+1, 1
	rs, err := s.store.ReleaseList(ctx, f)
	if err != nil {
		return slipway.Release{}, fmt.Errorf("release %d of %s: %w", seq, f.Tool, err)
	}
	if len(rs) == 0 {
		return slipway.Release{}, nil
	}
	return rs[0], nil
}

// componentNotes compares two releases of one component (from.Seq 0: none).
func (s *Releases) componentNotes(ctx context.Context, tool string, repos *notesRepos, from, to slipway.Release) (slipway.ComponentNotes, error) {
	cn := slipway.ComponentNotes{Component: to.Component, From: from, To: to}
	switch {
	case to.Outcome == slipway.ReleaseRemoved:
		cn.Change = slipway.NotesRemoved
		return cn, nil
	case from.Seq == 0 || from.Outcome == slipway.ReleaseRemoved:
		cn.Change = slipway.NotesAdded
	case from.Commit == "" || to.Commit == "":
		cn.Change, cn.Note = slipway.NotesUnknown, "It runs a prebuilt image in one of the two releases: there are no commits to compare."
		return cn, nil
	case from.Commit == to.Commit:
		cn.Change = slipway.NotesUnchanged
	}
	repo, err := repos.of(ctx, to)
	if err != nil {
		return cn, err
	}
	if repo != "" {
		cn.Repository = slipway.RedactURL(repo)
		if web, ok := slipway.RepoWebOf(cn.Repository); ok {
			cn.WebURL = web.URL
		}
	}
	if cn.Change != "" {
		return cn, nil
	}
	fromRepo, err := repos.of(ctx, from)
	if err != nil {
		return cn, err
	}
	switch {
	case repo == "":
		cn.Change, cn.Note = slipway.NotesUnknown, fmt.Sprintf("The repository of release %d is not known (its config version is gone and the component is not configured now).", to.Seq)
		return cn, nil
	case fromRepo != "" && fromRepo != repo:
		cn.Change, cn.Note = slipway.NotesUnknown, fmt.Sprintf("The component's repository changed between the releases, from %s to %s: two histories, not compared.",
			slipway.RedactURL(fromRepo), cn.Repository)
		return cn, nil
	}
	if err := s.compare(s.eng.scopeOf(ctx, tool, to.ConfigVersion), repo, &cn); err != nil {
		return cn, fmt.Errorf("notes of %s from release %d to %d: %w", to.Component, from.Seq, to.Seq, err)
	}
	return cn, nil
}

// compare fills in cn's change and commits from repo's history: the
// commits of To that From lacks when From's commit is an ancestor of To's;
// the ones To takes out when To's is an ancestor of From's (a rollback);
// and both, with the last commit they share, when neither is (a rewritten
// branch: a force push).
func (s *Releases) compare(ctx context.Context, repo string, cn *slipway.ComponentNotes) error {
	from, to := cn.From.Commit, cn.To.Commit
	added, err := s.source.FirstParentLog(ctx, repo, from, to, 0)
	if err != nil {
		return err
	}
	if len(added.Missing) > 0 {
		var which []string
		for _, m := range added.Missing {
			which = append(which, fmt.Sprintf("release %d's commit %s", map[string]int64{from: cn.From.Seq, to: cn.To.Seq}[m], m[:12]))
		}
		cn.Change = slipway.NotesUnknown
		cn.Note = fmt.Sprintf("The repository no longer has %s (a rewritten branch whose old commits are gone, or another repository's commit): the releases cannot be compared.",
			strings.Join(which, " nor "))
		return nil
	}
	web, _ := slipway.RepoWebOf(cn.Repository)
	cn.Commits, cn.Truncated = noteCommits(added.Commits, web), added.Truncated
	forward, err := s.source.Contains(ctx, repo, from, to)
	if err != nil {
		return err
	}
	if forward {
		cn.Change = slipway.NotesChanged
		return nil
	}
	backward, err := s.source.Contains(ctx, repo, to, from)
	if err != nil {
		return err
	}
	cn.Change = slipway.NotesRolledBack
	if !backward {
		cn.Change = slipway.NotesRewritten
		if n := len(added.Commits); n > 0 && !added.Truncated && len(added.Commits[n-1].Parents) > 0 {
			cn.Base = added.Commits[n-1].Parents[0]
		}
	}
	removed, err := s.source.FirstParentLog(ctx, repo, to, from, 0)
	if err != nil {
		return err
	}
	cn.Removed, cn.Truncated = noteCommits(removed.Commits, web), cn.Truncated || removed.Truncated
	return nil
}

// noteCommits classifies commits and links them.
func noteCommits(commits []slipway.Commit, web slipway.RepoWeb) []slipway.NoteCommit {
	out := make([]slipway.NoteCommit, len(commits))
	for i, c := range commits {
		out[i] = slipway.ClassifyCommit(c)
		out[i].URL = web.CommitURL(c.Hash)
	}
	return out
}

// notesRepos finds the repository a release's code came from: the one its
// config version names for the component (through reuse_from), else the
// one the component builds from now.
type notesRepos struct {
	s       *Releases
	tool    string
	configs map[int]slipway.ToolConfig
	live    map[string]string
}

func (n *notesRepos) of(ctx context.Context, r slipway.Release) (string, error) {
	cfg, ok := n.configs[r.ConfigVersion]
	if !ok && r.ConfigVersion > 0 {
		sc, err := n.s.store.ConfigGet(ctx, n.tool, r.ConfigVersion)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return "", fmt.Errorf("config version %d of %s: %w", r.ConfigVersion, n.tool, err)
		case !sc.Deleted:
			if cfg, err = parseStored(sc.Raw); err != nil {
				return "", fmt.Errorf("config version %d of %s: %w", r.ConfigVersion, n.tool, err)
			}
		}
		n.configs[r.ConfigVersion] = cfg
	}
	if c, ok := cfg.Components[r.Component]; ok {
		if src := cfg.Components[c.BuildFrom()].Build.Source; src != nil {
			return src.Repository, nil
		}
	}
	if n.live == nil {
		live, err := n.s.store.LiveRunList(ctx, slipway.InstanceName(n.tool, r.Environment))
		if err != nil {
			return "", fmt.Errorf("live components of %s: %w", n.tool, err)
		}
		n.live = repositories(live)
	}
	return n.live[r.Component], nil
}
