package kubebuild

import (
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/target/kube"
)

// cloneScript fetches $REPOSITORY at $COMMIT into the workspace: the
// commit alone when the server lets a commit be fetched by name, else the
// whole history. It takes nothing from the repository's config: the URL
// and commit are environment variables, never shell text.
const cloneScript = `set -eu
cd /workspace
git init -q .
git remote add origin "$REPOSITORY"
git fetch -q --depth 1 origin "$COMMIT" || git fetch -q origin
git -c advice.detachedHead=false checkout -q --detach "$COMMIT"
echo "slipway: fetched $COMMIT"
`

// reportScript writes the image the creator exported, by digest, to the
// termination message, which Build reads: $OUTPUT_IMAGE@sha256:<hex> from
// the [image] digest of the creator's report.toml.
const reportScript = `set -eu
digest=$(sed -n 's/^[[:space:]]*digest[[:space:]]*=[[:space:]]*"\(sha256:[0-9a-f]\{64\}\)".*/\1/p' /layers/report.toml | head -n 1)
if [ -z "$digest" ]; then
  echo "slipway: the creator's report (/layers/report.toml) has no image digest" | tee /dev/termination-log >&2
  exit 1
fi
printf '%s@%s' "$OUTPUT_IMAGE" "$digest" >/dev/termination-log
echo "slipway: pushed $OUTPUT_IMAGE@$digest"
`

// labels are the labels of a build's Job and pod.
func labels(req build.Request) map[string]string {
	return map[string]string{
		kube.LabelManagedBy: managedBy, kube.LabelTool: req.Tool, kube.LabelComponent: req.Component,
		LabelBuildKey: req.Key, LabelAttempt: attemptLabel(req.Tool, attemptOf(req)),
	}
}

// attemptOf is a request's attempt: its Attempt, else its Key.
func attemptOf(req build.Request) string {
	if req.Attempt != "" {
		return req.Attempt
	}
	return req.Key
}

