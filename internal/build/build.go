// Package build is the builder seam: turning a component's source at a
// resolved commit into an [slipway.Artifact].
//
// Implementations: localbuild (a directory per build on this machine).
// A Kubernetes builder (a Job pushing an image) is a later addition.
package build

import (
	"context"
	"io"

	"slipway.dev/slipway/internal/slipway"
)

// Request is one build.
type Request struct {
	Tool       string
	Component  string
	Repository string
	// Ref is what the user wrote; Commit is what it resolved to. Builders
	// build Commit.
	Ref    string
	Commit string
	// Key is the content address of the result, from [slipway.BuildKey].
	Key string
	// Settings are the build settings that took part in Key.
	Settings slipway.SourceBuild
	// Log receives the build output as it happens (it is also kept with
	// the build). May be nil.
	Log io.Writer
}

// Builder builds artifacts.
type Builder interface {
	// Version identifies the builder's behaviour; it is part of every
	// build key, so changing how builds are made invalidates the cache.
	Version() string
	// Lookup returns the finished artifact with this key, if the cache has
	// one. ok is false when it has none.
	Lookup(ctx context.Context, key string) (a slipway.Artifact, ok bool, err error)
	// Build builds req and returns its artifact. A request whose Key is
	// already built returns the cached artifact without building. Build is
	// safe to call again after a crash: a half-made build is discarded.
	Build(ctx context.Context, req Request) (slipway.Artifact, error)
	// LogPath returns where the log of the build with this key is kept.
	LogPath(key string) string
}
