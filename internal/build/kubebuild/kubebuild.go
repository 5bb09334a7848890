// Package kubebuild is the [build.Builder] that builds on Kubernetes: each
// build is a Job that fetches the repository at the exact commit, runs a
// Cloud Native Buildpacks builder image's lifecycle creator on it and
// pushes the image to a registry, and the build's artifact is that image by
// digest (image@sha256:…), reused by build key as the local builder's
// directories are.
//
// # The Job
//
// A build of key K for tool T (component C) is the Job build-<hash of T
// and K> in the build namespace ([Config.Namespace]), applied server-side
// (field manager "slipway"), whose pod has three containers, in order:
//
//   - clone (init container, [Config.CloneImage], git): fetches the
//     repository at the commit into the workspace (an emptyDir). A
//     repository credential goes in a Secret of the build's own, owned by
//     the Job, that git reads through its credential store: never in the
//     Job's spec.
//   - build (init container, [Config.BuilderImage]): runs
//     /cnb/lifecycle/creator on the workspace, exporting
//     <registry>/<tool>/<component>:<key> and writing its report to the
//     layers volume. The registry credential is the docker config Secret
//     [Config.RegistrySecret], mounted as $DOCKER_CONFIG/config.json, where
//     the lifecycle's keychain looks.
//   - report (the pod's one container, [Config.CloneImage] again, for its
//     shell): reads the digest from the creator's report.toml and writes
//     <registry>/<tool>/<component>@sha256:<hex> to /dev/termination-log.
//     Doing it in a container of its own keeps the builder image free of
//     any requirement (a shell, sed) beyond the lifecycle.
//
// The Job runs once (backoffLimit 0), within the build timeout
// (activeDeadlineSeconds), as a non-root user with no privilege escalation,
// no capabilities and the runtime's seccomp profile (the restricted Pod
// Security Standard), with cpu and memory limits, no ServiceAccount token,
// and is removed by the cluster [Config.TTL] after it ends
// (ttlSecondsAfterFinished); its logs go with it.
//
// # Results
//
// Build waits for the Job by watching it and its pod (no polling). A Job
// that completes has its report container's termination message read and
// checked strictly (the expected image name, @sha256:, 64 hex digits);
// the artifact is then recorded in the ConfigMap build-<hash> of the build
// namespace (tool, key, image@digest), which is what Lookup reads, from any
// server sharing the cluster. A Job that fails is a failed build whose
// error says why: the failing container, its exit code, reason and message
// (the end of its output), or the Job's own condition (its deadline). A
// build whose context ends deletes its Job (and so its pod).
//
// Remove deletes the record and the Job; the image stays in the registry,
// whose own retention removes it.
package kubebuild

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target/kube"
)

// The images a build runs unless the config names others. Both are
// pinned: a build key names what made the image, so a moving tag would
// make one key mean two builds.
const (
	// DefaultBuilderImage is a Cloud Native Buildpacks builder: the
	// lifecycle (/cnb/lifecycle/creator) with Paketo's buildpacks, which
	// the bare lifecycle image (buildpacksio/lifecycle) lacks. Its cnb
	// user is DefaultRunAsUser:DefaultRunAsGroup.
	DefaultBuilderImage = "docker.io/paketobuildpacks/builder-jammy-base:0.4.563"
	// DefaultCloneImage has git and a shell.
	DefaultCloneImage = "docker.io/alpine/git:2.45.2"
	// DefaultRunAsUser and DefaultRunAsGroup are the Paketo builders' cnb
	// user and group, as whom the lifecycle expects to run.
	DefaultRunAsUser  = 1001
	DefaultRunAsGroup = 1000
	// DefaultNamespace is where builds run unless the config says.
	DefaultNamespace = "slipway-builds"
	// DefaultTimeout bounds a build (activeDeadlineSeconds).
	DefaultTimeout = 30 * time.Minute
	// DefaultTTL is how long a finished build's Job (and its pod's logs)
	// is kept.
	DefaultTTL = 24 * time.Hour
)

