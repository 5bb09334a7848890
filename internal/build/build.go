// Package build is the builder seam: turning a component's source at a
// resolved commit into an [slipway.Artifact].
//
// Implementations: localbuild (a directory per build on this machine).
// A Kubernetes builder (a Job pushing an image) is a later addition.
package build

import (
	"context"
	"errors"
	"io"

	"slipway.dev/slipway/internal/slipway"
)

// ErrCorrupt is wrapped by Lookup's error when a cached artifact no longer
// matches the digest recorded when it was built; the message says what
// changed. Build makes such an artifact again.
var ErrCorrupt = errors.New("the cached artifact does not match its digest")

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
	// Attempt names this attempt at building Key (its record's ID), and
	// so its log: a new attempt never overwrites an older one's. Empty
	// means Key.
	Attempt string
	// Settings are the build settings that took part in Key.
	Settings slipway.SourceBuild
	// AskEnv, when not empty, is the environment of `slipway ask`
	// (SLIPWAY_URL, SLIPWAY_ASK_TOKEN) for the build's commands, which then
	// also get the slipway binary on their PATH: a deployment's build step
	// may ask. It takes no part in Key and is never recorded.
	AskEnv map[string]string
	// Log receives the build output as it happens (it is also kept with
	// the build). May be nil.
	Log io.Writer
}

// Builder builds artifacts.
type Builder interface {
	// Version identifies the builder's behaviour; it is part of every
	// build key, so changing how builds are made invalidates the cache.
	Version() string
	// Lookup returns the tool's finished artifact with this key, if the
	// cache has one whose content still matches its digest. ok is false
	// when it has none; an artifact that changed since it was built is an
	// error wrapping [ErrCorrupt]. Artifacts belong to the tool that built
	// them: another tool's artifact of the same key is never returned.
	Lookup(ctx context.Context, tool, key string) (a slipway.Artifact, ok bool, err error)
	// Build builds req and returns its artifact. A request whose Key is
	// already built for req.Tool returns the cached artifact without
	// building, unless it fails its digest check: then it is built again,
	// saying why in the log. Build is safe to call again after a crash: a
	// half-made build is discarded.
	Build(ctx context.Context, req Request) (slipway.Artifact, error)
	// LogPath returns where the log of the tool's build attempt (or,
	// for builds recorded before attempts, key) is kept.
	LogPath(tool, attempt string) string
	// RemoveLog deletes the log of the tool's build attempt; one without a
	// log is not an error.
	RemoveLog(tool, attempt string) error
	// Remove deletes the tool's artifact and log of key; a key with
	// neither is not an error.
	Remove(ctx context.Context, tool, key string) error
}
