package slipway

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