// Labels and annotations of a build's objects, besides [kube.LabelManagedBy],
// [kube.LabelTool] and [kube.LabelComponent].
const (
	LabelBuildKey     = "slipway.dev/build-key"
	LabelAttempt      = "slipway.dev/build-attempt"
	AnnotAttempt      = "slipway.dev/build-attempt"
	AnnotCommit       = "slipway.dev/commit"
	AnnotRepository   = "slipway.dev/repository"
	AnnotImage        = "slipway.dev/image"
	labelJobUID       = "batch.kubernetes.io/controller-uid"
	managedBy         = "slipway"
	recordTool        = "tool"
	recordKey         = "key"
	recordImage       = "image"
	recordCommit      = "commit"
	containerClone    = "clone"
	containerBuild    = "build"
	containerReport   = "report"
	deleteWait        = 30 * time.Second
	maxRecreates      = 3
	registryMountPath = "/var/run/slipway/registry"
	gitMountPath      = "/var/run/slipway/git"
)

var applyOpts = metav1.ApplyOptions{FieldManager: kube.FieldManager, Force: true}

// Config configures a Builder.
type Config struct {
	// Client talks to the cluster.
	Client kubernetes.Interface
	// Registry is where images are pushed: host[:port][/path]. Required.
	Registry string
	// RegistrySecret names a Secret of type kubernetes.io/dockerconfigjson
	// in the build namespace holding the registry's push credential; ""
	// pushes without one.
	RegistrySecret string
	// Namespace names the namespace a tool's builds run in; default
	// [DefaultNamespace] for every tool. It is made (restricted Pod
	// Security) when missing.
	Namespace func(tool string) string
	// BuilderImage and CloneImage: see [DefaultBuilderImage] and
	// [DefaultCloneImage].
	BuilderImage, CloneImage string
	// RunImage, when set, is the creator's -run-image (else the
	// builder's own).
	RunImage string
	// CacheImage makes the creator keep its layer cache in the registry,
	// as <registry>/<tool>/<component>:build-cache.
	CacheImage bool
	// RunAsUser and RunAsGroup are the uid and gid of the build's
	// containers; default [DefaultRunAsUser] and [DefaultRunAsGroup].
	RunAsUser, RunAsGroup int64
	// CPU and Memory are each container's limits (and requests); zero
	// sets none of that resource (the namespace's LimitRange decides).
	CPU, Memory resource.Quantity
	// Timeout is the Job's activeDeadlineSeconds; default DefaultTimeout.
	Timeout time.Duration
	// TTL is the Job's ttlSecondsAfterFinished; default DefaultTTL.
	TTL time.Duration
	// NodeSelector places build pods (a pool of build nodes).
	NodeSelector map[string]string
	// Credentials returns the stored credential of a tool's repository
	// whose URL carries the *** marker; nil refuses such repositories.
	Credentials func(ctx context.Context, tool, repository string) (slipway.Credential, error)
	Logger      *slog.Logger
}

// Builder builds on Kubernetes. It keeps no state of its own beyond the
// cluster's: builders of several servers on one cluster share builds.
type Builder struct {
	cfg    Config
	cs     kubernetes.Interface
	logger *slog.Logger
}

var _ build.Builder = (*Builder)(nil)

// New makes a Builder.
func New(cfg Config) (*Builder, error) {
	if cfg.Client == nil {
		return nil, errors.New("kubebuild: no client")
	}
	cfg.Registry = strings.TrimSuffix(strings.TrimSpace(cfg.Registry), "/")
	if !registryRE.MatchString(cfg.Registry) {
		return nil, fmt.Errorf("kubebuild: registry %q is not host[:port][/path] in lower case", cfg.Registry)
	}
	if cfg.Namespace == nil {
		cfg.Namespace = func(string) string { return DefaultNamespace }
	}
	cfg.BuilderImage = cmp.Or(cfg.BuilderImage, DefaultBuilderImage)
	cfg.CloneImage = cmp.Or(cfg.CloneImage, DefaultCloneImage)
	cfg.RunAsUser = cmp.Or(cfg.RunAsUser, DefaultRunAsUser)
	cfg.RunAsGroup = cmp.Or(cfg.RunAsGroup, DefaultRunAsGroup)
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Builder{cfg: cfg, cs: cfg.Client, logger: cfg.Logger}, nil
}

