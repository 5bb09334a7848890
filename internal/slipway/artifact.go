package slipway

import "strings"

// Artifact is the result of a build: what a target runs.
type Artifact struct {
	// Key is the build's content address (see [BuildKey]).
	Key string
	// Dir is the absolute directory holding the built app (local builder).
	Dir string
	// Image is image@digest (Kubernetes builder, or a prebuilt image).
	Image string
	// Stack is what the builder detected: "go", "python", "node", "static".
	Stack string
	// Processes are the Procfile's entries, process type → command line.
	Processes map[string]string
	// Digest is "sha256:<hex>" of the artifact's content, recorded when it
	// was built and checked before it is used again.
	Digest string
}

// StackBuildpacks is the Stack of an image made by Cloud Native Buildpacks
// (the Kubernetes builder's): its commands run through the CNB launcher,
// which sets up the environment the buildpacks prepared.
const StackBuildpacks = "buildpacks"

// Ref is where the artifact lives, for the records that keep it: its image
// (image@digest) when it has one, else its directory on the builder's
// machine.
func (a Artifact) Ref() string {
	if a.Image != "" {
		return a.Image
	}
	return a.Dir
}

// BuildImage is the image name that Toolforge's APIs show for the build
// with this key ("builds/<key>"): a local build has no registry image, so
// the name says which build it is.
func BuildImage(key string) string { return "builds/" + key }

// ImageKey is the build key of a component that names a prebuilt image: no
// builder makes it, the image is the artifact.
func ImageKey(image string) string { return imageKeyPrefix + image }

// ImageOfKey returns the image of a key made by [ImageKey].
func ImageOfKey(key string) (image string, ok bool) { return strings.CutPrefix(key, imageKeyPrefix) }

const imageKeyPrefix = "image:"