// job is the Job of a build; gitSecret names the Secret of the
// repository's credential ("" for none).
func (b *Builder) job(ns string, req build.Request, repository, gitSecret string) *batchv1ac.JobApplyConfiguration {
	name := jobName(req.Tool, req.Key)
	img := b.Image(req.Tool, req.Component)
	lbl := labels(req)

	res := corev1.ResourceList{}
	if !b.cfg.CPU.IsZero() {
		res[corev1.ResourceCPU] = b.cfg.CPU
	}
	if !b.cfg.Memory.IsZero() {
		res[corev1.ResourceMemory] = b.cfg.Memory
	}
	secure := func(c *corev1ac.ContainerApplyConfiguration) *corev1ac.ContainerApplyConfiguration {
		c.WithSecurityContext(corev1ac.SecurityContext().WithAllowPrivilegeEscalation(false).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL"))).
			WithTerminationMessagePath(corev1.TerminationMessagePathDefault).
			WithTerminationMessagePolicy(corev1.TerminationMessageFallbackToLogsOnError)
		if len(res) > 0 {
			c.WithResources(corev1ac.ResourceRequirements().WithRequests(res).WithLimits(res))
		}
		return c
	}
	workspace := corev1ac.VolumeMount().WithName("workspace").WithMountPath("/workspace")
	layers := corev1ac.VolumeMount().WithName("layers").WithMountPath("/layers")

	clone := secure(corev1ac.Container().WithName(containerClone).WithImage(b.cfg.CloneImage).
		WithCommand("/bin/sh", "-c", cloneScript).
		WithEnv(
			corev1ac.EnvVar().WithName("REPOSITORY").WithValue(repository),
			corev1ac.EnvVar().WithName("COMMIT").WithValue(req.Commit),
			corev1ac.EnvVar().WithName("HOME").WithValue("/tmp"),
			corev1ac.EnvVar().WithName("GIT_TERMINAL_PROMPT").WithValue("0"),
		).
		WithVolumeMounts(workspace))
	if gitSecret != "" {
		clone.WithEnv(
			corev1ac.EnvVar().WithName("GIT_CONFIG_COUNT").WithValue("1"),
			corev1ac.EnvVar().WithName("GIT_CONFIG_KEY_0").WithValue("credential.helper"),
			corev1ac.EnvVar().WithName("GIT_CONFIG_VALUE_0").WithValue("store --file="+gitMountPath+"/credentials"),
		).WithVolumeMounts(corev1ac.VolumeMount().WithName("git").WithMountPath(gitMountPath).WithReadOnly(true))
	}

	args := []string{"-app=/workspace", "-layers=/layers", "-report=/layers/report.toml"}
	if b.cfg.RunImage != "" {
		args = append(args, "-run-image="+b.cfg.RunImage)
	}
	if b.cfg.CacheImage {
		args = append(args, "-cache-image="+img+":build-cache")
	}
	args = append(args, img+":"+req.Key)
	creator := secure(corev1ac.Container().WithName(containerBuild).WithImage(b.cfg.BuilderImage).
		WithCommand("/cnb/lifecycle/creator").WithArgs(args...).
		WithEnv(corev1ac.EnvVar().WithName("CNB_PLATFORM_API").WithValue("0.12")).
		WithVolumeMounts(workspace, layers))
	if b.cfg.RegistrySecret != "" {
		creator.WithEnv(corev1ac.EnvVar().WithName("DOCKER_CONFIG").WithValue(registryMountPath)).
			WithVolumeMounts(corev1ac.VolumeMount().WithName("registry").WithMountPath(registryMountPath).WithReadOnly(true))
	}
	report := secure(corev1ac.Container().WithName(containerReport).WithImage(b.cfg.CloneImage).
		WithCommand("/bin/sh", "-c", reportScript).
		WithEnv(corev1ac.EnvVar().WithName("OUTPUT_IMAGE").WithValue(img)).
		WithVolumeMounts(layers))

	pod := corev1ac.PodSpec().
		WithInitContainers(clone, creator).WithContainers(report).
		WithRestartPolicy(corev1.RestartPolicyNever).
		WithAutomountServiceAccountToken(false).
		WithEnableServiceLinks(false).
		WithSecurityContext(corev1ac.PodSecurityContext().WithRunAsNonRoot(true).
			WithRunAsUser(b.cfg.RunAsUser).WithRunAsGroup(b.cfg.RunAsGroup).WithFSGroup(b.cfg.RunAsGroup).
			WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))).
		WithVolumes(
			corev1ac.Volume().WithName("workspace").WithEmptyDir(corev1ac.EmptyDirVolumeSource()),
			corev1ac.Volume().WithName("layers").WithEmptyDir(corev1ac.EmptyDirVolumeSource()),
		)
	if len(b.cfg.NodeSelector) > 0 {
		pod.WithNodeSelector(maps.Clone(b.cfg.NodeSelector))
	}
	if b.cfg.RegistrySecret != "" {
		pod.WithVolumes(corev1ac.Volume().WithName("registry").WithSecret(corev1ac.SecretVolumeSource().
			WithSecretName(b.cfg.RegistrySecret).
			WithItems(corev1ac.KeyToPath().WithKey(corev1.DockerConfigJsonKey).WithPath("config.json"))))
	}
	if gitSecret != "" {
		pod.WithVolumes(corev1ac.Volume().WithName("git").WithSecret(corev1ac.SecretVolumeSource().
			WithSecretName(gitSecret).WithDefaultMode(0o400)))
	}

	return batchv1ac.Job(name, ns).WithLabels(lbl).
		WithAnnotations(map[string]string{
			AnnotAttempt: attemptOf(req), AnnotCommit: req.Commit, AnnotRepository: repository, AnnotImage: img,
		}).
		WithSpec(batchv1ac.JobSpec().
			WithBackoffLimit(0).
			WithActiveDeadlineSeconds(int64(b.cfg.Timeout.Seconds())).
			WithTTLSecondsAfterFinished(int32(b.cfg.TTL.Seconds())).
			WithTemplate(corev1ac.PodTemplateSpec().WithLabels(lbl).WithSpec(pod)))
}

// gitCredentials is the content of git's credential store for one
// credential of repository (an http or https URL without user info).
func gitCredentials(repository, user, password string) (string, error) {
	scheme, rest, ok := strings.Cut(repository, "://")
	if !ok {
		return "", fmt.Errorf("repository %s: a credential needs an http or https URL", repository)
	}
	host, _, _ := strings.Cut(rest, "/")
	return fmt.Sprintf("%s://%s:%s@%s\n", scheme, escape(user), escape(password), host), nil
}

// escape percent-encodes what git's credential store would misread.
func escape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
