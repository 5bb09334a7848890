package storetest

import (
	"strings"
	"testing"

	"slipway.dev/slipway/internal/slipway"
)

func testCut(t *testing.T, f Factory) {
	t.Parallel()

	// Ensure a cut is created once per (tool, name), read back equal,
	// listed newest first per tool, and moved only from the head and
	// state it was read at.
	t.Run("CreateGetListUpdate", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		base, head := strings.Repeat("a", 40), strings.Repeat("b", 40)
		c := slipway.Cut{
			Tool: "tool", Name: "2026.12.1", Repository: "file:///repo", Branch: "main", Base: base, Head: base,
			State: slipway.CutMutable, CreatedAt: at(1).In(cet), CreatedBy: "admin", UpdatedAt: at(1),
		}
		_, err := s.CutGet(b.ctx, "tool", c.Name)
		wantNotFound(t, "CutGet of a cut never made", err)
		if !must(s.CutCreate(b.ctx, c))(t) {
			t.Fatal("CutCreate: not created")
		}
		dup := c
		dup.Branch = "other"
		if must(s.CutCreate(b.ctx, dup))(t) {
			t.Fatal("CutCreate of a second cut of the same name created it")
		}
		diff(t, "CutGet", c, must(s.CutGet(b.ctx, "tool", c.Name))(t))
		_, err = s.CutGet(b.ctx, "other", c.Name)
		wantNotFound(t, "CutGet of another tool's cut", err)
		c2 := c
		c2.Name, c2.CreatedAt = "production-20261206", at(2)
		must(s.CutCreate(b.ctx, c2))(t)
		other := c
		other.Tool = "other"
		must(s.CutCreate(b.ctx, other))(t)
		list := must(s.CutList(b.ctx, "tool"))(t)
		if len(list) != 2 || list[0].Name != c2.Name || list[1].Name != c.Name {
			t.Fatalf("CutList = %+v, want %s then %s", list, c2.Name, c.Name)
		}

		frozen := c
		frozen.State, frozen.Head, frozen.Picks, frozen.FrozenAt, frozen.FrozenBy, frozen.UpdatedAt = slipway.CutFrozen, head, 1, at(3), "alice", at(3)
		if must(s.CutUpdate(b.ctx, frozen, head, slipway.CutMutable))(t) {
			t.Fatal("CutUpdate from a head it is not at applied")
		}
		if must(s.CutUpdate(b.ctx, frozen, base, slipway.CutFrozen))(t) {
			t.Fatal("CutUpdate from a state it is not in applied")
		}
		if !must(s.CutUpdate(b.ctx, frozen, base, slipway.CutMutable))(t) {
			t.Fatal("CutUpdate from its head and state did not apply")
		}
		diff(t, "CutGet after update", frozen, must(s.CutGet(b.ctx, "tool", c.Name))(t))
	})

	// Ensure change requests are numbered per tool, read back equal,
	// listed newest first (all, or one cut's), and updated only from the
	// state read.
	t.Run("ChangeRequests", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		_, err := s.ChangeRequestGet(b.ctx, "tool", 1)
		wantNotFound(t, "ChangeRequestGet of none", err)
		cr := slipway.ChangeRequest{
			Tool: "tool", Cut: "1.0", Commit: strings.Repeat("c", 40), Reason: "CVE ✓", State: slipway.CRRequested,
			QuestionID: "q-1", RequestedBy: "tool-token:t1", RequestedAt: at(1).In(cet), UpdatedAt: at(1),
		}
		first := must(s.ChangeRequestCreate(b.ctx, cr))(t)
		if first.Seq != 1 {
			t.Fatalf("first seq = %d, want 1", first.Seq)
		}
		cr2 := cr
		cr2.Cut = "2.0"
		if got := must(s.ChangeRequestCreate(b.ctx, cr2))(t).Seq; got != 2 {
			t.Fatalf("second seq = %d, want 2", got)
		}
		cr3 := cr
		cr3.Tool = "other"
		if got := must(s.ChangeRequestCreate(b.ctx, cr3))(t).Seq; got != 1 {
			t.Fatalf("another tool's first seq = %d, want 1", got)
		}
		diff(t, "ChangeRequestGet", first, must(s.ChangeRequestGet(b.ctx, "tool", 1))(t))
		if all := must(s.ChangeRequestList(b.ctx, "tool", ""))(t); len(all) != 2 || all[0].Seq != 2 {
			t.Fatalf("ChangeRequestList = %+v, want 2 then 1", all)
		}
		if one := must(s.ChangeRequestList(b.ctx, "tool", "1.0"))(t); len(one) != 1 || one[0].Seq != 1 {
			t.Fatalf("ChangeRequestList of 1.0 = %+v, want 1", one)
		}

		done := first
		done.State, done.DecidedBy, done.DecidedAt = slipway.CRApplied, "admin", at(2)
		done.Onto, done.Pick, done.Detail, done.UpdatedAt = strings.Repeat("a", 40), strings.Repeat("b", 40), "picked", at(2)
		if must(s.ChangeRequestUpdate(b.ctx, done, slipway.CRApproved))(t) {
			t.Fatal("ChangeRequestUpdate from a state it is not in applied")
		}
		if !must(s.ChangeRequestUpdate(b.ctx, done, slipway.CRRequested))(t) {
			t.Fatal("ChangeRequestUpdate from its state did not apply")
		}
		diff(t, "ChangeRequestGet after update", done, must(s.ChangeRequestGet(b.ctx, "tool", 1))(t))
	})
}
