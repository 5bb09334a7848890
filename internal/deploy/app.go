package deploy

import (
	"log/slog"
	"time"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/target"
)

// app is what the application services ([Deployments], [Builds], [Jobs])
// share: the engine that runs what they create, and the store, adapters,
// configuration and clock it was made with. The services change a
// deployment's progress only through the engine (its transactions, events,
// cancel registry and slots).
type app struct {
	eng     *Engine
	store   store.Store
	source  Resolver
	builder build.Builder
	target  target.Driver
	cfg     *Config
	logger  *slog.Logger
	now     func() time.Time
}

func newApp(eng *Engine) app {
	return app{
		eng: eng, store: eng.store, source: eng.source, builder: eng.builder, target: eng.target,
		cfg: &eng.cfg, logger: eng.logger, now: eng.now,
	}
}