// registryRE is a registry host, optional port and path, as image
// references allow them (lower case).
var registryRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)

// Version is part of every build key: the builder and run images, and
// the cache setting, decide what a build makes.
func (b *Builder) Version() string {
	return "kubebuild-1 " + b.cfg.BuilderImage + " run=" + b.cfg.RunImage
}

// Image returns the repository a tool's component is pushed to:
// <registry>/<tool>/<component>.
func (b *Builder) Image(tool, component string) string {
	return b.cfg.Registry + "/" + tool + "/" + component
}

// namespace returns the build namespace of a tool.
func (b *Builder) namespace(tool string) string { return b.cfg.Namespace(tool) }

// hashOf returns 16 hex digits of the hash of parts.
func hashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// jobName is the Job (and record) of the tool's build of key: one per
// key, so that concurrent builds of a key share it.
func jobName(tool, key string) string { return "build-" + hashOf(tool, key) }

// attemptLabel is the label value of an attempt (which may hold any
// characters).
func attemptLabel(tool, attempt string) string { return hashOf(tool, attempt) }

// digestRE is a reported image: the expected name, @sha256: and the
// digest's 64 lower-case hex digits, nothing else.
func digestRE(image string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(image) + `@sha256:[0-9a-f]{64}$`)
}

// Lookup returns the tool's artifact of key from its record in the
// cluster. A record whose image is not image@sha256:<hex> of the tool's
// repository is an error wrapping [build.ErrCorrupt].
func (b *Builder) Lookup(ctx context.Context, tool, key string) (slipway.Artifact, bool, error) {
	if tool == "" || key == "" {
		return slipway.Artifact{}, false, nil
	}
	ns := b.namespace(tool)
	cm, err := b.cs.CoreV1().ConfigMaps(ns).Get(ctx, jobName(tool, key), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return slipway.Artifact{}, false, nil
	}
	if err != nil {
		return slipway.Artifact{}, false, fmt.Errorf("look up build %s of %s: %w", key, tool, err)
	}
	if cm.Data[recordTool] != tool || cm.Data[recordKey] != key {
		return slipway.Artifact{}, false, nil // another build's hash: not this one
	}
	img := cm.Data[recordImage]
	comp := cm.Labels[kube.LabelComponent]
	if !digestRE(b.Image(tool, comp)).MatchString(img) {
		return slipway.Artifact{}, false, fmt.Errorf("look up build %s of %s: %w: recorded image %q is not %s@sha256:<digest>", key, tool, build.ErrCorrupt, img, b.Image(tool, comp))
	}
	return artifact(key, img), true, nil
}

// artifact is the artifact of an image by digest.
func artifact(key, img string) slipway.Artifact {
	_, digest, _ := strings.Cut(img, "@")
	return slipway.Artifact{Key: key, Image: img, Digest: digest, Stack: slipway.StackBuildpacks}
}

// record keeps the artifact of a finished build.
func (b *Builder) record(ctx context.Context, ns string, req build.Request, img string) error {
	name := jobName(req.Tool, req.Key)
	cm := corev1ac.ConfigMap(name, ns).WithLabels(map[string]string{
		kube.LabelManagedBy: managedBy, kube.LabelTool: req.Tool, kube.LabelComponent: req.Component, LabelBuildKey: req.Key,
	}).WithData(map[string]string{recordTool: req.Tool, recordKey: req.Key, recordImage: img, recordCommit: req.Commit})
	if _, err := b.cs.CoreV1().ConfigMaps(ns).Apply(ctx, cm, applyOpts); err != nil {
		return fmt.Errorf("record build %s: %w", req.Key, err)
	}
	return nil
}

