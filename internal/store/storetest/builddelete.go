package storetest

import (
	"testing"

	"slipway.dev/slipway/internal/slipway"
)

func testBuildDelete(t *testing.T, f Factory) {
	t.Parallel()

	// Ensure BuildDelete removes one tool's record only, and a missing
	// record is ErrNotFound.
	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		one := build("one", "k1", "k1", slipway.BuildSuccessful, at(1))
		two := build("two", "k1", "k1", slipway.BuildSuccessful, at(2))
		mustDo(t, s.BuildCreate(b.ctx, one))
		mustDo(t, s.BuildCreate(b.ctx, two))
		mustDo(t, s.BuildDelete(b.ctx, "one", "k1"))
		_, err := s.BuildGet(b.ctx, "one", "k1")
		wantNotFound(t, "BuildGet after BuildDelete", err)
		diff(t, "BuildGet of the other tool's record", two, must(s.BuildGet(b.ctx, "two", "k1"))(t))
		wantNotFound(t, "BuildDelete again", s.BuildDelete(b.ctx, "one", "k1"))
		wantNotFound(t, "BuildDelete of an unknown build", s.BuildDelete(b.ctx, "two", "nope"))
	})

	// Ensure a record marked deleting is hidden from every read but
	// BuildListDeleting, comes back when unmarked, and is deleted marked.
	t.Run("Deleting", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		one := build("one", "k1-a", "k1", slipway.BuildSuccessful, at(1))
		other := build("one", "k2-a", "k2", slipway.BuildFailed, at(2))
		mustDo(t, s.BuildCreate(b.ctx, one))
		mustDo(t, s.BuildCreate(b.ctx, other))
		diff(t, "BuildListDeleting before", []slipway.Build{}, must(s.BuildListDeleting(b.ctx))(t))

		mustDo(t, s.BuildSetDeleting(b.ctx, "one", "k1-a", true))
		_, err := s.BuildGet(b.ctx, "one", "k1-a")
		wantNotFound(t, "BuildGet of a record being deleted", err)
		_, err = s.BuildFindSuccessful(b.ctx, "k1")
		wantNotFound(t, "BuildFindSuccessful of a record being deleted", err)
		diff(t, "BuildList with one being deleted", []slipway.Build{other}, must(s.BuildList(b.ctx, "one"))(t))
		diff(t, "BuildListDeleting", []slipway.Build{one}, must(s.BuildListDeleting(b.ctx))(t))

		mustDo(t, s.BuildSetDeleting(b.ctx, "one", "k1-a", false))
		diff(t, "BuildGet once unmarked", one, must(s.BuildGet(b.ctx, "one", "k1-a"))(t))
		diff(t, "BuildListDeleting once unmarked", []slipway.Build{}, must(s.BuildListDeleting(b.ctx))(t))

		mustDo(t, s.BuildSetDeleting(b.ctx, "one", "k1-a", true))
		mustDo(t, s.BuildDelete(b.ctx, "one", "k1-a"))
		diff(t, "BuildListDeleting after the delete", []slipway.Build{}, must(s.BuildListDeleting(b.ctx))(t))
		wantNotFound(t, "BuildSetDeleting of a deleted record", s.BuildSetDeleting(b.ctx, "one", "k1-a", true))
	})
}
