package deploy

import (
	"context"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

// Ensure a frozen cut refuses a direct change and takes an approved
// change request, whose cherry-pick Slipway pushes to release/<name> of
// the real repository; the requester cannot approve it, another tool
// cannot answer it, a refusal is recorded and changes nothing; the notes
// of two cuts name the pick both ways; and bad input is refused naming
// the field, with nothing stored.
func TestCuts_FrozenChangeRequest(t *testing.T) {
	t.Parallel()
	const tool = "cuts"
	h := newHarness(t, Config{}, true)
	cuts, questions := NewCuts(h.eng), NewQuestions(h.eng)
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: echo ran\n", "a": "1\n"})
	cfg := "components:\n  job:\n    component_type: one-off\n    build: {repository: " + repo.URL + ", ref: main}\n    run: {command: job}\n"
	admin := slipway.WithActor(t.Context(), slipway.Actor{Name: "admin", Admin: true})
	if _, _, err := h.deploys.ConfigPut(admin, tool, mustParse(t, cfg)); err != nil {
		t.Fatal(err)
	}
	alice := slipway.WithActor(t.Context(), slipway.Actor{Name: "tool-token:alice", Tool: tool})
	bob := slipway.WithActor(t.Context(), slipway.Actor{Name: "tool-token:bob", Tool: tool})
	mallory := slipway.WithActor(t.Context(), slipway.Actor{Name: "tool-token:mallory", Tool: "other"})

	first := repo.Head(t)
	old, err := cuts.CutCreate(alice, tool, CutRequest{Name: "2026.12.0", Branch: "main", Frozen: true})
	if err != nil {
		t.Fatal(err)
	}
	cut := repo.Commit(t, map[string]string{"b": "1\n"}, "feat: b")
	r1, err := cuts.CutCreate(alice, tool, CutRequest{Name: "2026.12.1", Branch: "main", At: cut[:10], Frozen: true})
	if err != nil {
		t.Fatal(err)
	}
	if r1.Head != cut || old.Head != first || r1.State != slipway.CutFrozen {
		t.Fatalf("cuts = %+v, %+v", old, r1)
	}
	if got := strings.TrimSpace(repo.Git(t, "rev-parse", "release/2026.12.1")); got != cut {
		t.Fatalf("release/2026.12.1 = %s, want %s", got, cut)
	}
	repo.Commit(t, map[string]string{"c": "1\n"}, "feat: c, not for the release")
	fix := repo.Commit(t, map[string]string{"a": "1\nfixed\n"}, "fix: a")

	// A direct change of a frozen cut is refused.
	if _, err := cuts.CutUpdate(alice, tool, "2026.12.1", fix); slipway.ErrorCode(err) != slipway.EConflict || !strings.Contains(err.Error(), "change request") {
		t.Fatalf("direct change of a frozen cut: %v, want a conflict that says to ask", err)
	}

	// A refused request changes nothing, and is recorded.
	refusedCR, err := cuts.ChangeRequestCreate(alice, tool, "2026.12.1", fix, "the bug")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := questions.QuestionAnswer(bob, tool, refusedCR.QuestionID, slipway.Answer{Value: slipway.CRAnswerRefuse, Comment: "not now"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := cuts.ChangeRequestGet(admin, tool, refusedCR.Seq); got.State != slipway.CRRefused || got.DecidedBy != "tool-token:bob" || got.Detail != "not now" {
		t.Fatalf("refused change request = %+v", got)
	}

	// A request nobody answers expires at its deadline (the deadline
	// job's work, run here directly), and cannot be applied.
	expiring, err := cuts.ChangeRequestCreate(alice, tool, "2026.12.1", fix, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.eng.QuestionDeadline(admin, tool, "", expiring.QuestionID); err != nil {
		t.Fatal(err)
	}
	if got, _ := cuts.ChangeRequestGet(admin, tool, expiring.Seq); got.State != slipway.CRExpired {
		t.Fatalf("expired change request = %+v", got)
	}
	if _, err := cuts.ChangeRequestApply(admin, tool, expiring.Seq); slipway.ErrorCode(err) != slipway.EConflict {
		t.Fatalf("applying an expired change request: %v, want a conflict", err)
	}

	cr, err := cuts.ChangeRequestCreate(alice, tool, "2026.12.1", fix, "the bug, again")
	if err != nil {
		t.Fatal(err)
	}
	if cr.Seq != expiring.Seq+1 || cr.State != slipway.CRRequested {
		t.Fatalf("change request = %+v", cr)
	}
	for who, ctx := range map[string]context.Context{"the requester": alice, "another tool": mallory} {
		_, err := questions.QuestionAnswer(ctx, tool, cr.QuestionID, slipway.Answer{Value: slipway.CRAnswerApprove})
		if code := slipway.ErrorCode(err); code != slipway.EForbidden {
			t.Errorf("%s approving: %v, want forbidden", who, err)
		}
	}
	if _, err := questions.QuestionAnswer(bob, tool, cr.QuestionID, slipway.Answer{Value: slipway.CRAnswerApprove}); err != nil {
		t.Fatal(err)
	}
	cr, _ = cuts.ChangeRequestGet(admin, tool, cr.Seq)
	if again, err := cuts.ChangeRequestApply(admin, tool, cr.Seq); err != nil || again.Pick != cr.Pick {
		t.Fatalf("applying an applied change request again = %+v, %v; want it as it is", again, err)
	}
	if cr.State != slipway.CRApplied || cr.Onto != cut || cr.Pick == "" || cr.DecidedBy != "tool-token:bob" {
		t.Fatalf("approved change request = %+v", cr)
	}
	r1, _ = cuts.CutGet(admin, tool, "2026.12.1")
	if r1.Head != cr.Pick || r1.Picks != 1 {
		t.Fatalf("cut after the pick = %+v, want head %s", r1, cr.Pick)
	}
	if got := strings.TrimSpace(repo.Git(t, "rev-parse", "release/2026.12.1")); got != cr.Pick {
		t.Fatalf("release/2026.12.1 = %s, want the pick %s", got, cr.Pick)
	}
	if _, err := questions.QuestionAnswer(bob, tool, cr.QuestionID, slipway.Answer{Value: slipway.CRAnswerRefuse}); slipway.ErrorCode(err) != slipway.EConflict {
		t.Fatalf("a second answer: %v, want a conflict", err)
	}
	if _, err := cuts.ChangeRequestCreate(alice, tool, "2026.12.1", fix, ""); slipway.ErrorCode(err) != slipway.EConflict {
		t.Fatalf("a change request for a commit picked already: %v, want a conflict", err)
	}

	// Notes: 2026.12.0 → 2026.12.1 lists the pick; 2026.12.1 → a later
	// cut of main names the fix as picked into 2026.12.1.
	n, err := cuts.CutNotes(admin, tool, "2026.12.0", "2026.12.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Commits) != 2 || n.Commits[0].Hash != cr.Pick || n.Commits[0].PickedFrom != fix || n.Change != slipway.NotesChanged {
		t.Fatalf("notes 2026.12.0 → 2026.12.1 = %+v", n)
	}
	md := slipway.CutNotesMarkdown(n)
	if !strings.Contains(md, "cherry-pick of `"+fix[:12]+"`") {
		t.Fatalf("markdown does not name the pick:\n%s", md)
	}
	if _, err := cuts.CutCreate(alice, tool, CutRequest{Name: "2026.12.2", Branch: "main"}); err != nil {
		t.Fatal(err)
	}
	n, err = cuts.CutNotes(admin, tool, "2026.12.1", "2026.12.2")
	if err != nil {
		t.Fatal(err)
	}
	if n.Change != slipway.CutDiverged || len(n.Commits) != 2 || n.Commits[0].Hash != fix || n.Commits[0].PickedAs != cr.Pick ||
		len(n.Removed) != 1 || n.Removed[0].Hash != cr.Pick {
		t.Fatalf("notes 2026.12.1 → 2026.12.2 = %+v", n)
	}

	// A mutable cut follows its branch; it takes direct changes and no
	// change requests; freezing it makes its release branch.
	mut, err := cuts.CutGet(admin, tool, "2026.12.2")
	if err != nil || mut.Head != fix || mut.State != slipway.CutMutable {
		t.Fatalf("mutable cut = %+v, %v", mut, err)
	}
	if _, err := cuts.ChangeRequestCreate(alice, tool, "2026.12.2", first, ""); slipway.ErrorCode(err) != slipway.EConflict {
		t.Fatalf("change request on a mutable cut: %v, want a conflict", err)
	}
	later := repo.Commit(t, map[string]string{"d": "1\n"}, "feat: d")
	if mut, err = cuts.CutGet(admin, tool, "2026.12.2"); err != nil || mut.Head != later {
		t.Fatalf("mutable cut after a push = %+v, %v; want head %s", mut, err, later)
	}
	if mut, err = cuts.CutFreeze(alice, tool, "2026.12.2", fix); err != nil || mut.Head != fix || mut.State != slipway.CutFrozen {
		t.Fatalf("freeze = %+v, %v", mut, err)
	}
	if _, err := cuts.CutFreeze(alice, tool, "2026.12.2", ""); slipway.ErrorCode(err) != slipway.EConflict {
		t.Fatalf("freezing twice: %v, want a conflict", err)
	}

	// Bad input: the field is named and nothing is stored.
	before, _ := cuts.CutList(admin, tool)
	for _, tt := range []struct {
		r    CutRequest
		want string
	}{
		{CutRequest{Name: "", Branch: "main"}, "name:"},
		{CutRequest{Name: "2026", Branch: "main"}, "name:"},
		{CutRequest{Name: "Bad Name", Branch: "main"}, "name:"},
		{CutRequest{Name: "a..b", Branch: "main"}, "name:"},
		{CutRequest{Name: "ok-1", Branch: ""}, "branch:"},
		{CutRequest{Name: "ok-1", Branch: "-x"}, "branch:"},
		{CutRequest{Name: "ok-1", Branch: "nope"}, "branch:"},
		{CutRequest{Name: "ok-1", Branch: "main", At: "0123456789abcdef0123456789abcdef01234567"}, "at:"},
		{CutRequest{Name: "ok-1", Branch: "main", Component: "nope"}, "component:"},
		{CutRequest{Name: "2026.12.1", Branch: "main"}, "already"},
	} {
		_, err := cuts.CutCreate(alice, tool, tt.r)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CutCreate(%+v) = %v, want an error naming %q", tt.r, err, tt.want)
		}
	}
	if after, _ := cuts.CutList(admin, tool); len(after) != len(before) {
		t.Errorf("bad cuts stored: %d cuts, had %d", len(after), len(before))
	}
	for _, commit := range []string{"", "-x", "0123456789abcdef0123456789abcdef01234567", "zz top"} {
		if _, err := cuts.ChangeRequestCreate(alice, tool, "2026.12.1", commit, ""); slipway.ErrorCode(err) != slipway.EInvalid || !strings.Contains(err.Error(), "commit:") {
			t.Errorf("change request for %q: %v, want invalid naming commit", commit, err)
		}
	}
	if _, err := cuts.ChangeRequestCreate(alice, tool, "nope", fix, ""); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("change request for an unknown cut: %v, want not found", err)
	}
	if crs, _ := cuts.ChangeRequestList(admin, tool, ""); len(crs) != 3 {
		t.Errorf("change requests stored = %d, want 3", len(crs))
	}
	if _, err := cuts.CutNotes(admin, tool, "nope", "2026.12.1"); slipway.ErrorCode(err) != slipway.EInvalid || !strings.Contains(err.Error(), "from:") {
		t.Errorf("notes from an unknown cut: %v, want invalid naming from", err)
	}
}