// Remove deletes the tool's record of key and its Job (with its pod and
// logs). The image stays in the registry.
func (b *Builder) Remove(ctx context.Context, tool, key string) error {
	ns, name := b.namespace(tool), jobName(tool, key)
	del := metav1.DeleteOptions{PropagationPolicy: new(metav1.DeletePropagationBackground)}
	err := errors.Join(
		ignoreNotFound(b.cs.CoreV1().ConfigMaps(ns).Delete(ctx, name, metav1.DeleteOptions{})),
		ignoreNotFound(b.cs.BatchV1().Jobs(ns).Delete(ctx, name, del)),
	)
	if err != nil {
		return fmt.Errorf("remove build %s of %s: %w", key, tool, err)
	}
	return nil
}

// RemoveLog deletes the finished Jobs of the tool's attempt, which hold
// its log (their pods); a running build keeps its Job.
func (b *Builder) RemoveLog(ctx context.Context, tool, attempt string) error {
	ns := b.namespace(tool)
	jobs, err := b.cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: attemptSelector(tool, attempt)})
	if err != nil {
		return fmt.Errorf("remove log of build %s: %w", attempt, ignoreNotFound(err))
	}
	del := metav1.DeleteOptions{PropagationPolicy: new(metav1.DeletePropagationBackground)}
	var errs []error
	for i := range jobs.Items {
		if kube.JobFinished(&jobs.Items[i]) == "" {
			continue
		}
		errs = append(errs, ignoreNotFound(b.cs.BatchV1().Jobs(ns).Delete(ctx, jobs.Items[i].Name, del)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove log of build %s: %w", attempt, err)
	}
	return nil
}

// attemptSelector selects the Jobs and pods of a tool's build attempt.
func attemptSelector(tool, attempt string) string {
	return kube.LabelManagedBy + "=" + managedBy + "," + kube.LabelTool + "=" + tool + "," + LabelAttempt + "=" + attemptLabel(tool, attempt)
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// ensureNamespace makes the build namespace when it is missing, enforcing
// the restricted Pod Security Standard; an existing one is left as it is.
func (b *Builder) ensureNamespace(ctx context.Context, ns, tool string) error {
	_, err := b.cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("read namespace %s: %w", ns, err)
	}
	const psa = "pod-security.kubernetes.io/"
	lbl := map[string]string{
		kube.LabelManagedBy: managedBy,
		psa + "enforce":     kube.PodSecurityLevel, psa + "enforce-version": "latest",
		psa + "warn": kube.PodSecurityLevel, psa + "audit": kube.PodSecurityLevel,
	}
	if ns == "tool-"+tool {
		lbl[kube.LabelTool] = tool
	}
	if _, err := b.cs.CoreV1().Namespaces().Apply(ctx, corev1ac.Namespace(ns).WithLabels(lbl), applyOpts); err != nil {
		return fmt.Errorf("make namespace %s: %w", ns, err)
	}
	return nil
}

// checkRegistrySecret fails clearly when the push credential is missing,
// rather than leave a pod waiting for a volume that never comes.
func (b *Builder) checkRegistrySecret(ctx context.Context, ns string) error {
	if b.cfg.RegistrySecret == "" {
		return nil
	}
	s, err := b.cs.CoreV1().Secrets(ns).Get(ctx, b.cfg.RegistrySecret, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return slipway.Errorf(slipway.EInvalid, "The registry credential, Secret %s/%s, does not exist: the server's admin must create it (type %s).", ns, b.cfg.RegistrySecret, corev1.SecretTypeDockerConfigJson)
	}
	if err != nil {
		return fmt.Errorf("read the registry credential %s/%s: %w", ns, b.cfg.RegistrySecret, err)
	}
	if _, ok := s.Data[corev1.DockerConfigJsonKey]; !ok {
		return slipway.Errorf(slipway.EInvalid, "The registry credential, Secret %s/%s, has no %s.", ns, b.cfg.RegistrySecret, corev1.DockerConfigJsonKey)
	}
	return nil
}
