package cli

import (
	"testing"

	"slipway.dev/slipway/internal/pgtest"
)

// TestMain stops the PostgreSQL server that the tests of migrate-store
// start, if any.
func TestMain(m *testing.M) { pgtest.Main(m) }
