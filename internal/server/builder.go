package server

import (
	"context"

	"slipway.dev/slipway/internal/build/localbuild"
)

// What the server's builder does with an app, for the CLI, which picks no
// implementation itself (`slipway help stacks`, the demo).

// BuilderStacks returns the stacks the builder knows, as it detects,
// builds and runs them (localbuild.Stacks).
func BuilderStacks() []localbuild.Stack { return localbuild.Stacks() }

// CustomBuildStep is the app's own build step, which the builder runs
// after the stack's build (localbuild.CustomStep).
const CustomBuildStep = localbuild.CustomStep

// CustomBuildStepEnv returns the variables the custom build step gets
// beyond the build's environment (localbuild.StepEnv).
func CustomBuildStepEnv() []string { return append([]string(nil), localbuild.StepEnv...) }

// GoStdCold reports whether the next Go build will first compile the
// standard library into the server's cache (a minute or so), as
// localbuild.GoStdCold says of its cache.
func (s *Server) GoStdCold(ctx context.Context) bool {
	return localbuild.GoStdCold(ctx, s.goStdCache())
}
