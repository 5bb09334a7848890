// Package build is the builder seam: turning a component's source at a
// resolved commit into an [slipway.Artifact].
//
// Implementations: localbuild (a directory per build on this machine) and
// kubebuild (a Kubernetes Job pushing an image; the artifact is the image
// by digest). buildtest is the conformance suite: localbuild runs it;
// kubebuild cannot on a control plane without a kubelet (the suite reads
// the build's output), and checks the same contract with its own tests.
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

// ErrNoLog is wrapped by Logs' error when the build attempt has no log:
// none was written yet (without Follow), or the build ended without one,
// or it was removed.
var ErrNoLog = errors.New("the build has no log")

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
	// Logs writes the log of the tool's build attempt (its
	// [Request.Attempt], or for builds recorded before attempts its key)
	// to w, as [LogOptions] say. Without Follow it writes what there is
	// now, and an attempt with no log is an error wrapping [ErrNoLog].
	// With Follow it waits for the log to begin, writes it, and goes on
	// writing what the build logs until opts.Done reports the build ended
	// (it then writes what was logged before, and returns nil); if the
	// build ends without a log, the error wraps [ErrNoLog]. When ctx ends
	// it returns ctx's error. Whatever it has written stays written.
	Logs(ctx context.Context, tool, attempt string, opts LogOptions, w io.Writer) error
	// RemoveLog deletes the log of the tool's build attempt; one without a
	// log is not an error.
	RemoveLog(ctx context.Context, tool, attempt string) error
	// Remove deletes the tool's artifact and log of key; a key with
	// neither is not an error.
	Remove(ctx context.Context, tool, key string) error
}

// LogOptions says what [Builder.Logs] writes.
type LogOptions struct {
	// Lines is how many lines of the end of the log to write (with
	// Follow: before what comes next); 0 means all of it.
	Lines int
	// Follow goes on writing what the build logs until it ends.
	Follow bool
	// Done reports whether the build has ended, so that nothing more will
	// be written to its log: the caller knows (from the build's record;
	// ended includes a deleted record). It is required with Follow. Logs
	// calls it before each look at the log, so once it reports true the
	// next look reads everything the build wrote.
	Done func(ctx context.Context) (bool, error)
}
