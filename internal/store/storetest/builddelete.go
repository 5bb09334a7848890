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
}
