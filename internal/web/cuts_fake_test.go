package web_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// fakeCuts is tool one's named releases, in memory: 2026.12.1 frozen
// with three change requests, 2026.12.2 mutable.
type fakeCuts struct {
	mu   sync.Mutex
	cuts map[string][]slipway.Cut
	crs  map[string][]slipway.ChangeRequest
	// branchErr, when set, is CutGet's error for a mutable cut (a git
	// failure reading its branch); notesErr CutNotes' error.
	branchErr, notesErr error
}

// The fake cuts' commits.
var (
	cutBase   = strings.Repeat("c0ffee00", 5)
	cutHead   = strings.Repeat("c0ffee11", 5)
	mainTip   = strings.Repeat("d00d0022", 5)
	crCommit  = strings.Repeat("abcabc01", 5)
	crPick    = strings.Repeat("fedcba02", 5)
	crRefused = strings.Repeat("0badc0de", 5)
)

func newFakeCuts() *fakeCuts {
	repo := "https://user:secret@example.org/one.git"
	frozen := slipway.Cut{
		Tool: "one", Name: "2026.12.1", Repository: repo, Branch: "main", Base: cutBase, Head: cutHead, State: slipway.CutFrozen,
		Picks: 1, CreatedAt: t0.Add(-48 * time.Hour), CreatedBy: "admin", FrozenAt: t0.Add(-47 * time.Hour), FrozenBy: "admin",
	}
	mutable := slipway.Cut{
		Tool: "one", Name: "2026.12.2", Repository: repo, Branch: "main", Base: mainTip, Head: mainTip, State: slipway.CutMutable,
		CreatedAt: t0.Add(-time.Hour), CreatedBy: "tool-token:ci",
	}
	return &fakeCuts{
		cuts: map[string][]slipway.Cut{"one": {mutable, frozen}},
		crs: map[string][]slipway.ChangeRequest{"2026.12.1": {
			{
				Tool: "one", Cut: frozen.Name, Seq: 1, Commit: crCommit, Reason: "fix the <script>alert(1)</script> login", State: slipway.CRApplied,
				QuestionID: "q-00000000000000a1", RequestedBy: "tool-token:dev", RequestedAt: t0.Add(-46 * time.Hour), DecidedBy: "admin",
				DecidedAt: t0.Add(-45 * time.Hour), Onto: cutBase, Pick: crPick,
			},
			{
				Tool: "one", Cut: frozen.Name, Seq: 2, Commit: crRefused, Reason: "a feature", State: slipway.CRRefused,
				QuestionID: "q-00000000000000b2", RequestedBy: "tool-token:dev", RequestedAt: t0.Add(-3 * time.Hour), DecidedBy: "admin",
				DecidedAt: t0.Add(-2 * time.Hour), Detail: "refused by admin: a feature waits for the next release",
			},
			{
				Tool: "one", Cut: frozen.Name, Seq: 3, Commit: mainTip, Reason: "hotfix", State: slipway.CRRequested,
				QuestionID: "q-00000000000000c3", RequestedBy: "tool-token:dev", RequestedAt: t0.Add(-time.Minute),
			},
		}},
	}
}

func (f *fakeCuts) CutList(_ context.Context, tool string) ([]slipway.Cut, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cuts[tool], nil
}

func (f *fakeCuts) CutGet(_ context.Context, tool, name string) (slipway.Cut, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.cuts[tool] {
		if c.Name == name {
			if c.State == slipway.CutMutable && f.branchErr != nil {
				return c, f.branchErr
			}
			return c, nil
		}
	}
	return slipway.Cut{}, slipway.Errorf(slipway.ENotFound, "Release %s not found for tool %s", name, tool)
}

func (f *fakeCuts) CutNotes(ctx context.Context, tool, from, to string) (slipway.CutNotes, error) {
	f.mu.Lock()
	err := f.notesErr
	f.mu.Unlock()
	if err != nil {
		return slipway.CutNotes{}, err
	}
	fc, err := f.CutGet(ctx, tool, from)
	if err != nil {
		if se, ok := errors.AsType[*slipway.Error](err); ok {
			return slipway.CutNotes{}, slipway.Errorf(se.Code, "from: %s", se.Message)
		}
		return slipway.CutNotes{}, err
	}
	tc, err := f.CutGet(ctx, tool, to)
	if err != nil {
		return slipway.CutNotes{}, err
	}
	commit := func(hash, subject string, section slipway.NoteSection) slipway.CutNoteCommit {
		return slipway.CutNoteCommit{NoteCommit: slipway.NoteCommit{
			Commit: slipway.Commit{Hash: hash, Author: "Dev <dev>", Subject: subject}, Section: section, Title: subject,
		}}
	}
	added := commit(mainTip, "feat: <b>dark</b> mode", slipway.NoteSections[0])
	picked := commit(crCommit, "fix: the login", slipway.NoteSections[0])
	picked.PickedAs = crPick
	return slipway.CutNotes{
		Tool: tool, Repository: tc.Repository, From: fc, To: tc, Change: slipway.CutDiverged,
		Commits: []slipway.CutNoteCommit{added, picked},
		Removed: []slipway.CutNoteCommit{commit(crPick, "fix: the login", slipway.NoteSections[0])},
	}, nil
}

func (f *fakeCuts) ChangeRequestList(_ context.Context, _, name string) ([]slipway.ChangeRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.crs[name], nil
}

func (f *fakeCuts) CutCreate(_ context.Context, tool string, r slipway.CutRequest) (slipway.Cut, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := slipway.ValidateCutName("name", r.Name); err != nil {
		return slipway.Cut{}, slipway.Errorf(slipway.EInvalid, "Cannot cut: %s", slipway.ErrorMessage(err))
	}
	if r.Branch == "broken" {
		return slipway.Cut{}, errors.New("git push https://user:secret@example.org/one.git: exit status 128")
	}
	for _, c := range f.cuts[tool] {
		if c.Name == r.Name {
			return slipway.Cut{}, slipway.Errorf(slipway.EConflict, "Tool %s has a release %s already: a later fix is a new release", tool, r.Name)
		}
	}
	c := slipway.Cut{
		Tool: tool, Name: r.Name, Repository: "https://example.org/one.git", Branch: r.Branch, Base: mainTip, Head: mainTip,
		State: slipway.CutMutable, CreatedAt: t0, CreatedBy: "ui",
	}
	if r.Frozen {
		c.State, c.FrozenAt = slipway.CutFrozen, t0
	}
	f.cuts[tool] = append([]slipway.Cut{c}, f.cuts[tool]...)
	return c, nil
}

func (f *fakeCuts) CutFreeze(_ context.Context, tool, name, _ string) (slipway.Cut, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, c := range f.cuts[tool] {
		if c.Name == name {
			if c.State == slipway.CutFrozen {
				return c, slipway.Errorf(slipway.EConflict, "Release %s of %s is frozen already", name, tool)
			}
			c.State, c.FrozenAt = slipway.CutFrozen, t0
			f.cuts[tool][i] = c
			return c, nil
		}
	}
	return slipway.Cut{}, slipway.Errorf(slipway.ENotFound, "Release %s not found for tool %s", name, tool)
}
